"""The fallback control socket lives in a private directory, and `ctl` talks only to sockets of its user."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from aiw_otel.control.client import ControlClient, ForeignSocket
from aiw_otel.control.paths import MAX_SOCKET_PATH_BYTES, default_socket_path, private_socket_dir
from tests.hostile.cli import aiw, one_line_error

#: Real aiw-otel processes: not in the fast loop (`pytest -m "not slow"`).
pytestmark = pytest.mark.slow


def _deep(tmp_path: Path) -> Path:
    return tmp_path / ("d" * 150)


def test_the_fallback_is_in_a_private_runtime_directory(tmp_path, monkeypatch):
    runtime = tmp_path / "rt"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    path = default_socket_path(_deep(tmp_path), create=True)
    assert path.parent == runtime / "aiw-otel" == private_socket_dir()
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert len(os.fsencode(path)) <= MAX_SOCKET_PATH_BYTES
    assert default_socket_path(_deep(tmp_path)) == path  # what ctl computes, without creating anything


def test_without_a_runtime_directory_the_fallback_is_a_private_dir_in_tmp(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    path = default_socket_path(_deep(tmp_path), create=True)
    assert path.parent == Path("/tmp") / f"aiw-otel-{os.getuid()}"
    status = path.parent.lstat()
    assert stat.S_ISDIR(status.st_mode) and status.st_uid == os.geteuid() and not status.st_mode & 0o077


@pytest.mark.parametrize("runtime_mode", [0o755, 0o777])
def test_a_runtime_directory_open_to_others_is_not_used(tmp_path, monkeypatch, runtime_mode):
    runtime = tmp_path / "rt"
    runtime.mkdir()
    runtime.chmod(runtime_mode)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    assert private_socket_dir() == Path("/tmp") / f"aiw-otel-{os.getuid()}"


def test_a_squatted_directory_name_gets_the_run_a_fresh_private_one(tmp_path, monkeypatch):
    runtime = tmp_path / "rt"
    runtime.mkdir(mode=0o700)
    (runtime / "aiw-otel").mkdir(mode=0o777)
    (runtime / "aiw-otel").chmod(0o777)  # as another user would leave it (mkdir obeys the umask)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    path = default_socket_path(_deep(tmp_path), create=True)
    try:
        assert path.parent != runtime / "aiw-otel"
        status = path.parent.lstat()
        assert status.st_uid == os.geteuid() and stat.S_IMODE(status.st_mode) == 0o700
    finally:
        path.parent.rmdir()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a socket to another user needs root")
def test_ctl_refuses_a_socket_of_another_user(tmp_path):
    path = tmp_path / "squat.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as squatter:
        squatter.bind(str(path))
        squatter.listen(1)
        os.chown(path, 54321, 54321)
        with pytest.raises(ForeignSocket, match="belongs to uid 54321"):
            ControlClient(path).request("context", "the secret plan")
        result = aiw("ctl", "context", "the secret plan", "--socket", str(path))
        assert result.returncode == 2 and "belongs to uid 54321" in one_line_error(result)
        squatter.settimeout(0)
        with pytest.raises(BlockingIOError):
            squatter.accept()  # nothing ever connected
