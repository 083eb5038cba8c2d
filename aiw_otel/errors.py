"""The errors a user's mistake raises: in a module of their own, light enough for any command to import.

`aiw-otel` turns them into one line on stderr; the CLI catches them before it has imported (or
needs) the settings, the SDK or the runner.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiw_otel.redaction import Redactor


@functools.lru_cache(maxsize=1)
def default_redactor() -> Redactor:
    """The built-in rules, built once and only when needed (most commands never print an error)."""
    from aiw_otel.redaction import Redactor

    return Redactor()


def shown(text: str) -> str:
    """An error text as it may be printed: redacted with the built-in rules (an endpoint such as
    `htp://admin:password@host` echoed back loses its password) and safe for a terminal."""
    from aiw_otel.terminal_text import safe_lines

    return safe_lines(default_redactor().redact_text(text))


def _location(source: str | None, line: int | None, step: str | None) -> str:
    """`plan.yaml:3: step 'build'`: where a FileError was written, "" when it names nothing."""
    where = source or ""
    if source and line is not None:
        where = f"{source}:{line}"
    if step:
        where = f"{where}: step '{step}'" if where else f"step '{step}'"
    return where


class FileError(ValueError):
    """A mistake in something a person wrote: says where (file and line, the plan's step, the path
    to the value; or a variable or an option) and what was expected.

    A check that goes on after a mistake raises the first one it found, the others in `also`.
    """

    #: Whether the message is redacted when made (config errors quote values that hold credentials).
    redacted = False

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None,
                 step: str | None = None, field_name: str | None = None) -> None:
        where = _location(source, line, step)
        if field_name:
            message = f"{field_name}: {message}"
        if self.redacted:
            message = shown(message)
        super().__init__(f"{where}: {message}" if where else message)
        self.source = source
        self.line = line
        self.step = step
        self.field_name = field_name
        self.detail = message
        self.also: tuple[FileError, ...] = ()

    def shown(self) -> str:
        """The error as it may be printed: the file, the step and the message redacted apart.

        Redacted as one line, a file whose name says secret (`secret.yaml: cannot read it`) would
        read as the pair `secret.yaml: <secret>` and lose the message. Apart, a path still loses
        what it holds (`/ws/API_KEY=xxx/plan.yaml`), and so does the message.
        """
        source = shown(self.source) if self.source else None
        where = _location(source, self.line, shown(self.step) if self.step else None)
        return f"{where}: {shown(self.detail)}" if where else shown(self.detail)

    @property
    def every(self) -> tuple[FileError, ...]:
        """This error and the others found in the same check, in the order found."""
        return (self, *self.also)


class ConfigError(FileError):
    """A bad configuration value: says where (file and line, or variable) and what was expected."""

    # Config errors quote the value they refuse, and values hold credentials: redacted here, once.
    redacted = True
