"""The step's files: confined to one directory, each operation a `file *` span with what it moved.

Confinement is against a model's (or a plan's) wrong or malicious paths in the file tools, not a
sandbox: commands run with the runner's rights. A refused path still leaves a failed file span and
a `file_<op>_failed` record, so an escape attempt is visible in the trace, not just in the reply.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator, Mapping

from aiw_otel.instrument.files import FileOperation
from aiw_otel.instrument.host import ActionHost
from aiw_otel.regular_file import NotRegularFile, open_regular

RelativePath = str | os.PathLike[str]


class WorkspaceError(Exception):
    """A path the workspace refuses: absolute, or leading outside the workspace's root."""


class Workspace:
    """A directory whose files steps and tools read and write; `host` is the Step or ToolCall doing it."""

    def __init__(self, root: Path, *, max_read_bytes: int = 256 * 1024, env: Mapping[str, str] | None = None) -> None:
        self.root = Path(root).resolve()
        #: The environment commands run with here (None: the runner's own).
        self.env = env
        #: What `read` returns at most: a model's context is small; the span still records the real size.
        self.max_read_bytes = max_read_bytes

    def resolve(self, path: RelativePath) -> Path:
        """The real path (symlinks followed) of a relative path, if it stays inside the root."""
        if Path(path).is_absolute():
            raise WorkspaceError(f"path '{path}' is absolute; use a path relative to the workspace {self.root}")
        try:
            target = (self.root / path).resolve()
        except RuntimeError as loop:  # a symlink loop (Python < 3.13)
            raise WorkspaceError(f"path '{path}' cannot be resolved in the workspace {self.root}: {loop}") from None
        if not target.is_relative_to(self.root):
            raise WorkspaceError(f"path '{path}' leads outside the workspace {self.root}")
        return target

    def exists(self, path: RelativePath) -> bool:
        """Whether the file is there; a path outside the workspace is never there."""
        try:
            return self.resolve(path).exists()
        except WorkspaceError:
            return False

    def read(self, host: ActionHost, path: RelativePath) -> str:
        """The file's text (invalid UTF-8 replaced), cut at `max_read_bytes` with a marker saying so."""
        with self._operation(host, "read", path) as (op, target), _regular(target, path) as handle:
            size = os.fstat(handle.fileno()).st_size
            data = handle.read(self.max_read_bytes)
            op.done(bytes_read=len(data), size=size)
        text = data.decode("utf-8", "replace")
        if size > len(data):
            text += f"\n[... truncated: showing the first {len(data)} of {size} bytes ...]"
        return text

    def write(self, host: ActionHost, path: RelativePath, content: str | bytes) -> int:
        """Write the whole file (parents created); a `file create` span when it is new. Returns bytes written."""
        operation = "write" if self.exists(path) else "create"
        with self._operation(host, operation, path) as (op, target):
            data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
            target.parent.mkdir(parents=True, exist_ok=True)
            with _regular(target, path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC) as handle:
                handle.write(data)
            op.done(bytes_written=len(data), size=len(data))
        return len(data)

    def delete(self, host: ActionHost, path: RelativePath) -> None:
        with self._operation(host, "delete", path) as (op, target):
            size = target.stat().st_size
            target.unlink()
            op.done(size=size)

    def list(self, host: ActionHost, path: RelativePath = ".") -> tuple[str, ...]:
        """A directory's entries as workspace-relative paths, directories ending in `/` (a `file read` span)."""
        with self._operation(host, "read", path) as (_op, target):
            children = sorted(target.iterdir())
        return tuple(child.relative_to(self.root).as_posix() + ("/" if child.is_dir() else "") for child in children)

    @contextmanager
    def _operation(self, host: ActionHost, operation: str, path: RelativePath) -> Iterator[tuple[FileOperation, Path]]:
        """The span opens before the path is checked, so a refusal is recorded as the operation failing.

        Its `file.path` is the full path asked for (the root joined with the path, not yet resolved,
        so an escape attempt shows where it leads), its `aiw.file.relative_path` the path as given.
        """
        op = host.file_operation(operation, os.path.normpath(self.root / path), relative_path=str(path))
        with op:
            yield op, self.resolve(path)


def _regular(target: Path, path: RelativePath, flags: int = os.O_RDONLY) -> BinaryIO:
    """A FIFO or a device a command made in the workspace would block the run or never end a read."""
    try:
        return open_regular(target, flags)
    except NotRegularFile as error:
        raise WorkspaceError(f"'{path}' is {error.strerror}") from None
