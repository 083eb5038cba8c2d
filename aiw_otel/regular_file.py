"""Opening files that someone else made: only regular files, and never more than we mean to read.

A plan, a subtask file, a config, a log file or a workspace file may be a FIFO (which blocks in
open() until a writer comes, where no cancel or signal handler reaches the thread), a link to
`/dev/zero` (endless) or a huge file. Each is opened with O_NONBLOCK, so the open itself returns
at once whatever the file is, then fstat says what was opened; only a regular file is used, in
blocking mode again (a regular file never blocks anyway).
"""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO

#: What a plan, subtask or config file may weigh; far beyond anything written by hand or a model.
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024


class NotRegularFile(OSError):
    """A FIFO, a device, a socket or a directory where a regular file was expected."""

    def __init__(self, path: str | os.PathLike[str], what: str) -> None:
        super().__init__(errno.EINVAL, f"not a regular file ({what}); refused", os.fspath(path))


class FileTooLarge(OSError):
    def __init__(self, path: str | os.PathLike[str], limit: int) -> None:
        super().__init__(errno.EFBIG, f"larger than {limit} bytes; refused", os.fspath(path))


def kind_of(mode: int) -> str:
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def open_regular(path: str | os.PathLike[str], flags: int = os.O_RDONLY, mode: int = 0o666) -> BinaryIO:
    """The file opened in binary mode ("rb" for O_RDONLY, else "wb"), or NotRegularFile
    (IsADirectoryError for a directory, as open() would).

    Other OSErrors (not found, permission denied) pass through as they are.
    """
    try:
        fd = os.open(path, flags | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC, mode)
    except OSError as error:
        if error.errno == errno.ENXIO:  # a FIFO with no reader, opened for writing
            raise NotRegularFile(path, "a FIFO") from None
        raise
    try:
        status = os.fstat(fd).st_mode
        if stat.S_ISDIR(status):  # as open() says it, so callers that name directories still do
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(path))
        if not stat.S_ISREG(status):
            raise NotRegularFile(path, kind_of(status))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb" if flags & os.O_ACCMODE == os.O_RDONLY else "wb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | os.PathLike[str], limit: int = MAX_DOCUMENT_BYTES) -> bytes:
    """The whole content of a regular file of at most `limit` bytes (FileTooLarge beyond)."""
    with open_regular(path) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(path, limit)
    return data
