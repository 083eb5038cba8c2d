"""A run as a user's backend sees it: the demo exports OTLP to the real Collector, read back from Jaeger v2.

The servers come from tests/stack.py (built by .ci/build-stack.sh; skipped with the build command
where they are missing). The Collector runs collector-config/otel-collector.yaml unchanged.
"""

from __future__ import annotations

import re
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.cli_process import ROOT, aiw
from tests.otlp_files import spans_in
from tests.processes import until
from tests.stack import (COLLECTOR_CONFIG, Collector, DemoRun, Jaeger, Prometheus, find_binary, http_get,
                         server_environment, sources_hash)

pytestmark = pytest.mark.stack

SERVICE = "aiwhisperer-runner"
#: Seconds for exported telemetry to pass the Collector's batch processor and Jaeger's.
ARRIVAL_DEADLINE_S = 30.0
#: Seconds for Prometheus to discover its target and scrape it (the first scrape lands ~5 s in).
SCRAPE_DEADLINE_S = 60.0


def test_collector_config_validates(collector_binary: Path) -> None:
    result = subprocess.run([str(collector_binary), "validate", "--config", str(COLLECTOR_CONFIG)],
                            capture_output=True, text=True, timeout=60, env=server_environment({}))
    assert result.returncode == 0, result.stdout + result.stderr


def tag(span: dict[str, Any], key: str) -> Any:
    return next((t["value"] for t in span.get("tags", ()) if t["key"] == key), None)


def parent_id(span: dict[str, Any]) -> str | None:
    refs = [r for r in span.get("references", ()) if r["refType"] == "CHILD_OF"]
    assert len(refs) <= 1, span
    return refs[0]["spanID"] if refs else None


def test_demo_run_reads_back_from_jaeger_as_one_trace(demo_run: DemoRun, jaeger: Jaeger) -> None:
    expected_count = len(demo_run.file_spans)
    until(lambda: SERVICE in ((jaeger.api("/api/services") or {}).get("data") or []),
          f"Jaeger to list service {SERVICE}", ARRIVAL_DEADLINE_S)

    def whole_trace() -> Any:
        found = (jaeger.api("/api/traces", service=SERVICE, limit="20") or {}).get("data") or []
        if found and sum(len(trace["spans"]) for trace in found) >= expected_count:
            return found
        return None

    traces = until(whole_trace, f"Jaeger to hold the run's {expected_count} spans", ARRIVAL_DEADLINE_S)
    assert [t["traceID"] for t in traces] == [demo_run.trace_id], "one run must be exactly one trace"
    trace = jaeger.api(f"/api/traces/{demo_run.trace_id}")["data"][0]
    spans = trace["spans"]
    assert len(spans) == expected_count
    assert {p["serviceName"] for p in trace["processes"].values()} == {SERVICE}
    assert {s["spanID"] for s in spans} == {s["spanId"] for s in demo_run.file_spans}

    by_id = {s["spanID"]: s for s in spans}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for span in spans:
        children.setdefault(parent_id(span), []).append(span)
    # Every parent is in the trace: nothing was lost between the runner, the Collector and Jaeger.
    assert set(children) - {None} <= set(by_id)

    # The plan is the root ...
    (root,) = children[None]
    assert root["operationName"] == "invoke_workflow greet-release"
    assert tag(root, "gen_ai.operation.name") == "invoke_workflow"
    assert tag(root, "aiw.plan.state") == "Failed"
    assert tag(root, "otel.status_code") == "ERROR"

    # ... its children are the steps, in the plan's order ...
    steps = sorted(children[root["spanID"]], key=lambda s: s["startTime"])
    assert [tag(s, "aiw.step.id") for s in steps] == [
        "write_spec", "generate_code", "check_style", "publish_package", "announce_release"]
    # Steps that ran an AI loop are GenAI agent invocations; the check (no AI) and the skipped one are not.
    assert [s["operationName"] for s in steps] == [
        "invoke_agent planning", "invoke_agent code_generation", "validation",
        "invoke_agent deployment", "documentation"]
    assert [tag(s, "aiw.step.state") for s in steps] == ["Completed", "Completed", "Completed", "Failed", "Skipped"]

    # ... and under the steps, AI calls, tool calls, file operations and commands.
    below_steps = [s for s in spans if s is not root and s not in steps]
    for span in below_steps:
        step = span
        while parent_id(step) != root["spanID"]:
            step = by_id[parent_id(step)]
        assert tag(span, "aiw.step.id") == tag(step, "aiw.step.id"), span["operationName"]
    commands = [s for s in below_steps if tag(s, "process.executable.name")]
    names = [s["operationName"] for s in below_steps if s not in commands]
    assert {n.split(" ")[0] for n in names} == {"chat", "execute_tool", "file"} and commands
    for span in below_steps:
        parent = by_id[parent_id(span)]
        name = span["operationName"]
        if name.startswith("chat "):
            assert parent in steps and tag(span, "span.kind") == "client"
            assert tag(span, "gen_ai.operation.name") == "chat" and tag(span, "gen_ai.request.model") == "gpt-4o-mini"
        elif name.startswith("execute_tool "):
            assert parent in steps and tag(span, "span.kind") != "client"
            assert tag(span, "gen_ai.tool.name") == name.removeprefix("execute_tool ")
        elif name.startswith("file "):
            assert parent in steps or parent["operationName"] in ("execute_tool write_file", "execute_tool read_file")
            assert tag(span, "file.path")
        else:  # a command: a CLI client span named after the program that ran, its line as written kept
            assert span in commands and name == tag(span, "process.executable.name")
            assert tag(span, "span.kind") == "client" and tag(span, "aiw.command.line")
            assert parent in steps or parent["operationName"] == "execute_tool execute_command"
    assert "execute_tool execute_command" in {by_id[parent_id(s)]["operationName"] for s in commands}
    # The command that failed on purpose carries its error up to its step.
    failed = [s for s in below_steps if s["operationName"] == "sh" and tag(s, "process.exit.code") == 1]
    assert len(failed) == 1 and tag(failed[0], "otel.status_code") == "ERROR"


def otelcol_metric(text: str, name: str, **labels: str) -> float:
    """The sum of a collector self-metric's samples whose labels include `labels` (0 when absent).

    The collector's own metrics come without the `_total` suffix at v0.165; either form is read."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"{re.escape(name)}(?:_total)?(?:{{(.*)}})? (\S+)", line)
        if match and all(f'{k}="{v}"' in (match.group(1) or "") for k, v in labels.items()):
            total += float(match.group(2))
    return total


def test_prometheus_exporter_answers_and_nothing_was_refused(demo_run: DemoRun, collector: Collector) -> None:
    """After the demo's export: the scrape endpoint answers and no OTLP request was refused or lost.

    Checks what the runner sends today; the names of the runner's own metrics are checked where they
    are emitted.
    """
    got = http_get(collector.exporter_url)
    assert got is not None and got[0] == 200
    own = http_get(collector.telemetry_url)
    assert own is not None and own[0] == 200, own
    text = own[1]
    # The demo's spans went in over OTLP/HTTP and out to Jaeger.
    assert otelcol_metric(text, "otelcol_receiver_accepted_spans", receiver="otlp", transport="http") >= len(
        demo_run.file_spans)
    for refused in ("otelcol_receiver_refused_spans", "otelcol_receiver_refused_metric_points",
                    "otelcol_receiver_refused_log_records", "otelcol_exporter_send_failed_spans",
                    "otelcol_exporter_send_failed_metric_points"):
        assert otelcol_metric(text, refused) == 0, refused


def push_metrics(collector: Collector) -> str:
    """OTLP/HTTP-protobuf metrics as the SDK exports them, straight to the collector; returns the trace id
    of the span the histogram's measurement was recorded in (its exemplar)."""
    from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    resource = Resource.create({"service.name": "aiw-otel-stack-test", "service.namespace": "aiw",
                                "service.instance.id": "stack-test-1"})
    reader = InMemoryMetricReader()
    meter = MeterProvider(resource=resource, metric_readers=[reader]).get_meter("aiw_otel.stack_test", "1.0")
    runs = meter.create_counter("aiw.plan.runs", unit="{run}", description="Plan runs")
    duration = meter.create_histogram("gen_ai.client.operation.duration", unit="s",
                                      description="GenAI operation duration")
    tracer = TracerProvider(resource=resource).get_tracer("aiw_otel.stack_test")
    runs.add(1, {"aiw.plan.state": "Completed"})
    with tracer.start_as_current_span("chat gpt-4o-mini") as span:
        duration.record(0.42, {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini"})
        trace_id = format(span.get_span_context().trace_id, "032x")
    body = encode_metrics(reader.get_metrics_data()).SerializeToString()
    request = urllib.request.Request(collector.url("otlp_http", "/v1/metrics"), data=body, method="POST",
                                     headers={"Content-Type": "application/x-protobuf"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        answer = ExportMetricsServiceResponse.FromString(response.read())
    # No partial success: every point was accepted.
    assert answer.partial_success.rejected_data_points == 0 and not answer.partial_success.error_message
    return trace_id


@pytest.fixture(scope="module")
def pushed_trace_id(collector: Collector) -> str:
    return push_metrics(collector)


def test_exporter_names_follow_the_otel_to_prometheus_rules(pushed_trace_id: str, collector: Collector) -> None:
    """Unit and type suffixes (UnderscoreEscapingWithSuffixes), resource on target_info, exemplars."""

    def scrape() -> str | None:
        got = http_get(collector.exporter_url, headers={"Accept": "application/openmetrics-text; version=1.0.0"})
        return got[1] if got and got[0] == 200 and 'instance="stack-test-1"' in got[1] else None

    text = until(scrape, "the pushed metrics on the prometheus exporter", ARRIVAL_DEADLINE_S)
    lines = text.splitlines()
    # Only this test's series: other tests' runs share the session's collector.
    lines = [line for line in lines if 'instance="stack-test-1"' in line or not line.startswith(("aiw_", "gen_ai_"))]
    runs = [line for line in lines if line.startswith("aiw_plan_runs_total{")]
    assert len(runs) == 1 and 'aiw_plan_state="Completed"' in runs[0] and runs[0].split(" ")[1] == "1.0", runs
    assert 'job="aiw/aiw-otel-stack-test"' in runs[0] and 'instance="stack-test-1"' in runs[0], runs
    assert 'otel_scope_name="aiw_otel.stack_test"' in runs[0]
    # Resource attributes are not copied onto every series ...
    assert "service_name=" not in runs[0]
    # ... they are on target_info, joined by job and instance.
    assert any(line.startswith("target_info{") and 'job="aiw/aiw-otel-stack-test"' in line for line in lines)
    buckets = [line for line in lines if line.startswith("gen_ai_client_operation_duration_seconds_bucket{")]
    assert buckets and all('gen_ai_request_model="gpt-4o-mini"' in line for line in buckets)
    assert any(line.startswith("gen_ai_client_operation_duration_seconds_count{") for line in lines)
    assert any(line.startswith("gen_ai_client_operation_duration_seconds_sum{") for line in lines)
    # OpenMetrics carries the exemplar that links the latency bucket to its trace in Jaeger.
    assert any(f'trace_id="{pushed_trace_id}"' in line for line in buckets), buckets


def test_prometheus_scrapes_the_collector(pushed_trace_id: str, prometheus: Prometheus) -> None:
    until(lambda: prometheus.query('up{job="otel-collector"} == 1'), "Prometheus to scrape the collector",
          SCRAPE_DEADLINE_S)
    mine = '{job="aiw/aiw-otel-stack-test", instance="stack-test-1"}'
    runs = until(lambda: prometheus.query("aiw_plan_runs_total" + mine), "aiw_plan_runs_total in Prometheus",
                 SCRAPE_DEADLINE_S)
    # honor_labels (collector-config/prometheus.yml): the exporter's job and instance are kept as they are.
    assert len(runs) == 1 and runs[0]["value"][1] == "1" and "exported_job" not in runs[0]["metric"]
    info = until(lambda: prometheus.query("target_info" + mine), "target_info in Prometheus", SCRAPE_DEADLINE_S)
    assert len(info) == 1
    count = until(lambda: prometheus.query("gen_ai_client_operation_duration_seconds_count" + mine),
                  "the duration histogram in Prometheus", SCRAPE_DEADLINE_S)
    assert count[0]["value"][1] == "1"



def test_a_missing_build_is_a_skip_that_names_the_build_command(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIW_OTEL_CACHE", str(tmp_path))
    binary, reason = find_binary("otelcol-aiw")
    assert binary is None
    assert reason == f"otelcol-aiw is not built ({tmp_path}/bin/otelcol-aiw is missing): run `bash .ci/build-stack.sh`"
    # A build from other sources (another branch's go.mod) is not used either.
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "otelcol-aiw").write_text("")
    (tmp_path / "bin" / "otelcol-aiw.sources").write_text("0" * 64 + "\n")
    binary, reason = find_binary("otelcol-aiw")
    assert binary is None and "built from other sources than collector-config/otelcol-aiw" in reason
    (tmp_path / "bin" / "otelcol-aiw.sources").write_text(sources_hash(ROOT / "collector-config" / "otelcol-aiw"))
    assert find_binary("otelcol-aiw") == (tmp_path / "bin" / "otelcol-aiw", "")


def test_collector_masks_credentials_that_reach_it(collector: Collector, jaeger: Jaeger) -> None:
    """The redaction processor's defence in depth: credential-shaped values are masked, keys all kept."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    service = "aiw-otel-redaction-test"
    spans = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(spans))
    key = "sk-proj-" + "A1b2C3d4" * 4
    with provider.get_tracer("aiw_otel.stack_test").start_as_current_span("execute_tool execute_command") as span:
        span.set_attribute("aiw.command.line", f"curl -H 'Authorization: Bearer abcdef0123456789' --data key={key}")
        span.set_attribute("aiw.note", f"the key is {key}")
        span.set_attribute("db.password", "hunter2")
        span.set_attribute("gen_ai.usage.input_tokens", 42)
        span.set_attribute("gen_ai.tool.name", "execute_command")
    body = encode_spans(spans.get_finished_spans()).SerializeToString()
    request = urllib.request.Request(collector.url("otlp_http", "/v1/traces"), data=body, method="POST",
                                     headers={"Content-Type": "application/x-protobuf"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200

    found = until(lambda: (jaeger.api("/api/traces", service=service) or {}).get("data"),
                  f"the {service} trace in Jaeger", ARRIVAL_DEADLINE_S)
    (stored,) = found[0]["spans"]
    command = tag(stored, "aiw.command.line")
    assert key not in command and "abcdef0123456789" not in command and command.startswith("curl -H"), command
    assert tag(stored, "aiw.note") == "the key is ****"
    assert tag(stored, "db.password") == "****"
    # Keys are all kept, and counts that merely mention tokens are left alone.
    assert tag(stored, "gen_ai.usage.input_tokens") == 42
    assert tag(stored, "gen_ai.tool.name") == "execute_command"


def test_a_run_exporting_over_grpc_reaches_jaeger_and_prometheus(collector: Collector, jaeger: Jaeger,
                                                                 prometheus: Prometheus, tmp_path: Path) -> None:
    """The same pipeline over OTLP/gRPC (the collector's 4317 receiver), traces and metrics both."""
    service = "aiw-grpc-run"
    env = server_environment({"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{collector.otlp_grpc_endpoint}",
                              "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_SERVICE_NAME": service})
    result = aiw("run", str(ROOT / "examples" / "plans" / "hello.yaml"), "--provider", "replay", "--no-console",
                 "--workspace", str(tmp_path / "ws"), "--log-dir", str(tmp_path / "logs"), env=env, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "did not receive" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    file_spans = spans_in(tmp_path / "logs")
    (trace_id,) = {span["traceId"] for span in file_spans}

    def whole_trace() -> Any:
        found = (jaeger.api(f"/api/traces/{trace_id}") or {}).get("data") or []
        return found if found and len(found[0]["spans"]) == len(file_spans) else None

    (trace,) = until(whole_trace, "the gRPC run's whole trace in Jaeger", ARRIVAL_DEADLINE_S)
    assert {p["serviceName"] for p in trace["processes"].values()} == {service}
    runs = until(lambda: prometheus.query(f'aiw_plan_runs_total{{job="{service}"}} > 0'),
                 "the gRPC run's plan run in Prometheus", SCRAPE_DEADLINE_S)
    assert runs[0]["metric"]["aiw_plan_state"] == "Completed" and runs[0]["value"][1] == "1"
