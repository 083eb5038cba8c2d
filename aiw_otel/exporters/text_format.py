"""One human-readable line per log record or finished span (seed 3.2's text format).

`timestamp - LEVEL - [component:step] - message`, followed by the few details that matter when
reading a run: state, duration, tokens, exit code, error.

Every line goes through `safe_line`: plan and model text cannot send escape sequences to a terminal
(the plain console, `tail -f` of the text log), and a line break inside a message or a command line
shows as `⏎` instead of forging a new line of the log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping

if TYPE_CHECKING:  # annotations only: `aiw-otel logs` formats times from here without the SDK
    from opentelemetry.sdk._logs import ReadableLogRecord
    from opentelemetry.sdk.trace import ReadableSpan

from aiw_otel import conventions as sc
from aiw_otel.conventions import STATUS_ERROR
from aiw_otel.present import Outcome, duration, outcome, span_label
from aiw_otel.terminal_text import safe_line
from aiw_otel.timestamps import iso_ms

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


def _where(component: Any, step: Any, step_names: Mapping[str, str] | None = None) -> str:
    """`[component:step]`, the step by its label when `step_names` (id -> label) has one."""
    if step and step_names:
        step = step_names.get(str(step), step)
    return f"[{component or '-'}:{step or '-'}]"


def _pairs(attributes: Mapping[str, Any], keys: Iterable[tuple[str, str]]) -> str:
    shown = []
    for key, label in keys:
        value = attributes.get(key)
        if value is not None:
            shown.append(f"{label}={value}")
    return " ".join(shown)


def format_log_line(record: ReadableLogRecord, step_names: Mapping[str, str] | None = None) -> str:
    """`step_names` (step id -> label, stepref.labels): shown instead of ids; the text log file keeps the ids."""
    log = record.log_record
    attributes = log.attributes or {}
    level = log.severity_text or "INFO"
    body = log.body if log.body is not None else (log.event_name or "")
    where = _where(attributes.get(sc.AIW_COMPONENT), attributes.get(sc.AIW_LOG_STEP_ID), step_names)
    line = f"{iso_ms(log.timestamp or log.observed_timestamp)} - {level:<8} - {where} - {body}"
    extra = _pairs(attributes, _LOG_DETAILS)
    return safe_line(f"{line} ({extra})" if extra else line)


#: The level column of a span line by its outcome: only a real failure is an ERROR.
_SPAN_LEVELS = {Outcome.OK: "SPAN", Outcome.FAILED: "ERROR", Outcome.RETRIED: "RETRY", Outcome.CANCELLED: "SPAN"}


def format_span_line(span: ReadableSpan, step_names: Mapping[str, str] | None = None) -> str:
    attributes = span.attributes or {}
    duration_ms = ((span.end_time or 0) - (span.start_time or 0)) / 1e6
    failed = span.status.status_code._value_ == STATUS_ERROR
    verdict = outcome(failed, attributes, ((e.name, e.attributes or {}) for e in span.events),
                      str(attributes.get(sc.AIW_STEP_STATE) or attributes.get(sc.AIW_PLAN_STATE) or ""))
    level = _SPAN_LEVELS[verdict]
    where = _where(span_component(attributes), attributes.get(sc.AIW_STEP_ID), step_names)
    line = f"{iso_ms(span.end_time)} - {level:<8} - {where} - {span_label(span.name, attributes)} ({duration(duration_ms)})"
    extra = _pairs(attributes, _SPAN_DETAILS)
    if failed and span.status.description:
        extra = f"{extra} {span.status.description}".strip()
    return safe_line(f"{line} {extra}" if extra else line)


#: Lines of a failed command's output shown under its span line.
OUTPUT_LINES = 5


def command_output(events: Iterable[tuple[str, Mapping[str, Any]]], count: int = OUTPUT_LINES) -> list[tuple[str, str]]:
    """The last `count` recorded (stream, line) pairs of a command span's `command_output` events."""
    lines = [(str(attributes.get(sc.AIW_COMMAND_STREAM, "")), str(attributes[sc.AIW_COMMAND_OUTPUT_LINE]))
             for name, attributes in events
             if name == sc.EV_COMMAND_OUTPUT and sc.AIW_COMMAND_OUTPUT_LINE in attributes]
    return lines[-count:]


def failed_output_lines(span: ReadableSpan) -> list[str]:
    """Under the line of a command that failed: the last lines it printed, so the reason is seen."""
    if span.status.status_code._value_ != STATUS_ERROR or sc.PROCESS_EXECUTABLE_NAME not in (span.attributes or {}):
        return []
    events = [(event.name, event.attributes or {}) for event in span.events]
    if outcome(True, span.attributes or {}, events) is not Outcome.FAILED:
        return []
    return [safe_line(f"    | {stream}: {line}") for stream, line in command_output(events)]
