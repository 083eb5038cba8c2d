"""File operation spans (seed 4c): path, size, bytes moved, and a `file_*_failed` record on error.

No span convention exists for file operations, so the span is ours (`file <operation>`), carrying
the registry's `file.*` attributes and our `aiw.file.*` counters. `file.path` is the full path, as
the file registry defines it; the path the step asked for, relative to its workspace, is kept as
`aiw.file.relative_path` and is what the messages quote.
"""

from __future__ import annotations

import enum
from typing import Any

from aiw_otel import conventions as sc
from aiw_otel.instrument.base import Instruments, Operation, error_type_of
from aiw_otel.model import ComponentType, LogLevel


class FileOp(enum.Enum):
    READ = "read"
    WRITE = "write"
    CREATE = "create"
    DELETE = "delete"

    @property
    def done_action(self) -> str:
        return {"read": "file_read", "write": "file_written", "create": "file_created", "delete": "file_deleted"}[
            self.value
        ]

    @property
    def failed_action(self) -> str:
        return f"file_{self.value}_failed"


class FileOperation(Operation):
    """`with host.file_operation("write", path) as f: ...; f.done(bytes_written=n)`."""

    component = ComponentType.FILE_OPERATIONS

    def __init__(
        self,
        instruments: Instruments,
        parent: Operation,
        operation: FileOp | str,
        path: str,
        relative_path: str | None = None,
    ) -> None:
        self.operation = FileOp(operation)
        self.path = str(path)
        #: How messages name the file: as the step asked for it when it gave a relative path.
        self.shown = relative_path or self.path
        attributes = {sc.FILE_PATH: self.path, sc.AIW_FILE_OPERATION: self.operation.value}
        self._details: dict[str, Any] = {"file_path": self.path}
        if relative_path is not None:
            attributes[sc.AIW_FILE_RELATIVE_PATH] = relative_path
            self._details[sc.AIW_FILE_RELATIVE_PATH] = relative_path
        super().__init__(instruments, f"file {self.operation.value}", attributes=attributes, parent=parent)

    def done(self, *, bytes_read: int | None = None, bytes_written: int | None = None, size: int | None = None) -> None:
        """Record what moved; the success record is written when the block exits cleanly."""
        if bytes_read is not None:
            self.set_attribute(sc.AIW_FILE_BYTES_READ, bytes_read)
            self._details["bytes_read"] = bytes_read
        if bytes_written is not None:
            self.set_attribute(sc.AIW_FILE_BYTES_WRITTEN, bytes_written)
            self._details["bytes_written"] = bytes_written
        if size is not None:
            self.set_attribute(sc.FILE_SIZE, size)
            self._details["file_size"] = size

    def _on_exit(self, error: BaseException | None) -> None:
        op = self.operation.value
        if error is None:
            self.log(
                LogLevel.DEBUG,
                self.operation.done_action,
                f"File {op} succeeded: '{self.shown}'.",
                duration_ms=self.elapsed_ms,
                details=self._details,
            )
            return
        self._details["error_type"] = error_type_of(error)
        self._details["error_message"] = str(error)
        self.log(
            LogLevel.WARNING,
            self.operation.failed_action,
            f"File {op} failed for '{self.shown}': {error}",
            duration_ms=self.elapsed_ms,
            details=self._details,
        )
