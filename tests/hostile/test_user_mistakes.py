"""Mistakes a user makes on the command line: one line and exit 2, or the run goes on as documented."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import textwrap
import threading
from pathlib import Path

import pytest

from tests.cli_process import AIW
from tests.hostile.cli import HANG_GUARD_S, ROOT, aiw, one_line_error

PLAN = textwrap.dedent("""
    task_id: mistakes
    plan:
      - step_id: write
        description: write a file
        agent_spec: {type: t}
        actions: [{write: out.txt, content: hello}, {run: "echo done"}]
""")

#: Real aiw-otel processes: not in the fast loop (`pytest -m "not slow"`).
pytestmark = pytest.mark.slow


def _plan(tmp_path: Path) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN)
    return path


def test_a_workspace_that_is_a_file_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "afile").write_text("x")
    result = aiw("run", str(_plan(tmp_path)), "--no-console", "--workspace", str(tmp_path / "afile"),
                 "--log-dir", str(tmp_path / "logs"))
    assert result.returncode == 2
    assert one_line_error(result) == f"aiw-otel: --workspace {tmp_path / 'afile'}: exists and is not a directory"


def test_a_log_dir_that_is_a_file_runs_without_the_file_sink(tmp_path):
    (tmp_path / "afile").write_text("x")
    result = aiw("run", str(_plan(tmp_path)), "--no-console", "--workspace", str(tmp_path / "ws"),
                 "--log-dir", str(tmp_path / "afile"))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "sink 'file' is off" in result.stderr
    assert "plan 'plan' Completed" in result.stdout and "telemetry in" not in result.stdout
    assert (tmp_path / "ws" / "out.txt").read_text() == "hello"
    assert (tmp_path / "afile").read_text() == "x"


def test_the_default_workspace_is_private_and_not_in_the_log_dir(tmp_path):
    result = aiw("run", str(_plan(tmp_path)), "--no-console", "--log-dir", str(tmp_path / "logs"))
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("aiw-otel: running plan"))
    workspace = Path(line.rsplit(" in ", 1)[1])
    try:
        assert not workspace.resolve().is_relative_to((tmp_path / "logs").resolve())
        assert stat.S_IMODE(workspace.stat().st_mode) == 0o700
        assert (workspace / "out.txt").read_text() == "hello"
    finally:
        for child in workspace.iterdir():
            child.unlink()
        workspace.rmdir()


def test_a_reader_that_goes_away_changes_neither_the_run_nor_its_exit_code(tmp_path):
    """`aiw-otel run ... | head -1`: the pipe closes after the first line."""
    read_end, write_end = os.pipe()
    runner = subprocess.Popen(
        [*AIW, "run", str(_plan(tmp_path)), "--no-console",
         "--workspace", str(tmp_path / "ws"), "--log-dir", str(tmp_path / "logs")],
        cwd=ROOT, stdout=write_end, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        assert reader.readline().startswith(b"aiw-otel: running plan")
    _, stderr = runner.communicate(timeout=HANG_GUARD_S)
    assert runner.returncode == 0
    assert b"Traceback" not in stderr  # the console sink may report the closed pipe as a warning, once
    assert not any(line.startswith(b"BrokenPipeError") for line in stderr.splitlines())
    assert (tmp_path / "ws" / "out.txt").read_text() == "hello"


def _echo_server(path: Path) -> tuple[socket.socket, threading.Thread, list[dict[str, object]]]:
    """A socket that answers each request with its own text, as a run would reply."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(4)
    seen: list[dict[str, object]] = []

    def serve() -> None:
        for _ in range(3):
            conn, _ = listener.accept()
            with conn, conn.makefile("rb") as lines:
                request = json.loads(lines.readline())
                seen.append(request)
                conn.sendall(json.dumps({"ok": True, "message": request.get("text"), "data": None}).encode() + b"\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, thread, seen


def test_ctl_takes_options_between_and_after_its_words(tmp_path):
    path = tmp_path / "ctl.sock"
    listener, thread, seen = _echo_server(path)
    with listener:
        for args in (("context", "--socket", str(path), "keep", "it", "short"),
                     ("context", "keep", "--socket", str(path), "it", "short"),
                     ("context", "keep", "it", "short", "--socket", str(path))):
            result = aiw("ctl", *args)
            assert (result.returncode, result.stdout.strip(), result.stderr) == (0, "keep it short", "")
        thread.join(HANG_GUARD_S)
    assert [r["text"] for r in seen] == ["keep it short"] * 3
    refused = aiw("ctl", "context", "keep", "--bogus", "it")
    assert refused.returncode == 2 and "unrecognized arguments: --bogus it" in refused.stderr
