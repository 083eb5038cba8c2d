"""The plain terminal output: a line per finished span and per log record at or above a level.

Used when there is no terminal to draw a live display on (CI, pipes, `--no-console` later) and by
`aiw-otel demo` until the live console lands. Spans and logs share one queue, so lines come out in
the order they happened, and one thread writes them: a slow or closed terminal never holds up the
runner (a write error is a counted sink failure).
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from typing import Any, Mapping, Sequence, TextIO

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
from aiw_otel.stepref import StepRef, labels


class _StepLabels:
    """What a line's `[component:step]` calls each step: its label by the rule the console and the
    runner's own messages follow (stepref.labels: its name, else its id, a UUID shortened), over the
    steps started so far. Steps are learnt as their spans start (on the runner's threads), before any
    line of theirs is queued; the labels are made again on the writer's thread, once per batch that
    follows a new step: at most every 500 ms or 512 records (the queue's batches), each ~37 ms for
    5,000 steps. Ids that share their first 8 characters (`a1f0c2d4-0001-...`) may be shown shorter
    until the step they share it with starts: the runner labels over the whole plan, which a sink
    does not see."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._steps: dict[str, StepRef] = {}
        self._shown: Mapping[str, str] = {}
        self._stale = False

    def started(self, step: StepRef) -> None:
        with self._lock:
            if self._steps.get(step.step_id) != step:
                self._steps[step.step_id] = step
                self._stale = True

    def current(self) -> Mapping[str, str]:
        with self._lock:
            if self._stale:
                self._shown, self._stale = labels(self._steps.values()), False
            return self._shown


class _LineWriter:
    """Formats a batch of spans and log records and writes it in one call."""

    def __init__(self, stream: TextIO | None, level: LogLevel, steps: _StepLabels) -> None:
        self._stream = stream
        self._min_severity = SEVERITY[level][0].value
        self._steps = steps

    def __call__(self, batch: Sequence[Any]) -> None:
        lines = []
        shown = self._steps.current()
        for item in batch:
            if isinstance(item, ReadableSpan):
                lines.append(format_span_line(item, shown))
                lines += failed_output_lines(item)
            else:
                severity = item.log_record.severity_number
                if severity is None or severity.value >= self._min_severity:
                    lines.append(format_log_line(item, shown))
        if lines:
            stream = self._stream or sys.stdout
            stream.write("\n".join(lines) + "\n")
            stream.flush()


class _SpanFeed(SpanProcessor):
    def __init__(self, queue: ExportQueue, steps: _StepLabels, spans: bool) -> None:
        self._queue = queue
        self._steps = steps
        self._spans = spans

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """A step is learnt when it starts, before any of its lines is queued."""
        attributes = span.attributes or {}
        step_id = attributes.get(sc.AIW_STEP_ID)
        if step_id and sc.AIW_STEP_STATE in attributes:  # the step's own span, not one inside it
            name = attributes.get(sc.AIW_STEP_NAME)
            self._steps.started(StepRef(str(step_id), str(name) if name else None))

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
        steps = _StepLabels()  # lines show a step as the console does
        lines = ExportQueue(self.name, "console", _LineWriter(self.stream, self.level, steps), health, queue)
        return BuiltSink(
            self.name,
            span_processor=_SpanFeed(lines, steps, self.spans),
            log_processor=_LogFeed(lines) if self.logs else None,
        )
