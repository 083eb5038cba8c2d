"""A command never outlives its runner, however the runner ends (SIGKILL included)."""

from __future__ import annotations

import os
import signal
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.cli_process import AIW
from tests.processes import process_state, process_with, until

#: Real aiw-otel processes: not in the fast loop (`pytest -m "not slow"`).
pytestmark = pytest.mark.slow


def _runner(tmp_path: Path, command: str) -> subprocess.Popen[bytes]:
    plan = tmp_path / "plan.yaml"
    plan.write_text(textwrap.dedent(f"""
        task_id: orphan
        plan:
          - step_id: wait
            description: a long command
            agent_spec: {{type: t}}
            actions: [{{run: "{command}"}}]
    """))
    return subprocess.Popen(
        [*AIW, "run", str(plan), "--no-console", "--log-dir", str(tmp_path / "logs"),
         "--workspace", str(tmp_path / "ws")],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _gone(pid: int) -> bool:
    """Ended: gone, or a zombie of ours (this test process may be a subreaper, see processes._adopt_orphans)."""
    if process_state(pid) not in (None, "Z"):
        return False
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    return True


def test_sigkill_of_the_runner_ends_the_running_command(tmp_path):
    runner = _runner(tmp_path, "sleep 311.25")
    try:
        sleeper = until(lambda: process_with("sleep 311.25"), "the command to start")
        runner.kill()
        runner.wait()
        until(lambda: _gone(sleeper), "the command to end with its runner")
    finally:
        if runner.poll() is None:
            runner.kill()


def test_sigkill_of_the_runner_ends_the_commands_whole_group(tmp_path):
    """A shell's children are grandchildren of the runner: a parent-death signal on the shell alone misses them."""
    runner = _runner(tmp_path, "sleep 312.25 & sleep 313.25; wait")
    try:
        first = until(lambda: process_with("sleep 312.25", shells=False), "the background command")
        second = until(lambda: process_with("sleep 313.25", shells=False), "the foreground command")
        runner.kill()
        runner.wait()
        until(lambda: _gone(first) and _gone(second), "the whole group to end with its runner")
    finally:
        for marker in ("sleep 312.25", "sleep 313.25"):
            pid = process_with(marker)
            if pid:
                os.kill(pid, signal.SIGKILL)
