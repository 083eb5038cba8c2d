"""OTLP/JSON traces and logs requests as protobuf messages, built directly, for `ship` over http/protobuf or gRPC.

protobuf's own JSON parser (json_format.ParseDict) walks every field in Python and made shipping
in protobuf many times slower than reading the lines. The messages are built here with their
constructors instead, for the shapes OTLP/JSON has: any object with a key this does not know, an
enum given by name or a value of another type raises Unknown, and the caller falls back on
ParseDict, so what is sent is always what ParseDict would make (a test compares them).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, cast

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    ArrayValue,
    InstrumentationScope,
    KeyValue,
    KeyValueList,
)
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

if TYPE_CHECKING:
    from google.protobuf.message import Message
    from opentelemetry.proto.logs.v1.logs_pb2 import SeverityNumber


class Unknown(Exception):
    """A shape the direct build does not cover: ParseDict decides."""


def _known(item: Any, keys: frozenset[str]) -> dict[str, Any]:
    if type(item) is not dict or not item.keys() <= keys:
        raise Unknown
    return item


def _int(value: Any) -> int:
    """An integer as JSON writes it: a number, or (64-bit) a string of digits; an enum's name is Unknown."""
    if type(value) is int:
        return value
    if type(value) is str and value.lstrip("-").isdigit():
        return int(value)
    raise Unknown


def _str(value: Any) -> str:
    if type(value) is not str:
        raise Unknown
    return value


def _id(value: Any) -> bytes:
    """OTLP/JSON ids are hex (not base64, as protobuf's JSON mapping has bytes)."""
    try:
        return bytes.fromhex(_str(value))
    except ValueError:
        raise Unknown from None


_ANY_KEYS = frozenset({"stringValue", "boolValue", "intValue", "doubleValue", "arrayValue", "kvlistValue",
                       "bytesValue"})


def _any(value: Any) -> AnyValue:
    item = _known(value, _ANY_KEYS)
    if len(item) != 1:
        raise Unknown  # an empty value (no field set), or two
    (kind, inner), = item.items()
    if kind == "stringValue":
        return AnyValue(string_value=_str(inner))
    if kind == "intValue":
        return AnyValue(int_value=_int(inner))
    if kind == "boolValue" and type(inner) is bool:
        return AnyValue(bool_value=inner)
    if kind == "doubleValue" and type(inner) in (int, float):
        return AnyValue(double_value=inner)
    if kind == "arrayValue":
        return AnyValue(array_value=ArrayValue(values=[_any(v) for v in _known(inner, _VALUES).get("values", ())]))
    if kind == "kvlistValue":
        return AnyValue(kvlist_value=KeyValueList(values=_attributes(_known(inner, _VALUES).get("values", ()))))
    if kind == "bytesValue":
        return AnyValue(bytes_value=base64.b64decode(_str(inner), validate=True))
    raise Unknown  # "NaN" as a string, a bool written otherwise...


_VALUES = frozenset({"values"})
_KEY_VALUE = frozenset({"key", "value"})


def _attributes(items: Iterable[Any]) -> list[KeyValue]:
    pairs = []
    for item in items:
        _known(item, _KEY_VALUE)
        pairs.append(KeyValue(key=_str(item["key"]), value=_any(item["value"])) if "value" in item
                     else KeyValue(key=_str(item["key"])))
    return pairs


_RESOURCE = frozenset({"attributes", "droppedAttributesCount"})
_SCOPE = frozenset({"name", "version", "attributes", "droppedAttributesCount"})


def _resource(item: Any) -> Resource:
    _known(item, _RESOURCE)
    return Resource(attributes=_attributes(item.get("attributes", ())),
                    dropped_attributes_count=_int(item.get("droppedAttributesCount", 0)))


def _resource_of(entry: dict[str, Any]) -> dict[str, Resource]:
    """The `resource` field only when the JSON has one (an empty message set is not an unset one)."""
    return {"resource": _resource(entry["resource"])} if "resource" in entry else {}


def _scope_of(entry: dict[str, Any]) -> dict[str, InstrumentationScope]:
    return {"scope": _scope(entry["scope"])} if "scope" in entry else {}


def _scope(item: Any) -> InstrumentationScope:
    _known(item, _SCOPE)
    return InstrumentationScope(name=_str(item.get("name", "")), version=_str(item.get("version", "")),
                                attributes=_attributes(item.get("attributes", ())),
                                dropped_attributes_count=_int(item.get("droppedAttributesCount", 0)))


_SPAN = frozenset({"traceId", "spanId", "traceState", "parentSpanId", "flags", "name", "kind", "startTimeUnixNano",
                   "endTimeUnixNano", "attributes", "droppedAttributesCount", "events", "droppedEventsCount",
                   "links", "droppedLinksCount", "status"})
_EVENT = frozenset({"timeUnixNano", "name", "attributes", "droppedAttributesCount"})
_LINK = frozenset({"traceId", "spanId", "traceState", "attributes", "droppedAttributesCount", "flags"})
_STATUS = frozenset({"message", "code"})


def _event(item: Any) -> Span.Event:
    _known(item, _EVENT)
    return Span.Event(time_unix_nano=_int(item.get("timeUnixNano", 0)), name=_str(item.get("name", "")),
                      attributes=_attributes(item.get("attributes", ())),
                      dropped_attributes_count=_int(item.get("droppedAttributesCount", 0)))


def _link(item: Any) -> Span.Link:
    _known(item, _LINK)
    return Span.Link(trace_id=_id(item.get("traceId", "")), span_id=_id(item.get("spanId", "")),
                     trace_state=_str(item.get("traceState", "")), attributes=_attributes(item.get("attributes", ())),
                     dropped_attributes_count=_int(item.get("droppedAttributesCount", 0)),
                     flags=_int(item.get("flags", 0)))


def _span(item: Any) -> Span:
    _known(item, _SPAN)
    span = Span(
        trace_id=_id(item.get("traceId", "")), span_id=_id(item.get("spanId", "")),
        trace_state=_str(item.get("traceState", "")), parent_span_id=_id(item.get("parentSpanId", "")),
        flags=_int(item.get("flags", 0)), name=_str(item.get("name", "")), kind=cast("Span.SpanKind.ValueType", _int(item.get("kind", 0))),
        start_time_unix_nano=_int(item.get("startTimeUnixNano", 0)),
        end_time_unix_nano=_int(item.get("endTimeUnixNano", 0)),
        attributes=_attributes(item.get("attributes", ())),
        dropped_attributes_count=_int(item.get("droppedAttributesCount", 0)),
        events=[_event(e) for e in item.get("events", ())],
        dropped_events_count=_int(item.get("droppedEventsCount", 0)),
        links=[_link(link) for link in item.get("links", ())],
        dropped_links_count=_int(item.get("droppedLinksCount", 0)),
    )
    if "status" in item:  # present even when empty, as ParseDict has it
        status = _known(item["status"], _STATUS)
        span.status.CopyFrom(Status(message=_str(status.get("message", "")), code=cast("Status.StatusCode.ValueType", _int(status.get("code", 0)))))
    return span


_LOG = frozenset({"timeUnixNano", "observedTimeUnixNano", "severityNumber", "severityText", "body", "attributes",
                  "droppedAttributesCount", "flags", "traceId", "spanId", "eventName"})
def _log(item: Any) -> LogRecord:
    _known(item, _LOG)
    record = LogRecord(
        time_unix_nano=_int(item.get("timeUnixNano", 0)), observed_time_unix_nano=_int(item.get("observedTimeUnixNano", 0)),
        severity_number=cast("SeverityNumber.ValueType", _int(item.get("severityNumber", 0))), severity_text=_str(item.get("severityText", "")),
        attributes=_attributes(item.get("attributes", ())),
        dropped_attributes_count=_int(item.get("droppedAttributesCount", 0)), flags=_int(item.get("flags", 0)),
        trace_id=_id(item.get("traceId", "")), span_id=_id(item.get("spanId", "")),
        event_name=_str(item.get("eventName", "")),
    )
    if "body" in item:
        record.body.CopyFrom(_any(item["body"]))
    return record


@dataclass(frozen=True)
class _Shape:
    """How one signal nests its items: request -> resources -> scopes -> items, in JSON and in protobuf."""

    resources: tuple[str, str]  # (JSON key, protobuf field)
    scopes: tuple[str, str]
    items: tuple[str, str]
    request: type[Message]
    resource: type[Message]
    scope: type[Message]
    item: Callable[[Any], Message]


def _request(shape: _Shape, document: dict[str, Any]) -> Message:
    (resources_key, resources_field), (scopes_key, scopes_field), (items_key, items_field) = \
        shape.resources, shape.scopes, shape.items
    _known(document, frozenset({resources_key}))
    entry_keys = frozenset({"resource", scopes_key, "schemaUrl"})
    scope_keys = frozenset({"scope", items_key, "schemaUrl"})
    resources = []
    for entry in document[resources_key]:
        _known(entry, entry_keys)
        scopes = [shape.scope(**{items_field: [shape.item(item) for item in _known(scope, scope_keys).get(items_key, ())]},
                              schema_url=_str(scope.get("schemaUrl", "")), **_scope_of(scope))
                  for scope in entry.get(scopes_key, ())]
        resources.append(shape.resource(**{scopes_field: scopes}, schema_url=_str(entry.get("schemaUrl", "")),
                                        **_resource_of(entry)))
    return shape.request(**{resources_field: resources})


_TRACES = _Shape(("resourceSpans", "resource_spans"), ("scopeSpans", "scope_spans"), ("spans", "spans"),
                 ExportTraceServiceRequest, ResourceSpans, ScopeSpans, _span)
_LOGS = _Shape(("resourceLogs", "resource_logs"), ("scopeLogs", "scope_logs"), ("logRecords", "log_records"),
               ExportLogsServiceRequest, ResourceLogs, ScopeLogs, _log)


def traces_request(document: dict[str, Any]) -> Message:
    return _request(_TRACES, document)


def logs_request(document: dict[str, Any]) -> Message:
    return _request(_LOGS, document)
