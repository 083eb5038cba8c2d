"""Where a run's control socket lives, so that `aiw-otel run` and `aiw-otel ctl` agree without flags.

The default is `<log dir>/control.sock`: the run and the person steering it already share the log
directory. AF_UNIX paths are limited to 107 bytes on Linux (103 on macOS), so a log dir too deep
for that falls back to a short path derived from the log dir, which `ctl` can compute too, in a
directory only this user can enter: `$XDG_RUNTIME_DIR/aiw-otel/` (the session's private runtime
directory), else `/tmp/aiw-otel-<uid>/`, created 0700 and checked (ours, a real directory, no
access for anyone else). A socket directly in /tmp could be created first by another local user:
the run would be refused, and `ctl` would send its command, context text included, to them.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

SOCKET_NAME = "control.sock"
#: Runs started on one log directory (runners from one project directory share `./logs`) each
#: listen: the first on control.sock, the others, finding it held, on `control-<pid>.sock`.
SOCKET_GLOBS = (SOCKET_NAME, "control-*.sock")
#: sun_path is 108 bytes on Linux including the terminating NUL (104 on macOS).
MAX_SOCKET_PATH_BYTES = 103 if sys.platform == "darwin" else 107


def default_socket_path(log_dir: str | os.PathLike[str], *, create: bool = False) -> Path:
    """`<log dir>/control.sock`, or `<private dir>/<hash of the log dir>.sock` when that is too long
    (or, for the run, when the log dir cannot hold it).

    `create` (the run) makes the private directory; when a directory of that name is not private
    (someone else made it first), the run gets a fresh private one of its own instead (it prints
    its socket path), so squatting the name denies nothing.
    """
    directory = Path(log_dir).absolute()
    preferred = directory / SOCKET_NAME
    if len(os.fsencode(preferred)) <= MAX_SOCKET_PATH_BYTES and (not create or _usable(directory)):
        return preferred
    import hashlib  # here, not above: every `aiw-otel ctl` looks its socket up, few need these (~4 ms)
    import tempfile

    name = f"{hashlib.sha256(os.fsencode(directory)).hexdigest()[:12]}.sock"
    private = private_socket_dir()
    if create and not _make_private(private):
        private = Path(tempfile.mkdtemp(prefix=f"aiw-otel-{os.getuid()}-", dir="/tmp"))  # 0700, ours
    return private / name


def private_socket_dir(environ: dict[str, str] | None = None) -> Path:
    """The directory for fallback sockets (not created here)."""
    runtime = (os.environ if environ is None else environ).get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime) and is_private(Path(runtime)):
        return Path(runtime) / "aiw-otel"
    return Path("/tmp") / f"aiw-otel-{os.getuid()}"


def is_private(directory: Path) -> bool:
    """A real directory (not a link), owned by this user, that no one else may enter or change."""
    try:
        status = directory.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(status.st_mode) and status.st_uid == os.geteuid() and not status.st_mode & 0o077


def _usable(directory: Path) -> bool:
    """The log dir can hold the socket; when it cannot (a file, unwritable) the run goes on
    without its file sink, and its socket goes to the private directory."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return directory.is_dir() and os.access(directory, os.W_OK | os.X_OK)


def _make_private(directory: Path) -> bool:
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return False
    return is_private(directory)


def another_runs_socket(preferred: Path) -> Path:
    """Where a run listens when another live run holds its default socket `preferred`."""
    return preferred.with_name(f"{preferred.stem}-{os.getpid()}{preferred.suffix}")


def other_runs_sockets(preferred: Path) -> list[Path]:
    """The `another_runs_socket` paths of every run, live or not, beside `preferred`."""
    return sorted(preferred.parent.glob(f"{preferred.stem}-*{preferred.suffix}"))


def find_socket(log_dir: str | os.PathLike[str]) -> Path:
    """The socket `ctl` / `watch` talk to when given none: the newest control socket in the log dir or
    one level below it (runs with `--log-dir logs/<name>`), else the default path of the log dir."""
    found = control_sockets(log_dir)
    return found[0] if found else default_socket_path(log_dir)


def control_sockets(log_dir: str | os.PathLike[str]) -> list[Path]:
    """Every control socket (`control.sock`, `control-<pid>.sock`) in the log dir or one level below it,
    newest first (`aiw-otel web` lists them all). Sockets only: whether a run still listens on one,
    only connecting tells."""
    directory = Path(log_dir)
    candidates = [path for pattern in SOCKET_GLOBS for path in [*directory.glob(pattern), *directory.glob(f"*/{pattern}")]]
    sockets = [(path.lstat().st_mtime, path) for path in candidates if _is_socket(path)]
    return [path.absolute() for _, path in sorted(sockets, reverse=True)]


def _is_socket(path: Path) -> bool:
    try:
        return stat.S_ISSOCK(path.lstat().st_mode)
    except OSError:
        return False
