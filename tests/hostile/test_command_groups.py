"""A finished command's process group is ended when something really remains in it, and only then."""

from __future__ import annotations

from aiw_otel.runner.control import RunControl
from aiw_otel.runner.processes import run_command
from tests.recorded_runs import debug_config
from tests.processes import process_with


def test_short_commands_get_no_false_leftovers_record_and_no_signal(capture, tmp_path):
    """Before: the leader had exited but the end of its pipes was not read yet, and the empty group
    got SIGTERM and a "processes left by command were ended" record, for more than half of them."""
    cap = capture(debug_config())
    commands = ["true", "echo hi", "printf 'a\\nb\\n'", "echo out; echo err >&2", "exit 3"] * 20
    with cap.telemetry.plan_run("p", "p") as run, run.step("s", "t", "d") as step:
        for command in commands:
            run_command(step, command, cwd=tmp_path, control=RunControl(), timeout_s=30)
    assert cap.logs_with("command_leftovers_ended") == []
    ends = [r for r in cap.logs() if r.attributes.get("aiw.signals")]
    assert ends == []


def test_a_real_leftover_is_still_ended_and_reported(capture, tmp_path):
    cap = capture(debug_config())
    with cap.telemetry.plan_run("p", "p") as run, run.step("s", "t", "d") as step:
        run_command(step, "sleep 97.5 & echo started", cwd=tmp_path, control=RunControl(), timeout_s=30, grace_s=1)
    (record,) = cap.logs_with("command_leftovers_ended")
    assert list(record.attributes["aiw.signals"]) == ["SIGTERM"]
    assert process_with("sleep 97.5") is None
