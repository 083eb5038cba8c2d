"""LogMessages and stdlib records become OpenTelemetry log records, correlated to their span.

Two paths meet here. A LogMessage goes straight to the OTel logger (the fast path, no stdlib
record). Records from any stdlib logger reach OTel through opentelemetry-instrumentation-logging's
handler on the root logger. When the user's config file installs stdlib handlers (seed 3.2), each
LogMessage is also mirrored to the stdlib logger `aiw.<component>` so those handlers see it; the
mirrored copy is marked so the bridge does not send it to OTel a second time.

The handlers the config file installs are the user's, but what reaches them is ours to clean:
`redact_handler` makes each of them see only redacted records (message, `extra` fields,
exception text), mirrored LogMessages and any other logger's records alike.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Mapping

from opentelemetry._logs import Logger, SeverityNumber
from opentelemetry.context import Context

from aiw_otel import conventions as sc
from aiw_otel.model import ComponentType, LogLevel, LogMessage

if TYPE_CHECKING:
    from aiw_otel.redaction import Redactor

SEVERITY: dict[LogLevel, tuple[SeverityNumber, str]] = {
    LogLevel.DEBUG: (SeverityNumber.DEBUG, "DEBUG"),
    LogLevel.INFO: (SeverityNumber.INFO, "INFO"),
    LogLevel.WARNING: (SeverityNumber.WARN, "WARN"),
    LogLevel.ERROR: (SeverityNumber.ERROR, "ERROR"),
    LogLevel.CRITICAL: (SeverityNumber.FATAL, "FATAL"),
}

STDLIB_PREFIX = "aiw."
_MIRROR_MARK = "aiw_mirrored"


def component_logger_name(component: ComponentType) -> str:
    return STDLIB_PREFIX + component.value


def detail_attribute(key: str) -> str:
    """The record attribute of a `details` key: the seed's bare names are ours to namespace, so a
    backend never sees a bare `command` or `exit_code` that collides with someone else's."""
    if "." in key:
        return key
    return sc.LOG_DETAIL_KEYS.get(key, sc.AIW_PREFIX + key)


def message_attributes(message: LogMessage) -> dict[str, Any]:
    """The seed's fields as `aiw.*` attributes, details under their namespaced names (`detail_attribute`)."""
    return log_attributes(message.component, message.action, message.step_id, message.event_id,
                          message.state_before, message.state_after, message.duration_ms, message.details)


def log_attributes(
    component: ComponentType,
    action: str,
    step_id: str | None = None,
    event_id: str | None = None,
    state_before: str | None = None,
    state_after: str | None = None,
    duration_ms: float | None = None,
    details: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """`message_attributes` from the fields themselves, for callers that need no LogMessage."""
    attributes: dict[str, Any] = {detail_attribute(k): v for k, v in details.items()} if details else {}
    attributes[sc.AIW_COMPONENT] = component.value
    attributes[sc.AIW_ACTION] = action
    if step_id is not None:
        attributes[sc.AIW_LOG_STEP_ID] = step_id
    if event_id is not None:
        attributes[sc.AIW_EVENT_ID] = event_id
    if state_before is not None:
        attributes[sc.AIW_STATE_BEFORE] = state_before
    if state_after is not None:
        attributes[sc.AIW_STATE_AFTER] = state_after
    if duration_ms is not None:
        attributes[sc.AIW_DURATION_MS] = duration_ms
    return attributes


class LogEmitter:
    """Applies per-component levels, then emits LogMessages as OTel records (and stdlib mirrors)."""

    def __init__(
        self,
        logger: Logger,
        thresholds: Mapping[ComponentType, LogLevel],
        default: LogLevel = LogLevel.INFO,
        mirror_to_stdlib: bool = False,
    ) -> None:
        self._logger = logger
        self._threshold = {c: thresholds.get(c, default).number for c in ComponentType}
        self._mirror = mirror_to_stdlib

    def enabled(self, level: LogLevel, component: ComponentType) -> bool:
        """Cheap check callers make before building a message they might not need."""
        return level.number >= self._threshold[component]

    @property
    def mirrors(self) -> bool:
        """Whether each LogMessage also goes to a stdlib logger (the config file's handlers)."""
        return self._mirror

    def emit(self, message: LogMessage, context: Context | None = None, time_ns: int | None = None,
             required: bool = False) -> None:
        """Emit one record correlated to the span in `context` (or the current one); a `required` one
        whatever its component's level (a record readers depend on: the run's start)."""
        if not required and message.level.number < self._threshold[message.component]:
            return
        self.emit_record(message.level, message.message, message_attributes(message), context, time_ns)
        if self._mirror:
            self._mirror_to_stdlib(message)

    def emit_record(self, level: LogLevel, body: str, attributes: dict[str, Any], context: Context | None = None,
                    time_ns: int | None = None) -> None:
        """The OTel record of a LogMessage already level-checked, from its body and `log_attributes`;
        nothing is mirrored (a caller that must mirror builds the LogMessage and calls `emit`)."""
        severity, text = SEVERITY[level]
        self._logger.emit(
            timestamp=time_ns if time_ns is not None else time.time_ns(),
            context=context,
            severity_number=severity,
            severity_text=text,
            body=body,
            attributes=attributes,
        )

    def emit_event(
        self,
        name: str,
        attributes: Mapping[str, Any],
        context: Context | None = None,
        severity: SeverityNumber = SeverityNumber.INFO,
    ) -> None:
        """A named log-based event (e.g. the GenAI content event); opt-in, so not level-filtered."""
        self._logger.emit(
            timestamp=time.time_ns(), context=context, severity_number=severity, event_name=name, attributes=dict(attributes)
        )

    def _mirror_to_stdlib(self, message: LogMessage) -> None:
        extra = message.to_dict()
        extra.pop("message")
        extra[_MIRROR_MARK] = True
        logging.getLogger(component_logger_name(message.component)).log(
            message.level.number, message.message, extra=extra
        )


#: Name prefixes of the threads telemetry itself runs: our sink queues, bounded flush/shutdown calls,
#: metric exports and compressors, the SDK's periodic metric reader and batch processors (not the
#: engine's or the control socket's threads: what they log belongs to the run).
TELEMETRY_THREADS = ("aiw-otel-sink-", "aiw-otel-bounded-call", "aiw-otel-metrics-now", "aiw-otel-gzip-",
                     "OtelPeriodicExportingMetricReader", "OtelBatch")


class _BridgeFilter(logging.Filter):
    """Skips mirrored LogMessages (already in OTel) and the SDK's own complaints, tags `aiw.<component>` records.

    An exporter that fails logs about it; bridging that back into the pipeline would feed the
    failing sink more records about its failure. TelemetryHealth reports those failures instead.
    The same holds for what telemetry's own threads log through other libraries (urllib3's
    "Starting new HTTP connection" while an OTLP exporter sends): exporting must not make records.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, _MIRROR_MARK, False) or record.name.startswith("opentelemetry"):
            return False
        if (record.threadName or "").startswith(TELEMETRY_THREADS):
            return False
        name = record.name
        if name.startswith(STDLIB_PREFIX):
            setattr(record, sc.AIW_COMPONENT, name[len(STDLIB_PREFIX):])
        return True


def install_stdlib_bridge(logger_provider: Any) -> logging.Handler:
    """Attach the OTel bridge to the root logger; `remove_stdlib_bridge` undoes it."""
    # Imported here: the instrumentation package loads wrapt and asyncio, which only a configured
    # pipeline needs (not `aiw-otel logs`, which reads severities from this module).
    from opentelemetry.instrumentation.logging.handler import LoggingHandler

    handler = LoggingHandler(level=logging.NOTSET, logger_provider=logger_provider)
    handler.addFilter(_BridgeFilter())
    logging.getLogger().addHandler(handler)
    return handler


def remove_stdlib_bridge(handler: logging.Handler) -> None:
    logging.getLogger().removeHandler(handler)


def apply_component_levels(thresholds: Mapping[ComponentType, LogLevel], default: LogLevel) -> None:
    """The same per-component thresholds for stdlib loggers named `aiw.<component>`."""
    logging.getLogger(STDLIB_PREFIX.rstrip(".")).setLevel(default.number)
    for component in ComponentType:
        level = thresholds.get(component, default)
        logging.getLogger(component_logger_name(component)).setLevel(level.number)


#: Attributes every stdlib LogRecord has; anything else on a record came from `extra=`.
_STANDARD_RECORD_KEYS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
_REDACTING_MARK = "_aiw_otel_redacting"


def redacted_record(record: logging.LogRecord, redactor: Redactor) -> logging.LogRecord:
    """`record` itself when it holds no secret, else a redacted copy (the original is shared with
    the other handlers, the OTel bridge among them, and must stay as it was).

    The message is formatted (`msg % args`) and redacted as one text, every `extra=` field goes
    through the attribute rules (so `extra={"api_key": ...}` loses its value by its name), and an
    exception is kept only as its redacted formatted text (`exc_text`): a handler that renders
    `exc_info` itself (Rich tracebacks) would print the exception's message unredacted.
    """
    changes: dict[str, Any] = {}
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: let the handler report it as it always does
        message = None
    if message is not None:
        clean = redactor.redact_text(message)
        if clean is not message:
            changes.update(msg=clean, args=None)
    for key, value in record.__dict__.items():
        if key not in _STANDARD_RECORD_KEYS and not key.startswith("_"):
            new = redactor.redact_value(key, value)
            if new is not value:
                changes[key] = new
    if record.exc_info and record.exc_info[0] is not None:
        text = record.exc_text or logging.Formatter().formatException(record.exc_info)
        changes.update(exc_info=None, exc_text=redactor.redact_text(text))
    elif record.exc_text:
        clean = redactor.redact_text(record.exc_text)
        if clean is not record.exc_text:
            changes["exc_text"] = clean
    if record.stack_info:
        clean = redactor.redact_text(record.stack_info)
        if clean is not record.stack_info:
            changes["stack_info"] = clean
    if not changes:
        return record
    copy = logging.makeLogRecord(record.__dict__)
    copy.__dict__.update(changes)
    return copy


def redact_handler(handler: logging.Handler, redactor: Redactor) -> None:
    """Make `handler` see only redacted records, whoever logs to it (idempotent).

    Done per instance, around `handle`, rather than with a Filter: before Python 3.12 a filter can
    only change the record in place, and the record is shared with every other handler.
    """
    if getattr(handler, _REDACTING_MARK, False):
        return
    original = handler.handle

    def handle(record: logging.LogRecord) -> Any:
        return original(redacted_record(record, redactor))

    setattr(handler, "handle", handle)
    setattr(handler, _REDACTING_MARK, True)
