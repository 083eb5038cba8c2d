"""OTEL_SDK_DISABLED=true: no spans and no records, yet the run view still follows the run.

The console, `ctl status` and the final summary read the StateTracker, which is fed by spans and
log records; with the SDK disabled there are none, so it is told the engine's own state changes.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

import aiw_otel
from aiw_otel import State
from aiw_otel.cli.run import failure_summary
from aiw_otel.console.overview import Overview
from aiw_otel.processors.state_tracker import StateTracker
from aiw_otel.runner.engine import Engine, RunOptions
from aiw_otel.runner.plan_loader import load_plan
from tests.cli_process import AIW
from tests.hostile.cli import HANG_GUARD_S, ROOT, aiw
from tests.processes import until

PLAN = textwrap.dedent("""
    task_id: offline
    plan:
      - step_id: first
        description: write a file
        agent_spec: {type: t}
        actions: [{write: out.txt, content: hello}]
      - step_id: wait
        description: wait for the test
        agent_spec: {type: t}
        actions: [{run: "python -c \\"import os,time\\nwhile not os.path.exists('go'): time.sleep(0.05)\\""}]
      - step_id: broken
        description: fails
        agent_spec: {type: t}
        actions: [{run: "python -c \\"raise SystemExit(4)\\""}]
      - step_id: after
        description: skipped
        depends_on: [broken]
        agent_spec: {type: t}
        actions: [{write: never.txt, content: x}]
""")


def _plan(tmp_path: Path) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN.replace("while not os.path.exists('go'): time.sleep(0.05)", "pass"))
    return path


def test_the_state_tracker_follows_a_run_with_the_sdk_disabled(tmp_path):
    tracker = StateTracker()
    telemetry = aiw_otel.configure(environ={"OTEL_SDK_DISABLED": "true"}, sinks=[tracker.sink()],
                                   set_global=False, handle_signals=False, stdlib_bridge=False)
    plan = load_plan(_plan(tmp_path))
    tracker.seed(plan, telemetry.redactor)
    try:
        assert Engine(telemetry, plan, RunOptions(workspace=tmp_path / "ws")).run() is State.FAILED
    finally:
        telemetry.shutdown(5)
    view = tracker.snapshot()
    assert view.state == "Failed" and view.run_id and view.started_ns and view.ended_ns
    assert {s.step_id: s.state for s in view.steps} == {"first": "Completed", "wait": "Completed",
                                                        "broken": "Failed", "after": "Skipped"}
    assert all(s.started_ns and s.ended_ns for s in view.steps if s.state != "Skipped")
    assert failure_summary(view)[0].startswith("aiw-otel: step 'broken' failed: command exited with 4")
    # The final overview the console leaves in the scrollback is built from the same view.
    from rich.console import Console

    console = Console(width=120, record=True, file=open(os.devnull, "w"))
    console.print(Overview.of(view, None, view.ended_ns))
    text = console.export_text()
    assert "Pending" not in text and "Completed" in text and "Failed" in text and "Skipped" in text


@pytest.mark.slow
def test_ctl_status_and_the_summary_follow_a_real_run_with_the_sdk_disabled(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    socket_path = tmp_path / "c.sock"
    env = {**os.environ, "OTEL_SDK_DISABLED": "true"}
    runner = subprocess.Popen([*AIW, "run", str(plan), "--no-console", "--workspace", str(tmp_path / "ws"),
                               "--log-dir", str(tmp_path / "logs"), "--control-socket", str(socket_path)],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              stdin=subprocess.DEVNULL)
    try:
        def status() -> dict[str, str] | None:
            if not socket_path.exists():
                return None
            reply = aiw("ctl", "status", "--json", "--socket", str(socket_path))
            if reply.returncode != 0:
                return None
            data = json.loads(reply.stdout)["data"]
            steps = {s["step_id"]: s["state"] for s in data["steps"]}
            return {"plan": data["state"], **steps} if steps["wait"] == "Running" else None

        assert until(status, "step 'wait' Running in ctl status", HANG_GUARD_S) == {
            "plan": "Running", "first": "Completed", "wait": "Running", "broken": "Pending", "after": "Pending"}
        (tmp_path / "ws" / "go").touch()
        out, err = runner.communicate(timeout=HANG_GUARD_S)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.communicate()
    assert runner.returncode == 1, err
    assert "Traceback" not in err
    assert "aiw-otel: step 'broken' failed: command exited with 4" in out
    assert "aiw-otel: plan 'plan' Failed" in out
