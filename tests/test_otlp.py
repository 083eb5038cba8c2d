"""OTLP export over a real socket, to a receiver built on opentelemetry-proto's messages."""

from __future__ import annotations

import http.server
import socket
import threading
import time

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

import aiw_otel

MESSAGES = {"/v1/traces": ExportTraceServiceRequest, "/v1/logs": ExportLogsServiceRequest,
            "/v1/metrics": ExportMetricsServiceRequest}


class Receiver:
    """An OTLP/HTTP protobuf endpoint on 127.0.0.1 that keeps what it is sent."""

    def __init__(self) -> None:
        self.received: dict[str, list] = {path: [] for path in MESSAGES}
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received[self.path].append((dict(self.headers), MESSAGES[self.path].FromString(body)))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def spans(self) -> list:
        return [span for _, request in self.received["/v1/traces"] for rs in request.resource_spans
                for ss in rs.scope_spans for span in ss.spans]

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def test_endpoint_variable_turns_on_otlp_and_everything_arrives_redacted(receiver):
    secret = "sk-or-v1-" + "a1B2c3D4" * 6
    telemetry = aiw_otel.configure(
        environ={"AIW_FILE": "off", "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_SERVICE_NAME": "runner-under-test",
                 "OTEL_EXPORTER_OTLP_HEADERS": "x-team=aiw"},
        set_global=False, handle_signals=False)
    with telemetry.plan_run("p", "shipped plan") as run, run.step("s1", "code_generation") as step:
        with step.command(["deploy", "--token", secret]) as cmd:
            cmd.exited(0)
    assert telemetry.shutdown(10.0)
    spans = receiver.spans()
    assert {s.name for s in spans} == {"invoke_workflow shipped plan", "code_generation", "deploy"}
    headers, request = receiver.received["/v1/traces"][0]
    assert headers["x-team"] == "aiw"
    resource = {a.key: a.value.string_value for a in request.resource_spans[0].resource.attributes}
    assert resource["service.name"] == "runner-under-test"
    assert resource["service.version"] and resource["service.instance.id"]
    assert secret[10:30] not in str(request)
    logs = [r for _, req in receiver.received["/v1/logs"] for rl in req.resource_logs for sl in rl.scope_logs
            for r in sl.log_records]
    assert any(r.body.string_value == "Starting execution of step 's1'." for r in logs)
    step_span = next(s for s in spans if s.name == "code_generation")
    started = next(r for r in logs if r.body.string_value == "Starting execution of step 's1'.")
    assert started.span_id == step_span.span_id and started.trace_id == step_span.trace_id
    metrics = [m.name for _, req in receiver.received["/v1/metrics"] for rm in req.resource_metrics
               for sm in rm.scope_metrics for m in sm.metrics]
    assert "aiw.telemetry.redactions" in metrics


def test_traces_exporter_none_keeps_traces_home(receiver):
    telemetry = aiw_otel.configure(
        environ={"AIW_FILE": "off", "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_TRACES_EXPORTER": "none"},
        set_global=False, handle_signals=False)
    with telemetry.plan_run("p", "plan") as run:
        run.step("s1", "t").__enter__().__exit__(None, None, None)
    assert telemetry.shutdown(10.0)
    assert receiver.received["/v1/traces"] == []
    assert receiver.received["/v1/logs"]


def test_an_unreachable_collector_never_stalls_the_run_and_shutdown_is_bounded():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    telemetry = aiw_otel.configure(
        environ={"AIW_FILE": "off", "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}", "AIW_SHUTDOWN_TIMEOUT": "1"},
        set_global=False, handle_signals=False)
    with telemetry.plan_run("p", "plan") as run:
        for index in range(20):
            with run.step(f"s{index}", "t"):
                pass
    started = time.monotonic()
    telemetry.shutdown()
    assert time.monotonic() - started < 8.0  # unbounded, the exporter would retry for its own 10 s timeout and more
