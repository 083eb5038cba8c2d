"""The errors a user's mistake raises: in a module of their own, light enough for any command to import.

`aiw-otel` turns them into one line on stderr; the CLI catches them before it has imported (or
needs) the settings, the SDK or the runner.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A bad configuration value: says where (file and line, or variable) and what was expected."""

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None) -> None:
        where = source or ""
        if source and line is not None:
            where = f"{source}:{line}"
        super().__init__(f"{where}: {message}" if where else message)
        self.source = source
        self.line = line
        self.detail = message
