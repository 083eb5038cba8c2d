"""An append-only line file that rotates by size and by clock hour/day, keeping a bounded history.

Written by one thread per process (a sink's writer), and by as many processes as share the log
directory: runners started from one project directory all write `./logs`. So every batch is one
O_APPEND write of whole lines made while holding the stream's lock (stream_lock.py), after one stat
of the path tells whether the file this writer holds is still the live one (a file another process
rotated away is closed and the new live file opened). Whether to rotate is read from the live file,
not from what this process wrote: its size (every writer's lines), and for hourly or daily rotation
its mtime (a file last written before the current hour or day began is rotated by the first writer
after the boundary, and only by it). Lines are only ever split between files at line boundaries, so
every file stays valid JSON Lines for the Collector's otlpjsonfile receiver, and a reader can meet a
partial line only at the end of the live file, while it is being written.
Files are created 0600: telemetry can hold prompts and paths that are nobody else's business.
Backups are numbered like logging's RotatingFileHandler (`.1` newest) and gzip-compressed by the
process that rotated them (backup_gzip.py), on a helper thread, so compressing 10 MB never holds
up a writer.

A write that fails (a full disk, a quota, an I/O error) or a writer killed mid-write may leave a
torn line at the end of the file. The failed batch is lost (the caller counts it), and nothing more:
the writer closes its file and the next batch tries again, reopening (or recreating) the file, so
once space is freed (old logs deleted, a tmp cleaner run) the rest of the run lands. Each batch tries
once, when it is due, so a disk that stays full costs one failed write a batch, never a retry loop.
Whichever writer appends next ends the torn line first, so it stays the only damaged line.
"""

from __future__ import annotations

import io
import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

from aiw_otel.exporters.backup_gzip import drop_abandoned, start_compressing
from aiw_otel.exporters.stream_lock import StreamLock
from aiw_otel.logdir import backup_name, backups
from aiw_otel.private_file import open_private

DIRECTORY_MODE = 0o700


def period_start(when: str, now: float) -> float:
    """The start of the UTC hour or day (`when`: hourly, daily) holding `now`, in epoch seconds."""
    moment = datetime.fromtimestamp(now, timezone.utc)
    if when == "hourly":
        return moment.replace(minute=0, second=0, microsecond=0).timestamp()
    return moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


class WriteFailed(OSError):
    """A batch whose write failed: its first `lines_written` lines landed whole (before a rotation, or
    in the part of the write the disk still took), the rest did not."""

    def __init__(self, error: OSError, lines_written: int) -> None:
        super().__init__(error.errno, error.strerror)
        self.lines_written = lines_written


class RotatingFile:
    """`write_lines` appends whole lines, rotating first when size or clock says so."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int,
        backup_count: int,
        rotate_when: str | None = None,
        compress: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self._max_bytes = max_bytes
        self._backup_count = backup_count
        self._when = rotate_when
        self._compress = compress
        self._clock = clock
        #: Unbuffered: each batch is one write of whole lines, handed to the OS at once.
        self._file: io.FileIO | None = None
        #: (st_dev, st_ino) of `_file`: the live file unless another process has rotated it since.
        self._identity: tuple[int, int] | None = None
        self._compressions: list[threading.Thread] = []
        # Both now, so an unwritable directory is reported at configure time.
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=DIRECTORY_MODE)
        self._lock = StreamLock(path)
        self._open()

    def write_lines(self, lines: Iterable[str]) -> int:
        """Append each line (without its newline); returns bytes written. Raises WriteFailed (disk
        full...), saying how many lines landed whole; a torn one is ended by the next call first."""
        encoded = [line.encode("utf-8", "surrogateescape") + b"\n" for line in lines]
        if not encoded:
            return 0
        with self._lock:
            status = self._live()
            size = status.st_size
            if size and self._when is not None and status.st_mtime < period_start(self._when, self._clock()):
                self._rotate_live()
                size = 0
            written = self._append([b"\n"], 0) if size and self._ends_torn(size) else 0
            size += written
            chunk: list[bytes] = []
            landed = 0
            for data in encoded:
                # An empty file is never rotated, so a line longer than max_bytes still gets written (alone).
                if size and size + len(data) > self._max_bytes:
                    written += self._append(chunk, landed)
                    landed += len(chunk)
                    chunk = []
                    self._rotate_live()
                    size = 0
                chunk.append(data)
                size += len(data)
            return written + self._append(chunk, landed)

    def flush(self) -> None:
        """Nothing to do: every batch is handed to the OS as it is written (a SIGKILL loses nothing written)."""

    def close(self) -> None:
        self._close_file()
        self._lock.close()
        self.wait_for_compression()

    def wait_for_compression(self) -> None:
        for thread in self._compressions:
            thread.join()

    def rotate(self) -> None:
        """Shift the live file into the backups, dropping the oldest beyond backup_count."""
        with self._lock:
            self._rotate_live()

    def _rotate_live(self) -> None:
        """Under the lock: no other process appends or rotates meanwhile."""
        self._close_file()
        if not self.path.exists():
            return
        if self._backup_count <= 0:
            self.path.unlink()
            return
        existing = backups(self.path.parent, self.path.name)
        for index, old in reversed(existing):
            if index >= self._backup_count:
                old.unlink(missing_ok=True)
            else:
                old.rename(self.path.parent / backup_name(self.path.name, index + 1, old.name.endswith(".gz")))
        first = self.path.parent / backup_name(self.path.name, 1, False)
        self.path.rename(first)
        if self._compress:
            drop_abandoned(self.path.parent, self.path.name)
            self._compressions = [thread for thread in self._compressions if thread.is_alive()]
            self._compressions.append(start_compressing(first, self.path.name))

    def _live(self) -> os.stat_result:
        """The live file's status, after reopening it when the file this writer held was rotated away
        (or removed) by someone else: one stat a batch when it was not."""
        self._open()
        try:
            status = os.stat(self.path)
            if (status.st_dev, status.st_ino) == self._identity:
                return status
        except FileNotFoundError:
            pass
        self._close_file()
        return os.fstat(self._open().fileno())

    def _ends_torn(self, size: int) -> bool:
        """True when the live file's last byte is not a newline: a writer failed or was killed mid-write."""
        return os.pread(self._open().fileno(), 1, size - 1) not in (b"\n", b"")

    def _append(self, chunk: list[bytes], landed: int) -> int:
        """Write `chunk` (lines after `landed` whole ones of this batch); on failure, say how many landed."""
        if not chunk:
            return 0
        data = memoryview(b"".join(chunk))
        file = self._open()
        done = 0
        try:
            while done < len(data):  # a raw write may take only part (the last bytes before the disk is full)
                done += file.write(data[done:]) or 0
        except OSError as error:
            self._close_file()  # the next batch reopens: the file may have been removed to free space
            raise WriteFailed(error, landed + _whole_lines(chunk, done)) from error
        return done

    def _open(self) -> io.FileIO:
        if self._file is None:
            fd = open_private(self.path, os.O_RDWR | os.O_APPEND)  # read too: _ends_torn looks at the last byte
            self._file = io.FileIO(fd, "rb+")
            status = os.fstat(fd)
            self._identity = (status.st_dev, status.st_ino)
        return self._file

    def _close_file(self) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            file.close()


def _whole_lines(chunk: list[bytes], done: int) -> int:
    """How many of `chunk`'s lines lie whole within its first `done` bytes."""
    whole = 0
    for data in chunk:
        done -= len(data)
        if done < 0:
            break
        whole += 1
    return whole
