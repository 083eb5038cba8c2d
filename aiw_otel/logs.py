"""LogMessages and stdlib records become OpenTelemetry log records, correlated to their span.

Two paths meet here. A LogMessage goes straight to the OTel logger (the fast path, no stdlib
record). Records from any stdlib logger reach OTel through opentelemetry-instrumentation-logging's
handler on the root logger. When the user's config file installs stdlib handlers (seed 3.2), each
LogMessage is also mirrored to the stdlib logger `aiw.<component>` so those handlers see it; the
mirrored copy is marked so the bridge does not send it to OTel a second time.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Mapping

from opentelemetry._logs import Logger, SeverityNumber
from opentelemetry.context import Context

from aiw_otel import conventions as sc
from aiw_otel.model import ComponentType, LogLevel, LogMessage

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
    attributes: dict[str, Any] = {detail_attribute(k): v for k, v in (message.details or {}).items()}
    attributes[sc.AIW_COMPONENT] = message.component.value
    attributes[sc.AIW_ACTION] = message.action
    if message.step_id is not None:
        attributes[sc.AIW_LOG_STEP_ID] = message.step_id
    if message.event_id is not None:
        attributes[sc.AIW_EVENT_ID] = message.event_id
    if message.state_before is not None:
        attributes[sc.AIW_STATE_BEFORE] = message.state_before
    if message.state_after is not None:
        attributes[sc.AIW_STATE_AFTER] = message.state_after
    if message.duration_ms is not None:
        attributes[sc.AIW_DURATION_MS] = message.duration_ms
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

    def emit(self, message: LogMessage, context: Context | None = None, time_ns: int | None = None) -> None:
        """Emit one record correlated to the span in `context` (or the current one)."""
        if message.level.number < self._threshold[message.component]:
            return
        severity, text = SEVERITY[message.level]
        self._logger.emit(
            timestamp=time_ns if time_ns is not None else time.time_ns(),
            context=context,
            severity_number=severity,
            severity_text=text,
            body=message.message,
            attributes=message_attributes(message),
        )
        if self._mirror:
            self._mirror_to_stdlib(message)

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


class _BridgeFilter(logging.Filter):
    """Skips mirrored LogMessages (already in OTel) and the SDK's own complaints, tags `aiw.<component>` records.

    An exporter that fails logs about it; bridging that back into the pipeline would feed the
    failing sink more records about its failure. TelemetryHealth reports those failures instead.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, _MIRROR_MARK, False) or record.name.startswith("opentelemetry"):
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
