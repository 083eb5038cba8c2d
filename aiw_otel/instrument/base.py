"""What every instrumented operation shares: its span, its context, its logs and its errors.

Spans are started with the SDK's own exception handling turned off: the SDK would record an
exception event on every span the exception passes through and put "Type: message" in the status.
Here the exception is recorded once, on the innermost span, and every span it leaves gets status
Error, the message as description and `error.type` = the exception class (semconv "recording errors").
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Callable, Mapping

from typing_extensions import Self

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from aiw_otel import conventions as sc
from aiw_otel.config import ContentCapture
from aiw_otel.logs import LogEmitter, log_attributes
from aiw_otel.model import ComponentType, LogLevel, LogMessage, RunCancelled, StateChange
from aiw_otel.processors.open_spans import OpenSpanTracker
from aiw_otel.redaction import Redactor
from aiw_otel.timestamps import utc_timestamp

_RECORDED_MARK = "_aiw_otel_recorded"


@dataclass(frozen=True)
class Instruments:
    """The handles operations need, built once by `configure()`."""

    tracer: Tracer
    emitter: LogEmitter
    tracker: OpenSpanTracker | None
    content_capture: ContentCapture = ContentCapture.NO_CONTENT
    #: Span events per command output stream (the SDK keeps at most 128 events per span).
    max_output_events: int = 50
    #: DEBUG log records per command output stream; beyond this, lines are only counted.
    max_output_log_lines: int = 1000
    #: Characters of one output line kept in its event / log record.
    max_output_line: int = 2000
    #: Where a root operation starts when no span is current: the trace this process was started
    #: in (TRACEPARENT in its environment), so a traced CI job or parent agent sees the run inside it.
    root_context: otel_context.Context | None = None
    #: The pipeline's redactor, for what must be redacted before it is cut or split into records
    #: (command output: a line past `max_output_line`, a private key over several lines); None: off.
    redactor: Redactor | None = None
    #: Told of every plan and step state change, besides the span and log records: a run view
    #: (the console's StateTracker) when the SDK is disabled and there are no records to follow.
    states: Callable[[StateChange], None] | None = None


def error_type_of(error: BaseException) -> str:
    """Fully qualified class name; builtins keep their bare name (`ValueError`)."""
    cls = type(error)
    module = cls.__module__
    return cls.__qualname__ if module in ("builtins", "__main__") else f"{module}.{cls.__qualname__}"


class Operation:
    """A span with context management; subclasses add the attributes and events of their kind."""

    component: ComponentType = ComponentType.RUNNER

    def __init__(
        self,
        instruments: Instruments,
        name: str,
        *,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Mapping[str, Any] | None = None,
        parent: Operation | None = None,
        step_id: str | None = None,
    ) -> None:
        self._instruments = instruments
        self._name = name
        self._kind = kind
        self._parent = parent
        self.step_id: str | None = step_id if step_id is not None else (parent.step_id if parent else None)
        if self.step_id is not None and attributes is not None and sc.AIW_STEP_ID not in attributes:
            # Every span inside a step carries its id, so a backend can select a step's whole subtree.
            attributes = {**attributes, sc.AIW_STEP_ID: self.step_id}
        self._start_attributes = attributes
        self.span: Span = trace.INVALID_SPAN
        #: `trace.set_span_in_context(self.span)`, made once at start: every log record, child
        #: operation and `with` block of this operation needs it, and a Context never changes.
        self._span_ctx: otel_context.Context | None = None
        self._token: object | None = None
        self._ended = False
        self._start_ns = 0

    # -- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> Self:
        self.start()
        self._token = otel_context.attach(self._span_context())
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc is not None and not isinstance(exc, RunCancelled):
                self._on_error(exc)
            self._on_exit(exc)
        finally:
            self.end()
            if self._token is not None:
                otel_context.detach(self._token)  # type: ignore[arg-type]
                self._token = None

    def start(self) -> None:
        """Start the span under the parent operation (explicitly, so any thread may call this)."""
        if self._parent is not None:
            parent_context = self._parent._span_context()
        elif trace.get_current_span().get_span_context().is_valid:
            parent_context = None  # the caller's own span
        else:
            parent_context = self._instruments.root_context
        self._start_ns = time.time_ns()
        self.span = self._instruments.tracer.start_span(
            self._name,
            context=parent_context,
            kind=self._kind,
            attributes=self._start_attributes,
            start_time=self._start_ns,
            record_exception=False,
            set_status_on_exception=False,
        )
        self._span_ctx = None
        tracker = self._instruments.tracker
        if tracker is not None and self.span.is_recording():
            tracker.set_interrupt_hook(self.span, self._interrupt)  # type: ignore[arg-type]
        self._on_start()

    def _span_context(self) -> otel_context.Context:
        context = self._span_ctx
        if context is None:
            context = self._span_ctx = trace.set_span_in_context(self.span)
        return context

    def end(self) -> None:
        if not self._ended:
            self._ended = True
            self.span.end()

    @property
    def elapsed_ms(self) -> float:
        return (time.time_ns() - self._start_ns) / 1e6 if self._start_ns else 0.0

    def _interrupt(self, reason: str) -> None:
        try:
            self._on_interrupt()
        finally:
            self.set_error(sc.ERROR_INTERRUPTED, reason)
            self.end()

    # -- hooks for subclasses -------------------------------------------------------------
    def _on_start(self) -> None:
        """Called once the span exists (log the start, record the first state)."""

    def _on_exit(self, error: BaseException | None) -> None:
        """Called before the span ends, with the exception that is leaving the block, if any."""

    def _on_interrupt(self) -> None:
        """Called at shutdown while the span is still open, before it is ended as interrupted."""

    # -- recording ------------------------------------------------------------------------
    def set_attribute(self, key: str, value: Any) -> None:
        self.span.set_attribute(key, value)

    def add_event(self, name: str, attributes: Mapping[str, Any] | None = None) -> None:
        self.span.add_event(name, attributes)

    def set_error(self, error_type: str, description: str | None = None) -> None:
        """Mark the span failed without an exception (an HTTP 429, a non-zero exit code)."""
        self.span.set_attribute(sc.ERROR_TYPE, error_type)
        self.span.set_status(Status(StatusCode.ERROR, description or error_type))

    def _on_error(self, error: BaseException) -> None:
        self.set_error(error_type_of(error), str(error) or None)
        if getattr(error, _RECORDED_MARK, False):
            return
        self.span.add_event(
            sc.EV_EXCEPTION,
            {
                sc.EXCEPTION_TYPE: error_type_of(error),
                sc.EXCEPTION_MESSAGE: str(error),
                sc.EXCEPTION_STACKTRACE: "".join(traceback.format_exception(type(error), error, error.__traceback__)),
            },
        )
        try:
            setattr(error, _RECORDED_MARK, True)
        except AttributeError:  # exceptions with __slots__: recorded again by outer spans, at worst
            pass

    def log(
        self,
        level: LogLevel,
        action: str,
        message: str,
        *,
        component: ComponentType | None = None,
        event_id: str | None = None,
        state_before: str | None = None,
        state_after: str | None = None,
        duration_ms: float | None = None,
        details: dict[str, Any] | None = None,
        required: bool = False,
    ) -> None:
        """Emit a LogMessage correlated to this operation's span and carrying its step id; a `required`
        one whatever the component's level (readers depend on it: see PlanRun.__enter__)."""
        emitter = self._instruments.emitter
        component = component or self.component
        if not required and not emitter.enabled(level, component):
            return
        now = time.time_ns()
        if not emitter.mirrors:  # the common case: no LogMessage (nor its timestamp text) is needed
            emitter.emit_record(level, message, log_attributes(component, action, self.step_id, event_id, state_before,
                                                               state_after, duration_ms, details),
                                self._span_context(), now)
            return
        emitter.emit(
            LogMessage(
                level=level,
                component=component,
                action=action,
                message=message,
                step_id=self.step_id,
                event_id=event_id,
                state_before=state_before,
                state_after=state_after,
                duration_ms=duration_ms,
                details=details if details is not None else {},
                timestamp=utc_timestamp(now),
            ),
            context=self._span_context(),
            time_ns=now,
            required=required,
        )
