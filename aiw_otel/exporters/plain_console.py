"""The plain terminal output: a line per finished span and per log record at or above a level.

Used when there is no terminal to draw a live display on (CI, pipes, `--no-console` later) and by
`aiw-otel demo` until the live console lands. Spans and logs share one queue, so lines come out in
the order they happened, and one thread writes them: a slow or closed terminal never holds up the
runner (a write error is a counted sink failure).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Sequence, TextIO

from opentelemetry.context import Context
from opentelemetry.sdk._logs import LogRecordProcessor, ReadWriteLogRecord
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from aiw_otel import conventions as sc
from aiw_otel.config import QueueConfig
from aiw_otel.exporters.text_format import failed_output_lines, format_log_line, format_span_line
from aiw_otel.health import TelemetryHealth
from aiw_otel.logs import SEVERITY
from aiw_otel.model import LogLevel
from aiw_otel.processors.queued import ExportQueue, readable_log_record
from aiw_otel.sinks import BuiltSink
from aiw_otel.stepref import is_long_id


class _LineWriter:
    """Formats a batch of spans and log records and writes it in one call."""

    def __init__(self, stream: TextIO | None, level: LogLevel, step_names: dict[str, str]) -> None:
        self._stream = stream
        self._min_severity = SEVERITY[level][0].value
        self._step_names = step_names

    def __call__(self, batch: Sequence[Any]) -> None:
        lines = []
        for item in batch:
            if isinstance(item, ReadableSpan):
                lines.append(format_span_line(item, self._step_names))
                lines += failed_output_lines(item)
            else:
                severity = item.log_record.severity_number
                if severity is None or severity.value >= self._min_severity:
                    lines.append(format_log_line(item, self._step_names))
        if lines:
            stream = self._stream or sys.stdout
            stream.write("\n".join(lines) + "\n")
            stream.flush()


class _SpanFeed(SpanProcessor):
    def __init__(self, queue: ExportQueue, step_names: dict[str, str], spans: bool) -> None:
        self._queue = queue
        self._step_names = step_names
        self._spans = spans

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """A step's name is learnt when it starts, before any of its lines is queued. A line's
        `[component:step]` is a compact token: the name stands in for an id only where the id is a
        UUID (or as long), a readable id stays."""
        attributes = span.attributes or {}
        name, step_id = attributes.get(sc.AIW_STEP_NAME), attributes.get(sc.AIW_STEP_ID)
        if name and step_id and is_long_id(str(step_id)):
            self._step_names[str(step_id)] = str(name)

    def on_end(self, span: ReadableSpan) -> None:
        if self._spans:
            self._queue.put(span)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._queue.flush(timeout_millis / 1000)

    def shutdown(self) -> None:
        self._queue.shutdown(2.0)


class _LogFeed(LogRecordProcessor):
    def __init__(self, queue: ExportQueue) -> None:
        self._queue = queue

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        self._queue.put(readable_log_record(log_record))

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._queue.flush(timeout_millis / 1000)

    def shutdown(self) -> None:
        self._queue.shutdown(2.0)


@dataclass(frozen=True)
class PlainConsoleSink:
    """Lines on a stream (default: the current sys.stdout) for spans and/or logs."""

    name: str = "console"
    stream: TextIO | None = None
    level: LogLevel = LogLevel.INFO
    spans: bool = True
    logs: bool = True

    def build(self, health: TelemetryHealth, queue: QueueConfig) -> BuiltSink:
        step_names: dict[str, str] = {}  # step id -> name: lines show a step as the console does
        lines = ExportQueue(self.name, "console", _LineWriter(self.stream, self.level, step_names), health, queue)
        return BuiltSink(
            self.name,
            span_processor=_SpanFeed(lines, step_names, self.spans),
            log_processor=_LogFeed(lines) if self.logs else None,
        )
