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
def _display_redactor() -> Redactor:
    from aiw_otel.redaction import Redactor  # here: most commands never print an error

    return Redactor()


def shown(text: str) -> str:
    """An error text as it may be printed: redacted with the built-in rules (an endpoint such as
    `htp://admin:password@host` echoed back loses its password) and safe for a terminal."""
    from aiw_otel.terminal_text import safe_lines

    return safe_lines(_display_redactor().redact_text(text))


class ConfigError(ValueError):
    """A bad configuration value: says where (file and line, or variable) and what was expected."""

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None) -> None:
        where = source or ""
        if source and line is not None:
            where = f"{source}:{line}"
        # Config errors quote the value they refuse, and values hold credentials: redacted here, once.
        message = shown(message)
        super().__init__(f"{where}: {message}" if where else message)
        self.source = source
        self.line = line
        self.detail = message
