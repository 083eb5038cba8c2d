"""`aiw-otel ship`: saved telemetry sent to real OTLP receivers (HTTP and gRPC), resumed without duplicates."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from aiw_otel.exporters.rotating_file import RotatingFile
from aiw_otel.logdir import SIGNAL_FILES
from aiw_otel.readback.files import find_files, read_lines
from aiw_otel.readback.records import load
from aiw_otel.readback.ship import STATE_FILE, ShipError, Summary, Target, encode_request, parse_headers, ship
from tests.cli_process import AIW, aiw
from tests.otlp_receiver import Receiver
from tests.otlp_files import collect_warnings, data_points, file_lines, items
from tests.recorded_runs import record_runs
from tests.stack import free_port

TRACES, LOGS, METRICS = SIGNAL_FILES["traces"], SIGNAL_FILES["logs"], SIGNAL_FILES["metrics"]


@pytest.fixture
def log_dir(tmp_path) -> Path:
    """Three failed runs, each flushed on its own: several lines per signal."""
    directory = tmp_path / "logs"
    record_runs(directory, "one", "two", "three")
    return directory


def expected_metric_points(directory: Path) -> int:
    return sum(len(data_points(metric)) for file in find_files([directory], ["metrics"])
               for _, line in read_lines(file.path) for metric in items(json.loads(line), "metrics"))


def assert_everything_arrived_once(received: Any, directory: Path) -> None:
    spans, logs = load(find_files([directory]))
    got = received.spans()
    assert sorted(s.span_id.hex() for s in got) == sorted(s.span_id for s in spans)
    assert sorted(r.body.string_value for r in received.log_records()) == sorted(r.message for r in logs)
    assert received.metric_points() == expected_metric_points(directory) > 0


@pytest.mark.slow
def test_ship_over_http_sends_every_span_log_record_and_metric_point(receiver, log_dir):
    result = aiw("ship", str(log_dir), "--endpoint", receiver.endpoint, "--headers", "x-team=aiw, x-run=7")
    assert result.returncode == 0, result.stderr
    assert_everything_arrived_once(receiver, log_dir)
    headers, _ = receiver.received["/v1/traces"][0]
    assert headers["x-team"] == "aiw" and headers["x-run"] == "7" and headers["Content-Type"] == "application/x-protobuf"
    spans, logs = load(find_files([log_dir]))
    chat = next(s for s in receiver.spans() if s.name == "chat gpt-4o")
    original = next(s for s in spans if s.span_id == chat.span_id.hex())
    assert chat.trace_id.hex() == original.trace_id and chat.parent_span_id.hex() == original.parent_span_id
    assert chat.kind == 3 and chat.start_time_unix_nano == original.start_ns
    attributes = {a.key: a.value for a in chat.attributes}
    assert attributes["gen_ai.usage.input_tokens"].int_value == original.attributes["gen_ai.usage.input_tokens"]
    assert attributes["aiw.ai.cost_usd"].double_value == original.attributes["aiw.ai.cost_usd"]
    record = next(r for r in receiver.log_records() if r.body.string_value == "Step 'deploy' failed.")
    assert record.severity_number == 17 and len(record.span_id) == 8 and len(record.trace_id) == 16
    assert (f"shipped {receiver.requests()} requests to {receiver.endpoint} (http/protobuf): {len(spans)} spans, "
            f"{len(logs)} log records, {expected_metric_points(log_dir)} metric points; 0 lines skipped") in result.stdout


@pytest.mark.slow
def test_ship_over_grpc_to_the_otlp_services(grpc_receiver, log_dir):
    result = aiw("ship", str(log_dir), "--endpoint", grpc_receiver.endpoint, "--protocol", "grpc",
                 "--headers", "x-team=aiw")
    assert result.returncode == 0, result.stderr
    assert_everything_arrived_once(grpc_receiver, log_dir)
    metadata, _ = grpc_receiver.received["/v1/logs"][0]
    assert metadata["x-team"] == "aiw"
    assert "(grpc)" in result.stdout


def test_a_second_ship_sends_only_what_was_appended(receiver, tmp_path):
    directory = tmp_path / "logs"
    record_runs(directory, "first")
    target = Target(receiver.endpoint)
    first = ship([directory], target)
    first_count = receiver.requests()
    record_runs(directory, "second")  # a new process appending to the same files
    summary = ship([directory], target)
    assert summary.already_shipped == first.lines and summary.requests == receiver.requests() - first_count > 0
    names = [s.name for s in receiver.spans()]
    assert names.count("invoke_workflow first") == 1 and names.count("invoke_workflow second") == 1
    assert_everything_arrived_once(receiver, directory)
    assert ship([directory], target).requests == 0


def test_rotation_and_compression_do_not_send_anything_again(receiver, log_dir):
    target = Target(receiver.endpoint)
    first = ship([log_dir], target)
    for base in (TRACES, LOGS, METRICS):  # exactly what the file sink does: rename to .1, gzip to .1.gz
        live = RotatingFile(log_dir / base, max_bytes=1 << 20, backup_count=5, compress=True)
        live.rotate()
        live.close()
    assert sorted(p.name for p in log_dir.glob("*.gz")) == sorted(f"{b}.1.gz" for b in (TRACES, LOGS, METRICS))
    again = ship([log_dir], target)
    assert again.requests == 0 and again.already_shipped == first.lines and receiver.requests() == first.requests
    record_runs(log_dir, "four")  # a new live file next to the compressed backups
    assert ship([log_dir], target).requests > 0
    assert_everything_arrived_once(receiver, log_dir)


@pytest.mark.slow
def test_a_refusing_endpoint_stops_the_ship_and_the_next_one_resumes_without_duplicates(receiver, log_dir):
    receiver.accept = 2
    result = aiw("ship", str(log_dir), "--endpoint", receiver.endpoint, "--batch-size", "1")  # a line per request
    assert result.returncode == 1
    assert (f"ship stopped: POST {receiver.endpoint}/v1/traces answered 503 Service Unavailable: collector overloaded"
            f" (sending {log_dir / TRACES}:3)") in result.stderr
    assert "run the same command again to resume" in result.stderr and "Traceback" not in result.stderr
    assert "shipped 2 requests" in result.stdout
    state = json.loads((log_dir / STATE_FILE).read_text())
    assert list(state["endpoints"][f"{receiver.endpoint} (http/protobuf)"].values()) == [2]
    receiver.accept = None
    result = aiw("ship", str(log_dir), "--endpoint", receiver.endpoint)
    assert result.returncode == 0, result.stderr
    assert "2 lines skipped as already shipped" in result.stdout
    assert_everything_arrived_once(receiver, log_dir)


@pytest.mark.slow
def test_an_unreachable_endpoint_is_a_clear_error(log_dir):
    port = free_port()
    result = aiw("ship", str(log_dir), "--endpoint", f"http://127.0.0.1:{port}", "--timeout", "5")
    assert result.returncode == 1 and f"POST http://127.0.0.1:{port}/v1/traces failed" in result.stderr
    assert "Traceback" not in result.stderr and not (log_dir / STATE_FILE).exists()
    grpc_result = aiw("ship", str(log_dir), "--endpoint", f"http://127.0.0.1:{port}", "--protocol", "grpc",
                      "--timeout", "5")
    assert grpc_result.returncode == 1 and "gRPC export to" in grpc_result.stderr and "UNAVAILABLE" in grpc_result.stderr


def test_bad_lines_are_skipped_once_and_a_torn_live_line_waits_for_its_end(receiver, tmp_path):
    source = tmp_path / "source"
    record_runs(source, "one", "two")
    lines = file_lines(source / TRACES)
    directory = tmp_path / "logs"
    directory.mkdir()
    half = len(lines[1]) // 2
    (directory / TRACES).write_text(f"{lines[0]}\nnot json\n{lines[1][:half]}")  # the writer is mid-line
    target = Target(receiver.endpoint)
    warnings, warn = collect_warnings()
    first = ship([directory], target, warn=warn)
    assert (first.requests, first.bad_lines) == (1, 1)
    assert len(warnings) == 2 and f"{TRACES}:2: not JSON" in warnings[0] and f"{TRACES}:3: incomplete" in warnings[1]
    with open(directory / TRACES, "a") as stream:
        stream.write(lines[1][half:] + "\n")
    warnings.clear()
    second = ship([directory], target, warn=warn)
    assert (second.requests, second.already_shipped, warnings) == (1, 2, [])
    assert len(receiver.spans()) == len(load(find_files([source / TRACES]))[0])


@pytest.mark.slow
def test_a_partial_success_is_reported_and_not_sent_again(grpc_receiver, log_dir):
    grpc_receiver.responses["/v1/traces"] = trace_service_pb2.ExportTraceServiceResponse(
        partial_success=trace_service_pb2.ExportTracePartialSuccess(rejected_spans=2, error_message="too old"))
    result = aiw("ship", str(log_dir), "--endpoint", grpc_receiver.endpoint, "--protocol", "grpc")
    assert result.returncode == 0, result.stderr
    assert f"{log_dir / TRACES}:1-{len(file_lines(log_dir / TRACES))}: the endpoint rejected 2 traces items: too old" \
        in result.stdout
    assert ship([log_dir], Target(grpc_receiver.endpoint, "grpc")).requests == 0


def test_shipping_to_another_endpoint_starts_from_the_beginning(receiver, grpc_receiver, log_dir):
    ship([log_dir], Target(receiver.endpoint))
    ship([log_dir], Target(grpc_receiver.endpoint, "grpc"))
    assert receiver.requests() == grpc_receiver.requests() > 0


def test_lines_are_batched_into_few_requests_up_to_the_size_cap(receiver, log_dir):
    lines = {base: file_lines(log_dir / base) for base in (TRACES, LOGS, METRICS)}
    summary = ship([log_dir], Target(receiver.endpoint))
    assert summary.requests == receiver.requests() == 3  # one per file: each is far under 4 MiB
    assert summary.lines == sum(len(found) for found in lines.values()) > 3
    assert_everything_arrived_once(receiver, log_dir)
    smallest = min(len(line) for found in lines.values() for line in found)
    (log_dir / STATE_FILE).unlink()  # from the start again
    again = ship([log_dir], Target(receiver.endpoint), batch_bytes=smallest)
    assert again.requests == again.lines == summary.lines  # no two lines fit: a line per request


def test_http_json_sends_the_lines_as_written_and_resumes_like_the_others(receiver, log_dir):
    target = Target(receiver.endpoint, "http/json")
    summary = ship([log_dir], target)
    headers, _ = receiver.received["/v1/traces"][0]
    assert headers["Content-Type"] == "application/json" and summary.requests == 3
    assert_everything_arrived_once(receiver, log_dir)
    spans, logs = load(find_files([log_dir]))
    assert (summary.items["traces"], summary.items["logs"]) == (len(spans), len(logs))
    assert summary.items["metrics"] == expected_metric_points(log_dir)
    record_runs(log_dir, "four")
    assert ship([log_dir], target).already_shipped == summary.lines
    assert_everything_arrived_once(receiver, log_dir)


def test_a_json_answer_says_what_the_endpoint_dropped_in_otlp_json_names():
    from aiw_otel.readback.ship import SIGNALS, Acknowledged

    traces, logs, _ = SIGNALS
    answer = b'{"partialSuccess": {"rejectedSpans": "2", "errorMessage": "too old"}}'
    assert Acknowledged.of_json(traces, answer) == Acknowledged(2, "too old")
    assert Acknowledged.of_json(logs, b'{"partialSuccess": {"rejectedLogRecords": 3}}') == Acknowledged(3, "")
    assert Acknowledged.of_json(traces, b"") == Acknowledged.of_json(traces, b"<html>") == Acknowledged()


def test_progress_is_shown_on_a_terminal_only(receiver, log_dir):
    import pty

    main, child = pty.openpty()
    try:
        on_terminal = subprocess.run([*AIW, "ship", str(log_dir), "--endpoint", receiver.endpoint],
                                     stdout=subprocess.PIPE, stderr=child, timeout=60)
        os.close(child)
        shown = b""
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # the terminal's other end is closed: everything was read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(main)
    assert on_terminal.returncode == 0
    assert b"\rshipping: " in shown and b" lines (" in shown and b"MB/s" in shown
    (log_dir / STATE_FILE).unlink()
    piped = aiw("ship", str(log_dir), "--endpoint", receiver.endpoint)
    assert piped.returncode == 0 and "shipping:" not in piped.stderr and "shipped 3 requests" in piped.stdout


def test_a_failed_ship_keeps_the_progress_in_its_summary(receiver, log_dir):
    receiver.accept = 1
    summary = Summary()
    with pytest.raises(ShipError, match="503"):
        ship([log_dir], Target(receiver.endpoint), summary)
    assert summary.requests == 1


def test_lines_become_protobuf_requests_with_binary_ids(log_dir):
    line = file_lines(log_dir / TRACES)[0]
    kind, request = encode_request(json.loads(line))
    span = trace_service_pb2.ExportTraceServiceRequest.FromString(request).resource_spans[0].scope_spans[0].spans[0]
    assert kind.name == "traces" and span.span_id.hex() == json.loads(line)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"]
    with pytest.raises(ValueError, match="not an OTLP export request"):
        encode_request({"resourceWidgets": []})
    with pytest.raises(ValueError):
        encode_request({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]})
    assert parse_headers("a=1, B = two ,") == {"a": "1", "b": "two"}
    with pytest.raises(ValueError, match="key=value pairs"):
        parse_headers("novalue")


@pytest.mark.slow
def test_ship_to_a_traces_only_backend_with_the_endpoint_and_headers_from_the_environment(receiver, log_dir):
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
           "OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20abc,x-team=a%2Cb"}
    result = aiw("ship", str(log_dir), "--signals", "traces", env=env)
    assert result.returncode == 0, result.stderr
    spans, _ = load(find_files([log_dir]))
    assert len(receiver.spans()) == len(spans) > 0
    assert receiver.received["/v1/logs"] == [] and receiver.received["/v1/metrics"] == []
    headers, _ = receiver.received["/v1/traces"][0]
    assert headers["authorization"] == "Bearer abc" and headers["x-team"] == "a,b"  # percent-decoded


@pytest.mark.slow
def test_ship_keeps_credentials_in_the_endpoint_out_of_its_state_and_output(receiver, log_dir):
    with_password = receiver.endpoint.replace("http://", "http://admin:hunter2@")
    result = aiw("ship", str(log_dir), "--endpoint", with_password)
    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout + result.stderr
    assert "hunter2" not in (log_dir / STATE_FILE).read_text()
    assert receiver.spans()
    headers, _ = receiver.received["/v1/traces"][0]
    assert headers["authorization"] == "Basic YWRtaW46aHVudGVyMg=="  # admin:hunter2, as basic auth


@pytest.mark.slow
@pytest.mark.parametrize(("arguments", "environ", "expected"), [
    ((), {}, "no endpoint for traces: give --endpoint URL or set OTEL_EXPORTER_OTLP_ENDPOINT "
             "(or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)"),
    (("--signals", "logs"), {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/t"},
     "no endpoint for logs: give --endpoint URL"),
    (("--endpoint", "localhost:4318"), {}, "--endpoint: expected an http:// or https:// URL with a host"),
    ((), {"OTEL_EXPORTER_OTLP_ENDPOINT": "collector"},
     "environment variable OTEL_EXPORTER_OTLP_ENDPOINT: expected an http://"),
    ((), {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "c:4318"},
     "environment variable OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: expected an http://"),
    (("--endpoint", "http://c:4318"), {"OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "http"},
     "environment variable OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: expected one of http/protobuf, http/json, grpc, "
     "got 'http'"),
    (("--endpoint", "http://c:4318"), {"OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"},
     "environment variable OTEL_EXPORTER_OTLP_COMPRESSION: expected one of none, gzip, deflate, got 'zstd'"),
    (("--endpoint", "http://c:4318"), {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "5s"},
     "environment variable OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: expected a whole number of milliseconds"),
    (("--endpoint", "http://c:4318"), {"OTEL_EXPORTER_OTLP_LOGS_HEADERS": "novalue"},
     "environment variable OTEL_EXPORTER_OTLP_LOGS_HEADERS: expected comma-separated key=value"),
    (("--endpoint", "http://c:4318", "--compression", "zstd"), {},
     "--compression: expected one of none, gzip, deflate, got 'zstd'"),
    (("--endpoint", "http://c:4318", "--timeout", "0"), {}, "--timeout: expected seconds > 0, got 0.0"),
    (("--endpoint", "http://c:4318", "--signals", "traces,spans"), {}, "--signals: expected some of traces, logs"),
    (("--endpoint", "http://c:4318", "--headers", "novalue"), {}, "--headers: expected comma-separated key=value"),
])
def test_ship_refuses_a_bad_destination_in_one_line(log_dir, arguments, environ, expected):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    result = aiw("ship", str(log_dir), *arguments, env={**env, **environ})
    assert result.returncode == 2
    assert result.stderr.strip() == f"aiw-otel: {expected}" or result.stderr.startswith(f"aiw-otel: {expected}")
    assert len(result.stderr.strip().splitlines()) == 1


def test_worker_processes_send_the_same_requests_in_the_same_order_with_the_warnings_in_order(tmp_path, monkeypatch):
    from aiw_otel.readback import ship as shipping
    from tests.otlp_receiver import Receiver

    directory = tmp_path / "logs"
    record_runs(directory, "one", "two", "three")
    lines = file_lines(directory / LOGS)
    lines[1:1] = ["not json", '{"resourceWidgets": []}']
    (directory / LOGS).write_text("\n".join(lines) + "\n" + lines[-1][:20])  # bad lines, and a torn last one
    monkeypatch.setattr(shipping, "CHUNK_BYTES", 1)  # a chunk a line: more than the workers have in flight
    results = []
    for workers in (1, 2):
        receiver = Receiver()
        try:
            warnings, warn = collect_warnings()
            summary = ship([directory], Target(receiver.endpoint), warn=warn, workers=workers, batch_bytes=1,
                           signals=("traces", "logs"))  # (the metrics file may still grow)
            results.append((summary, warnings, {path: [request.SerializeToString() for _, request in requests]
                                                for path, requests in receiver.received.items()}))
        finally:
            receiver.close()
    (alone, alone_warnings, alone_sent), (spread, spread_warnings, spread_sent) = results
    assert spread_sent == alone_sent and len(spread_sent["/v1/logs"]) == len(lines) - 2  # a request a line
    assert spread_warnings == alone_warnings and len(spread_warnings) == 3
    assert all(marker in warning for marker, warning in zip((":2: not JSON", ":3: not an OTLP", "incomplete last"),
                                                          spread_warnings))
    assert (spread.requests, spread.bad_lines, spread.items) == (alone.requests, alone.bad_lines, alone.items)


@pytest.mark.slow
def test_each_signal_goes_by_its_own_protocol_variable_unless_protocol_is_given(receiver, log_dir):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
           "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}
    result = aiw("ship", str(log_dir), "--endpoint", receiver.endpoint, env=env)
    assert result.returncode == 0, result.stderr
    sent = {path: {headers["Content-Type"] for headers, _ in requests} for path, requests in receiver.received.items()}
    assert sent == {"/v1/traces": {"application/json"}, "/v1/logs": {"application/x-protobuf"},
                    "/v1/metrics": {"application/x-protobuf"}}
    assert [line.split(" (")[1].split(")")[0] for line in result.stdout.splitlines()] == ["http/json", "http/protobuf"]
    assert_everything_arrived_once(receiver, log_dir)
    result = aiw("ship", str(log_dir), "--endpoint", receiver.endpoint, "--protocol", "http/json", env=env)
    assert result.returncode == 0 and result.stdout.count("(http/json)") == 1  # all three, as JSON this time
    assert {headers["Content-Type"] for headers, _ in receiver.received["/v1/logs"][-1:]} == {"application/json"}


@pytest.mark.slow
def test_bodies_are_gzipped_when_the_environment_or_the_option_says_so(receiver, grpc_receiver, log_dir):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
           "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip", "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION": "deflate",
           "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION": "none"}
    result = aiw("ship", str(log_dir), "--endpoint", receiver.endpoint, env=env)
    assert result.returncode == 0, result.stderr
    encodings = {path: {headers["Content-Encoding"] for headers, _ in requests}
                 for path, requests in receiver.received.items()}
    assert encodings == {"/v1/traces": {"gzip"}, "/v1/logs": {"deflate"}, "/v1/metrics": {None}}
    assert "(http/protobuf, gzip)" in result.stdout and "(http/protobuf, deflate)" in result.stdout
    assert_everything_arrived_once(receiver, log_dir)
    result = aiw("ship", str(log_dir), "--endpoint", grpc_receiver.endpoint, "--protocol", "grpc",
                 "--compression", "gzip", env=env)
    assert result.returncode == 0, result.stderr
    assert_everything_arrived_once(grpc_receiver, log_dir)


@pytest.mark.slow
def test_ctrl_c_stops_the_ship_in_one_line_and_the_next_one_resumes_without_duplicates(receiver, log_dir):
    import signal
    import time

    receiver.delay_s = 0.5  # a request a line, each answered late: the ship is still going when Ctrl-C comes
    process = subprocess.Popen([*AIW, "ship", str(log_dir), "--endpoint", receiver.endpoint, "--batch-size", "1",
                                "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    deadline = time.monotonic() + 30
    while receiver.requests() < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)  # as a terminal does: to the workers too
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "ship interrupted" in err and "Traceback" not in err and "shipped " in out
    assert 1 <= receiver.requests() < 10
    receiver.delay_s = 0
    result = aiw("ship", str(log_dir), "--endpoint", receiver.endpoint)
    assert result.returncode == 0, result.stderr
    assert_everything_arrived_once(receiver, log_dir)


def _without_otel() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}


@pytest.mark.slow
def test_a_signals_own_endpoint_and_headers_win_and_the_endpoint_option_overrides_them_all(receiver, log_dir):
    traces_only = Receiver()
    traces_only.paths = {"/custom/path": "/v1/traces"}  # /v1/traces is a 404 there: the URL is used as is
    own_endpoint = traces_only.endpoint.replace("http://", "http://admin:hunter2@") + "/custom/path"
    env = {**_without_otel(), "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
           "OTEL_EXPORTER_OTLP_HEADERS": "x-who=everyone,x-team=a", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": own_endpoint,
           "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "X-Who=traces%20only"}
    try:
        result = aiw("ship", str(log_dir), env=env)
        assert result.returncode == 0, result.stderr
        spans, _ = load(find_files([log_dir]))
        assert len(traces_only.spans()) == len(spans) > 0 and receiver.received["/v1/traces"] == []
        assert traces_only.received["/v1/logs"] == traces_only.received["/v1/metrics"] == []
        assert receiver.log_records() and receiver.metric_points() == expected_metric_points(log_dir)
        headers, _ = traces_only.received["/v1/traces"][0]
        assert (headers["x-who"], headers["x-team"]) == ("traces only", None)  # the signal's own, not merged
        assert headers["authorization"] == "Basic YWRtaW46aHVudGVyMg=="
        headers, _ = receiver.received["/v1/logs"][0]
        assert (headers["x-who"], headers["x-team"]) == ("everyone", "a")
        lines = result.stdout.splitlines()
        assert len(lines) == 2 and f"to {traces_only.endpoint}/custom/path (http/protobuf)" in lines[0]
        assert f"to {receiver.endpoint} (http/protobuf): 0 spans" in lines[1]
        state = json.loads((log_dir / STATE_FILE).read_text())
        assert sorted(state["endpoints"]) == sorted([f"{traces_only.endpoint}/custom/path (http/protobuf)",
                                                     f"{receiver.endpoint} (http/protobuf)"])
        assert "hunter2" not in result.stdout + result.stderr + (log_dir / STATE_FILE).read_text()
        requests = traces_only.requests() + receiver.requests()
        again = aiw("ship", str(log_dir), env=env)  # each route resumes under its own key: nothing sent twice
        assert again.returncode == 0 and traces_only.requests() + receiver.requests() == requests
        assert again.stdout.count("shipped 0 requests") == 2
    finally:
        traces_only.close()
    everything = Receiver()
    try:
        result = aiw("ship", str(log_dir), "--endpoint", everything.endpoint, "--headers", "x-who=me", env=env)
        assert result.returncode == 0, result.stderr
        assert len(result.stdout.splitlines()) == 1
        assert_everything_arrived_once(everything, log_dir)
        assert {h["x-who"] for requests in everything.received.values() for h, _ in requests} == {"me"}
    finally:
        everything.close()


@pytest.mark.slow
def test_a_signals_own_endpoint_that_is_the_generic_ones_url_ships_and_resumes_with_the_others(receiver, log_dir):
    env = {**_without_otel(), "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
           "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": receiver.endpoint + "/v1/logs"}
    result = aiw("ship", str(log_dir), env=env)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 1
    assert_everything_arrived_once(receiver, log_dir)
    assert list(json.loads((log_dir / STATE_FILE).read_text())["endpoints"]) == [f"{receiver.endpoint} (http/protobuf)"]


@pytest.mark.slow
def test_timeouts_are_the_specifications_milliseconds_and_a_signals_own_wins(receiver, log_dir):
    receiver.delay_s = 1.0
    env = {**_without_otel(), "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
           "OTEL_EXPORTER_OTLP_TIMEOUT": "100", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "30000"}
    result = aiw("ship", str(log_dir), "--signals", "traces,logs", env=env)
    assert result.returncode == 1
    traces, logs = result.stdout.splitlines()  # traces waited for their answer; logs did not
    assert " 0 spans" not in traces and logs.startswith("shipped 0 requests")
    assert "ship stopped: POST " + receiver.endpoint + "/v1/logs failed: timed out" in result.stderr
    result = aiw("ship", str(log_dir), "--signals", "logs", "--timeout", "30", env=env)  # the option wins
    assert result.returncode == 0, result.stderr
