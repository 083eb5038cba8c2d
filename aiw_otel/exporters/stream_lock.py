"""The advisory lock that lets several processes write one log file stream without losing a line.

Runners started from one project directory share the default `./logs`. Each append, each rotation
and each compressed backup taking its place happens while holding an exclusive `flock` on the
stream's lock file (`.traces.otlp.jsonl.lock`, created 0600, never deleted: removing a lock file
while another process waits on it would let two hold "the" lock). So a writer can check that the
file it holds is still the live one and append to it, or rotate it, without another process
renaming it in between. `flock` belongs to the open file, not the process: the kernel drops it when
its holder exits or is killed, so a crashed runner never blocks the others; and two opens in one
process exclude each other too (a compression thread locks through its own open).

Held for one batch at a time (microseconds), never while compressing. Local filesystems only: on
NFS, appends from two machines are not atomic whatever the lock.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from aiw_otel.logdir import lock_name
from aiw_otel.private_file import open_private


class StreamLock:
    """`with lock:` holds the stream's lock (blocking until other processes release it)."""

    def __init__(self, stream: Path) -> None:
        self.path = stream.parent / lock_name(stream.name)
        self._fd: int | None = None
        self._open()  # now, so an unwritable directory is reported when the sink is built

    def _open(self) -> int:
        if self._fd is None:
            self._fd = open_private(self.path, os.O_RDWR)
        return self._fd

    def __enter__(self) -> StreamLock:
        fcntl.flock(self._open(), fcntl.LOCK_EX)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Closing the descriptor also releases the lock; a later `with` opens it again."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)
