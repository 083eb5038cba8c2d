"""`aiw-otel logs` on a real AIWhisperer-shaped run: UUID step ids with names, a command that fails."""

from __future__ import annotations

from pathlib import Path

import pytest

import aiw_otel
from aiw_otel.config import FileSinkConfig, SinksConfig
from aiw_otel.readback.files import find_files
from aiw_otel.readback.records import load
from tests.cli_process import aiw
from tests.recorded_runs import debug_config

IDS = [f"a1f0c2d4-0001-4000-8000-00000000000{i}" for i in range(1, 4)]


@pytest.fixture(scope="module")
def named_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("named") / "logs"
    config = debug_config(sinks=SinksConfig(file=FileSinkConfig(directory=str(directory))))
    telemetry = aiw_otel.configure(config, environ={}, set_global=False, handle_signals=False)
    try:
        with telemetry.plan_run("real-plan", "real") as run:
            run.add_context("prefer small functions")
            with run.step(IDS[0], "code_generation", "Write the module", name="write_module") as step:
                with step.ai_call(provider="openai", model="m") as call:
                    call.response_failed(error_type="RateLimitError", message="slow down", status_code=429,
                                         retry_after_s=0.2)
                with step.ai_call(provider="openai", model="m", attempt=2) as call:
                    call.response_received(input_tokens=5, output_tokens=2)
            with run.step(IDS[1], "deployment", "Publish", name="write_tests") as step:
                with step.command(["python", "-m", "twine", "upload"]) as command:
                    command.output("stderr", b"/usr/bin/python: No module named twine\n")
                    command.exited(1)
                step.fail("CommandFailed", "upload exited with 1")
            run.skip_step(IDS[2], "dependency did not complete")
        assert telemetry.force_flush(10.0)
    finally:
        telemetry.shutdown(10.0)
    return directory


def test_the_name_is_carried_on_the_step_span(named_run):
    spans, _ = load(find_files([str(named_run)], ("traces",)))
    names = {s.step_id: s.attributes.get("aiw.step.name") for s in spans if s.is_step}
    assert names == {IDS[0]: "write_module", IDS[1]: "write_tests", IDS[2]: None}


def test_logs_shows_names_the_failed_commands_output_a_retry_and_the_context_text(named_run):
    out = aiw("logs", str(named_run), "--no-color").stdout
    panel = out[: out.index("╰")]
    assert "step write_tests (deployment)  Failed" in panel
    assert "output of `python -m twine upload` (exit 1), last 1 line:" in panel
    assert "stderr: /usr/bin/python: No module named twine" in panel
    assert "write_module (code_generation)  Completed" in out
    assert "…0003 (step)  Skipped" in out
    assert "retried after RateLimitError: slow down" in out
    assert "User added context: 'prefer small functions'." in out


def test_logs_step_takes_a_name_prefix_and_refuses_an_ambiguous_one(named_run):
    chosen = aiw("logs", str(named_run), "--no-color", "--step", "write_m")
    assert chosen.returncode == 0, chosen.stderr
    assert "write_module (code_generation)" in chosen.stdout
    assert "step 'write_tests'" not in chosen.stdout  # none of the other step's lines (the plan's verdict names it)
    refused = aiw("logs", str(named_run), "--step", "write")
    assert refused.returncode == 2
    assert "'write' fits 2 steps: write_module […0001], write_tests […0002]" in refused.stderr


def _followed(directory: Path, step: str) -> list[object]:
    """One poll of --follow (the stop is already requested): everything written so far, as the step filter keeps it."""
    import threading

    from aiw_otel.readback.follow import follow
    from aiw_otel.readback.select import Selection

    stop = threading.Event()
    stop.set()
    seen: list[object] = []
    follow([directory], seen.append, Selection(step=step), stop=stop)
    return seen


@pytest.mark.parametrize("typed", ["write_tests", "WRITE_T", IDS[1], "…0002"])
def test_a_step_is_named_the_same_way_in_every_mode(named_run, typed):
    import json

    from aiw_otel.readback.records import LogRecord, Span

    tree = aiw("logs", str(named_run), "--no-color", "--step", typed)
    assert tree.returncode == 0 and "write_tests (deployment)" in tree.stdout and "write_module" not in tree.stdout
    as_json = aiw("logs", str(named_run), "--json", "--step", typed)
    records = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert as_json.returncode == 0 and {r["attributes"].get("aiw.step_id") for r in records if r["type"] == "log"} == {IDS[1]}
    followed = _followed(named_run, typed)
    assert {r.step_id for r in followed if isinstance(r, LogRecord)} == {IDS[1]}
    assert {r.step_id for r in followed if isinstance(r, Span) and r.parent_span_id} == {IDS[1]}


def test_follow_refuses_an_ambiguous_step_and_waits_for_one_not_run_yet(named_run):
    refused = aiw("logs", str(named_run), "--follow", "--step", "write")
    assert refused.returncode == 2 and "'write' fits 2 steps" in refused.stderr and "Traceback" not in refused.stderr
    from aiw_otel.readback.follow import FollowedStep
    from aiw_otel.readback.records import LogRecord
    from aiw_otel.stepref import StepRef

    assert [getattr(r, "step_id", None) for r in _followed(named_run, "deploy_later")] == [None]  # the plan alone
    waiting = FollowedStep("DEPLOY_L", [StepRef(IDS[0], "write_module")])  # not run yet: no refusal, it waits
    assert waiting.learn([], []) == "DEPLOY_L"
    started = LogRecord(time_ns=1, severity_number=9, severity_text="INFO", body="Starting", trace_id="ab" * 16,
                        attributes={"aiw.step_id": "deploy_later"}, span_id="cd" * 8, event_name="", service=None)
    assert waiting.learn([], [started]) == "deploy_later"  # its first log line names its id: a prefix fits
