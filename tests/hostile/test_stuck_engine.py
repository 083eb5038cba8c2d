"""A cancel ends the run within its grace period even when the engine thread never comes back.

The engine is made to hang in a C call no cancel reaches (tests/hostile/stuck_engine.py, a test
seam); the cancel comes over the control socket (`aiw-otel ctl cancel`) or as SIGTERM, as a user
sends it. The process must end on its own: exit 3, the files holding the run's spans ended as
interrupted and the plan Cancelled.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from aiw_otel.config import TelemetryConfig
from aiw_otel.runner.watchdog import CANCEL_GRACE_S, EXIT_MARGIN_S
from tests.hostile.cli import HANG_GUARD_S, ROOT, aiw
from tests.otlp_files import attrs, log_records_in, spans_in
from tests.processes import until
from tests.test_console_tmux import Pane, ensure_tmux

#: Real aiw-otel processes: not in the fast loop (`pytest -m "not slow"`).
pytestmark = pytest.mark.slow

SEAM = ROOT / "tests" / "hostile" / "stuck_engine.py"
SHUTDOWN_S = TelemetryConfig().shutdown_timeout_s
#: Not a measurement: the grace period, three shutdown budgets (the watchdog's, the front end's, a last
#: flush), and room for a machine shared with other work.
ENDS_WITHIN_S = CANCEL_GRACE_S + 3 * SHUTDOWN_S + EXIT_MARGIN_S + 10

PLAN = textwrap.dedent("""
    task_id: stuck
    plan:
      - step_id: hang
        description: reads a file on a filesystem that stopped answering
        agent_spec: {type: t}
        actions: [{write: ok.txt, content: fine}, {read: ok.txt}, {read: hung}]
      - step_id: after
        description: never reached
        agent_spec: {type: t}
        actions: [{write: after.txt, content: x}]
""")


def _stuck_runner(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[str], Path]:
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    socket_path = tmp_path / "c.sock"
    runner = subprocess.Popen(
        [sys.executable, str(SEAM), "run", str(plan), "--no-console", "--workspace", str(tmp_path / "ws"),
         "--log-dir", str(tmp_path / "logs"), "--control-socket", str(socket_path), *extra],
        cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    until(lambda: (tmp_path / "ws" / "hung.reached").exists() or runner.poll() is not None,
          "the engine to get stuck", HANG_GUARD_S)
    assert runner.poll() is None, runner.communicate()
    return runner, socket_path


def _ended(runner: subprocess.Popen[str], cancelled_at: float) -> tuple[str, str, float]:
    try:
        out, err = runner.communicate(timeout=ENDS_WITHIN_S)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.communicate()
    return out, err, time.monotonic() - cancelled_at


def _assert_recorded_interrupted(logs: Path) -> None:
    spans = spans_in(logs)
    plan = [span for span in spans if "aiw.plan.state" in attrs(span)]
    step = [span for span in spans if "aiw.step.state" in attrs(span)]
    hung_read = [span for span in spans if attrs(span).get("aiw.file.relative_path") == "hung"]
    assert len(plan) == len(step) == len(hung_read) == 1, [span["name"] for span in spans]
    assert attrs(plan[0])["aiw.plan.state"] == attrs(step[0])["aiw.step.state"] == "Cancelled"
    for span in (plan[0], step[0], hung_read[0]):
        assert attrs(span)["error.type"] == "interrupted", span
        assert span["status"]["code"] == 2  # ERROR
    records = [attrs(record) for record in log_records_in(logs)]
    assert any(record.get("aiw.action") == "engine_unresponsive" for record in records), records


def test_a_cancel_over_the_control_socket_ends_a_stuck_run(tmp_path):
    runner, socket_path = _stuck_runner(tmp_path)
    reply = aiw("ctl", "cancel", "--socket", str(socket_path))
    cancelled_at = time.monotonic()
    assert reply.returncode == 0, reply.stderr
    out, err, took = _ended(runner, cancelled_at)
    assert runner.returncode == 3, err
    assert took >= CANCEL_GRACE_S - 1  # the engine got its grace period
    assert "Traceback" not in err
    assert (f"aiw-otel: the engine did not stop within {CANCEL_GRACE_S:g} s of the cancel "
            "(stuck in _stuck_on_hung at stuck_engine.py:") in out
    assert "aiw-otel: plan 'plan' Cancelled" in out
    _assert_recorded_interrupted(tmp_path / "logs")


def test_sigterm_ends_a_stuck_run(tmp_path):
    runner, _ = _stuck_runner(tmp_path)
    runner.send_signal(signal.SIGTERM)
    out, err, _took = _ended(runner, time.monotonic())
    assert runner.returncode == 3, err
    assert "Traceback" not in err
    assert "aiw-otel: plan 'plan' Cancelled" in out
    _assert_recorded_interrupted(tmp_path / "logs")


def test_a_stuck_run_whose_ending_blocks_too_is_ended_by_the_watchdog(tmp_path):
    """The stuck thread holds a lock the front end's ending needs (logging's): the watchdog ends the process."""
    runner, socket_path = _stuck_runner(tmp_path, "--hold-logging-lock")
    assert aiw("ctl", "cancel", "--socket", str(socket_path)).returncode == 0
    out, err, _took = _ended(runner, time.monotonic())
    assert runner.returncode == 3, err
    assert "Traceback" not in err
    assert "the run ends without it; the process is ended" in err
    spans = spans_in(tmp_path / "logs")
    assert any(attrs(span).get("aiw.file.relative_path") == "hung" and attrs(span)["error.type"] == "interrupted"
               for span in spans)


def _console_pane(tmp_path: Path, *extra: str) -> Pane:
    """The stuck run with its live console in a real terminal (tmux); after it, its exit code and the terminal's mode."""
    tmux = ensure_tmux()
    (tmp_path / "plan.yaml").write_text(PLAN)
    name = f"aiw-stuck-{uuid.uuid4().hex[:8]}"
    command = (f"{sys.executable} {SEAM} run {tmp_path / 'plan.yaml'} --workspace {tmp_path / 'ws'} "
               f"--log-dir {tmp_path / 'logs'} --control-socket {tmp_path / 'c.sock'} {' '.join(extra)}; "
               "echo EXIT=$?; stty -a; echo MODES-END; sleep 600")
    subprocess.run([tmux, "new-session", "-d", "-s", name, "-x", "120", "-y", "40", "-e", "TERM=xterm-256color",
                    "-e", f"PYTHONPATH={ROOT}", "-c", str(tmp_path), command], check=True)
    pane = Pane(tmux, name)
    until(lambda: (tmp_path / "ws" / "hung.reached").exists(), f"the engine to get stuck\n{pane.screen()}", HANG_GUARD_S)
    return pane


def _close(pane: Pane) -> None:
    subprocess.run([pane.tmux, "kill-session", "-t", pane.name], capture_output=True)


def test_a_live_console_shows_a_stuck_run_cancelled_and_quits_with_3(tmp_path):
    pane = _console_pane(tmp_path)
    try:
        pane.type("cancel")
        pane.wait_for("run Cancelled — press q to quit", ENDS_WITHIN_S)
        pane.keys("q")
        screen = pane.wait_for("EXIT=3", HANG_GUARD_S)
        assert "the engine did not stop within" in screen
    finally:
        _close(pane)


def test_a_forced_exit_gives_the_terminal_back(tmp_path):
    """The ending blocks too (logging's lock held): the watchdog ends the process under the console."""
    pane = _console_pane(tmp_path, "--hold-logging-lock")
    try:
        pane.type("cancel")
        screen = pane.wait_for("MODES-END", ENDS_WITHIN_S + HANG_GUARD_S)  # EXIT=3 shows before stty's output
        unwrapped = "".join(screen.splitlines())  # the pane wraps long lines at its width
        assert "the run ends without it; the process is ended" in unwrapped  # on the normal screen again
        modes = screen.split("EXIT=3", 1)[1].split()
        assert "icanon" in modes and "echo" in modes, screen  # not -icanon / -echo: keys echo again
    finally:
        _close(pane)
