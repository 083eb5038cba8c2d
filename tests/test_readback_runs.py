"""`aiw-otel logs --runs` and the web's run list on a run that was killed: no plan span is ever written."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

import aiw_otel
from aiw_otel.config import FileSinkConfig, SinksConfig, TelemetryConfig
from aiw_otel.timestamps import iso_ms
from aiw_otel.readback.files import find_files
from aiw_otel.readback.runs import INTERRUPTED, QUIET_NS, RUNNING, summaries
from aiw_otel.web.history import run_list
from tests.cli_process import AIW, aiw
from tests.processes import process_state, process_with, until
from tests.recorded_runs import plan_file

#: A real runner, killed: not in the fast loop.
pytestmark = pytest.mark.slow

#: Looking at the files as someone would once the killed run has been quiet for long enough.
LATER_NS = QUIET_NS + 60 * 1_000_000_000


def finished_run(directory: Path, name: str) -> None:
    """A whole run named `name`, written through the public API into `directory`."""
    telemetry = aiw_otel.configure(TelemetryConfig(sinks=SinksConfig(file=FileSinkConfig(directory=str(directory)))),
                                   environ={}, set_global=False, handle_signals=False)
    with telemetry.plan_run(f"plan-{name}", name) as run, run.step("only", "analysis"):
        pass
    assert telemetry.shutdown(10.0)


KILLED_PLAN = """
task_id: killed-1
name: killed
plan:
  - {step_id: quick, description: done at once, agent_spec: {type: t}, actions: [{run: "echo quick"}]}
  - {step_id: wait, description: a long command, agent_spec: {type: t}, actions: [{run: "sleep 311.75"}]}
"""


def killed_runner(tmp_path: Path, logs: Path) -> tuple[subprocess.Popen[bytes], int]:
    """`aiw-otel run` of a plan whose second step sleeps, once its first step's span and its start
    record are in the files; the runner and the pid of its sleeping command."""
    plan = plan_file(tmp_path, KILLED_PLAN)
    runner = subprocess.Popen([*AIW, "run", str(plan), "--no-console", "--log-dir", str(logs),
                               "--workspace", str(tmp_path / "ws")],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sleeper = until(lambda: process_with("sleep 311.75", shells=False), "the long command to start", 30)
    until(lambda: b'"quick"' in (logs / "traces.otlp.jsonl").read_bytes(), "the first step's span in the files", 30)
    until(lambda: b"plan_execution_started" in (logs / "logs.otlp.jsonl").read_bytes(), "the start record in the files", 30)
    return runner, sleeper


def test_a_run_killed_long_ago_is_interrupted_and_listed_by_its_start(tmp_path):
    logs = tmp_path / "logs"
    finished_run(logs, "earlier")
    runner, sleeper = killed_runner(tmp_path, logs)
    try:
        (live,) = [run for run in summaries(find_files([logs]), now_ns=time.time_ns() + LATER_NS) if not run.start_ns]
        assert live.outcome == RUNNING, "quiet for long, but a run answers on the log directory's socket"
        assert live.plan == "killed" and len(live.run_id) == 32, "named by its start record, its plan span unwritten"
        runner.send_signal(signal.SIGKILL)
        runner.wait(30)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    until(lambda: process_state(sleeper) in (None, "Z"), "the command to end with its runner")
    assert (logs / "control.sock").exists(), "the dead run's socket file is left behind: only connecting tells"
    finished_run(logs, "later")
    files = find_files([logs])

    assert summaries(files)[0].outcome == RUNNING, "just killed: as far as the files tell, it may be going"
    listed = aiw("logs", str(logs), "--runs")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("(running)  killed  running  ") and f"trace {live.trace_id}\n" in listed.stdout

    runs = summaries(files, now_ns=time.time_ns() + LATER_NS)
    assert [run.plan for run in runs] == ["later", "killed", "earlier"], "by its start, not first as running"
    killed = runs[1]
    assert killed.trace_id == live.trace_id and killed.outcome == INTERRUPTED
    assert killed.start_ns == 0 and killed.duration_ms is None
    assert runs[2].start_ns < killed.first_ns < killed.last_ns < runs[0].start_ns
    web = run_list(logs)
    assert web[0]["trace_id"] == live.trace_id and web[0]["start"] == killed.first_ns
    assert web[0]["last_seen"] == killed.last_ns

    old = tmp_path / "old"  # the same files as they read an hour later (the dead socket not copied)
    shutil.copytree(logs, old, ignore=shutil.ignore_patterns("control.sock"))
    hour = 3600 * 10**9
    for path in old.iterdir():
        path.write_bytes(re.sub(rb'(UnixNano":")(\d+)"', lambda m: m[1] + b"%d\"" % (int(m[2]) - hour), path.read_bytes()))
    lines = aiw("logs", str(old), "--runs").stdout.splitlines()
    assert len(lines) == 3 and lines[1].endswith(f"trace {killed.trace_id}"), lines
    assert lines[1].startswith(iso_ms(killed.first_ns - hour))
    assert f"  killed  interrupted? (no end recorded, last seen {iso_ms(killed.last_ns - hour)})  -  " in lines[1]
    tree = aiw("logs", str(old), "--trace", killed.trace_id, "--no-color").stdout.splitlines()
    assert tree[0].startswith("killed  plan: span ") and "is not in the files" in tree[0], tree[:3]
    assert tree[1].startswith(f"plan killed-1  run {live.run_id}  trace {killed.trace_id}"), tree[:3]
