"""An append-only line file that rotates by size and by clock hour/day, keeping a bounded history.

Written by one thread (a sink's writer). Lines are only ever split between files at line
boundaries, so every file stays valid JSON Lines for the Collector's otlpjsonfile receiver.
Files are created 0600: telemetry can hold prompts and paths that are nobody else's business.
Backups are numbered like logging's RotatingFileHandler (`.1` newest) and gzip-compressed on a
helper thread, so compressing 10 MB never holds up the writer.

A write that fails (a full disk) may leave a torn line at the end of the file; nothing is written
to that file after it, so the torn last line is the only damage, and every later write raises
the same error (the caller counts those records as lost).
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterable

from aiw_otel.logdir import backup_name, backups
from aiw_otel.private_file import open_private

DIRECTORY_MODE = 0o700


def next_boundary(when: str | None, now: float) -> float | None:
    """The next UTC hour or day start after `now` (epoch seconds); None when rotation is size-only."""
    if when is None:
        return None
    moment = datetime.fromtimestamp(now, timezone.utc)
    if when == "hourly":
        start = moment.replace(minute=0, second=0, microsecond=0)
        return (start + timedelta(hours=1)).timestamp()
    start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return (start + timedelta(days=1)).timestamp()


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
        self._size = 0
        #: The error that stopped this file: nothing more is written to it after a failed write.
        self._broken: OSError | None = None
        self._rollover_at = next_boundary(rotate_when, clock())
        self._compressing: threading.Thread | None = None
        self._open()  # now, so an unwritable directory is reported at configure time

    def write_lines(self, lines: Iterable[str]) -> int:
        """Append each line (without its newline); returns bytes written. Raises OSError (disk full...),
        and after that the same error for every later call: the file is left as the failure left it."""
        if self._broken is not None:
            raise self._broken
        written = 0
        chunk: list[bytes] = []
        chunk_size = 0
        for line in lines:
            data = line.encode("utf-8", "surrogateescape") + b"\n"
            if self._must_rotate(self._size + chunk_size, len(data)):
                written += self._flush_chunk(chunk)
                chunk, chunk_size = [], 0
                self.rotate()
            chunk.append(data)
            chunk_size += len(data)
        written += self._flush_chunk(chunk)
        return written

    def flush(self) -> None:
        """Nothing to do: every batch is handed to the OS as it is written (a SIGKILL loses nothing written)."""

    def close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            finally:
                self._file = None
        self.wait_for_compression()

    def wait_for_compression(self, timeout_s: float | None = None) -> None:
        if self._compressing is not None:
            self._compressing.join(timeout_s)

    def rotate(self) -> None:
        """Close the live file and shift it into the backups, dropping the oldest beyond backup_count."""
        self.close()
        self._rollover_at = next_boundary(self._when, self._clock())
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
            self._compressing = threading.Thread(target=_gzip_in_place, args=(first,), daemon=True,
                                                 name=f"aiw-otel-gzip-{self.path.name}")
            self._compressing.start()

    def _must_rotate(self, before: int, adding: int) -> bool:
        """`before`: what the file holds before this line. An empty file is never rotated, so a line
        longer than max_bytes still gets written (into a file of its own)."""
        due = self._rollover_at is not None and self._clock() >= self._rollover_at
        if before == 0:
            if due:
                self._rollover_at = next_boundary(self._when, self._clock())
            return False
        return due or before + adding > self._max_bytes

    def _flush_chunk(self, chunk: list[bytes]) -> int:
        if not chunk:
            return 0
        data = memoryview(b"".join(chunk))
        file = self._open()
        done = 0
        try:
            while done < len(data):  # a raw write may take only part (the last bytes before the disk is full)
                done += file.write(data[done:]) or 0
        except OSError as error:
            self._size += done
            self._broken = error
            self.close()
            raise
        self._size += done
        return done

    def _open(self) -> io.FileIO:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=DIRECTORY_MODE)
            fd = open_private(self.path, os.O_WRONLY | os.O_APPEND)
            self._file = io.FileIO(fd, "ab")
            self._size = os.fstat(fd).st_size
        return self._file


def _gzip_in_place(path: Path) -> None:
    """`x.1` -> `x.1.gz`, atomically: readers see either the plain file or the complete archive."""
    target = path.with_name(path.name + ".gz")
    partial = path.with_name(path.name + ".gz.partial")
    try:
        with open(path, "rb") as source:
            fd = open_private(partial, os.O_WRONLY | os.O_TRUNC)
            with os.fdopen(fd, "wb") as raw, gzip.GzipFile(filename="", mode="wb", compresslevel=6, fileobj=raw) as sink:
                shutil.copyfileobj(source, sink, 1 << 20)
        os.replace(partial, target)
        path.unlink()
    except OSError:  # disk full while compressing: keep the plain backup, it is still valid
        partial.unlink(missing_ok=True)
