"""Compressing a rotated backup while other processes go on rotating the same stream.

The process that rotated a file compresses it, on a thread of its own (10 MB of gzip never holds
up its writer) and without holding the stream's lock (nor the other processes' writers). Meanwhile
another process may rotate again, shifting the backup from `.1` to `.2` or dropping it past
backup_count: so the archive is built under a name of the backup's inode, and put in place under
the lock wherever that inode is then, or thrown away when the backup is gone. Nothing appends to a
backup (a writer checks, under the lock, that its file is still the live one), so the archive holds
exactly the lines of the plain file it replaces.
"""

from __future__ import annotations

import gzip
import os
import shutil
import threading
from contextlib import closing
from pathlib import Path
from typing import BinaryIO

from aiw_otel.exporters.stream_lock import StreamLock
from aiw_otel.logdir import GZIP_SUFFIX, backup_name, backups, compressing, compressing_name
from aiw_otel.private_file import open_private

Identity = tuple[int, int]


def start_compressing(backup: Path, base: str) -> threading.Thread:
    """Compress `backup` (which the live file `base` just became) to `.N.gz` on a new thread.

    Called under the stream's lock: the backup is opened here, before another rotation can move it."""
    source = open(backup, "rb")
    thread = threading.Thread(target=_compress, args=(source, backup.parent, base), daemon=True,
                              name=f"aiw-otel-gzip-{base}")
    thread.start()
    return thread


def drop_abandoned(directory: Path, base: str) -> None:
    """Remove archives whose backup no longer exists as a plain file: left by a process killed while
    compressing, they would otherwise pile up past the disk bound. Called under the stream's lock."""
    inodes = {inode for _, inode in plain_backups(directory, base).values()}
    for inode, partial in compressing(directory, base):
        if inode not in inodes:
            partial.unlink(missing_ok=True)


def plain_backups(directory: Path, base: str) -> dict[Path, Identity]:
    """The uncompressed backups of `base` and their (device, inode)."""
    found: dict[Path, Identity] = {}
    for index, _ in backups(directory, base):
        plain = directory / backup_name(base, index, False)
        try:
            status = os.stat(plain)
        except FileNotFoundError:
            continue
        found[plain] = (status.st_dev, status.st_ino)
    return found


def _compress(source: BinaryIO, directory: Path, base: str) -> None:
    status = os.fstat(source.fileno())
    identity = (status.st_dev, status.st_ino)
    partial = directory / compressing_name(base, status.st_ino)
    try:
        with source:
            fd = open_private(partial, os.O_WRONLY | os.O_TRUNC)
            with os.fdopen(fd, "wb") as raw, gzip.GzipFile(filename="", mode="wb", compresslevel=6, fileobj=raw) as sink:
                shutil.copyfileobj(source, sink, 1 << 20)
        with closing(StreamLock(directory / base)) as lock, lock:
            now = next((path for path, found in plain_backups(directory, base).items() if found == identity), None)
            if now is None:  # dropped past backup_count by a later rotation
                partial.unlink(missing_ok=True)
                return
            # Readers see the plain backup, then for a moment both (they take the archive), then the archive.
            os.replace(partial, now.with_name(now.name + GZIP_SUFFIX))
            now.unlink()
    except OSError:  # disk full while compressing: keep the plain backup, it is still valid
        partial.unlink(missing_ok=True)
