"""Where a run's control socket lives, so that `aiw-otel run` and `aiw-otel ctl` agree without flags.

The default is `<log dir>/control.sock`: the run and the person steering it already share the log
directory. AF_UNIX paths are limited to 107 bytes on Linux (103 on macOS), so a log dir too deep
for that falls back to a short path in /tmp derived from the log dir, which `ctl` can compute too.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
from pathlib import Path

SOCKET_NAME = "control.sock"
#: sun_path is 108 bytes on Linux including the terminating NUL (104 on macOS).
MAX_SOCKET_PATH_BYTES = 103 if sys.platform == "darwin" else 107


def default_socket_path(log_dir: str | os.PathLike[str]) -> Path:
    """`<log dir>/control.sock`, or `/tmp/aiw-otel-<uid>-<hash of the log dir>.sock` when that is too long."""
    directory = Path(log_dir).absolute()
    preferred = directory / SOCKET_NAME
    if len(os.fsencode(preferred)) <= MAX_SOCKET_PATH_BYTES:
        return preferred
    digest = hashlib.sha256(os.fsencode(directory)).hexdigest()[:12]
    return Path("/tmp") / f"aiw-otel-{os.getuid()}-{digest}.sock"


def find_socket(log_dir: str | os.PathLike[str]) -> Path:
    """The socket `ctl` / `watch` talk to when given none: the newest `control.sock` in the log dir or
    one level below it (runs with `--log-dir logs/<name>`), else the default path of the log dir."""
    directory = Path(log_dir)
    candidates = [directory / SOCKET_NAME, *directory.glob(f"*/{SOCKET_NAME}")]
    sockets = [(path.lstat().st_mtime, path) for path in candidates if _is_socket(path)]
    if sockets:
        return max(sockets)[1].absolute()
    return default_socket_path(directory)


def _is_socket(path: Path) -> bool:
    try:
        return stat.S_ISSOCK(path.lstat().st_mode)
    except OSError:
        return False
