"""Records into lines: grouped by resource and scope, packed under the Collector's line limit.

OTLP nests records in their scope, and scopes in their resource. Resources and scopes are the same
few objects on every record, so each is encoded once into a frame (its text split around the list
of what it holds) and cached; a line is then joined from frames and record fragments, and a batch
too big for one line goes on the next with its frames reopened, nothing encoded twice. A record
too big for any line is shrunk first, and so is a frame that would crowd the records out.

A record that cannot be written (its encoding raised, or not even its skeleton fits) is left out so
the rest of its batch is still written, and reported to the caller's `on_skipped` with the reason
and the records it cost (for a metric, its points), so the file sink can count it as lost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.metrics.export import MetricsData
from opentelemetry.sdk.trace import ReadableSpan

from aiw_otel.exporters.otlp_json.records import log_json, metric_json, span_json
from aiw_otel.exporters.otlp_json.shrink import (
    LOG_STEPS,
    METRIC_STEPS,
    RESOURCE_STEPS,
    SCOPE_STEPS,
    SPAN_STEPS,
    Step,
    shrink,
)
from aiw_otel.exporters.otlp_json.values import add_attributes, as_text, json_object, json_string, remember, sized

MAX_LINE_BYTES = 1024 * 1024
"""A line (with its newline) never exceeds this: the Collector's otlpjsonfile receiver limit."""

_V = TypeVar("_V")
_FRAME_CACHE_SIZE = 256

#: Told of each record left out of the lines: why, and how many records (spans, log records or
#: metric points) it cost.
OnSkipped = Callable[[BaseException, int], None]


class _Frame:
    """An enclosing object (resource, scope or metric) split around its list of children.

    `prefix` opens the object up to and including the "[" of its children list, the last member;
    `suffix` (ASCII brackets only) closes that list and the objects it is nested in.
    """

    __slots__ = ("steps", "prefix", "suffix", "prefix_size", "suffix_size")

    def __init__(self, prefix: str, suffix: str, steps: Sequence[Step]):
        self.steps = steps
        text, size = sized(prefix + suffix)
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
        text, _ = shrink(self.prefix + self.suffix, size, budget, self.steps)
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
    return remember(_FRAMES, key, (owner, build(owner, children_key)), _FRAME_CACHE_SIZE)[1]


def _resource_frame(resource: Any, children_key: str) -> _Frame:
    body: list[str] = []
    add_attributes(body, getattr(resource, "attributes", None), 0)
    return _owner_frame("resource", body, getattr(resource, "schema_url", None), children_key, RESOURCE_STEPS)


def _scope_frame(scope: Any, children_key: str) -> _Frame:
    body: list[str] = []
    if scope is not None:
        if scope.name:
            body.append('"name":' + json_string(as_text(scope.name)))
        if scope.version:
            body.append('"version":' + json_string(as_text(scope.version)))
        add_attributes(body, scope.attributes, 0)
    return _owner_frame("scope", body, getattr(scope, "schema_url", None), children_key, SCOPE_STEPS)


def _owner_frame(key: str, body: list[str], schema_url: Any, children_key: str, steps: Sequence[Step]) -> _Frame:
    """A resource or scope: the message itself, its schema URL, then the list of what it holds."""
    members = ['"' + key + '":' + json_object(body)]
    if schema_url:
        members.append('"schemaUrl":' + json_string(as_text(schema_url)))
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

    def __init__(self, top_key: str, max_line_bytes: int, on_skipped: OnSkipped | None):
        self._on_skipped = on_skipped
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

    def place(self, path: _Path, texts: Iterable[str], steps: Sequence[Step]) -> None:
        """Adds the records of one group, each shrunk first if it alone would overflow a line."""
        budget = self._room - path.framing
        for text in texts:
            text, size = sized(text)
            if size > budget:
                text, size = shrink(text, size, budget, steps)
                if size > budget:  # not even its skeleton fits, only with a limit far below any real one
                    if self._on_skipped is not None:
                        self._on_skipped(ValueError(f"a record still {size} bytes once shrunk, over the "
                                                    f"{budget} bytes a line leaves it"), 1)
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


def _encoded(
    encode: Callable[[Any], _V],
    items: Iterable[Any],
    on_skipped: OnSkipped | None,
    cost: Callable[[Any], int] = lambda item: 1,
) -> list[_V]:
    """A malformed record is skipped and reported rather than failing its whole batch on the sink's thread."""
    results = []
    for item in items:
        try:
            results.append(encode(item))
        except Exception as error:
            if on_skipped is not None:
                on_skipped(error, cost(item))
    return results


def _points(metric: Any) -> int:
    """What a skipped metric costs: its points, or one when even they cannot be counted."""
    try:
        return len(metric.data.data_points)
    except Exception:
        return 1


def _encode_grouped(
    records: Sequence[Any],
    encode: Callable[[Any], str],
    steps: Sequence[Step],
    keys: tuple[str, str, str],
    max_line_bytes: int,
    on_skipped: OnSkipped | None,
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

    lines = _Lines(top_key, max_line_bytes, on_skipped)
    for resource, scopes in groups.values():
        resource = lines.fit(resource)
        for scope, bucket in scopes.values():
            lines.place(_Path((resource, lines.fit(scope))), _encoded(encode, bucket, on_skipped), steps)
    return lines.finish()


def encode_spans(
    spans: Sequence[ReadableSpan], max_line_bytes: int = MAX_LINE_BYTES, on_skipped: OnSkipped | None = None
) -> list[str]:
    """OTLP/JSON TracesData lines (without newline), each at most max_line_bytes with its newline.

    A span that cannot be encoded is left out and passed to on_skipped (with its cost, 1).
    """
    keys = ("resourceSpans", "scopeSpans", "spans")
    return _encode_grouped(spans, span_json, SPAN_STEPS, keys, max_line_bytes, on_skipped)


def encode_logs(
    records: Sequence[ReadableLogRecord], max_line_bytes: int = MAX_LINE_BYTES, on_skipped: OnSkipped | None = None
) -> list[str]:
    """OTLP/JSON LogsData lines (without newline), each at most max_line_bytes with its newline.

    A record that cannot be encoded is left out and passed to on_skipped (with its cost, 1).
    """
    keys = ("resourceLogs", "scopeLogs", "logRecords")
    return _encode_grouped(records, log_json, LOG_STEPS, keys, max_line_bytes, on_skipped)


def encode_metrics(
    data: MetricsData, max_line_bytes: int = MAX_LINE_BYTES, on_skipped: OnSkipped | None = None
) -> list[str]:
    """OTLP/JSON MetricsData lines (without newline); a metric with too many points spans several lines.

    A metric that cannot be encoded is left out and passed to on_skipped with its number of points.
    """
    lines = _Lines("resourceMetrics", max_line_bytes, on_skipped)
    for resource_metrics in getattr(data, "resource_metrics", None) or ():
        resource = lines.fit(_cached_frame(resource_metrics.resource, "scopeMetrics", _resource_frame))
        for scope_metrics in resource_metrics.scope_metrics:
            scope = lines.fit(_cached_frame(scope_metrics.scope, "metrics", _scope_frame))
            for head, tail, points in _encoded(metric_json, scope_metrics.metrics, on_skipped, _points):
                metric = lines.fit(_Frame(head, tail, METRIC_STEPS))
                lines.place(_Path((resource, scope, metric)), points, METRIC_STEPS)
    return lines.finish()
