"""A command never outlives its runner, however the runner ends (SIGKILL included)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.cli_process import AIW, ROOT
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
        sleeper = until(lambda: process_with("sleep 311.25", shells=False), "the command to start")
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


#: A runner held in the window between starting its command and telling the orphan guard of it:
#: where a busy scheduler may stop it for a few ticks, and where a SIGKILL lands then. It writes
#: the command's pid to argv[1], then waits to be killed.
_HELD_RUNNER = """
import sys, threading
from pathlib import Path
import aiw_otel
from aiw_otel.runner.control import RunControl
from aiw_otel.runner.orphan_guard import GUARD
from aiw_otel.runner.processes import run_command

def held(pgid):
    Path(sys.argv[1]).write_text(f"{pgid}\\n")
    threading.Event().wait()

GUARD.watch = held
telemetry = aiw_otel.configure(environ={"AIW_FILE": "off", "AIW_CONSOLE": "off"}, set_global=False)
with telemetry.plan_run("p") as run, run.step("s", "validation") as step:
    run_command(step, "touch ran; sleep 314.25", cwd=Path(sys.argv[2]), control=RunControl(), timeout_s=None)
"""


def test_a_runner_killed_before_its_guard_knows_the_command_leaves_nothing_running(tmp_path):
    """The kill lands after the command's process exists and before the guard is told of its group:
    the command must not run on unguarded (it does not start at all)."""
    told = tmp_path / "pid"
    runner = subprocess.Popen([sys.executable, "-c", _HELD_RUNNER, str(told), str(tmp_path)], cwd=ROOT,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        first = until(lambda: told.exists() and told.read_text().endswith("\n") and int(told.read_text()),
                      "the runner to start the command")
        runner.kill()
        runner.wait()
        until(lambda: _gone(first), "the command's first process to end with its runner")
        assert process_with("sleep 314.25", shells=False) is None
        assert not (tmp_path / "ran").exists(), "the command ran with no guard to end it"
    finally:
        if runner.poll() is None:
            runner.kill()
        pid = process_with("sleep 314.25")
        if pid:
            os.killpg(pid, signal.SIGKILL)
