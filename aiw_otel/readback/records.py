"""Spans and log records decoded from OTLP/JSON lines into plain values that sort, group and print.

Decoding is lenient about what may be absent (OTLP omits default values) and strict about shape:
a line that is JSON but not an export request is reported like any other bad line, not guessed at.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator, Mapping, NamedTuple

from aiw_otel import conventions as sc
from aiw_otel.conventions import STATUS_ERROR
from aiw_otel.readback.files import SignalFile, Warn, parse_line, read_lines, warn_on_stderr, warn_unless_request
from aiw_otel.timestamps import iso_ms

#: Levels of arrays and maps inside one attribute value; OTLP writers nest a few at most.
MAX_VALUE_DEPTH = 32
STATUS_NAMES = {0: "UNSET", 1: "OK", 2: "ERROR"}
KIND_NAMES = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
#: OTLP severity ranges (SeverityNumber), highest first: the first whose floor is reached names the level.
_SEVERITY_FLOORS = ((21, "FATAL"), (17, "ERROR"), (13, "WARN"), (9, "INFO"), (5, "DEBUG"), (1, "TRACE"))
SERVICE_NAME = "service.name"


class DecodeError(ValueError):
    """JSON that is not an OTLP traces/logs/metrics export request."""


def severity_name(number: int) -> str:
    return next((name for floor, name in _SEVERITY_FLOORS if number >= floor), "UNSPECIFIED")


def any_value(value: Any, depth: int = 0) -> Any:
    """An OTLP AnyValue as the Python value it encodes (64-bit ints arrive as strings); nested
    arrays and maps deeper than MAX_VALUE_DEPTH are refused, not recursed into."""
    if depth > MAX_VALUE_DEPTH:
        raise DecodeError(f"an attribute value nested deeper than {MAX_VALUE_DEPTH} levels")
    if type(value) is not dict and not isinstance(value, Mapping) or not value:  # a dict: no ABC check
        return None
    if "stringValue" in value:
        return str(value["stringValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])  # also "NaN" / "Infinity", as proto3 JSON writes them
    if "arrayValue" in value:
        return [any_value(item, depth + 1) for item in (value["arrayValue"] or {}).get("values", [])]
    if "kvlistValue" in value:
        return attributes_of((value["kvlistValue"] or {}).get("values", []), depth + 1)
    if "bytesValue" in value:
        return str(value["bytesValue"])  # base64, as written: shown, never interpreted
    raise DecodeError(f"unknown AnyValue {sorted(value)}")


def attributes_of(items: Iterable[Mapping[str, Any]] | None, depth: int = 0) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    shallow = depth <= MAX_VALUE_DEPTH  # deeper, any_value refuses even a string
    for item in items or ():
        value = item.get("value")
        if shallow and type(value) is dict and len(value) == 1 and type(text := value.get("stringValue")) is str:
            attributes[str(item["key"])] = text  # most values: no call at all
        else:
            attributes[str(item["key"])] = any_value(value, depth)
    return attributes


def _nanos(value: Any) -> int:
    """A fixed64 time: `1e400` (infinity once read) or a negative number is no time at all."""
    try:
        number = int(value or 0)
    except OverflowError:
        number = -1
    if not 0 <= number < 1 << 64:
        raise DecodeError(f"a time of {str(value)[:40]} ns is outside the 64-bit range")
    return number


def _hex(value: Any) -> str:
    return str(value or "").lower()


class SpanEvent(NamedTuple):
    time_ns: int
    name: str
    attributes: dict[str, Any]


class Span(NamedTuple):
    """A finished span. Records are tuples: immutable, and built at half a frozen dataclass's cost
    (`logs --json` builds one per record of the directory)."""

    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: int
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    events: tuple[SpanEvent, ...]
    status_code: int
    status_message: str
    service: str | None

    @property
    def failed(self) -> bool:
        return self.status_code == STATUS_ERROR

    @property
    def duration_ms(self) -> float:
        return max(self.end_ns - self.start_ns, 0) / 1e6

    @property
    def step_id(self) -> str | None:
        return self.attributes.get(sc.AIW_STEP_ID)

    @property
    def state(self) -> str | None:
        """The step's or the plan's final state; None for actions, which have no state."""
        return self.attributes.get(sc.AIW_STEP_STATE) or self.attributes.get(sc.AIW_PLAN_STATE)

    @property
    def is_step(self) -> bool:
        return sc.AIW_STEP_STATE in self.attributes

    @property
    def error_type(self) -> str | None:
        value = self.attributes.get(sc.ERROR_TYPE)
        return str(value) if value is not None else None

    def exception(self) -> SpanEvent | None:
        return next((event for event in self.events if event.name == sc.EV_EXCEPTION), None)

    def as_json(self) -> dict[str, Any]:
        return {
            "type": "span",
            "trace_id": self.trace_id,
            "span_id": self.span_id,
            "parent_span_id": self.parent_span_id or None,
            "name": self.name,
            "kind": KIND_NAMES.get(self.kind, str(self.kind)),
            "start": iso_ms(self.start_ns),
            "end": iso_ms(self.end_ns),
            "duration_ms": round(self.duration_ms, 3),
            "status": STATUS_NAMES.get(self.status_code, str(self.status_code)),
            "status_message": self.status_message or None,
            "service": self.service,
            "attributes": self.attributes,
            "events": [{"time": iso_ms(e.time_ns), "name": e.name, "attributes": e.attributes} for e in self.events],
        }


class LogRecord(NamedTuple):
    time_ns: int
    severity_number: int
    severity_text: str
    body: Any
    attributes: dict[str, Any]
    trace_id: str
    span_id: str
    event_name: str
    service: str | None

    @property
    def level(self) -> str:
        return self.severity_text or severity_name(self.severity_number)

    @property
    def component(self) -> str | None:
        return self.attributes.get(sc.AIW_COMPONENT)

    @property
    def step_id(self) -> str | None:
        return self.attributes.get(sc.AIW_LOG_STEP_ID)

    @property
    def message(self) -> str:
        if self.body is None:
            return self.event_name
        return self.body if isinstance(self.body, str) else repr(self.body)

    def as_json(self) -> dict[str, Any]:
        return {
            "type": "log",
            "time": iso_ms(self.time_ns),
            "severity": self.level,
            "severity_number": self.severity_number,
            "body": self.body,
            "event_name": self.event_name or None,
            "trace_id": self.trace_id or None,
            "span_id": self.span_id or None,
            "service": self.service,
            "attributes": self.attributes,
        }


def _span(raw: Mapping[str, Any], service: str | None) -> Span:
    status = raw.get("status") or {}
    return Span(  # by position: a tuple built per record, without matching keywords
        _hex(raw.get("traceId")),
        _hex(raw.get("spanId")),
        _hex(raw.get("parentSpanId")),
        str(raw.get("name", "")),
        int(raw.get("kind", 0)),
        _nanos(raw.get("startTimeUnixNano")),
        _nanos(raw.get("endTimeUnixNano")),
        attributes_of(raw.get("attributes")),
        tuple([  # a list first: tuple() of a generator is slower by half
            SpanEvent(_nanos(e.get("timeUnixNano")), str(e.get("name", "")), attributes_of(e.get("attributes")))
            for e in raw.get("events") or ()
        ]),
        int(status.get("code", 0)),
        str(status.get("message", "")),
        service,
    )


def _log(raw: Mapping[str, Any], service: str | None) -> LogRecord:
    body = raw.get("body")
    return LogRecord(  # by position, as _span
        _nanos(raw.get("timeUnixNano")) or _nanos(raw.get("observedTimeUnixNano")),
        int(raw.get("severityNumber", 0)),
        str(raw.get("severityText", "")),
        # most bodies are strings: taken without a call (any_value reads stringValue first too)
        text if type(body) is dict and type(text := body.get("stringValue")) is str else any_value(body),
        attributes_of(raw.get("attributes")),
        _hex(raw.get("traceId")),
        _hex(raw.get("spanId")),
        str(raw.get("eventName", "")),
        service,
    )


def _service(resource_entry: Mapping[str, Any]) -> str | None:
    value = attributes_of((resource_entry.get("resource") or {}).get("attributes")).get(SERVICE_NAME)
    return str(value) if value is not None else None


#: A test on a log record as it is in the JSON, before it is built (`Selection.raw_log_test`).
RawLogTest = Callable[[Mapping[str, Any]], bool]


def decode(document: Mapping[str, Any], keep_log: RawLogTest | None = None) -> tuple[list[Span], list[LogRecord]]:
    """The spans and log records of one export request; a metrics request holds neither. A log record
    `keep_log` refuses is not built (nor checked)."""
    spans: list[Span] = []
    logs: list[LogRecord] = []
    try:
        if "resourceSpans" in document:
            for entry in document["resourceSpans"] or ():
                service = _service(entry)
                spans += [_span(s, service) for scope in entry.get("scopeSpans") or () for s in scope.get("spans") or ()]
        elif "resourceLogs" in document:
            for entry in document["resourceLogs"] or ():
                service = _service(entry)
                logs += [_log(r, service) for scope in entry.get("scopeLogs") or () for r in scope.get("logRecords") or ()
                         if keep_log is None or keep_log(r)]
        elif "resourceMetrics" not in document:
            raise DecodeError(f"not an OTLP export request (keys: {', '.join(sorted(document)) or 'none'})")
    except DecodeError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise DecodeError(f"malformed OTLP JSON ({type(error).__name__}: {error})") from error
    return spans, logs


def decode_or_warn(where: str, document: Mapping[str, Any], warn: Warn = warn_on_stderr,
                   keep_log: RawLogTest | None = None) -> tuple[list[Span], list[LogRecord]]:
    """`decode`, with a bad request reported against `where` (`file:line`) and read as empty."""
    try:
        return decode(document, keep_log)
    except DecodeError as error:
        warn(f"{where}: {error}; skipped")
        return [], []


def records_by_line(
    file: SignalFile, keep_line: Callable[[bytes], bool] | None = None, warn: Warn = warn_on_stderr,
    keep_log: RawLogTest | None = None,
) -> Iterator[tuple[list[Span], list[LogRecord]]]:
    """The spans and log records of `file`, one export request (line) at a time: memory is one line's.

    `keep_line` sees each raw line first: a line it refuses is skipped before `json.loads`, which
    is how a filter passes over other runs' lines for the price of a substring search; `keep_log`
    each log record as decoded JSON, before it is built."""
    for number, raw in read_lines(file.path, warn, file.start):
        if keep_line is not None and not keep_line(raw):
            if raw[:1] != b"{":
                warn_unless_request(file.path, number, raw, warn)
            continue
        where = f"{file.path}:{number}"
        document = parse_line(where, raw, warn)
        if document is not None:
            decoded = decode_or_warn(where, document, warn, keep_log)
            # Freed before the records are used: the next line's JSON then reuses memory still in
            # the cache instead of fresh memory beside the old tree (a tenth of `logs --json`).
            del document, raw
            yield decoded


def load(files: Iterable[SignalFile], warn: Warn = warn_on_stderr,
         keep_line: Callable[[bytes], bool] | None = None) -> tuple[list[Span], list[LogRecord]]:
    """Every span and log record in `files` (in lines `keep_line` accepts), bad lines skipped with one warning each."""
    spans: list[Span] = []
    logs: list[LogRecord] = []
    for file in files:
        for more_spans, more_logs in records_by_line(file, keep_line, warn):
            spans += more_spans
            logs += more_logs
    return spans, logs
