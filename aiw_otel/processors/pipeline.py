"""The one processor the providers know: redaction first, then every sink, each one fenced off.

Sinks never see a record before redaction, and a sink that raises is counted and reported by
TelemetryHealth instead of reaching the code that ended the span or emitted the log.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Mapping, Sequence

from opentelemetry.context import Context
from opentelemetry.sdk._logs import LogRecordProcessor, ReadWriteLogRecord
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import Link, Status

from aiw_otel.health import TelemetryHealth
from aiw_otel.processors.attributes import plain_attributes, span_attributes, span_events, span_links
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

    def __init__(self, redactor: Redactor | None, sinks: Sequence[tuple[str, Any]], health: TelemetryHealth,
                 value_limit: int | None = None) -> None:
        super().__init__(redactor, sinks, health, value_limit)
        #: The sinks that look at a span's start (an exporter's queue does not): a call saved per span and sink.
        self._starters = [(name, sink) for name, sink in self._sinks if type(sink).on_start is not SpanProcessor.on_start]

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        redactor = self._redactor
        if redactor is not None:
            # Start attributes are visible to live views (the console), so they are cleaned on the span itself.
            attributes = span_attributes(span)
            changed = redactor.redact_attributes(attributes)
            if changed is not None:
                span.set_attributes({k: v for k, v in changed.items() if v is not attributes.get(k)})
            name = span.name
            clean = redactor.redact_text(name)
            if clean is not name:
                span.update_name(clean)
        for name, sink in self._starters:
            try:
                sink.on_start(span, parent_context)
            except Exception as error:
                self._health.failed(name, "traces", error)

    def on_end(self, span: ReadableSpan) -> None:
        if self._redactor is not None or self._value_limit is not None:
            span = cleaned_span(span, self._redactor, self._value_limit)
        for name, sink in self._sinks:
            try:
                sink.on_end(span)
            except Exception as error:
                self._health.failed(name, "traces", error)

    def shutdown(self, timeout_millis: int = 5000) -> None:
        self._starters = []
        super().shutdown(timeout_millis)


def cleaned_attributes(attributes: Mapping[str, Any], redactor: Redactor | None,
                       limit: int | None) -> dict[str, Any] | None:
    """Redacted, then cut to `limit` (in that order: a cut must not hide a secret's end); None
    when neither changed anything (the common case: no copy is made)."""
    changed = redactor.redact_attributes(attributes) if redactor is not None else None
    if limit is not None:
        changed = cut_attributes(attributes if changed is None else changed, limit) or changed
    return changed


def cleaned_span(span: ReadableSpan, redactor: Redactor | None, limit: int | None) -> ReadableSpan:
    """The span itself when it holds no secret and no value over `limit` (the common case), else a
    cleaned copy. The span is read once: its `events` and `links` properties copy on every read."""
    attributes = cleaned_attributes(span_attributes(span), redactor, limit)
    all_events, all_links = span_events(span), span_links(span)
    events = _cleaned_events(all_events, redactor, limit) if all_events else None
    links = _cleaned_links(all_links, redactor, limit) if all_links else None
    name = status = None
    if redactor is not None:
        span_name = span.name
        clean_name = redactor.redact_text(span_name)
        name = clean_name if clean_name is not span_name else None
        span_status = span.status
        description = span_status.description
        if description:
            clean = redactor.redact_text(description)
            status = Status(span_status.status_code, clean) if clean is not description else None
    if attributes is None and events is None and links is None and name is None and status is None:
        return span
    return ReadableSpan(
        name=span.name if name is None else name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=span.attributes if attributes is None else attributes,
        events=all_events if events is None else events,
        links=all_links if links is None else links,
        kind=span.kind,
        status=span.status if status is None else status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def _cleaned_events(events: Sequence[Event], redactor: Redactor | None, limit: int | None) -> list[Event] | None:
    out: list[Event] | None = None
    for index, event in enumerate(events):
        attributes = cleaned_attributes(plain_attributes(event.attributes), redactor, limit)
        name = redactor.redact_text(event.name) if redactor is not None else event.name
        if attributes is None and name is event.name:
            continue
        if out is None:
            out = list(events)
        out[index] = Event(name, event.attributes if attributes is None else attributes, event.timestamp)
    return out


def _cleaned_links(links: Sequence[Link], redactor: Redactor | None, limit: int | None) -> list[Link] | None:
    out: list[Link] | None = None
    for index, link in enumerate(links):
        attributes = cleaned_attributes(plain_attributes(link.attributes), redactor, limit)
        if attributes is None:
            continue
        if out is None:
            out = list(links)
        out[index] = Link(link.context, attributes)
    return out


class LogPipeline(_Fanout, LogRecordProcessor):
    """Cleans each log record in place (redaction, then the length limit), then hands it to every sink."""

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        if self._redactor is not None or self._value_limit is not None:
            clean_log_record(log_record, self._redactor, self._value_limit)
        for name, sink in self._sinks:
            try:
                sink.on_emit(log_record)
            except Exception as error:
                self._health.failed(name, "logs", error)


def clean_log_record(log_record: ReadWriteLogRecord, redactor: Redactor | None, limit: int | None) -> None:
    record = log_record.log_record
    body = record.body
    if redactor is not None:
        if isinstance(body, str):
            record.body = redactor.redact_text(body)
        elif body is not None:
            record.body = redactor.redact_value(None, body)
    attributes = record.attributes
    if attributes:
        plain = plain_attributes(attributes)
        changed = cleaned_attributes(plain, redactor, limit)
        if changed is not None:
            for key, value in changed.items():
                if value is not plain.get(key):  # write back only what changed
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
