"""One human-readable line per log record or finished span (seed 3.2's text format).

`timestamp - LEVEL - [component:step] - message`, followed by the few details that matter when
reading a run: state, duration, tokens, exit code, error.

Every line goes through `safe_line`: plan and model text cannot send escape sequences to a terminal
(the plain console, `tail -f` of the text log), and a line break inside a message or a command line
shows as `⏎` instead of forging a new line of the log.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from opentelemetry.trace import StatusCode

if TYPE_CHECKING:  # annotations only: `aiw-otel logs` formats times from here without the SDK
    from opentelemetry.sdk._logs import ReadableLogRecord
    from opentelemetry.sdk.trace import ReadableSpan

from aiw_otel import conventions as sc
from aiw_otel.terminal_text import safe_line

#: Attributes shown after a span line, in this order, when present.
_SPAN_DETAILS = (
    (sc.AIW_STEP_STATE, "state"),
    (sc.AIW_PLAN_STATE, "state"),
    (sc.GEN_AI_USAGE_INPUT_TOKENS, "in"),
    (sc.GEN_AI_USAGE_OUTPUT_TOKENS, "out"),
    (sc.PROCESS_EXIT_CODE, "exit"),
    (sc.AIW_FILE_BYTES_READ, "read"),
    (sc.AIW_FILE_BYTES_WRITTEN, "written"),
    (sc.ERROR_TYPE, "error"),
)
#: Attributes shown after a log line, labelled with the seed's detail names.
_LOG_DETAILS = (
    (sc.PROCESS_EXIT_CODE, "exit_code"),
    (sc.HTTP_RESPONSE_STATUS_CODE, "status_code"),
    (sc.ERROR_TYPE, "error_type"),
    (sc.FILE_PATH, "file_path"),
    (sc.AIW_FILE_BYTES_WRITTEN, "bytes_written"),
)


def iso_ms(time_ns: int | None) -> str:
    if not time_ns:
        return "-"
    return datetime.fromtimestamp(time_ns / 1e9, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


#: The first attribute present decides which seed component a span line is shown under.
_SPAN_COMPONENTS = (
    (sc.AIW_PLAN_STATE, "runner"),
    (sc.AIW_STEP_STATE, "execution_engine"),
    (sc.GEN_AI_OPERATION_NAME, "ai_service"),
    (sc.PROCESS_EXECUTABLE_NAME, "terminal_interaction"),
    (sc.FILE_PATH, "file_operations"),
    (sc.AIW_INTERACTION, "user_interaction"),
)


def span_component(attributes: Mapping[str, Any]) -> str:
    """The seed component a span belongs to, so span and log lines read alike."""
    return next((component for key, component in _SPAN_COMPONENTS if key in attributes), "span")


def _where(component: Any, step: Any) -> str:
    return f"[{component or '-'}:{step or '-'}]"


def _pairs(attributes: Mapping[str, Any], keys: Iterable[tuple[str, str]]) -> str:
    shown = []
    for key, label in keys:
        value = attributes.get(key)
        if value is not None:
            shown.append(f"{label}={value}")
    return " ".join(shown)


def format_log_line(record: ReadableLogRecord) -> str:
    log = record.log_record
    attributes = log.attributes or {}
    level = log.severity_text or "INFO"
    body = log.body if log.body is not None else (log.event_name or "")
    line = f"{iso_ms(log.timestamp or log.observed_timestamp)} - {level:<8} - {_where(attributes.get(sc.AIW_COMPONENT), attributes.get(sc.AIW_LOG_STEP_ID))} - {body}"
    extra = _pairs(attributes, _LOG_DETAILS)
    return safe_line(f"{line} ({extra})" if extra else line)


def format_span_line(span: ReadableSpan) -> str:
    attributes = span.attributes or {}
    duration_ms = ((span.end_time or 0) - (span.start_time or 0)) / 1e6
    failed = span.status.status_code is StatusCode.ERROR
    level = "ERROR" if failed else "SPAN"
    where = _where(span_component(attributes), attributes.get(sc.AIW_STEP_ID))
    line = f"{iso_ms(span.end_time)} - {level:<8} - {where} - {span.name} ({duration_ms:.1f} ms)"
    extra = _pairs(attributes, _SPAN_DETAILS)
    if failed and span.status.description:
        extra = f"{extra} {span.status.description}".strip()
    return safe_line(f"{line} {extra}" if extra else line)
