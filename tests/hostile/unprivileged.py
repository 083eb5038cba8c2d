"""aiw-otel as a user the files deny: root (who runs CI here) is never denied, so as root the
command runs as `nobody` (setpriv, from util-linux), and as anyone else as themselves.

A file or directory is denied with mode 0 (a directory with 0o555 is only unwritable); what the
command must still reach lives in a `shared_dir`, outside pytest's own 0700 temporary directory.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from tests.cli_process import AIW
from tests.hostile.cli import HANG_GUARD_S

AS_NOBODY = ("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups")


def _as_denied_user() -> tuple[str, ...]:
    if os.geteuid() != 0:
        return ()
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv (util-linux) to become an unprivileged user")
    return AS_NOBODY


def give_to_denied_user(path: Path) -> None:
    """Make the denied user the owner of `path` (so what denies them is its mode, not its owner)."""
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(path, nobody.pw_uid, nobody.pw_gid)


def denied_aiw(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`aiw-otel *args` as a user the denied files deny, in `cwd`; no $XDG_RUNTIME_DIR of ours."""
    return subprocess.run([*_as_denied_user(), *AIW, *args], capture_output=True, text=True, cwd=cwd,
                          env=_environment(env), timeout=HANG_GUARD_S, stdin=subprocess.DEVNULL)


def denied_popen(*args: str, cwd: Path) -> subprocess.Popen[str]:
    """As `denied_aiw`, started and left running (for --follow)."""
    return subprocess.Popen([*_as_denied_user(), *AIW, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=cwd, env=_environment(None), stdin=subprocess.DEVNULL)



def _environment(env: dict[str, str] | None) -> dict[str, str]:
    """This one's (or `env`), without our $XDG_RUNTIME_DIR: the other user has none there."""
    environ = os.environ if env is None else env
    return {**{key: value for key, value in environ.items() if key != "XDG_RUNTIME_DIR"}, "COLUMNS": "120"}


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A new directory the denied user can enter and write in (0o777); removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="aiw-otel-denied-"))
    path.chmod(0o777)
    try:
        yield path
    finally:
        shutil.rmtree(path, onerror=_open_up_and_retry)


def _open_up_and_retry(function: object, failed: str, _error: object) -> None:
    """A directory denied to its (non-root) owner cannot be listed: give it back and remove it."""
    os.chmod(failed, 0o700)
    shutil.rmtree(failed)


def writable_dir(path: Path) -> Path:
    """A directory the denied user may write in (their workspace)."""
    path.mkdir()
    path.chmod(0o777)
    return path
