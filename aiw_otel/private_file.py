"""Creating the files we write: readable by their owner only, from the moment they exist.

Log files, their compressed backups, the config's stdlib handler files and ship's state file hold
prompts, paths and endpoints that are nobody else's business. Each is created 0600 (not chmod-ed
after its first bytes, which would leave a window), and one that already exists is made 0600 too:
the umask may take bits away but never adds them, and a file left by an older run may be 0644.
"""

from __future__ import annotations

import os

PRIVATE_FILE_MODE = 0o600


def open_private(path: str | os.PathLike[str], flags: int) -> int:
    """`path` opened with `flags` (O_CREAT added), 0600 whatever the umask; a raw descriptor for
    the caller to wrap (`io.FileIO`, `os.fdopen`) or close."""
    fd = os.open(path, flags | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE_MODE)
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd
