"""A run is known by its plan's name and its run id from its start record, before its plan span is written.

Real runs written by the real file sink and read back from the files; the killed runner (SIGKILL:
no plan span, ever) is tests/test_readback_runs.py, the web's link to Live tests/test_web.py.
"""

from __future__ import annotations

import io
from pathlib import Path

import aiw_otel
from aiw_otel import LogLevel
from aiw_otel.config import FileSinkConfig, SinksConfig, TelemetryConfig
from aiw_otel.model import ComponentType
from aiw_otel.readback.files import find_files
from aiw_otel.readback.records import load
from aiw_otel.readback.render import PlainWriter, render_runs
from aiw_otel.readback.runs import RUNNING, newest_run, summaries
from aiw_otel.readback.tree import build_runs
from tests.recorded_runs import record_runs


def configured(directory: Path, **changes) -> aiw_otel.Telemetry:
    config = TelemetryConfig(sinks=SinksConfig(file=FileSinkConfig(directory=str(directory))), **changes)
    return aiw_otel.configure(config, environ={}, set_global=False, handle_signals=False)


def tree(directory: Path, trace_id: str) -> list[str]:
    spans, logs = load(find_files([directory]))
    out = io.StringIO()
    render_runs([run for run in build_runs(spans, logs) if run.trace_id == trace_id], PlainWriter(out))
    return out.getvalue().splitlines()


def test_a_run_that_has_written_no_span_yet_is_listed_named_and_newest(tmp_path):
    directory = tmp_path / "logs"
    record_runs(directory, "earlier", fail=False)
    telemetry = configured(directory)
    try:
        with telemetry.plan_run("plan-fresh", "fresh") as run, run.step("first", "analysis") as step:
            step.log(LogLevel.INFO, "looking", "looking around")
            assert telemetry.force_flush(10.0)
            files = find_files([directory])
            assert b"fresh" not in (directory / "traces.otlp.jsonl").read_bytes(), "no span of it has ended"
            listed = summaries(files)
            newest = newest_run(files)
            lines = tree(directory, listed[0].trace_id)
    finally:
        assert telemetry.shutdown(10.0)

    first = listed[0]
    assert (first.plan, first.run_id, first.outcome, first.start_ns) == ("fresh", run.run_id, RUNNING, 0)
    assert [summary.plan for summary in listed[1:]] == ["earlier"]
    assert newest is not None and newest[0] == first.trace_id, "--last: the run started last, though it has no span"
    assert lines[0].startswith("fresh  plan: span ") and "is not in the files" in lines[0], lines
    assert lines[1].startswith(f"plan plan-fresh  run {run.run_id}  trace {first.trace_id}"), lines
    assert any("looking around" in line for line in lines), "its step's lines under it"


def test_the_start_record_is_written_whatever_the_runners_level(tmp_path):
    directory = tmp_path / "logs"
    telemetry = configured(directory, component_levels={ComponentType.RUNNER: LogLevel.ERROR})
    with telemetry.plan_run("plan-quiet", "quiet") as run:
        run.log(LogLevel.INFO, "note", "an INFO line of the runner, below its level")
    assert telemetry.shutdown(10.0)

    _, logs = load(find_files([directory]))
    assert [record.attributes["aiw.action"] for record in logs] == ["plan_execution_started"], \
        "the start record alone: the runner's other INFO records stay below its level"
    (started,) = logs
    assert (started.attributes["gen_ai.workflow.name"], started.attributes["aiw.plan.id"],
            started.attributes["aiw.run.id"]) == ("quiet", "plan-quiet", run.run_id)


def test_the_plan_span_wins_over_the_start_record(tmp_path):
    directory = tmp_path / "logs"
    telemetry = configured(directory)
    with telemetry.plan_run("plan-real", "real"):
        pass
    assert telemetry.shutdown(10.0)
    records = directory / "logs.otlp.jsonl"
    records.write_bytes(records.read_bytes().replace(b'{"stringValue":"real"}', b'{"stringValue":"forged"}'))
    assert b"forged" in records.read_bytes()

    (listed,) = summaries(find_files([directory]))
    assert listed.plan == "real"
    assert tree(directory, listed.trace_id)[0].startswith("invoke_workflow real  Completed")
