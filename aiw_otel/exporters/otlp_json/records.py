"""One span, log record or metric as OTLP/JSON text, written straight from the SDK's objects.

Each record becomes one self-contained fragment, so the line packer can place it, or move it to
the next line, without encoding anything twice. A metric is split in two: its own fields, which
open an object the packer repeats on every line its points spill over to, and its points.

The field semantics (flags, presence of empty messages, what is omitted: an unset time, for one)
follow opentelemetry-exporter-otlp-proto-common, so a line parses into the same protobuf message
the OTLP exporters send; the only differences are OTLP/JSON's hex ids and that link trace states
are kept (the proto encoder drops them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.metrics.export import ExponentialHistogram, Gauge, Histogram, Sum
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from aiw_otel.exporters.otlp_json.values import (
    add_attributes,
    any_value,
    as_text,
    json_double,
    json_object,
    json_string,
    remember,
)

# Python's SpanKind.INTERNAL is 0, OTLP's SPAN_KIND_INTERNAL is 1: the values must be mapped.
_SPAN_KIND = {
    SpanKind.INTERNAL: 1,
    SpanKind.SERVER: 2,
    SpanKind.CLIENT: 3,
    SpanKind.PRODUCER: 4,
    SpanKind.CONSUMER: 5,
}
# SpanFlags: the encoder always says whether the parent's remoteness is known, and if it is remote.
_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200


def _memo(cache: dict[tuple[Any, ...], str], build: Callable[..., str], *key: Any) -> str:
    """build(*key), cached: for parts of a record that mostly repeat those of the record before."""
    try:
        text = cache.get(key)
    except TypeError:  # an unhashable part (not what the SDK passes): encoded, just not cached
        return build(*key)
    return text if text is not None else remember(cache, key, build(*key))


# ---------------------------------------------------------------- spans


def span_json(span: ReadableSpan) -> str:
    context = span.context
    members = ['"traceId":"%032x","spanId":"%016x"' % (context.trace_id, context.span_id)]
    if context.trace_state:
        members.append('"traceState":' + _trace_state(context.trace_state))
    parent = span.parent
    if parent is not None:
        members.append('"parentSpanId":"%016x"' % parent.span_id)
    kind = _SPAN_KIND.get(span.kind, 0)
    members.append('"flags":%d,"name":%s,"kind":%d' % (_span_flags(parent), json_string(as_text(span.name)), kind))
    start, end = span.start_time, span.end_time
    if start:
        members.append('"startTimeUnixNano":"%d"' % start)
    if end:
        members.append('"endTimeUnixNano":"%d"' % end)
    add_attributes(members, span.attributes, span.dropped_attributes)
    events = span.events
    if events:
        members.append('"events":[' + ",".join([_event(event) for event in events]) + "]")
    if span.dropped_events:
        members.append('"droppedEventsCount":%d' % span.dropped_events)
    links = span.links
    if links:
        members.append('"links":[' + ",".join([_link(link) for link in links]) + "]")
    if span.dropped_links:
        members.append('"droppedLinksCount":%d' % span.dropped_links)
    if span.status is not None:
        members.append('"status":' + _status(span.status))
    return json_object(members)


def _status(status: Any) -> str:
    """Present even when UNSET and empty: the proto encoder always sets it, and presence is compared."""
    members = []
    if status.status_code.value:
        members.append('"code":%d' % status.status_code.value)
    if status.description:
        members.append('"message":' + json_string(as_text(status.description)))
    return json_object(members)


def _span_flags(parent: Any) -> int:
    return _HAS_IS_REMOTE | _IS_REMOTE if parent is not None and parent.is_remote else _HAS_IS_REMOTE


def _trace_state(trace_state: Any) -> str:
    return json_string(",".join(f"{key}={value}" for key, value in trace_state.items()))


def _event(event: Any) -> str:
    members = ['"name":' + json_string(as_text(event.name))]
    if event.timestamp:
        members.append('"timeUnixNano":"%d"' % event.timestamp)
    add_attributes(members, event.attributes, event.dropped_attributes)
    return json_object(members)


def _link(link: Any) -> str:
    context = link.context
    ids = (context.trace_id, context.span_id, _span_flags(context))
    members = ['"traceId":"%032x","spanId":"%016x","flags":%d' % ids]
    if context.trace_state:
        members.append('"traceState":' + _trace_state(context.trace_state))
    add_attributes(members, link.attributes, link.dropped_attributes)
    return json_object(members)


# ---------------------------------------------------------------- logs


def log_json(readable: ReadableLogRecord) -> str:
    record = readable.log_record
    members: list[str] = []
    if record.timestamp:
        members.append('"timeUnixNano":"%d"' % record.timestamp)
    if record.observed_timestamp:
        members.append('"observedTimeUnixNano":"%d"' % record.observed_timestamp)
    severity = _memo(_SEVERITIES, _severity, record.severity_number, record.severity_text)
    if severity:
        members.append(severity)
    members.append('"body":' + any_value(record.body))  # present even when empty, like the proto encoder's
    add_attributes(members, record.attributes, readable.dropped_attributes)
    correlation = _memo(_CORRELATIONS, _correlation, record.trace_flags, record.trace_id, record.span_id)
    if correlation:
        members.append(correlation)
    if record.event_name:
        members.append('"eventName":' + json_string(as_text(record.event_name)))
    return json_object(members)


_SEVERITIES: dict[tuple[Any, ...], str] = {}
_CORRELATIONS: dict[tuple[Any, ...], str] = {}


def _severity(number: Any, text: Any) -> str:
    """severityNumber and severityText: a few pairs, recurring from one record to the next."""
    members = []
    number = getattr(number, "value", number)
    if number:
        members.append('"severityNumber":%d' % number)
    if text:
        members.append('"severityText":' + json_string(as_text(text)))
    return ",".join(members)


def _correlation(flags: Any, trace_id: Any, span_id: Any) -> str:
    """The span a record was emitted in: the records of one span share it."""
    members = []
    if flags:
        members.append('"flags":%d' % flags)
    if trace_id:  # a record outside any span has no ids at all
        members.append('"traceId":"%032x"' % trace_id)
    if span_id:
        members.append('"spanId":"%016x"' % span_id)
    return ",".join(members)


# ---------------------------------------------------------------- metrics


def metric_json(metric: Any) -> tuple[str, str, list[str]]:
    """The metric without its points, split around them (head and tail), and its points.

    A kind of data OTLP has no message for raises, so the metric is skipped like a malformed one.
    """
    data = metric.data
    members = ['"name":' + json_string(as_text(metric.name))]
    if metric.description:
        members.append('"description":' + json_string(as_text(metric.description)))
    if metric.unit:
        members.append('"unit":' + json_string(as_text(metric.unit)))
    points = data.data_points
    if isinstance(data, Sum):
        members.append(
            '"sum":{"aggregationTemporality":%d,"isMonotonic":%s,"dataPoints":['
            % (data.aggregation_temporality, "true" if data.is_monotonic else "false")
        )
        texts = [_number_point(point, with_start=True) for point in points]
    elif isinstance(data, Gauge):
        members.append('"gauge":{"dataPoints":[')
        texts = [_number_point(point, with_start=False) for point in points]
    elif isinstance(data, Histogram):
        members.append('"histogram":{"aggregationTemporality":%d,"dataPoints":[' % data.aggregation_temporality)
        texts = [_histogram_point(point) for point in points]
    elif isinstance(data, ExponentialHistogram):
        members.append(
            '"exponentialHistogram":{"aggregationTemporality":%d,"dataPoints":[' % data.aggregation_temporality
        )
        texts = [_exponential_point(point) for point in points]
    else:
        raise TypeError(f"no OTLP message for {type(data).__name__}")
    return "{" + ",".join(members), "]}}", texts


def _point(point: Any, with_start: bool = True) -> list[str]:
    """The members every data point has; the caller adds its kind's own."""
    members: list[str] = []
    add_attributes(members, point.attributes, 0)
    if with_start and point.start_time_unix_nano:
        members.append('"startTimeUnixNano":"%d"' % point.start_time_unix_nano)
    if point.time_unix_nano:
        members.append('"timeUnixNano":"%d"' % point.time_unix_nano)
    exemplars = [_exemplar(exemplar) for exemplar in point.exemplars]
    if exemplars:
        members.append('"exemplars":[' + ",".join(exemplars) + "]")
    return members


def _number(members: list[str], value: Any) -> None:
    """asInt for ints (a decimal string, being 64-bit), asDouble for anything else."""
    if isinstance(value, int):
        members.append('"asInt":"%d"' % value)
    else:
        members.append('"asDouble":' + json_double(value))


def _number_point(point: Any, with_start: bool) -> str:
    members = _point(point, with_start)
    _number(members, point.value)
    return json_object(members)


def _counts(counts: Iterable[int]) -> str:
    return "[" + ",".join(['"%d"' % count for count in counts]) + "]"


def _summary(members: list[str], point: Any) -> None:
    """count, sum, min, max: the fields both histogram kinds share (sum/min/max are optional)."""
    members.append('"count":"%d"' % point.count)
    for key in ("sum", "min", "max"):
        value = getattr(point, key)
        if value is not None:
            members.append('"' + key + '":' + json_double(value))


def _histogram_point(point: Any) -> str:
    members = _point(point)
    _summary(members, point)
    members.append('"bucketCounts":' + _counts(point.bucket_counts))
    members.append('"explicitBounds":[' + ",".join([json_double(bound) for bound in point.explicit_bounds]) + "]")
    return json_object(members)


def _exponential_point(point: Any) -> str:
    members = _point(point)
    _summary(members, point)
    members.append('"scale":%d,"zeroCount":"%d"' % (point.scale, point.zero_count))
    for key in ("positive", "negative"):
        buckets = getattr(point, key)
        if buckets.bucket_counts:  # absent, not empty, when there are none
            counts = _counts(buckets.bucket_counts)
            members.append('"%s":{"offset":%d,"bucketCounts":%s}' % (key, buckets.offset, counts))
    if point.flags:
        members.append('"flags":%d' % point.flags)
    return json_object(members)


def _exemplar(exemplar: Any) -> str:
    members: list[str] = []
    add_attributes(members, exemplar.filtered_attributes, 0, key="filteredAttributes")
    if exemplar.time_unix_nano:
        members.append('"timeUnixNano":"%d"' % exemplar.time_unix_nano)
    if exemplar.span_id is not None and exemplar.trace_id is not None:
        members.append('"spanId":"%016x","traceId":"%032x"' % (exemplar.span_id, exemplar.trace_id))
    value = exemplar.value
    _number(members, value if isinstance(value, float) else int(value))
    return json_object(members)
