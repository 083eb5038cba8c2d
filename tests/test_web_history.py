"""The web page's finished runs (aiw_otel/web/history.py), read from log directories the real file sink wrote.

What the page gets is checked against the files themselves, read here independently of
aiw_otel.readback (plain `json` and `gzip`), so a reader that dropped or reordered spans would fail.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest

import aiw_otel
from aiw_otel import LogLevel
from aiw_otel.config import FileSinkConfig, SinksConfig
from aiw_otel.logdir import SIGNAL_FILES
from aiw_otel.web.history import AmbiguousTrace, BadTraceId, UnknownTrace, run_detail, run_list, span_detail
from tests.otlp_files import collect_warnings, items
from tests.recorded_runs import debug_config, record_runs

TRACES, LOGS = SIGNAL_FILES["traces"], SIGNAL_FILES["logs"]


def raw_items(directory: Path, signal: str) -> list[dict[str, Any]]:
    """Every span or log record in the stream's files, live and rotated, plain or gzip, oldest file first."""
    base = SIGNAL_FILES[signal]
    names = [n for n in os.listdir(directory) if n == base or n.startswith(base + ".")]

    def age(name: str) -> int:
        index = name[len(base) + 1:].removesuffix(".gz")
        return int(index) if index else 0

    found = []
    for name in sorted(names, key=age, reverse=True):
        opener = gzip.open if name.endswith(".gz") else open
        with opener(directory / name, "rt", encoding="utf-8") as stream:  # type: ignore[operator]
            for line in stream:
                found += items(json.loads(line), signal)
    return found


def of_trace(found: list[dict[str, Any]], trace_id: str) -> list[dict[str, Any]]:
    return [item for item in found if item.get("traceId", "").lower() == trace_id]


def opened(directory: Path, detail: dict[str, Any]) -> list[dict[str, Any]]:
    """Each waterfall row of a run with what opening its span shows (attributes, events, log lines):
    what the page gets, row by row then span by span."""
    rows = [dict(zip(detail["fields"], row)) for row in detail["spans"]]
    return [{**row, "row_start": row["start"], **span_detail(directory, detail["trace_id"], row["span_id"])}
            for row in rows]


@contextmanager
def recording(directory: Path) -> Iterator[aiw_otel.Telemetry]:
    """A pipeline writing to `directory` through the real file sink, shut down (so flushed) at the end."""
    config = debug_config(sinks=SinksConfig(file=FileSinkConfig(directory=str(directory))))
    telemetry = aiw_otel.configure(config, environ={}, set_global=False, handle_signals=False)
    try:
        yield telemetry
    finally:
        assert telemetry.shutdown(10.0)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A completed run, then a failed one (a command exiting 3 in its deploy step)."""
    directory = tmp_path_factory.mktemp("history") / "logs"
    record_runs(directory, "first", fail=False)
    record_runs(directory, "second")
    return directory


def test_the_run_list_is_newest_first_with_outcome_duration_tokens_and_cost(two_runs):
    listed = run_list(two_runs)
    assert [run["plan"] for run in listed] == ["second", "first"], "named as the console names a run"
    assert [run["outcome"] for run in listed] == ["Failed", "Completed"]
    plans = {span["traceId"].lower(): span for span in raw_items(two_runs, "traces") if not span.get("parentSpanId")}
    for run in listed:
        plan = plans[run["trace_id"]]
        assert run["start"] == int(plan["startTimeUnixNano"])
        assert run["duration_s"] == pytest.approx((int(plan["endTimeUnixNano"]) - int(plan["startTimeUnixNano"])) / 1e9)
        assert (run["input_tokens"], run["output_tokens"]) == (150, 30)  # two AI calls: 100+50 in, 20+10 out
        assert run["cost_usd"] == pytest.approx(0.002)
    assert listed[0]["start"] > listed[1]["start"]
    json.dumps(listed, allow_nan=False)


def test_a_run_holds_every_span_of_its_trace_in_start_order_each_below_its_parent(two_runs):
    trace_id = run_list(two_runs)[0]["trace_id"]
    detail = run_detail(two_runs, trace_id[:8].upper())
    assert detail is not None and detail["trace_id"] == trace_id
    in_file = of_trace(raw_items(two_runs, "traces"), trace_id)
    rows = opened(two_runs, detail)
    assert sorted(row["span_id"] for row in rows) == sorted(span["spanId"] for span in in_file)
    assert [row["start"] for row in rows] == sorted(int(span["startTimeUnixNano"]) for span in in_file)
    by_id = {span["spanId"]: span for span in in_file}
    seen: dict[str, int] = {}
    for row in rows:
        assert row["row_start"] == (row["start"] - detail["start_ns"]) // 1000 and row["label"] == row["title"]
        span = by_id[row["span_id"]]
        assert (row["name"], row["end"]) == (span["name"], int(span["endTimeUnixNano"]))
        assert row["attributes"] == {a["key"]: _plain(a["value"]) for a in span.get("attributes", [])}
        parent = span.get("parentSpanId") or None
        assert row["parent_span_id"] == parent
        assert row["depth"] == (seen[parent] + 1 if parent else 0), "a parent is listed before its children"
        seen[row["span_id"]] = row["depth"]
    titles = [row["title"] for row in rows]
    assert titles[0] == "invoke_workflow second" and "deploy (deployment)" in titles and "publish (release)" in titles
    assert Counter(row["depth"] for row in rows) == Counter({0: 1, 1: 3, 2: 4, 3: 1})
    assert (detail["plan"], detail["state"]) == ("second", "Failed"), "named as the console names it"


def _plain(value: dict[str, Any]) -> Any:
    """The attribute kinds these runs write: strings, 64-bit ints (strings in OTLP/JSON), booleans, lists."""
    kind, written = next(iter(value.items()))
    if kind == "arrayValue":
        return [_plain(item) for item in written.get("values", [])]
    return int(written) if kind == "intValue" else written


def test_each_log_record_is_under_its_span_and_the_failure_is_the_failed_command(two_runs):
    trace_id = run_list(two_runs)[0]["trace_id"]
    detail = run_detail(two_runs, trace_id)
    records = of_trace(raw_items(two_runs, "logs"), trace_id)
    assert records and all(record.get("spanId") for record in records)
    shown = {(row["span_id"], log["time"], log["message"]) for row in opened(two_runs, detail) for log in row["logs"]}
    assert shown == {(r["spanId"], int(r["timeUnixNano"]), r["body"]["stringValue"]) for r in records}
    assert detail["logs"] == []
    rows = {row["span_id"]: row for row in opened(two_runs, detail)}
    failure = detail["failure"]
    failed_command = rows[failure["span_id"]]
    assert failed_command["kind"] == "CLIENT" and failed_command["attributes"]["process.exit.code"] == 3
    assert failed_command["status"] == "ERROR" and failed_command["outcome"] == "failed"
    assert failure["title"] == failed_command["attributes"]["aiw.command.line"] and "exit" in failure["error"].lower()
    assert rows[failure["step_id"]]["title"] == failure["step_title"] == "deploy (deployment)"
    assert rows[failure["step_id"]]["state"] == "Failed"
    progress = [log["message"] for log in rows[failure["step_id"]]["logs"]]
    assert [f"deploy progress {n}" for n in range(7)] == [m for m in progress if m.startswith("deploy progress")]
    step_lines = sorted((log for row in opened(two_runs, detail) if row["span_id"] in
                         {failure["step_id"], failure["span_id"]} for log in row["logs"]), key=lambda log: log["time"])
    assert failure["logs"] == step_lines[-5:], "the panel's lines: the failed step's last five"


def test_a_completed_run_has_no_failure(two_runs):
    detail = run_detail(two_runs, run_list(two_runs)[1]["trace_id"])
    assert detail["failure"] is None
    assert {row["outcome"] for row in opened(two_runs, detail)} == {"ok"}


def test_the_page_gets_what_the_files_hold_redacted(two_runs):
    """The run logs `OPENAI_API_KEY=sk-demoXXX...` at DEBUG: the file holds it redacted, and so does the page."""
    page = json.dumps([opened(two_runs, run_detail(two_runs, run["trace_id"])) for run in run_list(two_runs)],
                      allow_nan=False)
    assert "sk-demo" not in page and "XXXXXXXXXXXXXXXX" not in page
    assert "OPENAI_API_KEY=[REDACTED" in page


def test_rotated_and_gzip_backups_count_like_the_live_files(tmp_path):
    directory = tmp_path / "logs"
    run_ids = record_runs(directory, "one", "two", "three", max_bytes=4096, backup_count=50)
    assert len(run_ids) == 3
    names = os.listdir(directory)
    assert any(n.startswith(TRACES) and n.endswith(".gz") for n in names), names
    assert any(n.startswith(LOGS) and n.endswith(".gz") for n in names), names
    listed = run_list(directory)
    assert [run["plan"] for run in listed] == ["three", "two", "one"]
    spans, records = raw_items(directory, "traces"), raw_items(directory, "logs")
    for run in listed:
        rows = opened(directory, run_detail(directory, run["trace_id"]))
        assert sorted(row["span_id"] for row in rows) == sorted(s["spanId"] for s in of_trace(spans, run["trace_id"]))
        shown = sum(len(row["logs"]) for row in rows)
        assert shown == len(of_trace(records, run["trace_id"])) > 10


def test_an_ambiguous_unknown_or_malformed_prefix_is_refused_in_one_line(tmp_path):
    directory = tmp_path / "logs"
    record_runs(directory, *(f"run{n}" for n in range(17)), fail=False)  # 17 ids over 16 hex digits: two share one
    ids = [run["trace_id"] for run in run_list(directory)]
    digit, count = Counter(trace_id[0] for trace_id in ids).most_common(1)[0]
    assert count >= 2
    with pytest.raises(AmbiguousTrace) as ambiguous:
        run_detail(directory, digit.upper())
    assert sorted(ambiguous.value.candidates) == sorted(t for t in ids if t.startswith(digit))
    assert str(ambiguous.value).startswith(f"{count} runs have a trace id starting {digit.upper()!r}: ")
    for trace_id in ids:  # the whole id always resolves, in any case
        assert run_detail(directory, trace_id.upper())["trace_id"] == trace_id
    absent = next(whole for whole in ("0" * 32, "1" * 32) if whole not in ids)
    with pytest.raises(UnknownTrace, match="no run with a trace id starting"):
        run_detail(directory, absent)
    for bad in ("", "xyz", "../../etc/passwd", "a" * 33):
        with pytest.raises(BadTraceId, match="is not a trace id"):
            run_detail(directory, bad)
    assert "\n" not in str(ambiguous.value)


def test_a_garbage_line_costs_a_warning_not_the_page(tmp_path, two_runs):
    directory = tmp_path / "logs"
    directory.mkdir()
    for name in (TRACES, LOGS):
        torn = b'{"resourceSpans": [{"aiw.plan.state": \n'  # looks like a plan line to the raw search
        (directory / name).write_bytes(torn + (two_runs / name).read_bytes())
    warnings, warn = collect_warnings()
    listed = run_list(directory, warn=warn)
    assert len(listed) == 2 and len(warnings) == 1 and f"{TRACES}:1: not JSON" in warnings[0]
    detail = run_detail(directory, listed[0]["trace_id"], warn=warn)
    assert detail is not None and len(detail["spans"]) == 9 and detail["fields"][0] == "span_id"


def test_no_directory_yet_is_no_runs(tmp_path):
    assert run_list(tmp_path / "not-yet") == []
    with pytest.raises(UnknownTrace):
        run_detail(tmp_path / "not-yet", "abc")


def test_a_nan_attribute_reaches_the_page_as_json(tmp_path):
    """OTLP/JSON writes a NaN double as the string "NaN"; the page's JSON.parse would refuse a bare NaN."""
    directory = tmp_path / "logs"
    with recording(directory) as telemetry:
        with telemetry.plan_run("plan-nan", "nan") as run:
            with run.step("measure", "analysis", "Measure") as step:
                step.log(LogLevel.INFO, "ratio", "ratio computed", details={"ratio": float("nan"), "peak": float("inf")})
    rows = opened(directory, run_detail(directory, run_list(directory)[0]["trace_id"]))
    step_row = next(row for row in rows if row["title"] == "measure (analysis)")
    logged = next(log for log in step_row["logs"] if log["message"] == "ratio computed")
    assert (logged["attributes"]["aiw.ratio"], logged["attributes"]["aiw.peak"]) == ("NaN", "Infinity")
    json.dumps(rows, allow_nan=False)


def test_a_run_still_going_is_listed_first_and_shown_under_its_missing_plan(tmp_path):
    """A span reaches the file when it ends: mid-run, the files hold finished steps and no plan span."""
    directory = tmp_path / "logs"
    record_runs(directory, "earlier", fail=False)
    with recording(directory) as telemetry:
        with telemetry.plan_run("plan-going", "going") as run:
            with run.step("first", "analysis", "Look around") as step:
                step.log(LogLevel.INFO, "looked", "looked around")
            assert telemetry.force_flush(10.0)
            listed = run_list(directory)
            detail = run_detail(directory, listed[0]["trace_id"])
            rows = opened(directory, detail)
    assert [(run["plan"], run["outcome"], run["duration_s"]) for run in listed][0] == ("going", "running", None), \
        "named by its start record before its plan span is written"
    assert listed[0]["run_id"] == run.run_id and listed[0]["live"] is None, "no Live view to link: none asked"
    assert (detail["plan"], detail["run_id"]) == ("going", run.run_id)
    assert listed[0]["start"] == min(row["start"] for row in rows) > listed[1]["start"], \
        "a run still going is shown from its first record written"
    assert listed[1]["plan"] == "earlier"
    plan_row, step_row = rows
    assert plan_row["missing"] and plan_row["depth"] == 0 and plan_row["end"] is None
    assert plan_row["span_id"] == step_row["parent_span_id"] and plan_row["start"] <= step_row["start"]
    assert (step_row["title"], step_row["depth"], step_row["state"]) == ("first (analysis)", 1, "Completed")
    assert "looked around" in [log["message"] for log in step_row["logs"]]
    assert detail["failure"] is None and detail["state"] == "running"
    json.dumps(rows, allow_nan=False)


def test_the_failure_is_what_really_failed_not_an_ai_attempt_retried_after_it(tmp_path):
    directory = tmp_path / "logs"
    with recording(directory) as telemetry:
        with telemetry.plan_run("plan-retry", "retry") as run:
            with run.step("check", "validation", "Check") as step:
                argv = [sys.executable, "-c", "import sys; sys.exit(2)"]
                with step.command(argv, cwd=str(tmp_path)) as cmd:
                    proc = subprocess.run(argv, env=cmd.child_env(), cwd=tmp_path, timeout=60)
                    cmd.started(4242)
                    cmd.exited(proc.returncode)
                with step.ai_call(provider="openai", model="gpt-4o", attempt=1) as call:  # later, as deep
                    call.request_sent(prompt_tokens=10)
                    call.response_failed(error_type="RateLimitError", message="slow down", status_code=429,
                                         retry_after_s=0.01)
                with step.ai_call(provider="openai", model="gpt-4o", attempt=2) as call:
                    call.request_sent(prompt_tokens=10)
                    call.response_received(response_model="gpt-4o", input_tokens=10, output_tokens=2)
                step.fail("CheckFailed", "the check exited 2")
    detail = run_detail(directory, run_list(directory)[0]["trace_id"])
    rows = {row["span_id"]: row for row in opened(directory, detail)}
    assert [row["outcome"] for row in rows.values() if row["name"] == "chat gpt-4o"] == ["retried", "ok"]
    assert rows[detail["failure"]["span_id"]]["attributes"]["process.exit.code"] == 2
    assert rows[detail["failure"]["step_id"]]["title"] == "check (validation)"


def test_a_run_read_again_after_its_files_grew_shows_what_they_hold_now(tmp_path):
    """The last run read is kept in memory, but only while no file of the directory changed."""
    directory = tmp_path / "logs"
    with recording(directory) as telemetry:
        with telemetry.plan_run("plan-growing", "growing") as run:
            with run.step("first", "analysis", "One") as step:
                step.log(LogLevel.INFO, "one", "first step done")
            assert telemetry.force_flush(10.0)
            trace_id = run_list(directory)[0]["trace_id"]
            before = run_detail(directory, trace_id)
            assert run_detail(directory, trace_id) == before  # unchanged files: the same
            with run.step("second", "analysis", "Two") as step:
                step.log(LogLevel.INFO, "two", "second step done")
            assert telemetry.force_flush(10.0)
            after = run_detail(directory, trace_id)
    labels = [row[detail["fields"].index("label")] for detail in (before, after) for row in detail["spans"]]
    assert labels == ["", "first (analysis)", "", "first (analysis)", "second (analysis)"]
    second = after["spans"][-1][0]
    assert "second step done" in [log["message"] for log in span_detail(directory, trace_id, second)["logs"]]


def test_a_foreign_backup_costs_the_page_four_warnings_not_one_a_line(tmp_path, two_runs):
    from aiw_otel.web.server import with_warnings

    directory = tmp_path / "logs"
    directory.mkdir()
    for name in (TRACES, LOGS):
        (directory / name).write_bytes((two_runs / name).read_bytes())
    (directory / f"{TRACES}.1").write_text("".join(f"GET /index.html {n}\n" for n in range(1000)))
    listed, warnings = with_warnings(lambda warn: run_list(directory, warn=warn))
    assert len(listed) == 2 and len(warnings) == 4, warnings
    assert warnings[-1] == f"{directory / TRACES}.1: not an OTLP JSON Lines file (0 of 1000 lines readable); skipped"
