"""What a reader needs to know about a span or a log line, as (text, style) pieces.

Shared by the Rich tree and the plain `--follow` lines, so both say the same thing in the same
words; only the tree applies the styles. Both print every piece through `terminal_text.safe_line`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Sequence

from aiw_otel import conventions as sc
from aiw_otel.exporters.text_format import span_component
from aiw_otel.present import (
    FAILED_STYLE,
    LEVEL_STYLES,
    OUTCOME_STYLES,
    OUTCOME_WORDS,
    Outcome,
    duration,
    outcome,
    span_label,
    state_style,
)
from aiw_otel.readback.records import LogRecord, Span
from aiw_otel.readback.tree import Usage
from aiw_otel.terminal_text import safe_line

Piece = tuple[str, str]  # (text, Rich style; "" for none)

ERROR_STYLE = FAILED_STYLE


def clock(time_ns: int) -> str:
    """HH:MM:SS.mmm (UTC, like the files): the date is on the run's header line.

    Arithmetic, not datetime: it is called for every line of a tree (UTC has no leap seconds to mind)."""
    if not time_ns:
        return "--:--:--.---"
    seconds, millis = divmod(time_ns // 1_000_000, 1000)
    return f"{_hms(seconds % 86400)}.{millis:03d}"


@lru_cache(maxsize=256)
def _hms(second_of_day: int) -> str:
    """Lines come in time order: most share their second with the line before."""
    minutes, second = divmod(second_of_day, 60)
    hour, minute = divmod(minutes, 60)
    return f"{hour:02d}:{minute:02d}:{second:02d}"


def usage_text(usage: Usage) -> str:
    text = f"tokens {usage.input_tokens} in / {usage.output_tokens} out" if usage.input_tokens or usage.output_tokens else ""
    if usage.cost_usd is not None:
        text = f"{text}  ${usage.cost_usd:.4f}".strip()
    return text


def size(count: Any) -> str:
    number = int(count)
    if number < 10_000:
        return f"{number} B"
    if number < 10_000_000:
        return f"{number / 1024:.1f} KiB"
    return f"{number / 1048576:.1f} MiB"


def error_text(error_type: str | None, message: str | None) -> str:
    """`type: message`, either alone when the other is missing, and the message alone when it already
    names the type as a word (a command's `error.type` is its exit code: `command exited with 3`, not
    `3: command exited with 3`)."""
    if error_type and message and re.search(rf"(?<!\w){re.escape(error_type)}(?!\w)", message):
        return message
    return ": ".join(part for part in (error_type, message) if part)


def span_title(span: Span, label: str | None = None) -> str:
    """A step is shown by `label` (its name, else its id: see stepref) and its type (its span is named
    after the type); a command by its line, everything else by span name (present.span_label)."""
    if span.is_step:
        return f"{label or span.attributes.get(sc.AIW_STEP_NAME) or span.step_id} " \
               f"({span.attributes.get(sc.AIW_STEP_TYPE, span.name)})"
    return span_label(span.name, span.attributes)


def span_outcome(span: Span) -> Outcome:
    return outcome(span.failed, span.attributes, ((e.name, e.attributes) for e in span.events), span.state)


def span_pieces(span: Span, usage: Usage, label: str | None = None) -> list[Piece]:
    """Title, state, duration, then what this kind of span has to say; `usage` is its subtree's total.

    A failed attempt that was retried, or an operation the user cancelled, says so in its own
    colour: only what really failed is in red."""
    attributes = span.attributes
    pieces: list[Piece] = [(span_title(span, label), "bold" if span.is_step or sc.AIW_PLAN_STATE in attributes else "")]
    if span.state:
        pieces.append((span.state, state_style(span.state)))
    pieces.append((duration(span.duration_ms), "dim"))
    if usage:
        pieces.append((usage_text(usage), "cyan"))
    pieces += [(text, "") for text in _specifics(attributes)]
    if span.failed:
        verdict = span_outcome(span)
        pieces.append((f"{OUTCOME_WORDS[verdict] or 'error'} {error_text(span.error_type, span.status_message) or 'unknown'}",
                       OUTCOME_STYLES[verdict] or ERROR_STYLE))
    return pieces


def _specifics(attributes: dict[str, Any]) -> list[str]:
    shown = []
    attempt = attributes.get(sc.AIW_AI_ATTEMPT)
    if attempt and int(attempt) > 1:
        shown.append(f"attempt {attempt}")
    if sc.GEN_AI_RESPONSE_MODEL in attributes:
        shown.append(f"model {attributes[sc.GEN_AI_RESPONSE_MODEL]}")
    if sc.PROCESS_EXIT_CODE in attributes:
        shown.append(f"exit {attributes[sc.PROCESS_EXIT_CODE]}")
    for stream in ("stdout", "stderr"):
        lines = attributes.get(sc.AIW_OUTPUT_LINES.format(stream=stream))
        if lines:
            shown.append(f"{stream} {lines} line{'s' if lines != 1 else ''}")
    if sc.FILE_PATH in attributes:
        shown.append(str(attributes[sc.FILE_PATH]))
    for key, verb in ((sc.AIW_FILE_BYTES_READ, "read"), (sc.AIW_FILE_BYTES_WRITTEN, "written")):
        if key in attributes:
            shown.append(f"{size(attributes[key])} {verb}")
    if sc.AIW_SKIP_REASON in attributes:
        shown.append(f"skipped: {attributes[sc.AIW_SKIP_REASON]}")
    return shown


def log_pieces(record: LogRecord, *, with_step: bool = False) -> list[Piece]:
    """Time, level, [component(:step)], message; the step only when the line is not shown under it."""
    where = record.component or "-"
    if with_step:
        where = f"{where}:{record.step_id or '-'}"
    level = record.level
    return [
        (clock(record.time_ns), "dim"),
        (f"{level:<5}", LEVEL_STYLES.get(level, "")),
        (f"[{where}]", "dim"),
        (record.message, LEVEL_STYLES.get(level, "") if level in ("ERROR", "FATAL", "WARN") else ""),
    ]


def plain(pieces: Sequence[Piece], separator: str = "  ") -> str:
    """The pieces as one line, safe for a terminal (the files hold whatever the plan and model wrote)."""
    return safe_line(separator.join([text for text, _ in pieces if text]))


def span_line(span: Span) -> str:
    """One line per finished span for `--follow`, in the same column layout as a log line."""
    where = f"[{span_component(span.attributes)}:{span.step_id or '-'}]"
    level = {Outcome.FAILED: "ERROR", Outcome.RETRIED: "RETRY"}.get(span_outcome(span), "SPAN")
    return plain([(clock(span.end_ns), ""), (f"{level:<5}", ""), (where, "")] + span_pieces(span, Usage.of_span(span)))


def log_line(record: LogRecord) -> str:
    return plain(log_pieces(record, with_step=True))
