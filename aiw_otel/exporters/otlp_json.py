"""OTLP/JSON lines (the Collector's file format) built straight from SDK objects.

The file sink calls this for every record on its own thread, so it avoids the protobuf route
(build messages, then `json_format`), which costs several times more per span: it builds plain
dicts and serialises each record once with a reusable C-backed encoder. Lines are assembled from
per-record JSON fragments so a batch can be split under the Collector's line limit without
serialising anything twice.

The field semantics (flags, presence of empty messages, what is omitted) follow
opentelemetry-exporter-otlp-proto-common, so a line parses into the same protobuf message the OTLP
exporters send; the only differences are OTLP/JSON's hex ids and that link trace states are kept
(the proto encoder drops them).
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.metrics.export import (
    ExponentialHistogram,
    Gauge,
    Histogram,
    MetricsData,
    Sum,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

MAX_LINE_BYTES = 1024 * 1024
"""A line (with its newline) never exceeds this: the Collector's otlpjsonfile receiver limit."""

_Tree = dict[str, Any]
_Step = Callable[[_Tree, int], None]

_JSON = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, check_circular=False
).encode

_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_MAX_DEPTH = 32
_NONFINITE = {float("inf"): "Infinity", float("-inf"): "-Infinity"}

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

_MARKER_COST = 48  # upper bound of a truncation marker's bytes, even base64-encoded inside bytesValue
_CUT_FLOOR = 1024  # first pass: strings keep at least this much before events or attributes go
# Any long string may be cut except a trace state (it must parse); ids, times and 64-bit numbers are
# shorter than the shortest string ever cut (_MARKER_COST), so they are never candidates.
_UNCUTTABLE = frozenset({"traceState"})
_CACHE_SIZE = 256


# ---------------------------------------------------------------- values


def _double(value: Any) -> float | str:
    """JSON has no NaN or infinities; OTLP/JSON spells them as strings."""
    value = float(value)
    if value - value == 0.0:
        return value
    return _NONFINITE.get(value, "NaN")


def _text(value: Any) -> str:
    """Names and keys must be JSON strings whatever the caller passed."""
    if type(value) is str:
        return value
    if isinstance(value, str):
        return str.__str__(value)  # the value itself, not an Enum's "Class.MEMBER"
    try:
        return str(value)
    except Exception:  # a broken __str__ must not lose the record
        return f"<unprintable {type(value).__name__}>"


def _any(value: Any, depth: int = 0) -> _Tree:
    """AnyValue, with the common scalar types dispatched on their exact type first (the hot path)."""
    kind = type(value)
    if kind is str:
        return {"stringValue": value}
    if kind is bool:  # before int: bool is an int
        return {"boolValue": value}
    if kind is int:
        if _INT64_MIN <= value <= _INT64_MAX:
            return {"intValue": str(value)}
        return {"stringValue": str(value)}  # no int64 holds it; a string keeps every digit
    if kind is float:
        return {"doubleValue": value if value - value == 0.0 else _double(value)}
    return _any_other(value, depth)


def _any_other(value: Any, depth: int) -> _Tree:
    if value is None:
        return {}  # an empty AnyValue, as the proto encoder sends for None
    if isinstance(value, str):
        return {"stringValue": str.__str__(value)}
    if isinstance(value, int):
        return _any(int(value))
    if isinstance(value, float):
        return _any(float(value))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"bytesValue": base64.b64encode(value).decode("ascii")}
    if depth < _MAX_DEPTH:  # deeper (or self-referencing) structures end as text
        if isinstance(value, Mapping):
            return {"kvlistValue": {"values": _key_values(value.items(), depth + 1)}}
        if isinstance(value, Sequence):
            return {"arrayValue": {"values": [_any(item, depth + 1) for item in value]}}
    return {"stringValue": _text(value)}


def _key_values(items: Iterable[tuple[Any, Any]], depth: int = 0) -> list[_Tree]:
    return [{"key": key if type(key) is str else _text(key), "value": _any(value, depth)} for key, value in items]


def _attributes(tree: _Tree, attributes: Mapping[str, Any] | None, dropped: int, key: str = "attributes") -> None:
    """Adds attributes and their dropped count, leaving out what is empty (receivers read both)."""
    if attributes:
        tree[key] = _key_values(attributes.items())
    if dropped:
        tree["droppedAttributesCount"] = dropped


def _nanos(tree: _Tree, key: str, value: int | None) -> None:
    """64-bit integers are decimal strings in OTLP/JSON; an unset time is left out."""
    if value:
        tree[key] = str(int(value))


# ---------------------------------------------------------------- spans


def _span(span: ReadableSpan) -> _Tree:
    context = span.context
    tree: _Tree = {"traceId": format(context.trace_id, "032x"), "spanId": format(context.span_id, "016x")}
    if context.trace_state:
        tree["traceState"] = _trace_state(context.trace_state)
    parent = span.parent
    if parent is not None:
        tree["parentSpanId"] = format(parent.span_id, "016x")
    tree["flags"] = _span_flags(parent)
    tree["name"] = _text(span.name)
    tree["kind"] = _SPAN_KIND.get(span.kind, 0)
    _nanos(tree, "startTimeUnixNano", span.start_time)
    _nanos(tree, "endTimeUnixNano", span.end_time)
    _attributes(tree, span.attributes, span.dropped_attributes)
    events = span.events
    if events:
        tree["events"] = [_event(event) for event in events]
    if span.dropped_events:
        tree["droppedEventsCount"] = span.dropped_events
    links = span.links
    if links:
        tree["links"] = [_link(link) for link in links]
    if span.dropped_links:
        tree["droppedLinksCount"] = span.dropped_links
    if span.status is not None:
        tree["status"] = _status(span.status)
    return tree


def _status(status: Any) -> _Tree:
    """Present even when UNSET and empty: the proto encoder always sets it, and presence is compared."""
    tree: _Tree = {}
    if status.status_code.value:
        tree["code"] = status.status_code.value
    if status.description:
        tree["message"] = _text(status.description)
    return tree


def _span_flags(parent: Any) -> int:
    return _HAS_IS_REMOTE | _IS_REMOTE if parent is not None and parent.is_remote else _HAS_IS_REMOTE


def _trace_state(trace_state: Any) -> str:
    return ",".join(f"{key}={value}" for key, value in trace_state.items())


def _event(event: Any) -> _Tree:
    tree: _Tree = {"name": _text(event.name)}
    _nanos(tree, "timeUnixNano", event.timestamp)
    _attributes(tree, event.attributes, event.dropped_attributes)
    return tree


def _link(link: Any) -> _Tree:
    context = link.context
    tree: _Tree = {
        "traceId": format(context.trace_id, "032x"),
        "spanId": format(context.span_id, "016x"),
        "flags": _span_flags(context),
    }
    if context.trace_state:
        tree["traceState"] = _trace_state(context.trace_state)
    _attributes(tree, link.attributes, link.dropped_attributes)
    return tree


# ---------------------------------------------------------------- logs


def _log(readable: ReadableLogRecord) -> _Tree:
    record = readable.log_record
    tree: _Tree = {}
    _nanos(tree, "timeUnixNano", record.timestamp)
    _nanos(tree, "observedTimeUnixNano", record.observed_timestamp)
    severity = getattr(record.severity_number, "value", record.severity_number)
    if severity:
        tree["severityNumber"] = int(severity)
    if record.severity_text:
        tree["severityText"] = _text(record.severity_text)
    tree["body"] = _any(record.body)  # present even when empty, like the proto encoder's
    _attributes(tree, record.attributes, readable.dropped_attributes)
    if record.trace_flags:
        tree["flags"] = int(record.trace_flags)
    if record.trace_id:  # a record outside any span has no ids at all
        tree["traceId"] = format(record.trace_id, "032x")
    if record.span_id:
        tree["spanId"] = format(record.span_id, "016x")
    if record.event_name:
        tree["eventName"] = _text(record.event_name)
    return tree


# ---------------------------------------------------------------- metrics


def _metric(metric: Any) -> tuple[_Tree, int, list[_Tree]] | None:
    """The metric without its points (a frame, repeated when the points span lines), and the points."""
    data = metric.data
    tree: _Tree = {"name": _text(metric.name)}
    if metric.description:
        tree["description"] = _text(metric.description)
    if metric.unit:
        tree["unit"] = _text(metric.unit)
    points = data.data_points
    if isinstance(data, Sum):
        tree["sum"] = {
            "aggregationTemporality": int(data.aggregation_temporality),
            "isMonotonic": bool(data.is_monotonic),
            "dataPoints": [],
        }
        return tree, 2, [_number_point(point, with_start=True) for point in points]
    if isinstance(data, Gauge):
        tree["gauge"] = {"dataPoints": []}
        return tree, 2, [_number_point(point, with_start=False) for point in points]
    if isinstance(data, Histogram):
        tree["histogram"] = {"aggregationTemporality": int(data.aggregation_temporality), "dataPoints": []}
        return tree, 2, [_histogram_point(point) for point in points]
    if isinstance(data, ExponentialHistogram):
        tree["exponentialHistogram"] = {"aggregationTemporality": int(data.aggregation_temporality), "dataPoints": []}
        return tree, 2, [_exponential_point(point) for point in points]
    return None


def _point(point: Any, with_start: bool = True) -> _Tree:
    tree: _Tree = {}
    _attributes(tree, point.attributes, 0)
    if with_start:
        _nanos(tree, "startTimeUnixNano", point.start_time_unix_nano)
    _nanos(tree, "timeUnixNano", point.time_unix_nano)
    exemplars = [_exemplar(exemplar) for exemplar in point.exemplars]
    if exemplars:
        tree["exemplars"] = exemplars
    return tree


def _number_point(point: Any, with_start: bool) -> _Tree:
    tree = _point(point, with_start)
    if isinstance(point.value, int):
        tree["asInt"] = str(int(point.value))
    else:
        tree["asDouble"] = _double(point.value)
    return tree


def _summary(tree: _Tree, point: Any) -> None:
    """count, sum, min, max: the fields both histogram kinds share (sum/min/max are optional)."""
    tree["count"] = str(int(point.count))
    for key in ("sum", "min", "max"):
        value = getattr(point, key)
        if value is not None:
            tree[key] = _double(value)


def _histogram_point(point: Any) -> _Tree:
    tree = _point(point)
    _summary(tree, point)
    tree["bucketCounts"] = [str(int(count)) for count in point.bucket_counts]
    tree["explicitBounds"] = [_double(bound) for bound in point.explicit_bounds]
    return tree


def _exponential_point(point: Any) -> _Tree:
    tree = _point(point)
    _summary(tree, point)
    tree["scale"] = int(point.scale)
    tree["zeroCount"] = str(int(point.zero_count))
    for key in ("positive", "negative"):
        buckets = getattr(point, key)
        if buckets.bucket_counts:  # absent, not empty, when there are none
            tree[key] = {"offset": int(buckets.offset), "bucketCounts": [str(int(n)) for n in buckets.bucket_counts]}
    if point.flags:
        tree["flags"] = int(point.flags)
    return tree


def _exemplar(exemplar: Any) -> _Tree:
    tree: _Tree = {}
    _attributes(tree, exemplar.filtered_attributes, 0, key="filteredAttributes")
    _nanos(tree, "timeUnixNano", exemplar.time_unix_nano)
    if exemplar.span_id is not None and exemplar.trace_id is not None:
        tree["spanId"] = format(exemplar.span_id, "016x")
        tree["traceId"] = format(exemplar.trace_id, "032x")
    value = exemplar.value
    if isinstance(value, float):
        tree["asDouble"] = _double(value)
    else:
        tree["asInt"] = str(int(value))
    return tree


# ---------------------------------------------------------------- sizes and frames


def _sized(text: str) -> tuple[str, int]:
    """The text as it can be written (lone surrogates become U+FFFD) and its UTF-8 size.

    isascii() is O(1) in CPython, so the usual all-ASCII line costs no encoding here.
    """
    if text.isascii():
        return text, len(text)
    try:
        return text, len(text.encode("utf-8"))
    except UnicodeEncodeError:
        # Through UTF-16 valid surrogate pairs join into one character and lone ones are replaced.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
        return text, len(text.encode("utf-8"))


class _Frame:
    """An enclosing object (resource, scope or metric) split around its list of children.

    Built from a dict whose children list is its last key, nested `closers` objects deep, so its JSON
    ends with "[]" followed by that many "}": the prefix is everything up to the "[".
    """

    __slots__ = ("tree", "closers", "steps", "prefix", "suffix", "prefix_size", "suffix_size")

    def __init__(self, tree: _Tree, closers: int, steps: Sequence[_Step]):
        self.tree, self.closers, self.steps = tree, closers, steps
        text, _ = _sized(_JSON(tree))
        cut = len(text) - closers - 1
        self.prefix, self.suffix = text[:cut], text[cut:]
        self.prefix_size = len(self.prefix.encode("utf-8"))
        self.suffix_size = len(self.suffix)

    def fit(self, budget: int) -> _Frame:
        """This frame, or a shrunk copy when its own attributes would crowd out the records."""
        if self.prefix_size + self.suffix_size <= budget:
            return self
        tree = copy.deepcopy(self.tree)  # the cached frame stays whole for lines with a normal limit
        _shrink(tree, budget, self.steps)
        return _Frame(tree, self.closers, self.steps)


_FRAMES: dict[tuple[str, int], tuple[Any, _Frame]] = {}


def _cached_frame(owner: Any, children_key: str, build: Callable[[Any, str], _Frame]) -> _Frame:
    """Resources and scopes are the same few objects on every record: encode each once.

    Keyed by id() with a strong reference kept, so an id is never reused while its entry lives.
    """
    key = (children_key, id(owner))
    hit = _FRAMES.get(key)
    if hit is not None and hit[0] is owner:
        return hit[1]
    frame = build(owner, children_key)
    if len(_FRAMES) >= _CACHE_SIZE:
        _FRAMES.clear()
    _FRAMES[key] = (owner, frame)
    return frame


def _resource_frame(resource: Any, children_key: str) -> _Frame:
    body: _Tree = {}
    _attributes(body, getattr(resource, "attributes", None), 0)
    tree: _Tree = {"resource": body}
    schema_url = getattr(resource, "schema_url", None)
    if schema_url:
        tree["schemaUrl"] = _text(schema_url)
    tree[children_key] = []
    return _Frame(tree, 1, _RESOURCE_STEPS)


def _scope_frame(scope: Any, children_key: str) -> _Frame:
    body: _Tree = {}
    tree: _Tree = {"scope": body}
    if scope is not None:
        if scope.name:
            body["name"] = _text(scope.name)
        if scope.version:
            body["version"] = _text(scope.version)
        _attributes(body, scope.attributes, 0)
        if scope.schema_url:
            tree["schemaUrl"] = _text(scope.schema_url)
    tree[children_key] = []
    return _Frame(tree, 1, _SCOPE_STEPS)


class _Path:
    """The frames enclosing one group of records, and what they cost on a line."""

    __slots__ = ("frames", "closing", "framing")

    def __init__(self, frames: tuple[_Frame, ...]):
        self.frames = frames
        self.closing = sum(frame.suffix_size for frame in frames)
        self.framing = self.closing + sum(frame.prefix_size for frame in frames)


class _Lines:
    """Packs record fragments into lines under the limit, reopening the enclosing frames on each line."""

    def __init__(self, top_key: str, max_line_bytes: int):
        self._head = '{"' + top_key + '":['
        self._tail = "]}"
        # The newline counts against the limit too.
        self._room = max_line_bytes - 1 - len(self._head) - len(self._tail)
        self._lines: list[str] = []
        self._parts: list[str] = []
        self._open: tuple[_Frame, ...] = ()
        self._used = 0

    def fit(self, frame: _Frame) -> _Frame:
        """Each enclosing level may take at most a quarter of a line, so records keep room."""
        return frame.fit(self._room // 4)

    def place(self, path: _Path, tree: _Tree, steps: Sequence[_Step]) -> None:
        fitted = _shrink(tree, self._room - path.framing, steps)
        if fitted is not None:  # None: not even its skeleton fits, only with a limit far below any real one
            self._add(path, *fitted)

    def _add(self, path: _Path, text: str, size: int) -> None:
        frames, opened, parts = path.frames, self._open, self._parts
        if not opened:
            parts.extend(frame.prefix for frame in frames)
            self._used = path.framing - path.closing + size
        else:
            common = 0
            while common < len(frames) and opened[common] is frames[common]:
                common += 1
            closing, opening = opened[common:][::-1], frames[common:]
            cost = 1 + size + sum(f.suffix_size for f in closing) + sum(f.prefix_size for f in opening)
            if self._used + cost + path.closing > self._room:
                self._flush()
                self._add(path, text, size)
                return
            parts.extend(frame.suffix for frame in closing)
            parts.append(",")
            parts.extend(frame.prefix for frame in opening)
            self._used += cost
        parts.append(text)
        self._open = frames

    def _flush(self) -> None:
        if self._open:
            closing = "".join(frame.suffix for frame in reversed(self._open))
            self._lines.append(self._head + "".join(self._parts) + closing + self._tail)
        self._parts, self._open, self._used = [], (), 0

    def finish(self) -> list[str]:
        self._flush()
        return self._lines


# ---------------------------------------------------------------- shrinking


def _shrink(tree: _Tree, budget: int, steps: Sequence[_Step]) -> tuple[str, int] | None:
    """The tree's JSON and size, after as many steps as it takes to fit; None when even all fail."""
    text, size = _sized(_JSON(tree))
    for step in steps:
        if size <= budget:
            break
        step(tree, size - budget)
        text, size = _sized(_JSON(tree))
    return (text, size) if size <= budget else None


def _marker(removed: int) -> str:
    return f"…[TRUNCATED {removed} bytes]"


def _cut_strings(floor: int) -> _Step:
    """Cuts the longest strings to one common length, just low enough to save `excess` bytes.

    Cutting them evenly keeps every value's start, rather than wiping one value while another keeps
    megabytes. Sizes are raw UTF-8 bytes: JSON escaping only adds, so the real saving is at least this.
    """

    def step(tree: _Tree, excess: int) -> None:
        slots: list[tuple[dict[str, Any], str, int]] = []
        _collect_strings(tree, slots, floor + _MARKER_COST)
        if not slots:
            return
        cap = _water_level([size for _, _, size in slots], excess, floor)
        for owner, key, size in slots:
            if size > cap + _MARKER_COST:
                owner[key] = _truncate(owner[key], cap, key == "bytesValue")

    return step


def _collect_strings(node: Any, slots: list[tuple[dict[str, Any], str, int]], longer_than: int) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if type(value) is str:
                if key not in _UNCUTTABLE and len(value) * 4 > longer_than:  # 4: most bytes one character takes
                    size = len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))
                    if size > longer_than:
                        slots.append((node, key, size))
            else:
                _collect_strings(value, slots, longer_than)
    elif isinstance(node, list):
        for value in node:
            _collect_strings(value, slots, longer_than)


def _water_level(sizes: list[int], excess: int, floor: int) -> int:
    """The highest cap (not below floor) at which cutting every longer string saves `excess` bytes."""

    def saved(cap: int) -> int:
        return sum(size - cap - _MARKER_COST for size in sizes if size > cap + _MARKER_COST)

    low, high = floor, max(sizes)  # saved(high) is 0, below any excess
    if saved(low) < excess:
        return low
    while high - low > 1:
        middle = (low + high) // 2
        if saved(middle) >= excess:
            low = middle
        else:
            high = middle
    return low


def _truncate(value: str, cap: int, is_base64: bool) -> str:
    if is_base64:  # bytes keep a prefix of themselves, with the marker appended as bytes
        raw = base64.b64decode(value)
        kept = raw[: cap * 3 // 4]
        return base64.b64encode(kept + _marker(len(raw) - len(kept)).encode("utf-8")).decode("ascii")
    data = value.encode("utf-8", "surrogatepass")
    kept_text = data[:cap].decode("utf-8", "ignore")  # drops a character cut in half, and lone surrogates
    return kept_text + _marker(len(data) - len(kept_text.encode("utf-8")))


def _drop_tail(list_key: str, counter_key: str, owner_key: str | None = None) -> _Step:
    """Drops entries from the end of a list (the latest events, the last attributes) and counts them."""

    def step(tree: _Tree, excess: int) -> None:
        owner = tree[owner_key] if owner_key else tree
        entries = owner.get(list_key)
        if not entries:
            return
        saved = dropped = 0
        while entries and saved < excess + 32:  # 32: room for the counter this step adds
            saved += _sized(_JSON(entries.pop()))[1] + 1
            dropped += 1
        if not entries:
            del owner[list_key]
        owner[counter_key] = owner.get(counter_key, 0) + dropped

    return step


def _collapse_body(tree: _Tree, excess: int) -> None:
    """Last resort for a log body made of many small values: keep only how big it was."""
    tree["body"] = {"stringValue": _marker(_sized(_JSON(tree.get("body", {})))[1])}


_SPAN_STEPS = (
    _cut_strings(_CUT_FLOOR),
    _drop_tail("events", "droppedEventsCount"),
    _drop_tail("links", "droppedLinksCount"),
    _drop_tail("attributes", "droppedAttributesCount"),
    _cut_strings(0),
)
_LOG_STEPS = (
    _cut_strings(_CUT_FLOOR),
    _drop_tail("attributes", "droppedAttributesCount"),
    _cut_strings(0),
    _collapse_body,
)
_RESOURCE_STEPS = (_cut_strings(0), _drop_tail("attributes", "droppedAttributesCount", "resource"))
_SCOPE_STEPS = (_cut_strings(0), _drop_tail("attributes", "droppedAttributesCount", "scope"))
_METRIC_STEPS = (_cut_strings(0),)  # a metric frame, and each of its points: no dropped counts to keep


# ---------------------------------------------------------------- public API


def _encoded(encode: Callable[[Any], Any], item: Any) -> Any:
    """A malformed record is skipped rather than failing its whole batch on the sink's thread."""
    try:
        return encode(item)
    except Exception:
        return None


def _encode_grouped(
    records: Sequence[Any],
    encode: Callable[[Any], _Tree],
    steps: Sequence[_Step],
    keys: tuple[str, str, str],
    max_line_bytes: int,
) -> list[str]:
    """Groups by resource, then scope (as the OTLP exporters do), and packs the records into lines.

    Groups are keyed by the encoded frame text, so equal resources held in different objects still
    share one entry.
    """
    top_key, scopes_key, records_key = keys
    groups: dict[str, tuple[_Frame, dict[str, tuple[_Frame, list[Any]]]]] = {}
    for record in records:
        resource = _cached_frame(getattr(record, "resource", None), scopes_key, _resource_frame)
        scope = _cached_frame(getattr(record, "instrumentation_scope", None), records_key, _scope_frame)
        scopes = groups.get(resource.prefix)
        if scopes is None:
            scopes = groups[resource.prefix] = (resource, {})
        bucket = scopes[1].get(scope.prefix)
        if bucket is None:
            bucket = scopes[1][scope.prefix] = (scope, [])
        bucket[1].append(record)

    lines = _Lines(top_key, max_line_bytes)
    for resource, scopes in groups.values():
        resource = lines.fit(resource)
        for scope, bucket in scopes.values():
            path = _Path((resource, lines.fit(scope)))
            for record in bucket:
                tree = _encoded(encode, record)
                if tree is not None:
                    lines.place(path, tree, steps)
    return lines.finish()


def encode_spans(spans: Sequence[ReadableSpan], max_line_bytes: int = MAX_LINE_BYTES) -> list[str]:
    """OTLP/JSON TracesData lines (without newline), each at most max_line_bytes with its newline."""
    return _encode_grouped(spans, _span, _SPAN_STEPS, ("resourceSpans", "scopeSpans", "spans"), max_line_bytes)


def encode_logs(records: Sequence[ReadableLogRecord], max_line_bytes: int = MAX_LINE_BYTES) -> list[str]:
    """OTLP/JSON LogsData lines (without newline), each at most max_line_bytes with its newline."""
    return _encode_grouped(records, _log, _LOG_STEPS, ("resourceLogs", "scopeLogs", "logRecords"), max_line_bytes)


def encode_metrics(data: MetricsData, max_line_bytes: int = MAX_LINE_BYTES) -> list[str]:
    """OTLP/JSON MetricsData lines (without newline); a metric with too many points spans several lines."""
    lines = _Lines("resourceMetrics", max_line_bytes)
    for resource_metrics in getattr(data, "resource_metrics", None) or ():
        resource = lines.fit(_cached_frame(resource_metrics.resource, "scopeMetrics", _resource_frame))
        for scope_metrics in resource_metrics.scope_metrics:
            scope = lines.fit(_cached_frame(scope_metrics.scope, "metrics", _scope_frame))
            for metric in scope_metrics.metrics:
                encoded = _encoded(_metric, metric)
                if encoded is None:
                    continue
                tree, closers, points = encoded
                path = _Path((resource, scope, lines.fit(_Frame(tree, closers, _METRIC_STEPS))))
                for point in points:
                    lines.place(path, point, _METRIC_STEPS)
    return lines.finish()
