"""OTLP/JSON lines (the Collector's file format) built straight from SDK objects.

The file sink calls this for every record on its own thread, so it writes the JSON text itself:
no protobuf messages (`json_format` costs several times more per span), and no nested dicts for
json.dumps to walk (with OTLP's verbose nesting, that walk was most of the cost). Strings go
through the stdlib's C string encoder, and what recurs from record to record (attribute keys,
key/short-string pairs, severities, the span a log record belongs to, resources and scopes) is
encoded once and cached. Lines are assembled from per-record fragments so a batch can be split
under the Collector's line limit without encoding anything twice. Only a record too big for its
line is parsed back into dicts, to be shrunk step by step: a path a normal record never takes.

The field semantics (flags, presence of empty messages, what is omitted: an unset time, for one)
follow opentelemetry-exporter-otlp-proto-common, so a line parses into the same protobuf message
the OTLP exporters send; the only differences are OTLP/JSON's hex ids and that link trace states
are kept (the proto encoder drops them).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from json.encoder import encode_basestring
from types import MappingProxyType
from typing import Any, TypeVar

from opentelemetry.attributes import BoundedAttributes
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
_V = TypeVar("_V")

# Only for re-encoding a record parsed back to be shrunk; it writes what the text path would.
_JSON = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, check_circular=False
).encode
# The C encoder: escapes quotes, backslashes and control characters (NUL too), keeps the rest as is.
_string: Callable[[str], str] = encode_basestring

# 64-bit integers (times, counts, intValue) are decimal strings in OTLP/JSON, other integers numbers.
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_MAX_DEPTH = 32
_NONFINITE = {float("inf"): '"Infinity"', float("-inf"): '"-Infinity"'}

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
_FRAME_CACHE_SIZE = 256
_TEXT_CACHE_SIZE = 4096
_SHORT = 64  # keys and string values up to this many characters are worth caching


def _remember(cache: dict[Any, _V], key: Any, value: _V, size: int = _TEXT_CACHE_SIZE) -> _V:
    """Stores value and returns it; a full cache starts over, so unique values cannot grow it."""
    if len(cache) >= size:
        cache.clear()
    cache[key] = value
    return value


def _memo(cache: dict[tuple[Any, ...], str], build: Callable[..., str], *key: Any) -> str:
    """build(*key), cached: for parts of a record that mostly repeat those of the record before."""
    try:
        text = cache.get(key)
    except TypeError:  # an unhashable part (not what the SDK passes): encoded, just not cached
        return build(*key)
    return text if text is not None else _remember(cache, key, build(*key))


# ---------------------------------------------------------------- values


def _double(value: Any) -> str:
    """A double's JSON; JSON has no NaN or infinities, so OTLP/JSON spells them as strings."""
    value = float(value)
    if value - value == 0.0:
        return repr(value)  # what json.dumps writes: the shortest text that reads back exact
    return _NONFINITE.get(value, '"NaN"')


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


def _any(value: Any, depth: int = 0) -> str:
    """AnyValue, with the common scalar types dispatched on their exact type first (the hot path)."""
    kind = type(value)
    if kind is str:
        return '{"stringValue":' + _string(value) + "}"
    if kind is bool:  # before int: bool is an int
        return '{"boolValue":true}' if value else '{"boolValue":false}'
    if kind is int:
        if _INT64_MIN <= value <= _INT64_MAX:
            return '{"intValue":"%d"}' % value
        return '{"stringValue":"%d"}' % value  # no int64 holds it; a string keeps every digit
    if kind is float:
        return '{"doubleValue":' + (repr(value) if value - value == 0.0 else _double(value)) + "}"
    return _any_other(value, depth)


def _any_other(value: Any, depth: int) -> str:
    if value is None:
        return "{}"  # an empty AnyValue, as the proto encoder sends for None
    if isinstance(value, str):
        return _any(str.__str__(value))
    if isinstance(value, int):
        return _any(int(value))
    if isinstance(value, float):
        return _any(float(value))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return '{"bytesValue":"' + base64.b64encode(value).decode("ascii") + '"}'
    if depth < _MAX_DEPTH:  # deeper (or self-referencing) structures end as text
        if isinstance(value, Mapping):
            return '{"kvlistValue":{"values":' + _key_values(value.items(), depth + 1) + "}}"
        if isinstance(value, Sequence):
            return '{"arrayValue":{"values":[' + ",".join([_any(item, depth + 1) for item in value]) + "]}}"
    return _any(_text(value))


_COPIED = (BoundedAttributes, MappingProxyType)
_KEYS: dict[str, str] = {}
_PAIRS: dict[tuple[str, str], str] = {}


def _key_values(items: Iterable[tuple[Any, Any]], depth: int = 0) -> str:
    """A KeyValue list.

    Attribute names are a small set that recurs on every record, so each key's text is cached; a key
    with a short string value (a component, action, state or model name) mostly recurs as a pair, so
    the pair's whole text is cached too. Only exact str keys are stored, so a lookup by another type
    of key (1 and True are equal) never finds an entry it does not own.
    """
    parts = []
    for key, value in items:
        if type(value) is str and len(value) <= _SHORT:
            parts.append(_PAIRS.get((key, value)) or _short_pair(key, value))
        else:
            parts.append((_KEYS.get(key) or _key(key)) + _any(value, depth) + "}")
    return "[" + ",".join(parts) + "]"


def _key(key: Any) -> str:
    """A KeyValue's text up to its value."""
    if type(key) is not str:
        return '{"key":' + _string(_text(key)) + ',"value":'
    head = '{"key":' + _string(key) + ',"value":'
    return _remember(_KEYS, key, head) if len(key) <= _SHORT else head


def _short_pair(key: Any, value: str) -> str:
    """A key with a short string value not cached yet: encoded, and cached when its key is a short str."""
    text = (_KEYS.get(key) or _key(key)) + _any(value) + "}"
    return _remember(_PAIRS, (key, value), text) if type(key) is str and len(key) <= _SHORT else text


def _attributes(
    members: list[str], attributes: Mapping[str, Any] | None, dropped: int, key: str = "attributes"
) -> None:
    """Adds attributes and their dropped count, leaving out what is empty (receivers read both)."""
    if type(attributes) in _COPIED:
        # BoundedAttributes (a span's comes in a mappingproxy) iterates through the Mapping ABC, a
        # Python call per key under a lock; its copy() is one C-level dict copy.
        try:
            attributes = attributes.copy()  # type: ignore[union-attr]
        except AttributeError:  # a mappingproxy over a mapping without copy(): read it as it is
            pass
    if attributes:
        members.append('"' + key + '":' + _key_values(attributes.items()))
    if dropped:
        members.append('"droppedAttributesCount":%d' % dropped)


def _object(members: list[str]) -> str:
    return "{" + ",".join(members) + "}"


# ---------------------------------------------------------------- spans


def _span(span: ReadableSpan) -> str:
    context = span.context
    members = ['"traceId":"%032x","spanId":"%016x"' % (context.trace_id, context.span_id)]
    if context.trace_state:
        members.append('"traceState":' + _trace_state(context.trace_state))
    parent = span.parent
    if parent is not None:
        members.append('"parentSpanId":"%016x"' % parent.span_id)
    kind = _SPAN_KIND.get(span.kind, 0)
    members.append('"flags":%d,"name":%s,"kind":%d' % (_span_flags(parent), _string(_text(span.name)), kind))
    start, end = span.start_time, span.end_time
    if start:
        members.append('"startTimeUnixNano":"%d"' % start)
    if end:
        members.append('"endTimeUnixNano":"%d"' % end)
    _attributes(members, span.attributes, span.dropped_attributes)
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
    return _object(members)


def _status(status: Any) -> str:
    """Present even when UNSET and empty: the proto encoder always sets it, and presence is compared."""
    members = []
    if status.status_code.value:
        members.append('"code":%d' % status.status_code.value)
    if status.description:
        members.append('"message":' + _string(_text(status.description)))
    return _object(members)


def _span_flags(parent: Any) -> int:
    return _HAS_IS_REMOTE | _IS_REMOTE if parent is not None and parent.is_remote else _HAS_IS_REMOTE


def _trace_state(trace_state: Any) -> str:
    return _string(",".join(f"{key}={value}" for key, value in trace_state.items()))


def _event(event: Any) -> str:
    members = ['"name":' + _string(_text(event.name))]
    if event.timestamp:
        members.append('"timeUnixNano":"%d"' % event.timestamp)
    _attributes(members, event.attributes, event.dropped_attributes)
    return _object(members)


def _link(link: Any) -> str:
    context = link.context
    ids = (context.trace_id, context.span_id, _span_flags(context))
    members = ['"traceId":"%032x","spanId":"%016x","flags":%d' % ids]
    if context.trace_state:
        members.append('"traceState":' + _trace_state(context.trace_state))
    _attributes(members, link.attributes, link.dropped_attributes)
    return _object(members)


# ---------------------------------------------------------------- logs


def _log(readable: ReadableLogRecord) -> str:
    record = readable.log_record
    members: list[str] = []
    if record.timestamp:
        members.append('"timeUnixNano":"%d"' % record.timestamp)
    if record.observed_timestamp:
        members.append('"observedTimeUnixNano":"%d"' % record.observed_timestamp)
    severity = _memo(_SEVERITIES, _severity, record.severity_number, record.severity_text)
    if severity:
        members.append(severity)
    members.append('"body":' + _any(record.body))  # present even when empty, like the proto encoder's
    _attributes(members, record.attributes, readable.dropped_attributes)
    correlation = _memo(_CORRELATIONS, _correlation, record.trace_flags, record.trace_id, record.span_id)
    if correlation:
        members.append(correlation)
    if record.event_name:
        members.append('"eventName":' + _string(_text(record.event_name)))
    return _object(members)


_SEVERITIES: dict[tuple[Any, ...], str] = {}
_CORRELATIONS: dict[tuple[Any, ...], str] = {}


def _severity(number: Any, text: Any) -> str:
    """severityNumber and severityText: a few pairs, recurring from one record to the next."""
    members = []
    number = getattr(number, "value", number)
    if number:
        members.append('"severityNumber":%d' % number)
    if text:
        members.append('"severityText":' + _string(_text(text)))
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


def _metric(metric: Any) -> tuple[_Frame, list[str]]:
    """The metric without its points (a frame, repeated when the points span lines), and the points.

    A kind of data OTLP has no message for raises, so the metric is skipped like a malformed one.
    """
    data = metric.data
    members = ['"name":' + _string(_text(metric.name))]
    if metric.description:
        members.append('"description":' + _string(_text(metric.description)))
    if metric.unit:
        members.append('"unit":' + _string(_text(metric.unit)))
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
    return _Frame("{" + ",".join(members), "]}}", _METRIC_STEPS), texts


def _point(point: Any, with_start: bool = True) -> list[str]:
    """The members every data point has; the caller adds its kind's own."""
    members: list[str] = []
    _attributes(members, point.attributes, 0)
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
        members.append('"asDouble":' + _double(value))


def _number_point(point: Any, with_start: bool) -> str:
    members = _point(point, with_start)
    _number(members, point.value)
    return _object(members)


def _counts(counts: Iterable[int]) -> str:
    return "[" + ",".join(['"%d"' % count for count in counts]) + "]"


def _summary(members: list[str], point: Any) -> None:
    """count, sum, min, max: the fields both histogram kinds share (sum/min/max are optional)."""
    members.append('"count":"%d"' % point.count)
    for key in ("sum", "min", "max"):
        value = getattr(point, key)
        if value is not None:
            members.append('"' + key + '":' + _double(value))


def _histogram_point(point: Any) -> str:
    members = _point(point)
    _summary(members, point)
    members.append('"bucketCounts":' + _counts(point.bucket_counts))
    members.append('"explicitBounds":[' + ",".join([_double(bound) for bound in point.explicit_bounds]) + "]")
    return _object(members)


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
    return _object(members)


def _exemplar(exemplar: Any) -> str:
    members: list[str] = []
    _attributes(members, exemplar.filtered_attributes, 0, key="filteredAttributes")
    if exemplar.time_unix_nano:
        members.append('"timeUnixNano":"%d"' % exemplar.time_unix_nano)
    if exemplar.span_id is not None and exemplar.trace_id is not None:
        members.append('"spanId":"%016x","traceId":"%032x"' % (exemplar.span_id, exemplar.trace_id))
    value = exemplar.value
    _number(members, value if isinstance(value, float) else int(value))
    return _object(members)


# ---------------------------------------------------------------- sizes and frames


def _sized(text: str) -> tuple[str, int]:
    """The text as it can be written (lone surrogates become U+FFFD) and its UTF-8 size.

    isascii() is O(1) in CPython, so the usual all-ASCII record costs no encoding here; the C string
    encoder passes lone surrogates through, and this is the one place that repairs them.
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

    `prefix` opens the object up to and including the "[" of its children list, the last member;
    `suffix` (ASCII brackets only) closes that list and the objects it is nested in.
    """

    __slots__ = ("steps", "prefix", "suffix", "prefix_size", "suffix_size")

    def __init__(self, prefix: str, suffix: str, steps: Sequence[_Step]):
        self.steps = steps
        text, size = _sized(prefix + suffix)
        self.prefix, self.suffix = text[: len(text) - len(suffix)], suffix
        self.suffix_size = len(suffix)
        self.prefix_size = size - self.suffix_size

    def fit(self, budget: int) -> _Frame:
        """This frame, or a shrunk copy when its own attributes would crowd out the records.

        The cached frame itself stays whole for lines with a normal limit.
        """
        size = self.prefix_size + self.suffix_size
        if size <= budget:
            return self
        text, _ = _shrink(self.prefix + self.suffix, size, budget, self.steps)
        return _Frame(text[: len(text) - len(self.suffix)], self.suffix, self.steps)


_FRAMES: dict[tuple[str, int], tuple[Any, _Frame]] = {}


def _cached_frame(owner: Any, children_key: str, build: Callable[[Any, str], _Frame]) -> _Frame:
    """Resources and scopes are the same few objects on every record: encode each once.

    Keyed by id() with a strong reference kept, so an id is never reused while its entry lives.
    """
    key = (children_key, id(owner))
    hit = _FRAMES.get(key)
    if hit is not None and hit[0] is owner:
        return hit[1]
    return _remember(_FRAMES, key, (owner, build(owner, children_key)), _FRAME_CACHE_SIZE)[1]


def _resource_frame(resource: Any, children_key: str) -> _Frame:
    body: list[str] = []
    _attributes(body, getattr(resource, "attributes", None), 0)
    return _owner_frame("resource", body, getattr(resource, "schema_url", None), children_key, _RESOURCE_STEPS)


def _scope_frame(scope: Any, children_key: str) -> _Frame:
    body: list[str] = []
    if scope is not None:
        if scope.name:
            body.append('"name":' + _string(_text(scope.name)))
        if scope.version:
            body.append('"version":' + _string(_text(scope.version)))
        _attributes(body, scope.attributes, 0)
    return _owner_frame("scope", body, getattr(scope, "schema_url", None), children_key, _SCOPE_STEPS)


def _owner_frame(key: str, body: list[str], schema_url: Any, children_key: str, steps: Sequence[_Step]) -> _Frame:
    """A resource or scope: the message itself, its schema URL, then the list of what it holds."""
    members = ['"' + key + '":' + _object(body)]
    if schema_url:
        members.append('"schemaUrl":' + _string(_text(schema_url)))
    members.append('"' + children_key + '":[')
    return _Frame("{" + ",".join(members), "]}", steps)


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
        self._parts: list[str] = [self._head]
        self._open: tuple[_Frame, ...] = ()
        self._used = 0

    def fit(self, frame: _Frame) -> _Frame:
        """Each enclosing level may take at most a quarter of a line, so records keep room."""
        return frame.fit(self._room // 4)

    def place(self, path: _Path, texts: Iterable[str], steps: Sequence[_Step]) -> None:
        """Adds the records of one group, each shrunk first if it alone would overflow a line."""
        budget = self._room - path.framing
        for text in texts:
            text, size = _sized(text)
            if size > budget:
                text, size = _shrink(text, size, budget, steps)
                if size > budget:  # not even its skeleton fits, only with a limit far below any real one
                    continue
            self._add(path, text, size)

    def _add(self, path: _Path, text: str, size: int) -> None:
        frames, opened, parts = path.frames, self._open, self._parts
        if not opened:
            parts.extend(frame.prefix for frame in frames)
            self._used = path.framing - path.closing + size
        else:
            if frames is opened:  # the usual case: the next record of the same group
                joint, joint_size = ",", 1
            else:  # close the frames this record is not in, open those it is in
                common = 0
                while common < len(frames) and opened[common] is frames[common]:
                    common += 1
                closing, opening = opened[common:][::-1], frames[common:]
                joint = "".join([f.suffix for f in closing] + [","] + [f.prefix for f in opening])
                joint_size = 1 + sum(f.suffix_size for f in closing) + sum(f.prefix_size for f in opening)
            if self._used + joint_size + size + path.closing > self._room:
                self._flush()
                self._add(path, text, size)
                return
            parts.append(joint)
            self._used += joint_size + size
        parts.append(text)
        self._open = frames

    def _flush(self) -> None:
        """Closes the line; one join builds it, as a line is up to a megabyte copied at every concatenation."""
        if self._open:
            self._parts.extend(frame.suffix for frame in reversed(self._open))
            self._parts.append(self._tail)
            self._lines.append("".join(self._parts))
        self._parts, self._open, self._used = [self._head], (), 0

    def finish(self) -> list[str]:
        self._flush()
        return self._lines


# ---------------------------------------------------------------- shrinking


def _shrink(text: str, size: int, budget: int, steps: Sequence[_Step]) -> tuple[str, int]:
    """The text and size after as many steps as it takes to fit the budget (it may still not fit).

    Steps work on the parsed text, whose re-encoding is the same text: the rare record too big for
    its line needs no second encoder.
    """
    tree = json.loads(text)
    for step in steps:
        step(tree, size - budget)
        text, size = _sized(_JSON(tree))
        if size <= budget:
            break
    return text, size


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


def _encoded(encode: Callable[[Any], _V], items: Iterable[Any]) -> list[_V]:
    """A malformed record is skipped rather than failing its whole batch on the sink's thread."""
    results = []
    for item in items:
        try:
            results.append(encode(item))
        except Exception:
            pass
    return results


def _encode_grouped(
    records: Sequence[Any],
    encode: Callable[[Any], str],
    steps: Sequence[_Step],
    keys: tuple[str, str, str],
    max_line_bytes: int,
) -> list[str]:
    """Groups by resource, then scope (as the OTLP exporters do), and packs the records into lines.

    Groups are keyed by the encoded frame text, so equal resources held in different objects still
    share one entry. A record mostly has the same resource and scope objects as the one before, and
    then goes straight to the same bucket.
    """
    top_key, scopes_key, records_key = keys
    groups: dict[str, tuple[_Frame, dict[str, tuple[_Frame, list[Any]]]]] = {}
    bucket: list[Any] = []
    last_resource = last_scope = object()
    for record in records:
        resource, scope = getattr(record, "resource", None), getattr(record, "instrumentation_scope", None)
        if resource is not last_resource or scope is not last_scope:
            last_resource, last_scope = resource, scope
            resource_frame = _cached_frame(resource, scopes_key, _resource_frame)
            scope_frame = _cached_frame(scope, records_key, _scope_frame)
            scopes = groups.setdefault(resource_frame.prefix, (resource_frame, {}))[1]
            bucket = scopes.setdefault(scope_frame.prefix, (scope_frame, []))[1]
        bucket.append(record)

    lines = _Lines(top_key, max_line_bytes)
    for resource, scopes in groups.values():
        resource = lines.fit(resource)
        for scope, bucket in scopes.values():
            lines.place(_Path((resource, lines.fit(scope))), _encoded(encode, bucket), steps)
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
            for frame, points in _encoded(_metric, scope_metrics.metrics):
                lines.place(_Path((resource, scope, lines.fit(frame))), points, _METRIC_STEPS)
    return lines.finish()
