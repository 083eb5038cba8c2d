"""The OTLP/JSON encoder against the protobuf messages the OTLP exporters build from the same objects.

OTLP/JSON is proto3's JSON mapping except that ids are hex, so after turning ids back into base64 a
line must parse (json_format.ParseDict) into exactly the message
opentelemetry-exporter-otlp-proto-common builds: whole-message equality checks every field at once.
"""

from __future__ import annotations

import base64
import json
import re
from http import HTTPStatus
from collections import Counter
from typing import Any

import pytest
from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry import trace
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.metrics import Observation
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs as proto_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics as proto_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as proto_spans
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    InMemoryMetricReader,
    Metric,
    MetricsData,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.metrics.view import (
    ExplicitBucketHistogramAggregation,
    ExponentialBucketHistogramAggregation,
    View,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

from aiw_otel.exporters.otlp_json import MAX_LINE_BYTES, encode_logs, encode_metrics, encode_spans
from tests.malformed import Summary, Unreadable

RESOURCE = Resource.create({"service.name": "otlp-json-test", "service.version": "1.2.3"}, schema_url="https://x/1")
TRUNCATED = re.compile(r"…\[TRUNCATED (\d+) bytes\]$")
ALL_TYPES = {
    "str": "hello",
    "bool": True,
    "int": -42,
    "float": 1.5,
    "bytes": b"\x00\xffraw",
    "strs": ["a", "b"],
    "bools": [True, False],
    "ints": [1, 2, 3],
    "floats": [0.5, 2.0],
    "bytess": [b"\x01", b"\x02"],
    "empty": [],
}


# ---------------------------------------------------------------- helpers


def _hex_ids_to_base64(node: Any) -> Any:
    """OTLP/JSON's one deviation from proto3 JSON: ids are hex, not base64."""
    if isinstance(node, dict):
        return {
            key: base64.b64encode(bytes.fromhex(value)).decode() if key in {"traceId", "spanId", "parentSpanId"}
            else _hex_ids_to_base64(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_hex_ids_to_base64(value) for value in node]
    return node


def parse(line: str, message_type: type[Message]) -> Any:
    return json_format.ParseDict(_hex_ids_to_base64(json.loads(line)), message_type())


def assert_line_ok(line: str, limit: int = MAX_LINE_BYTES) -> None:
    assert "\n" not in line
    assert len((line + "\n").encode("utf-8")) <= limit
    json.loads(line)


@pytest.fixture
def tracing() -> Any:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=RESOURCE, span_limits=SpanLimits(max_events=5000))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider.get_tracer("aiw.test", "0.1", schema_url="https://scope/1"), exporter
    provider.shutdown()


@pytest.fixture
def logging_() -> Any:
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=RESOURCE)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    yield provider.get_logger("aiw.logs", "0.2"), exporter
    provider.shutdown()


def make_spans(tracer: Any, exporter: InMemorySpanExporter) -> tuple[ReadableSpan, ...]:
    remote = SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(1), trace_state=TraceState([("k", "v")]))
    with tracer.start_as_current_span("plan", attributes=ALL_TYPES) as root:
        with tracer.start_as_current_span("chat", kind=SpanKind.CLIENT, links=[Link(root.get_span_context(), {"why": "retry"})]) as call:
            call.add_event("api_request_sent", {"prompt_tokens": 120, "nested": {"a": [1, "x"]}})
            call.add_event("api_response_failed")
            call.set_status(Status(StatusCode.ERROR, "rate limited"))
        with tracer.start_as_current_span("ok", kind=SpanKind.SERVER) as ok:
            ok.set_status(Status(StatusCode.OK))
        for kind in (SpanKind.PRODUCER, SpanKind.CONSUMER):
            tracer.start_span(kind.name, kind=kind).end()
    tracer.start_span("remote child", context=trace.set_span_in_context(NonRecordingSpan(remote))).end()
    return exporter.get_finished_spans()


def emit_logs(logger: Any, tracer: Any, exporter: InMemoryLogRecordExporter) -> tuple[ReadableLogRecord, ...]:
    logger.emit(LogRecord(body="outside any span", severity_number=SeverityNumber.INFO, severity_text="INFO"))
    with tracer.start_as_current_span("step"):
        logger.emit(LogRecord(
            timestamp=1_700_000_000_000_000_001,
            body={"message": "done", "details": {"files": ["a.py", "b.py"], "ok": True, "n": 2}},
            severity_number=SeverityNumber.WARN2,
            severity_text="WARNING",
            attributes={**ALL_TYPES, "nested": {"k": {"deep": [1.5, None]}}},
        ))
        logger.emit(LogRecord(event_name="gen_ai.client.inference.operation.details", attributes={"gen_ai.op": "chat"}))
        logger.emit(LogRecord(body=None, severity_number=SeverityNumber.FATAL4))
    return exporter.get_finished_logs()


def collect_metrics(views: list[View] | None = None) -> Any:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], resource=RESOURCE, views=views or ())
    meter = provider.get_meter("aiw.metrics", "0.3", schema_url="https://scope/2")
    counter = meter.create_counter("aiw.steps", unit="{step}", description="steps run")
    counter.add(3, {"state": "completed"})
    counter.add(1, {"state": "failed"})
    meter.create_counter("aiw.cost").add(0.25)
    updown = meter.create_up_down_counter("aiw.queue.depth")
    updown.add(5)
    updown.add(-2)
    histogram = meter.create_histogram("aiw.duration", unit="ms", explicit_bucket_boundaries_advisory=[1.0, 10.0, 100.0])
    for value in (0.5, 7, 70, 700):
        histogram.record(value, {"op": "chat"})
    meter.create_histogram("aiw.size", unit="By").record(1234)
    gauge_values = [Observation(0.75), Observation(3, {"cpu": "1"})]
    meter.create_observable_gauge("aiw.load", callbacks=[lambda _options: gauge_values])
    data = reader.get_metrics_data()
    provider.shutdown()
    return data


# ---------------------------------------------------------------- round trips


def test_spans_round_trip_equal_the_proto_encoders_message(tracing: Any) -> None:
    spans = make_spans(*tracing)
    lines = encode_spans(spans)
    assert len(lines) == 1
    assert parse(lines[0], ExportTraceServiceRequest) == proto_spans(spans)


def test_logs_round_trip_with_and_without_span(tracing: Any, logging_: Any) -> None:
    records = emit_logs(logging_[0], tracing[0], logging_[1])
    lines = encode_logs(records)
    assert len(lines) == 1
    assert parse(lines[0], ExportLogsServiceRequest) == proto_logs(records)
    logs = json.loads(lines[0])["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
    assert "traceId" not in logs[0] and "spanId" not in logs[0]
    assert re.fullmatch("[0-9a-f]{32}", logs[1]["traceId"]) and re.fullmatch("[0-9a-f]{16}", logs[1]["spanId"])
    assert logs[1]["body"]["kvlistValue"]["values"][0] == {"key": "message", "value": {"stringValue": "done"}}
    assert logs[2]["eventName"] == "gen_ai.client.inference.operation.details"


def test_metrics_round_trip_counters_histograms_gauges() -> None:
    data = collect_metrics()
    lines = encode_metrics(data)
    assert len(lines) == 1
    assert parse(lines[0], ExportMetricsServiceRequest) == proto_metrics(data)
    names = {m["name"]: m for m in json.loads(lines[0])["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]}
    assert names["aiw.duration"]["histogram"]["dataPoints"][0]["explicitBounds"] == [1.0, 10.0, 100.0]
    assert names["aiw.duration"]["histogram"]["dataPoints"][0]["bucketCounts"] == ["1", "1", "1", "1"]
    assert names["aiw.queue.depth"]["sum"]["isMonotonic"] is False
    assert names["aiw.queue.depth"]["sum"]["dataPoints"][0]["asInt"] == "3"


def test_exponential_histogram_round_trip() -> None:
    data = collect_metrics([View(instrument_name="aiw.duration", aggregation=ExponentialBucketHistogramAggregation()),
                            View(instrument_name="aiw.size", aggregation=ExplicitBucketHistogramAggregation([0, 2048]))])
    (line,) = encode_metrics(data)
    assert parse(line, ExportMetricsServiceRequest) == proto_metrics(data)
    assert '"exponentialHistogram":{"aggregationTemporality":2' in line


def test_groups_by_resource_then_scope_like_the_exporters() -> None:
    providers = [TracerProvider(resource=Resource.create({"service.name": name})) for name in ("a", "b")]
    exporter = InMemorySpanExporter()
    for provider in providers:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    for i in range(6):
        providers[i % 2].get_tracer(f"scope{i % 3}").start_span(f"s{i}").end()
    spans = exporter.get_finished_spans()
    (line,) = encode_spans(spans)
    assert parse(line, ExportTraceServiceRequest) == proto_spans(spans)
    assert [len(r["scopeSpans"]) for r in json.loads(line)["resourceSpans"]] == [3, 3]


# ---------------------------------------------------------------- the JSON text itself


def test_64_bit_numbers_are_strings_enums_are_numbers_ids_are_hex(tracing: Any, logging_: Any) -> None:
    spans = make_spans(*tracing)
    (line,) = encode_spans(spans)
    assert re.search(r'"startTimeUnixNano":"\d{19}"', line) and re.search(r'"endTimeUnixNano":"\d{19}"', line)
    assert '"intValue":"-42"' in line and '"doubleValue":1.5' in line and '"boolValue":true' in line
    assert '"bytesValue":"' + base64.b64encode(b"\x00\xffraw").decode() + '"' in line
    assert '"kind":1' in line and '"kind":3' in line and '"kind":2' in line
    assert '"status":{"code":2,"message":"rate limited"}' in line and '"status":{"code":1}' in line
    assert re.search(r'"traceId":"[0-9a-f]{32}","spanId":"[0-9a-f]{16}"', line)
    assert re.search(r'"parentSpanId":"[0-9a-f]{16}"', line)
    assert '"parentSpanId":"0000000000000def","flags":768' in line  # remote parent: 0x100 | 0x200
    assert '"traceState":"k=v"' in line
    for key in ("droppedAttributesCount", "flags", "kind"):
        assert not re.search(f'"{key}":"', line)

    records = emit_logs(logging_[0], tracing[0], logging_[1])
    (log_line,) = encode_logs(records)
    assert '"severityNumber":14' in log_line and '"severityText":"WARNING"' in log_line
    assert '"timeUnixNano":"1700000000000000001"' in log_line
    assert re.search(r'"observedTimeUnixNano":"\d{19}"', log_line)

    (metric_line,) = encode_metrics(collect_metrics())
    assert '"aggregationTemporality":2' in metric_line and '"isMonotonic":true' in metric_line
    assert '"asInt":"3"' in metric_line and '"count":"4"' in metric_line


def test_non_finite_doubles_are_strings(tracing: Any) -> None:
    tracer, exporter = tracing
    tracer.start_span("odd", attributes={"nan": float("nan"), "inf": float("inf"), "ninf": [float("-inf")]}).end()
    (line,) = encode_spans(exporter.get_finished_spans())
    assert '{"doubleValue":"NaN"}' in line and '{"doubleValue":"Infinity"}' in line and '"-Infinity"' in line
    parse(line, ExportTraceServiceRequest)


def test_link_keeps_its_trace_state(tracing: Any) -> None:
    """The proto encoder drops link trace states; OTLP has the field, so the file keeps it."""
    tracer, exporter = tracing
    context = SpanContext(1, 2, is_remote=True, trace_state=TraceState([("vendor", "x")]))
    tracer.start_span("linked", links=[Link(context)]).end()
    (line,) = encode_spans(exporter.get_finished_spans())
    link = json.loads(line)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["links"][0]
    assert link == {"traceId": format(1, "032x"), "spanId": format(2, "016x"), "flags": 0x300, "traceState": "vendor=x"}


def test_empty_input_gives_no_lines() -> None:
    assert encode_spans([]) == [] and encode_logs([]) == [] and encode_metrics(MetricsData(resource_metrics=[])) == []


# ---------------------------------------------------------------- the line limit


def _spans_in(lines: list[str]) -> list[Any]:
    return [span for line in lines for rs in parse(line, ExportTraceServiceRequest).resource_spans
            for ss in rs.scope_spans for span in ss.spans]


def test_big_batch_splits_into_lines_holding_every_span_once(tracing: Any) -> None:
    tracer, exporter = tracing
    for i in range(5000):
        tracer.start_span(f"span {i}", attributes={"payload": f"{i:06d}" + "x" * 2048, "i": i}).end()
    spans = exporter.get_finished_spans()
    lines = encode_spans(spans)
    assert len(lines) > 5
    for line in lines:
        assert_line_ok(line)
    expected = [span.SerializeToString() for rs in proto_spans(spans).resource_spans
                for ss in rs.scope_spans for span in ss.spans]
    assert Counter(span.SerializeToString() for span in _spans_in(lines)) == Counter(expected)
    # Every line repeats the resource and scope its spans belong to.
    resource = proto_spans(spans[:1]).resource_spans[0].resource
    for line in lines:
        (resource_spans,) = parse(line, ExportTraceServiceRequest).resource_spans
        assert resource_spans.resource == resource
        assert resource_spans.scope_spans[0].scope.name == "aiw.test"


def test_span_over_the_limit_is_shrunk_and_still_round_trips(tracing: Any) -> None:
    tracer, exporter = tracing
    huge = "y" * (3 * 1024 * 1024)
    tracer.start_span("huge", attributes={"small": "kept", "output": huge}).end()
    spans = exporter.get_finished_spans()
    (line,) = encode_spans(spans)
    assert_line_ok(line)
    ours = parse(line, ExportTraceServiceRequest)
    value = ours.resource_spans[0].scope_spans[0].spans[0].attributes[1].value.string_value
    removed = int(TRUNCATED.search(value).group(1))
    kept = value[: TRUNCATED.search(value).start()]
    assert kept == huge[: len(kept)] and len(kept) + removed == len(huge) and len(kept) > 900_000
    expected = proto_spans(spans)
    expected.resource_spans[0].scope_spans[0].spans[0].attributes[1].value.string_value = value
    assert ours == expected


def test_bytes_over_the_limit_keep_a_prefix_and_the_marker_as_bytes(tracing: Any) -> None:
    tracer, exporter = tracing
    blob = bytes(range(256)) * (12 * 1024)  # 3 MB
    tracer.start_span("blob", attributes={"data": blob}).end()
    (line,) = encode_spans(exporter.get_finished_spans())
    assert_line_ok(line)
    (span,) = _spans_in([line])
    value = span.attributes[0].value.bytes_value
    kept, marker = value.split("…".encode())
    assert blob.startswith(kept) and len(kept) > 700_000
    assert len(kept) + int(TRUNCATED.search("…" + marker.decode()).group(1)) == len(blob)


def test_log_body_over_the_limit_is_shrunk(logging_: Any) -> None:
    logger, exporter = logging_
    body = "é" * (1536 * 1024)  # 3 MB of two-byte characters: cut on a character boundary
    logger.emit(LogRecord(body=body, attributes={"a": 1}))
    records = exporter.get_finished_logs()
    (line,) = encode_logs(records)
    assert_line_ok(line)
    ours = parse(line, ExportLogsServiceRequest)
    value = ours.resource_logs[0].scope_logs[0].log_records[0].body.string_value
    kept = value[: TRUNCATED.search(value).start()]
    assert set(kept) == {"é"} and len(kept.encode()) + int(TRUNCATED.search(value).group(1)) == len(body.encode())
    expected = proto_logs(records)
    expected.resource_logs[0].scope_logs[0].log_records[0].body.string_value = value
    assert ours == expected


def test_too_many_events_are_dropped_from_the_end_and_counted(tracing: Any) -> None:
    tracer, exporter = tracing
    span = tracer.start_span("command")
    for i in range(3000):
        span.add_event("command_output", {"line": f"{i:05d} " + "o" * 500})
    span.end()
    (line,) = encode_spans(exporter.get_finished_spans())
    assert_line_ok(line)
    (encoded,) = _spans_in([line])
    kept = len(encoded.events)
    assert 1000 < kept < 3000 and encoded.dropped_events_count == 3000 - kept
    assert [e.attributes[0].value.string_value[:5] for e in encoded.events] == [f"{i:05d}" for i in range(kept)]


def test_a_tiny_limit_still_holds_every_record(tracing: Any, logging_: Any) -> None:
    limit = 2048
    make_spans(*tracing)
    tracing[0].start_span("big", attributes={"out": "z" * 100_000, **{f"k{i}": i for i in range(100)}}).end()
    eventful = tracing[0].start_span("eventful")
    for i in range(50):
        eventful.add_event(f"event {i}", {"i": i})
    eventful.end()
    spans = tracing[1].get_finished_spans()
    lines = encode_spans(spans, max_line_bytes=limit)
    for line in lines:
        assert_line_ok(line, limit)
    assert sorted(s.name for s in _spans_in(lines)) == sorted(s.name for s in spans)
    big = next(s for s in _spans_in(lines) if s.name == "big")
    assert big.dropped_attributes_count > 0 and TRUNCATED.search(big.attributes[0].value.string_value)
    eventful_out = next(s for s in _spans_in(lines) if s.name == "eventful")
    assert 0 < len(eventful_out.events) < 50 and eventful_out.dropped_events_count == 50 - len(eventful_out.events)

    records = emit_logs(logging_[0], tracing[0], logging_[1])
    log_lines = encode_logs(records, max_line_bytes=limit)
    for line in log_lines:
        assert_line_ok(line, limit)
    assert sum(len(sl.log_records) for line in log_lines
               for rl in parse(line, ExportLogsServiceRequest).resource_logs for sl in rl.scope_logs) == len(records)


def test_metric_with_many_points_spans_lines() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], resource=RESOURCE)
    counter = provider.get_meter("m").create_counter("aiw.files", description="d" * 300)
    for i in range(2000):
        counter.add(i, {"file.path": f"/work/{i:05d}.py"})
    data = reader.get_metrics_data()
    provider.shutdown()
    lines = encode_metrics(data, max_line_bytes=16 * 1024)
    assert len(lines) > 5
    points = []
    for line in lines:
        assert_line_ok(line, 16 * 1024)
        for rm in parse(line, ExportMetricsServiceRequest).resource_metrics:
            for sm in rm.scope_metrics:
                (metric,) = sm.metrics
                assert metric.name == "aiw.files" and metric.sum.is_monotonic and metric.description == "d" * 300
                points.extend(metric.sum.data_points)
    (expected,) = proto_metrics(data).resource_metrics[0].scope_metrics[0].metrics
    assert Counter(p.SerializeToString() for p in points) == Counter(
        p.SerializeToString() for p in expected.sum.data_points)


def test_a_huge_resource_is_shrunk_too() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"host.notes": "r" * (2 * 1024 * 1024)}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    for i in range(3):
        provider.get_tracer("t").start_span(f"s{i}").end()
    lines = encode_spans(exporter.get_finished_spans())
    for line in lines:
        assert_line_ok(line)
    assert [s.name for s in _spans_in(lines)] == ["s0", "s1", "s2"]
    assert "…[TRUNCATED" in lines[0]


# ---------------------------------------------------------------- odd input


def _record(body: Any = None, attributes: Any = None, **fields: Any) -> ReadableLogRecord:
    """Straight from the API record, so nothing on the way cleans odd values first."""
    record = LogRecord(body=body, attributes=attributes, **fields)
    return ReadableLogRecord(record, resource=RESOURCE, instrumentation_scope=InstrumentationScope("odd"))


@pytest.mark.parametrize("text", ["lone \udcff surrogate", "nul \x00 byte", "pair \ud83d\ude00", "\udcff" * 10])
def test_surrogates_and_nul_give_valid_utf8_json(text: str) -> None:
    for limit in (MAX_LINE_BYTES, 4096):
        for line in encode_logs([_record(body=text * 500, attributes={text: text})], max_line_bytes=limit):
            assert_line_ok(line, limit)
            assert "\udcff" not in line
            parse(line, ExportLogsServiceRequest)


def test_odd_values_never_raise() -> None:
    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("no")

    looped: list[Any] = [1]
    looped.append(looped)
    deep: Any = "bottom"
    for _ in range(200):
        deep = [deep]
    odd = {
        "none": None, "set": {1, 2}, "broken": Broken(), "huge": 2**70, "looped": looped, "deep": deep,
        3: "int key", "bytearray": bytearray(b"\x01"), "enum": HTTPStatus.OK,
    }
    records = [
        _record(body=odd, attributes=odd, severity_number=SeverityNumber.ERROR, trace_flags=None),
        _record(body=Broken(), timestamp=None, event_name="e"),
    ]
    for limit in (MAX_LINE_BYTES, 2048):
        lines = encode_logs(records, max_line_bytes=limit)
        assert len(lines) >= 1
        for line in lines:
            assert_line_ok(line, limit)
            parse(line, ExportLogsServiceRequest)
    attributes = {kv["key"]: kv["value"] for kv in json.loads(encode_logs(records[:1])[0])["resourceLogs"][0]
                  ["scopeLogs"][0]["logRecords"][0]["attributes"]}
    assert attributes["none"] == {} and attributes["huge"] == {"stringValue": str(2**70)}
    assert attributes["3"] == {"stringValue": "int key"} and attributes["enum"] == {"intValue": "200"}
    assert attributes["broken"] == {"stringValue": "<unprintable Broken>"}


def test_a_record_that_raises_is_skipped_reported_and_the_batch_still_written(tracing: Any) -> None:
    skipped: list[tuple[BaseException, int]] = []

    def on_skipped(error: BaseException, lost: int) -> None:
        skipped.append((error, lost))

    records = [_record(body="before"), _record(body="bad", attributes={"x": Unreadable()}), _record(body="after")]
    lines = encode_logs(records, on_skipped=on_skipped)
    assert [r.body.string_value for line in lines for rl in parse(line, ExportLogsServiceRequest).resource_logs
            for sl in rl.scope_logs for r in sl.log_records] == ["before", "after"]
    assert [(type(error), str(error), lost) for error, lost in skipped] == [(RuntimeError, "unreadable", 1)]
    assert encode_logs(records) == lines  # without a callback: skipped all the same, nothing raised

    skipped.clear()
    tracer, exporter = tracing
    tracer.start_span("before").end()
    good = exporter.get_finished_spans()[0]
    bad = ReadableSpan("bad", good.context, attributes={"x": Unreadable()}, resource=RESOURCE,
                       instrumentation_scope=good.instrumentation_scope)
    lines = encode_spans([good, bad, good], on_skipped=on_skipped)
    assert [s.name for s in _spans_in(lines)] == ["before", "before"]
    assert [lost for _, lost in skipped] == [1]


def test_a_metric_of_an_unknown_kind_is_skipped_and_reported_with_its_points() -> None:
    data = collect_metrics()
    resource_metrics = data.resource_metrics[0]
    scope = resource_metrics.scope_metrics[0]
    odd = Metric("aiw.odd", None, None, Summary([object(), object(), object()]))  # type: ignore[arg-type]
    metrics = [scope.metrics[0], odd, *scope.metrics[1:]]
    data = MetricsData([ResourceMetrics(resource_metrics.resource, [ScopeMetrics(scope.scope, metrics, scope.schema_url)],
                                        resource_metrics.schema_url)])
    skipped: list[tuple[BaseException, int]] = []
    lines = encode_metrics(data, on_skipped=lambda error, lost: skipped.append((error, lost)))
    names = [m.name for line in lines for rm in parse(line, ExportMetricsServiceRequest).resource_metrics
             for sm in rm.scope_metrics for m in sm.metrics]
    assert names == [m.name for m in scope.metrics]
    assert [(type(error), lost) for error, lost in skipped] == [(TypeError, 3)]
    assert "Summary" in str(skipped[0][0])


def test_a_record_that_cannot_fit_even_shrunk_is_reported() -> None:
    skipped: list[tuple[BaseException, int]] = []
    records = [_record(body="x" * 1000, timestamp=1_700_000_000_000_000_001, observed_timestamp=1)]
    assert encode_logs(records, max_line_bytes=200, on_skipped=lambda error, lost: skipped.append((error, lost))) == []
    assert [(type(error), lost) for error, lost in skipped] == [(ValueError, 1)]


# ---------------------------------------------------------------- cached fragments


def test_cached_fragments_never_stand_in_for_other_values(tracing: Any, logging_: Any) -> None:
    """Keys, short string pairs, severities and span ids are cached across records and batches; values
    equal under == but of another type (1, True, 1.0, "1") and many unique values must still encode
    exactly."""
    (logger, exporter), tracer = logging_, tracing[0]
    values: list[Any] = ["1", 1, True, 1.0, "1", HTTPStatus.OK, "x" * 64, "x" * 65, "é\x00\"\\", ""]
    for index, value in enumerate(values):
        with tracer.start_as_current_span(f"span {index % 3}"):
            logger.emit(LogRecord(body=value, attributes={"k": value, "same": "v"},
                                  severity_number=list(SeverityNumber)[index % 5], severity_text=f"S{index % 2}"))
    for index in range(5000):  # more unique pairs than the caches hold, so they start over on the way
        logger.emit(LogRecord(body="b", attributes={"id": f"v{index}", f"key{index % 7}": "v"}))
    records = exporter.get_finished_logs()
    for _ in range(2):  # the second batch reads every fragment from the caches
        lines = encode_logs(records)
        assert Counter(r.SerializeToString() for line in lines
                       for rl in parse(line, ExportLogsServiceRequest).resource_logs
                       for sl in rl.scope_logs for r in sl.log_records) == Counter(
            r.SerializeToString() for rl in proto_logs(records).resource_logs
            for sl in rl.scope_logs for r in sl.log_records)


def test_non_string_keys_are_never_confused_with_equal_ones() -> None:
    records = [_record(body={1: "x"}, attributes={1.0: "x"}), _record(body={True: "x"}), _record(body={"1": "x"})]
    for _ in range(2):
        (line,) = encode_logs(records)
        logs = json.loads(line)["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
        assert [log["body"]["kvlistValue"]["values"] for log in logs] == [
            [{"key": key, "value": {"stringValue": "x"}}] for key in ("1", "True", "1")]
        assert logs[0]["attributes"] == [{"key": "1.0", "value": {"stringValue": "x"}}]
