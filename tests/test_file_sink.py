"""The rotating file sink: rotation, permissions, concurrency, crash safety, bad directories."""

from __future__ import annotations

import base64
import gzip
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry._logs import LogRecord
from opentelemetry.sdk._logs import ReadWriteLogRecord
from opentelemetry.sdk.metrics.export import (
    Gauge,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext

from aiw_otel import ComponentType, LogLevel, LogMessage
from aiw_otel.config import FileSinkConfig, QueueConfig, SinksConfig, TelemetryConfig
from aiw_otel.exporters.file_sink import FileMetricExporter, FileSink, counted_as_lost
from aiw_otel.exporters.backup_gzip import start_compressing
from aiw_otel.exporters.rotating_file import RotatingFile
from aiw_otel.exporters.stream_lock import StreamLock
from aiw_otel.health import TelemetryHealth
from aiw_otel.logdir import SIGNAL_FILES, TEXT_LOG, compressing_name, files_oldest_first
from tests.malformed import Summary, Unreadable
from tests.otlp_files import items_in
from tests.recorded_runs import run_sample_plan


def file_config(directory: Path, **changes) -> TelemetryConfig:
    return TelemetryConfig(sinks=SinksConfig(file=FileSinkConfig(directory=str(directory), **changes)))


def read_lines(directory: Path, base: str) -> list[str]:
    lines: list[str] = []
    for path in files_oldest_first(directory, base):
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as handle:
            lines.extend(handle.read().splitlines())
    return lines


def log_bodies(directory: Path) -> list[str]:
    return [record["body"]["stringValue"] for record in items_in(read_lines(directory, SIGNAL_FILES["logs"]), "logs")]


def hex_ids_to_base64(node):
    """OTLP JSON's one deviation from proto3 JSON: ids are hex. Undo it to parse with json_format."""
    if isinstance(node, dict):
        return {k: (base64.b64encode(bytes.fromhex(v)).decode() if k in ("traceId", "spanId", "parentSpanId") and v
                    else hex_ids_to_base64(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [hex_ids_to_base64(v) for v in node]
    return node


# -- rotation ---------------------------------------------------------------------------------

def test_size_rotation_happens_at_line_boundaries_and_keeps_backup_count(tmp_path):
    file = RotatingFile(tmp_path / "t.jsonl", max_bytes=1000, backup_count=3, compress=False)
    line = "x" * 99  # 100 bytes with its newline
    file.write_lines([line] * 10)
    file.flush()
    assert (tmp_path / "t.jsonl").stat().st_size == 1000  # exactly max_bytes still fits
    file.write_lines([line])
    file.flush()
    assert (tmp_path / "t.jsonl").stat().st_size == 100 and (tmp_path / "t.jsonl.1").stat().st_size == 1000
    file.write_lines([line] * 100)
    file.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [".t.jsonl.lock", "t.jsonl", "t.jsonl.1", "t.jsonl.2", "t.jsonl.3"]
    for path in tmp_path.iterdir():
        assert all(len(l) == 99 for l in path.read_text().splitlines())


def test_a_line_longer_than_max_bytes_gets_a_file_of_its_own(tmp_path):
    file = RotatingFile(tmp_path / "t.jsonl", max_bytes=100, backup_count=5, compress=False)
    file.write_lines(["a" * 10, "b" * 500, "c" * 10])
    file.close()
    assert read_lines(tmp_path, "t.jsonl") == ["a" * 10, "b" * 500, "c" * 10]


def test_compressed_backups_are_gzip_and_mode_0600(tmp_path):
    file = RotatingFile(tmp_path / "t.jsonl", max_bytes=500, backup_count=2, compress=True)
    for index in range(60):
        file.write_lines([f"line {index:03d} " + "y" * 40])
    file.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [".t.jsonl.lock", "t.jsonl", "t.jsonl.1.gz", "t.jsonl.2.gz"]  # no archive left half-built
    for path in tmp_path.iterdir():  # the lock file too
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    lines = read_lines(tmp_path, "t.jsonl")
    assert lines == [f"line {i:03d} " + "y" * 40 for i in range(60 - len(lines), 60)]


def test_backup_count_zero_truncates_instead(tmp_path):
    file = RotatingFile(tmp_path / "t.jsonl", max_bytes=100, backup_count=0, compress=True)
    file.write_lines(["z" * 60, "z" * 60])
    file.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".t.jsonl.lock", "t.jsonl"]


def test_a_line_torn_by_a_killed_writer_is_ended_before_the_next_batch(tmp_path):
    """A writer killed mid-write leaves a partial last line; the next writer's lines still start on
    a line of their own, so that partial line is the only one lost."""
    live = tmp_path / "logs.otlp.jsonl"
    live.write_text('{"resourceLogs":[]}\n{"resourceLo')
    writer = RotatingFile(live, max_bytes=1 << 20, backup_count=1)
    writer.write_lines(['{"resourceLogs":[{}]}'])
    writer.close()
    assert live.read_text().splitlines() == ['{"resourceLogs":[]}', '{"resourceLo', '{"resourceLogs":[{}]}']


@pytest.mark.parametrize("meanwhile", ["shifted", "dropped"])
def test_a_backup_moved_by_another_rotation_while_compressed_is_archived_where_it_went(tmp_path, meanwhile):
    """The rotator opens the backup under the lock and compresses it after; another process's rotation
    may shift it to `.2` (or drop it) before the archive is put in place, which happens under the lock."""
    first = tmp_path / "t.jsonl.1"
    first.write_text("old line\n")
    with StreamLock(tmp_path / "t.jsonl"):
        compressing = start_compressing(first, "t.jsonl")
        if meanwhile == "shifted":
            first.rename(tmp_path / "t.jsonl.2")
        else:
            first.unlink()
    compressing.join()
    names = sorted(p.name for p in tmp_path.iterdir())
    if meanwhile == "shifted":
        assert names == [".t.jsonl.lock", "t.jsonl.2.gz"]
        assert gzip.decompress((tmp_path / "t.jsonl.2.gz").read_bytes()) == b"old line\n"
    else:
        assert names == [".t.jsonl.lock"]


def test_an_archive_left_half_built_by_a_killed_process_is_removed_at_the_next_rotation(tmp_path):
    file = RotatingFile(tmp_path / "t.jsonl", max_bytes=100, backup_count=3, compress=True)
    abandoned = tmp_path / compressing_name("t.jsonl", 1)  # no backup has that inode
    abandoned.write_bytes(b"\x1f\x8b half")
    file.write_lines(["x" * 60, "y" * 60])
    file.close()
    assert not abandoned.exists() and read_lines(tmp_path, "t.jsonl") == ["x" * 60, "y" * 60]


def written_at(path: Path, moment: float) -> None:
    """The file as if last written at `moment` (its mtime is what hourly rotation reads)."""
    os.utime(path, (moment, moment))


def test_hourly_rotation_follows_the_clock_and_skips_empty_files(tmp_path):
    now = [1_700_000_000.0]  # 22:13:20 UTC
    live = tmp_path / "t.jsonl"
    file = RotatingFile(live, max_bytes=1 << 20, backup_count=5, rotate_when="hourly",
                        compress=False, clock=lambda: now[0])
    file.write_lines(["first hour"])
    written_at(live, now[0])
    now[0] += 3600
    file.write_lines(["second hour"])
    written_at(live, now[0])
    now[0] += 7200  # two boundaries pass with nothing written: still one rotation
    file.write_lines(["fourth hour"])
    file.close()
    assert (tmp_path / "t.jsonl.2").read_text() == "first hour\n"
    assert (tmp_path / "t.jsonl.1").read_text() == "second hour\n"
    assert (tmp_path / "t.jsonl").read_text() == "fourth hour\n"


def test_an_hour_boundary_rotates_a_shared_file_once_whoever_writes_first(tmp_path):
    """Two writers (as two processes would: each its own descriptors) each see the hour end: the first
    after it rotates, the second finds a file of this hour and appends to it."""
    now = [1_700_000_000.0]
    live = tmp_path / "t.jsonl"
    first, second = (RotatingFile(live, max_bytes=1 << 20, backup_count=5, rotate_when="hourly",
                                  compress=False, clock=lambda: now[0]) for _ in range(2))
    first.write_lines(["a, last hour"])
    second.write_lines(["b, last hour"])
    written_at(live, now[0])
    now[0] += 3600
    second.write_lines(["b, this hour"])
    first.write_lines(["a, this hour"])
    first.close()
    second.close()
    assert (tmp_path / "t.jsonl.1").read_text() == "a, last hour\nb, last hour\n"
    assert (tmp_path / "t.jsonl").read_text() == "b, this hour\na, this hour\n"
    assert not (tmp_path / "t.jsonl.2").exists()


# -- the sink in the pipeline -----------------------------------------------------------------

def test_a_run_lands_in_otlp_json_files_that_decode_to_protobuf(capture, tmp_path):
    cap = capture(file_config(tmp_path / "logs"), environ={"AIW_FILE": "on"})
    run_sample_plan(cap.telemetry, tmp_path)
    cap.telemetry.log(LogMessage(LogLevel.INFO, ComponentType.RUNNER, "login", "password=hunter2"))  # one metric point
    memory_spans = {s.context.span_id: s for s in cap.spans()}
    assert cap.telemetry.shutdown(5.0)
    decoded = []
    for line in read_lines(tmp_path / "logs", SIGNAL_FILES["traces"]):
        request = json_format.ParseDict(hex_ids_to_base64(json.loads(line)), ExportTraceServiceRequest())
        decoded.extend(s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans)
    assert len(decoded) == len(memory_spans)
    for span in decoded:
        original = memory_spans[int.from_bytes(span.span_id, "big")]
        assert span.name == original.name
        assert int.from_bytes(span.trace_id, "big") == original.context.trace_id
        parent = int.from_bytes(span.parent_span_id, "big") if span.parent_span_id else None
        assert parent == (original.parent.span_id if original.parent else None)
        assert {a.key for a in span.attributes} == set(original.attributes)
    for line in read_lines(tmp_path / "logs", SIGNAL_FILES["logs"]):
        json_format.ParseDict(hex_ids_to_base64(json.loads(line)), ExportLogsServiceRequest())
    metrics = read_lines(tmp_path / "logs", SIGNAL_FILES["metrics"])  # collected at flush and at shutdown
    assert metrics and all('"name":"aiw.telemetry.redactions"' in line for line in metrics)


def test_the_text_log_is_the_seed_format(capture, tmp_path):
    cap = capture(file_config(tmp_path), environ={"AIW_FILE": "on"})
    with cap.telemetry.plan_run("p", "plan") as run, run.step("s1", "t") as step:
        with step.command(["sh", "-c", "exit 2"]) as cmd:
            cmd.exited(2)
    cap.telemetry.shutdown(5.0)
    text = (tmp_path / TEXT_LOG).read_text().splitlines()
    assert any(line.endswith(" - INFO     - [execution_engine:s1] - Starting execution of step 's1'.") for line in text)
    assert any("WARN     - [terminal_interaction:s1] - Command 'sh -c 'exit 2'' failed with exit code 2." in line
               and "(exit_code=2)" in line for line in text)
    assert stat.S_IMODE((tmp_path / TEXT_LOG).stat().st_mode) == 0o600


def test_four_threads_writing_at_once_lose_and_split_nothing(capture, tmp_path):
    config = replace(file_config(tmp_path, max_bytes=64 * 1024, backup_count=1000, text_log=False),
                     queue=QueueConfig(max_size=16384))  # room for the whole burst: this test is about order
    cap = capture(config, environ={"AIW_FILE": "on"})
    per_thread = 2500

    def writer(name: str) -> None:
        for index in range(per_thread):
            cap.telemetry.log(LogMessage(LogLevel.INFO, ComponentType.RUNNER, "tick", f"{name}:{index}"))

    threads = [threading.Thread(target=writer, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cap.telemetry.shutdown(10.0)
    assert cap.telemetry.health.snapshot().total_dropped == 0
    bodies = log_bodies(tmp_path)
    assert len(bodies) == 4 * per_thread
    for n in range(4):
        assert [b for b in bodies if b.startswith(f"w{n}:")] == [f"w{n}:{i}" for i in range(per_thread)]
    assert len(list(tmp_path.glob("logs.otlp.jsonl.*.gz"))) > 3  # it did rotate, and backups were read back


def test_an_unwritable_log_directory_is_one_clear_error_and_the_run_goes_on(capture, tmp_path, capsys):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    cap = capture(file_config(blocker / "logs"), environ={"AIW_FILE": "on"})
    with cap.telemetry.plan_run("p", "plan") as run, run.step("s", "t"):
        pass
    assert {s.name for s in cap.spans()} == {"invoke_workflow plan", "t"}
    err = capsys.readouterr().err
    assert err.count("cannot write to log directory") == 1 and str(blocker / "logs") in err
    assert cap.telemetry.health.snapshot().failures[("file", "setup")] == 1


def test_a_full_disk_is_reported_with_the_path_and_the_run_goes_on(capture, tmp_path, capsys):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    (tmp_path / SIGNAL_FILES["traces"]).symlink_to("/dev/full")  # every write fails with ENOSPC
    cap = capture(file_config(tmp_path), environ={"AIW_FILE": "on"})
    with cap.telemetry.plan_run("p", "plan") as run, run.step("s", "t"):
        pass
    assert {s.name for s in cap.spans()} == {"invoke_workflow plan", "t"}
    cap.telemetry.force_flush(5.0)
    assert cap.telemetry.health.snapshot().failures[("file", "traces")] >= 1
    assert capsys.readouterr().err == ""  # not batch after batch: once, at the end, with what was lost
    cap.telemetry.shutdown(5.0)
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (f"aiw-otel: WARNING: sink 'file' did not receive 2 spans (cannot write "
                    f"{tmp_path / SIGNAL_FILES['traces']}: No space left on device)")
    assert log_bodies(tmp_path)  # the other signals still reach their files


def test_a_record_the_encoder_cannot_write_is_counted_lost_and_the_rest_of_its_batch_written(tmp_path):
    health = TelemetryHealth()
    config = FileSinkConfig(directory=str(tmp_path), text_log=False, signals=frozenset({"logs", "traces"}))
    built = FileSink(config).build(health, QueueConfig())
    scope = InstrumentationScope("odd")
    for body in ("before", {"x": Unreadable()}, "after"):  # the SDK checks attributes, not a body
        built.log_processor.on_emit(ReadWriteLogRecord(LogRecord(body=body), Resource.create({}), scope))
    assert built.log_processor.force_flush(5000)
    assert log_bodies(tmp_path) == ["before", "after"]
    snapshot = health.snapshot()
    assert snapshot.lost == {("file", "logs"): 1} and snapshot.failures == {("file", "logs"): 1}
    built.log_processor.shutdown()

    context = SpanContext(1, 2, is_remote=False)
    for name, attributes in (("kept", {}), ("odd", {"x": Unreadable()})):  # made directly: the SDK would check them
        built.span_processor.on_end(ReadableSpan(name, context, attributes=attributes, instrumentation_scope=scope))
    assert built.span_processor.force_flush(5000)
    assert [span["name"] for span in items_in(read_lines(tmp_path, SIGNAL_FILES["traces"]), "traces")] == ["kept"]
    assert health.snapshot().lost[("file", "traces")] == 1
    built.span_processor.shutdown()

    # Metrics: a metric of a kind OTLP has no message for loses its points, the other metrics are written.
    point = NumberDataPoint({}, 0, 1, 7)
    metrics = [Metric("kept", None, None, Gauge([point])), Metric("odd", None, None, Summary([point, point]))]
    data = MetricsData([ResourceMetrics(Resource.create({}), [ScopeMetrics(scope, metrics, "")], "")])
    file = RotatingFile(tmp_path / "metrics.jsonl", max_bytes=1 << 20, backup_count=1)
    exporter = FileMetricExporter(file, counted_as_lost(health, "file", "metrics"))
    exporter.export(data)
    exporter.shutdown()
    metric_names = [m["name"] for m in items_in(read_lines(tmp_path, "metrics.jsonl"), "metrics")]
    assert metric_names == ["kept"]
    snapshot = health.snapshot()
    assert snapshot.lost[("file", "metrics")] == 2 and snapshot.failures[("file", "metrics")] == 1
    assert health.undelivered_summary() == ["sink 'file' did not receive 1 spans, 1 log records, 2 metric points"]


CHILD = textwrap.dedent("""
    import sys, time
    import aiw_otel
    from aiw_otel import ComponentType, LogLevel, LogMessage
    from aiw_otel.config import FileSinkConfig, QueueConfig, SinksConfig, TelemetryConfig
    telemetry = aiw_otel.configure(TelemetryConfig(sinks=SinksConfig(file=FileSinkConfig(directory=sys.argv[1],
                                                                                      flush_interval_ms=200))))
    run = telemetry.plan_run("p", "killed plan").__enter__()
    for index in range(50):
        with run.step(f"s{index}", "work"):
            telemetry.log(LogMessage(LogLevel.INFO, ComponentType.RUNNER, "tick", f"record {index}"))
    time.sleep(0.6)  # three flush intervals: everything above must be on disk now
    print("SETTLED", flush=True)
    time.sleep(60)
""")


@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_a_killed_run_keeps_what_was_finished(tmp_path, how):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    logs = tmp_path / "logs"
    proc = subprocess.Popen([sys.executable, str(script), str(logs)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=tmp_path)
    assert proc.stdout.readline().strip() == "SETTLED"
    proc.send_signal(how)
    proc.communicate(timeout=30)
    bodies = log_bodies(logs)
    assert [b for b in bodies if b.startswith("record ")] == [f"record {i}" for i in range(50)]
    spans = [s["name"] for s in items_in(read_lines(logs, SIGNAL_FILES["traces"]), "traces")]
    assert spans.count("work") == 50
    if how is not signal.SIGKILL:  # an orderly stop also ends the open plan span, as interrupted
        assert "invoke_workflow killed plan" in spans


def test_file_sink_settings_from_yaml_and_environment(tmp_path):
    from aiw_otel.config_env import apply_environment
    from aiw_otel.config_yaml import config_from_text

    loaded = config_from_text("telemetry:\n  sinks:\n    file: {max_bytes: 5000, backup_count: 2, rotate_when: daily}\n")
    settings = apply_environment(loaded.telemetry, {"AIW_LOG_DIR": str(tmp_path)})
    assert settings.sinks.file == replace(FileSinkConfig(), directory=str(tmp_path), max_bytes=5000, backup_count=2,
                                          rotate_when="daily")
