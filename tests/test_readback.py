"""`aiw-otel logs`: reading a log directory written by the real file sink back as a run tree."""

from __future__ import annotations

import gzip
import io
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import aiw_otel
from aiw_otel import LogLevel
from aiw_otel.config import FileSinkConfig, SinksConfig, TelemetryConfig
from aiw_otel.logdir import SIGNAL_FILES
from aiw_otel.readback.files import ReadbackError, find_files, read_lines
from aiw_otel.readback.follow import Tail, follow, plain_line
from aiw_otel.readback.records import LogRecord, Span, load
from aiw_otel.readback.render import PlainWriter, render_runs
from aiw_otel.readback.select import Selection
from aiw_otel.readback.tree import build_runs, failure
from tests.cli_process import AIW, ROOT, aiw
from tests.otlp_files import collect_warnings, file_lines
from tests.processes import until
from tests.recorded_runs import record_runs

TRACES, LOGS = SIGNAL_FILES["traces"], SIGNAL_FILES["logs"]


# -- real runs, written by the real file sink ------------------------------------------------------


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A log directory holding one failed run (read only by the tests that share it)."""
    directory = tmp_path_factory.mktemp("failed") / "logs"
    record_runs(directory, "add greeting")
    return directory


def rendered(spans: list[Span], logs: list[LogRecord], log_lines: int = 5) -> str:
    out = io.StringIO()
    render_runs(build_runs(spans, logs), PlainWriter(out), log_lines)
    return out.getvalue()


def one_record_per_line(line: str) -> list[str]:
    """Split an export request into requests of one span or log record each (more lines to play with)."""
    document = json.loads(line)
    top = next(iter(document))
    scopes_key, records_key = ("scopeSpans", "spans") if top == "resourceSpans" else ("scopeLogs", "logRecords")
    out = []
    for resource in document[top]:
        for scope in resource[scopes_key]:
            for record in scope[records_key]:
                single_scope = {**scope, records_key: [record]}
                out.append(json.dumps({top: [{**resource, scopes_key: [single_scope]}]}))
    return out


# -- finding and reading files ----------------------------------------------------------------------


def test_a_directory_and_its_files_given_one_by_one_read_the_same(failed_run):
    from_directory = load(find_files([failed_run]))
    from_files = load(find_files([failed_run / TRACES, failed_run / LOGS, failed_run / TRACES]))
    assert len(from_directory[0]) == len(from_files[0]) == 9
    assert len(from_directory[1]) == len(from_files[1]) > 10
    names = {span.name for span in from_directory[0]}
    assert {"invoke_workflow add greeting", "code_generation", "chat gpt-4o", "execute_tool write_file",
            "file write", "deployment", "release"} <= names


def test_rotated_backups_plain_and_gzip_read_back_in_write_order(tmp_path, failed_run):
    lines = [piece for line in file_lines(failed_run / LOGS) for piece in one_record_per_line(line)]
    assert len(lines) >= 9
    third = len(lines) // 3
    directory = tmp_path / "logs"
    directory.mkdir()
    with gzip.open(directory / f"{LOGS}.2.gz", "wt", encoding="utf-8") as oldest:
        oldest.write("\n".join(lines[:third]) + "\n")
    (directory / f"{LOGS}.1").write_text("\n".join(lines[third:2 * third]) + "\n")
    (directory / LOGS).write_text("\n".join(lines[2 * third:]) + "\n")
    files = find_files([directory])
    assert [f.path.name for f in files] == [f"{LOGS}.2.gz", f"{LOGS}.1", LOGS]
    read = [raw.decode() for f in files for _, raw in read_lines(f.path)]
    assert read == lines
    # explicit files, given in any order, come back in write order too
    shuffled = find_files([directory / LOGS, directory / f"{LOGS}.2.gz", directory / f"{LOGS}.1"])
    assert [f.path.name for f in shuffled] == [f"{LOGS}.2.gz", f"{LOGS}.1", LOGS]
    _, logs = load(files)
    assert [r.message for r in logs] == [r.message for r in load(find_files([failed_run]))[1]]


def test_the_sinks_own_rotation_and_compression_read_back_whole(tmp_path):
    directory = tmp_path / "logs"
    record_runs(directory, "one", "two", "three", max_bytes=4096, backup_count=50)
    assert any(name.endswith(".gz") for name in os.listdir(directory)), os.listdir(directory)
    spans, logs = load(find_files([directory]))
    runs = build_runs(spans, logs)
    assert [run.root.span.name for run in runs] == ["invoke_workflow one", "invoke_workflow two", "invoke_workflow three"]
    for run in runs:
        assert {n.span.step_id for n in run.root.children if n.span is not None} == {"generate", "deploy", "publish"}
        assert not any(node.missing for node in run.nodes())


@pytest.mark.slow
def test_a_torn_last_line_is_skipped_with_one_warning_and_the_rest_is_read(tmp_path, failed_run):
    directory = tmp_path / "logs"
    directory.mkdir()
    lines = [piece for line in file_lines(failed_run / LOGS) for piece in one_record_per_line(line)]
    (directory / LOGS).write_text("\n".join(lines) + "\n" + lines[0][: len(lines[0]) // 2])  # a crash mid-write
    (directory / TRACES).write_bytes((failed_run / TRACES).read_bytes())
    warnings, warn = collect_warnings()
    _, logs = load(find_files([directory]), warn)
    assert len(logs) == len(lines)
    assert warnings == [f"{directory / LOGS}:{len(lines) + 1}: incomplete last line (torn by a crash, or still being "
                        "written); skipped"]
    result = aiw("logs", str(directory), "--no-color")
    assert result.returncode == 0, result.stderr
    assert f"{LOGS}:{len(lines) + 1}: incomplete last line" in result.stderr and "Traceback" not in result.stderr
    assert "deploy (deployment)" in result.stdout


def test_garbage_lines_each_cost_one_warning_naming_file_and_line(tmp_path, failed_run):
    directory = tmp_path / "logs"
    directory.mkdir()
    good = file_lines(failed_run / TRACES)
    garbage = ["not json at all", "[1, 2, 3]", '{"something": "else"}',
               '{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "yesterday"}]}]}]}',
               '{"resourceSpans": [{"scopeSpans": [{"spans": [{"attributes": [{"key": "k", "value": {"oddValue": 1}}]}]}]}]}',
               "\udcff".encode("utf-8", "surrogateescape").decode("latin-1")]
    (directory / TRACES).write_text("\n".join([garbage[0], *good, *garbage[1:]]) + "\n", encoding="latin-1")
    warnings, warn = collect_warnings()
    spans, _ = load(find_files([directory]), warn)
    assert len(spans) == len(load(find_files([failed_run]))[0])
    numbers = [1] + list(range(len(good) + 2, len(good) + 2 + len(garbage) - 1))
    assert len(warnings) == len(garbage)
    for number, warning in zip(numbers, warnings):
        assert warning.startswith(f"{directory / TRACES}:{number}: ") and warning.endswith("; skipped")


def test_a_broken_gzip_backup_keeps_what_came_before(tmp_path, failed_run):
    directory = tmp_path / "logs"
    directory.mkdir()
    lines = [piece for line in file_lines(failed_run / LOGS) for piece in one_record_per_line(line)]
    data = gzip.compress(("\n".join(lines) + "\n").encode() * 50)
    (directory / f"{LOGS}.1.gz").write_bytes(data[: len(data) // 2])
    warnings, warn = collect_warnings()
    _, logs = load(find_files([directory]), warn)
    assert logs and len(warnings) == 1 and "unreadable after line" in warnings[0] and ".1.gz" in warnings[0]


@pytest.mark.slow
def test_paths_that_do_not_exist_or_hold_nothing(tmp_path):
    result = aiw("logs", str(tmp_path / "nope"))
    assert result.returncode == 1 and f"{tmp_path / 'nope'}: no such file or directory" in result.stderr
    assert "Traceback" not in result.stderr
    result = aiw("logs", str(tmp_path))
    assert result.returncode == 0 and f"no telemetry files ({TRACES}, {LOGS} or their backups) in {tmp_path}" in result.stderr
    with pytest.raises(ReadbackError):
        find_files([tmp_path / "nope"])


# -- the tree ---------------------------------------------------------------------------------------


def test_the_tree_nests_actions_under_steps_and_totals_tokens_and_cost(failed_run):
    spans, logs = load(find_files([failed_run]))
    (run,) = build_runs(spans, logs)
    root = run.root
    assert root.span.name == "invoke_workflow add greeting" and root.span.state == "Failed"
    steps = {node.span.step_id: node for node in root.children if node.span is not None}
    assert [n.span.step_id for n in root.children if n.span is not None] == ["generate", "deploy", "publish"]
    generate = steps["generate"]
    assert [c.span.name for c in generate.children] == ["chat gpt-4o", "chat gpt-4o", "execute_tool write_file"]
    assert [c.span.name for c in generate.children[2].children] == ["file write"]
    assert (generate.usage.input_tokens, generate.usage.output_tokens) == (150, 30)
    assert generate.usage.cost_usd == pytest.approx(0.002)
    assert root.usage == generate.usage  # the plan's totals are its steps' totals
    command = steps["deploy"].children[0]
    assert command.span.attributes["process.exit.code"] == 3
    assert [r.message for r in command.logs if r.level == "DEBUG"] == ["pushing to registry.example", "connection refused"]
    assert all(r.span_id == command.span_id for r in command.logs)
    assert steps["publish"].span.state == "Skipped"
    text = rendered(spans, logs)
    assert "generate (code_generation)  Completed" in text
    assert "tokens 150 in / 30 out  $0.0020" in text
    assert "publish (release)  Skipped" in text


@pytest.mark.slow
def test_a_failed_run_points_at_the_failure_in_one_screen(failed_run):
    result = aiw("logs", str(failed_run), "--no-color")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    panel = out[: out.index("╰")]
    assert "what failed" in panel
    assert "step deploy (deployment)  Failed" in panel
    assert "CommandFailed: deploy exited with 3" in panel
    assert "at `" in panel and "sys.exit(3)'`: command exited with 3" in panel, "named by its line, the exit said once"
    assert "last 5 log lines:" in panel
    for line in ("pushing to registry.example", "connection refused", "WARN   [terminal_interaction]  Command '",
                 "Step 'deploy' failed."):
        assert line in panel, line
    assert "deploy progress 6" not in panel  # the sixth-last line is not among the last five
    assert "... 4 earlier lines" in out  # the step's own 9 log lines are collapsed to the last 5
    assert "deploy progress 3" in out and "deploy progress 2" not in out
    assert len(out.splitlines()) < 60
    everything = aiw("logs", str(failed_run), "--no-color", "--lines", "0").stdout
    assert "deploy progress 0" in everything and "earlier lines" not in everything


def test_an_exception_is_named_in_the_failure_panel(tmp_path):
    directory = tmp_path / "logs"
    telemetry = aiw_otel.configure(TelemetryConfig(sinks=SinksConfig(file=FileSinkConfig(directory=str(directory)))),
                                   environ={}, set_global=False, handle_signals=False)
    with pytest.raises(KeyError):
        with telemetry.plan_run("p", "lookup") as run, run.step("find", "analysis") as step:
            step.log(LogLevel.INFO, "looking", "looking up the config key")
            raise KeyError("model_name")
    assert telemetry.shutdown(10.0)
    spans, logs = load(find_files([directory]))
    found = failure(build_runs(spans, logs)[0])
    assert found.node.span.step_id == "find" and found.error_type == "KeyError"
    text = rendered(spans, logs)
    assert "step find (analysis)  Failed" in text and "exception KeyError: 'model_name'" in text
    assert "looking up the config key" in text[: text.index("╰")]


def test_spans_whose_parent_is_not_in_the_files_stay_visible_under_a_stand_in(failed_run):
    """A run still going: its plan and its current step have not ended, so they are not in the files yet."""
    spans, logs = load(find_files([failed_run]))
    open_spans = {s.span_id for s in spans if s.name in ("invoke_workflow add greeting", "deployment")}
    written = [s for s in spans if s.span_id not in open_spans]
    (run,) = build_runs(written, logs)
    assert run.root.missing and run.root.span_id in open_spans
    stand_ins = [n for n in run.root.children if n.missing]
    assert len(stand_ins) == 1 and stand_ins[0].step_id == "deploy"
    assert [c.span.name for c in stand_ins[0].children] == [os.path.basename(sys.executable)]
    assert {n.span.step_id for n in run.root.children if not n.missing} == {"generate", "publish"}
    text = rendered(written, logs)
    assert "plan: span" in text and "step deploy: span" in text and "is not in the files (still running, or lost)" in text
    assert "Step 'deploy' failed." in text  # its log lines are still shown, under the stand-in


def test_log_records_outside_any_run_are_shown_last(tmp_path):
    directory = tmp_path / "logs"
    telemetry = aiw_otel.configure(TelemetryConfig(sinks=SinksConfig(file=FileSinkConfig(directory=str(directory)))),
                                   environ={}, set_global=False, handle_signals=False)
    telemetry.log(aiw_otel.LogMessage(LogLevel.WARNING, aiw_otel.ComponentType.RUNNER, "disk_low", "Only 2% disk left."))
    with telemetry.plan_run("p", "tiny"):
        pass
    assert telemetry.shutdown(10.0)
    spans, logs = load(find_files([directory]))
    runs = build_runs(spans, logs)
    assert [run.trace_id == "" for run in runs] == [False, True]
    assert "log records outside any run" in rendered(spans, logs) and "Only 2% disk left." in rendered(spans, logs)


# -- filters and --json -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    directory = tmp_path_factory.mktemp("two") / "logs"
    record_runs(directory, "first", fail=False)
    record_runs(directory, "second")
    spans, _ = load(find_files([directory]))
    traces = [s.trace_id for s in sorted(spans, key=lambda s: s.start_ns) if not s.parent_span_id]
    return directory, traces


def json_records(*args: str) -> list[dict]:
    result = aiw("logs", *args, "--json")
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.mark.slow
def test_json_prints_every_span_and_record_with_plain_attributes(failed_run):
    records = json_records(str(failed_run))
    spans, logs = load(find_files([failed_run]))
    assert len([r for r in records if r["type"] == "span"]) == len(spans)
    assert len([r for r in records if r["type"] == "log"]) == len(logs)
    chat = next(r for r in records if r["type"] == "span" and r["name"] == "chat gpt-4o")
    assert chat["kind"] == "CLIENT" and chat["status"] == "UNSET"
    assert chat["attributes"]["gen_ai.usage.input_tokens"] in (100, 50) and chat["attributes"]["server.port"] == 443
    assert len(chat["trace_id"]) == 32 and len(chat["span_id"]) == 16 and chat["start"].endswith("Z")
    deploy = next(r for r in records if r["type"] == "span" and r["attributes"].get("aiw.step.id") == "deploy"
                  and r["name"] == "deployment")
    assert deploy["status"] == "ERROR" and deploy["status_message"] == "deploy exited with 3"
    assert [e["name"] for e in deploy["events"]] == ["state_change", "state_change"]
    failed_log = next(r for r in records if r["type"] == "log" and r["body"] == "Step 'deploy' failed.")
    assert failed_log["severity"] == "ERROR" and failed_log["span_id"] == deploy["span_id"]
    assert failed_log["attributes"]["aiw.state_after"] == "Failed"


@pytest.mark.slow
def test_trace_filter_takes_a_prefix(two_runs):
    directory, (first, second) = two_runs
    records = json_records(str(directory), "--trace", second[:8])
    assert records and {r["trace_id"] for r in records} == {second}
    text = aiw("logs", str(directory), "--no-color", "--trace", first[:6]).stdout
    assert "invoke_workflow first" in text and "invoke_workflow second" not in text and "what failed" not in text


@pytest.mark.slow
def test_step_filter_keeps_the_step_and_its_plan(two_runs):
    directory, (_, second) = two_runs
    records = json_records(str(directory), "--step", "deploy")
    spans = [r for r in records if r["type"] == "span"]
    assert {r["trace_id"] for r in records} == {second}  # the first run never had a deploy step
    assert {s["name"] for s in spans} == {"invoke_workflow second", "deployment", os.path.basename(sys.executable)}
    assert all(r["attributes"].get("aiw.step_id") == "deploy" for r in records if r["type"] == "log")
    assert any(r["body"] == "connection refused" for r in records if r["type"] == "log")


@pytest.mark.slow
def test_level_and_component_filters_narrow_the_log_lines(two_runs):
    directory, _ = two_runs
    warnings = [r for r in json_records(str(directory), "--level", "warning") if r["type"] == "log"]
    assert warnings and {r["severity"] for r in warnings} <= {"WARN", "ERROR", "FATAL"}
    assert any(r["body"] == "Step 'deploy' failed." for r in warnings)
    ai = [r for r in json_records(str(directory), "--component", "AI_SERVICE") if r["type"] == "log"]
    assert ai and {r["attributes"]["aiw.component"] for r in ai} == {"ai_service"}
    text = aiw("logs", str(directory), "--no-color", "--level", "ERROR").stdout
    assert "Step 'deploy' failed." in text and "deploy progress" not in text
    refused = aiw("logs", str(directory), "--level", "loud")
    assert refused.returncode == 2 and "unknown log level 'loud'" in refused.stderr


def test_selection_applies_the_same_rules_in_process(two_runs):
    directory, (first, _) = two_runs
    spans, logs = load(find_files([directory]))
    kept_spans, kept_logs = Selection(trace=first.upper()[:4]).apply(spans, logs)
    assert kept_spans and {s.trace_id for s in kept_spans} == {first} and {r.trace_id for r in kept_logs} == {first}


# -- --follow ---------------------------------------------------------------------------------------


def append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as stream:
        stream.write(text)
        stream.flush()


def test_follow_sees_every_record_once_across_a_rotation(tmp_path, failed_run):
    span_lines = [p for line in file_lines(failed_run / TRACES) for p in one_record_per_line(line)]
    log_lines = [p for line in file_lines(failed_run / LOGS) for p in one_record_per_line(line)]
    directory = tmp_path / "logs"
    directory.mkdir()
    live = directory / LOGS
    append(live, "\n".join(log_lines[:3]) + "\n")  # already there when following starts
    seen: list[Span | LogRecord] = []
    stop = threading.Event()
    warnings, warn = collect_warnings()
    follower = threading.Thread(target=follow, args=([directory], seen.append),
                                kwargs={"stop": stop, "interval_s": 0.02, "warn": warn})
    follower.start()
    try:
        until(lambda: len(seen) == 3, "the records already in the file", 30)
        append(live, "\n".join(log_lines[3:6]) + "\n")
        half = log_lines[6]
        append(live, half[:40])  # a line in two writes is shown once, when complete
        until(lambda: len(seen) == 6, "appended records", 30)
        append(live, half[40:] + "\n" + log_lines[7] + "\n")
        os.rename(live, directory / f"{LOGS}.1")  # rotation: the writer renames, then starts a new file
        with open(directory / f"{LOGS}.1", "rb") as source, gzip.open(directory / f"{LOGS}.1.gz", "wb") as target:
            target.write(source.read())
        os.unlink(directory / f"{LOGS}.1")
        append(live, "\n".join(log_lines[8:]) + "\n")
        append(directory / TRACES, "\n".join(span_lines) + "\n")
        until(lambda: len(seen) == len(log_lines) + len(span_lines), "every record", 30)
    finally:
        stop.set()
        follower.join(30)
    assert not follower.is_alive() and warnings == []
    logs = [r for r in seen if isinstance(r, LogRecord)]
    assert [r.message for r in logs] == [r.message for r in load(find_files([failed_run]))[1]]
    assert len({s.span_id for s in seen if isinstance(s, Span)}) == len(span_lines)
    assert any("CommandFailed: deploy exited with 3" in plain_line(s) for s in seen if isinstance(s, Span))


def test_tail_reads_a_file_that_appears_later_and_skips_overlong_lines(tmp_path, monkeypatch):
    monkeypatch.setattr("aiw_otel.readback.follow.MAX_LINE_BYTES", 100)
    path = tmp_path / LOGS
    warnings, warn = collect_warnings()
    tail = Tail(path, warn)
    assert tail.read() == []
    append(path, "x" * 150)
    assert tail.read() == []
    append(path, "y" * 150 + "\n{}\n")
    assert tail.read() == [(f"{path}:2", b"{}")]
    assert warnings == [f"{path}:1: line longer than 0 MiB; skipped"]
    tail.close()


@pytest.mark.slow
def test_follow_as_a_command_stops_cleanly_on_ctrl_c(tmp_path, failed_run):
    directory = tmp_path / "logs"
    directory.mkdir()
    process = subprocess.Popen([*AIW, "logs", str(directory), "--follow"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.extend(process.stdout), daemon=True)
    reader.start()
    try:
        append(directory / LOGS, "\n".join(file_lines(failed_run / LOGS)) + "\n")
        until(lambda: any("Plan 'add greeting' failed." in line for line in out), "the last record", 30)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    reader.join(30)
    assert process.returncode == 0 and "Traceback" not in err
    assert "INFO" in out[0] and "[runner:-]" in out[0] and "Starting plan 'add greeting'" in out[0]
    assert len(out) == len(load(find_files([failed_run]))[1])


@pytest.mark.slow
def test_follow_refuses_a_rotated_backup(tmp_path):
    backup = tmp_path / f"{LOGS}.1.gz"
    backup.write_bytes(gzip.compress(b""))
    result = aiw("logs", str(backup), "--follow")
    assert result.returncode == 1 and "a rotated backup never grows" in result.stderr


# -- choosing runs, streaming (issue 14) --------------------------------------------------------------

def test_runs_lists_newest_first_with_outcome_tokens_and_cost(two_runs):
    directory, (first, second) = two_runs
    result = aiw("logs", str(directory), "--runs")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and lines[0].endswith(f"trace {second}") and lines[1].endswith(f"trace {first}")
    assert "  second  Failed  " in lines[0] and "plan-second" not in lines[0], "named as the console names a run"
    assert "Failed" in lines[0] and "tokens 150 in / 30 out" in lines[0]
    assert "$0.0020" in lines[1]


def test_last_and_since_choose_runs_without_decoding_the_others(two_runs):
    directory, (first, second) = two_runs
    records = json_records(str(directory), "--last")
    assert records and {r["trace_id"] for r in records} == {second}
    tree = aiw("logs", str(directory), "--last", "--no-color").stdout
    assert "invoke_workflow second" in tree and "invoke_workflow first" not in tree
    assert {r["trace_id"] for r in json_records(str(directory), "--since", "1d")} == {first, second}
    assert aiw("logs", str(directory), "--since", "2999-01-01", "--json").stdout == ""
    assert aiw("logs", str(directory), "--since", "soon").returncode == 2


def test_the_tree_is_built_one_run_at_a_time_as_the_records_stream_by(two_runs):
    from aiw_otel.readback.stream import stream_records
    from aiw_otel.readback.tree import runs_as_they_end

    directory, (first, second) = two_runs
    records = list(stream_records(find_files([directory], ("traces", "logs"))))
    consumed = 0

    def counted():
        nonlocal consumed
        for record in records:
            consumed += 1
            yield record

    runs = runs_as_they_end(counted(), settle_ns=0)
    run = next(runs)
    assert run.trace_id == first and run.root.span.name == "invoke_workflow first"
    assert consumed < len(records)  # the second run's records were not read yet
    assert [(r.trace_id, r.root.span.name) for r in runs] == [(second, "invoke_workflow second")]
    assert [r.trace_id for r in runs_as_they_end(records)] == [first, second]  # ending within SETTLE_NS: in start order
    spans, logs = load(find_files([directory]))
    built = build_runs(spans, logs)
    assert [[n.span_id for n in r.nodes()] for r in runs_as_they_end(records)] == \
        [[n.span_id for n in r.nodes()] for r in built]


def test_last_reads_back_from_the_end_only_as_far_as_the_newest_run(tmp_path):
    directory = tmp_path / "logs"
    record_runs(directory, "older")
    for base in (TRACES, LOGS):  # rotated, as the sink does
        (directory / base).rename(directory / f"{base}.1")
        (directory / f"{base}.2.gz").write_bytes(b"\x1f\x8b not gzip at all")  # older still, and unreadable
    record_runs(directory, "newer one", "newest")
    shown = aiw("logs", str(directory), "--last", "--no-color")
    assert shown.returncode == 0 and shown.stderr == ""  # the broken backups were never opened
    assert "invoke_workflow newest" in shown.stdout and "invoke_workflow newer one" not in shown.stdout
    assert "what failed" in shown.stdout and "Step 'deploy' failed." in shown.stdout  # its logs are there
    everything = aiw("logs", str(directory), "--no-color")
    assert "unreadable" in everything.stderr and "invoke_workflow older" in everything.stdout
    as_json = aiw("logs", str(directory), "--last", "--json")
    newest = {json.loads(line)["trace_id"] for line in as_json.stdout.splitlines()}
    assert as_json.stderr == "" and len(newest) == 1
    assert aiw("logs", str(directory), "--runs").stdout.splitlines()[0].endswith(f"trace {newest.pop()}")


def test_last_shows_a_run_still_being_written_whose_plan_span_is_not_in_the_files(tmp_path):
    directory = tmp_path / "logs"
    record_runs(directory, "done", "going")
    traces = directory / TRACES
    lines = traces.read_text().splitlines()
    last = json.loads(lines[-1])
    for resource in last["resourceSpans"]:  # the plan of the last run has not ended yet
        for scope in resource["scopeSpans"]:
            scope["spans"] = [s for s in scope["spans"] if s.get("parentSpanId")]
    traces.write_text("\n".join(lines[:-1] + [json.dumps(last)]) + "\n")
    shown = aiw("logs", str(directory), "--last", "--no-color")
    assert shown.returncode == 0, shown.stderr
    assert "plan: span" in shown.stdout and "is not in the files (still running, or lost)" in shown.stdout
    assert "Starting plan 'going'" in shown.stdout and "'done'" not in shown.stdout


def test_piped_tree_lines_are_never_wrapped_inside_an_id(two_runs):
    directory, (first, _) = two_runs
    text = aiw("logs", str(directory), "--no-color", "--trace", first[:8]).stdout
    assert f"trace {first}" in text


def test_json_streams_in_time_written_order_and_skips_other_traces_lines(two_runs):
    from aiw_otel.readback.stream import stream_records, time_written

    directory, (first, _) = two_runs
    records = list(stream_records(find_files([directory], ("traces", "logs")), Selection(trace=first[:5])))
    assert records and {r.trace_id for r in records} == {first}
    assert [time_written(r) for r in records] == sorted(time_written(r) for r in records)


def test_a_backup_caught_mid_compression_is_read_once(tmp_path):
    """`x.1` and the finished `x.1.gz` side by side (the compressor's last instant): the archive is read, once."""
    import gzip

    directory = tmp_path / "logs"
    record_runs(directory, "one")
    live = directory / TRACES
    text = live.read_bytes()
    (directory / f"{TRACES}.1").write_bytes(text)
    (directory / f"{TRACES}.1.gz").write_bytes(gzip.compress(text))
    live.unlink()
    files = [f.path.name for f in find_files([directory], ["traces"])]
    assert files == [f"{TRACES}.1.gz"]
