"""The one processor the providers know: redaction first, then every sink, each one fenced off.

Sinks never see a record before redaction, and a sink that raises is counted and reported by
TelemetryHealth instead of reaching the code that ended the span or emitted the log.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Sequence

from opentelemetry.context import Context
from opentelemetry.sdk._logs import LogRecordProcessor, ReadWriteLogRecord
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import Link, Status

from aiw_otel.health import TelemetryHealth
from aiw_otel.processors.attributes import plain_attributes, span_attributes
from aiw_otel.processors.bounded import each_within
from aiw_otel.processors.limits import cut_attributes
from aiw_otel.redaction import Redactor


class _Fanout:
    """Named sinks behind one redactor; flush and shutdown share one deadline across them."""

    def __init__(self, redactor: Redactor | None, sinks: Sequence[tuple[str, Any]], health: TelemetryHealth,
                 value_limit: int | None = None) -> None:
        self._redactor = redactor
        self._sinks = list(sinks)
        self._health = health
        #: Attribute values are cut to this after redaction (processors/limits.py); None: not cut.
        self._value_limit = value_limit

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return flush_sinks([sink for _, sink in self._sinks], timeout_millis)

    def shutdown(self, timeout_millis: int = 5000) -> None:
        sinks, self._sinks = self._sinks, []
        shutdown_sinks([sink for _, sink in sinks], timeout_millis)


class SpanPipeline(_Fanout, SpanProcessor):
    """Redacts spans (in place at start, as a copy at end) and fans them out to the sinks."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if self._redactor is not None:
            self._redact_live(span)
        for name, sink in self._sinks:
            try:
                sink.on_start(span, parent_context)
            except Exception as error:
                self._health.failed(name, "traces", error)

    def on_end(self, span: ReadableSpan) -> None:
        clean = redacted_span(self._redactor, span) if self._redactor is not None else span
        if self._value_limit is not None:
            clean = limited_span(clean, self._value_limit)
        for name, sink in self._sinks:
            try:
                sink.on_end(clean)
            except Exception as error:
                self._health.failed(name, "traces", error)

    def _redact_live(self, span: Span) -> None:
        """Start attributes are visible to live views (the console), so clean them on the span itself."""
        redactor = self._redactor
        assert redactor is not None
        attributes = span_attributes(span)
        changed = redactor.redact_attributes(attributes)
        if changed is not None:
            span.set_attributes({k: v for k, v in changed.items() if v is not attributes.get(k)})
        name = redactor.redact_text(span.name)
        if name is not span.name:
            span.update_name(name)


def redacted_span(redactor: Redactor, span: ReadableSpan) -> ReadableSpan:
    """The span itself when it holds no secret (the common case), else a redacted copy."""
    attributes = redactor.redact_attributes(span_attributes(span))
    span_events, span_links = span.events, span.links  # properties that copy: read once
    events = _redacted_events(redactor, span_events) if span_events else None
    links = _redacted_links(redactor, span_links) if span_links else None
    name = redactor.redact_text(span.name)
    status = span.status
    if status.description:
        description = redactor.redact_text(status.description)
        if description is not status.description:
            status = Status(status.status_code, description)
    if attributes is None and events is None and links is None and name is span.name and status is span.status:
        return span
    return ReadableSpan(
        name=name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=span.attributes if attributes is None else attributes,
        events=span_events if events is None else events,
        links=span_links if links is None else links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def limited_span(span: ReadableSpan, limit: int) -> ReadableSpan:
    """The span itself when no attribute value is longer than `limit`, else a copy with them cut."""
    attributes = cut_attributes(span_attributes(span), limit)
    span_events, span_links = span.events, span.links
    events: list[Event] | None = None
    for index, event in enumerate(span_events):
        cut = cut_attributes(plain_attributes(event.attributes), limit)
        if cut is not None:
            events = list(span_events) if events is None else events
            events[index] = Event(event.name, cut, event.timestamp)
    links: list[Link] | None = None
    for index, link in enumerate(span_links):
        cut = cut_attributes(link.attributes, limit)
        if cut is not None:
            links = list(span_links) if links is None else links
            links[index] = Link(link.context, cut)
    if attributes is None and events is None and links is None:
        return span
    return ReadableSpan(
        name=span.name, context=span.context, parent=span.parent, resource=span.resource,
        attributes=span.attributes if attributes is None else attributes,
        events=span_events if events is None else events, links=span_links if links is None else links,
        kind=span.kind, status=span.status, start_time=span.start_time, end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def _redacted_events(redactor: Redactor, events: Sequence[Event]) -> list[Event] | None:
    out: list[Event] | None = None
    for index, event in enumerate(events):
        attributes = redactor.redact_attributes(plain_attributes(event.attributes))
        name = redactor.redact_text(event.name)
        if attributes is None and name is event.name:
            continue
        if out is None:
            out = list(events)
        out[index] = Event(name, event.attributes if attributes is None else attributes, event.timestamp)
    return out


def _redacted_links(redactor: Redactor, links: Sequence[Link]) -> list[Link] | None:
    out: list[Link] | None = None
    for index, link in enumerate(links):
        attributes = redactor.redact_attributes(link.attributes)
        if attributes is None:
            continue
        if out is None:
            out = list(links)
        out[index] = Link(link.context, attributes)
    return out


class LogPipeline(_Fanout, LogRecordProcessor):
    """Redacts each log record in place, then hands it to every sink."""

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        if self._redactor is not None:
            redact_log_record(self._redactor, log_record)
        attributes = log_record.log_record.attributes
        if self._value_limit is not None and attributes:
            plain = plain_attributes(attributes)
            cut = cut_attributes(plain, self._value_limit)
            for key, value in (cut or {}).items():
                if value is not plain.get(key):  # write back only what was cut
                    attributes[key] = value  # type: ignore[index]
        for name, sink in self._sinks:
            try:
                sink.on_emit(log_record)
            except Exception as error:
                self._health.failed(name, "logs", error)



def redact_log_record(redactor: Redactor, log_record: ReadWriteLogRecord) -> None:
    record = log_record.log_record
    body = record.body
    if isinstance(body, str):
        record.body = redactor.redact_text(body)
    elif body is not None:
        record.body = redactor.redact_value(None, body)
    attributes = record.attributes
    if attributes:
        plain = plain_attributes(attributes)
        changed = redactor.redact_attributes(plain)
        if changed is not None:
            for key, value in changed.items():
                if value is not plain.get(key):  # write back only what redaction changed
                    attributes[key] = value  # type: ignore[index]


def flush_sinks(sinks: Sequence[Any], timeout_millis: int) -> bool:
    """Flush every sink against one shared deadline; a hung sink is abandoned, not waited for."""
    return each_within([partial(_flush_sink, s) for s in sinks], timeout_millis / 1000)


def shutdown_sinks(sinks: Sequence[Any], timeout_millis: int) -> bool:
    return each_within([partial(_shutdown_sink, s) for s in sinks], timeout_millis / 1000)


# Functions, not `lambda left, s=s: ...`: mypy cannot type a lambda with a default argument.
def _flush_sink(sink: Any, left_s: float) -> object:
    return sink.force_flush(int(left_s * 1000))


def _shutdown_sink(sink: Any, _left_s: float) -> object:
    return sink.shutdown()
