"""Sinks behind bounded queues: the caller appends and returns, one thread per sink exports.

Why not the SDK's batch processors: they drop silently when full and give no per-sink count, and
their shutdown waits as long as the exporter takes. Here a full queue drops and counts, an exporter
that raises is counted and reported (rate-limited), and flush/shutdown take a deadline: an exporter
that hangs costs its own thread, never the runner's.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any, Callable, Sequence

from opentelemetry.sdk._logs import LogRecordProcessor, ReadableLogRecord, ReadWriteLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter

from aiw_otel.config import QueueConfig
from aiw_otel.health import TelemetryHealth
from aiw_otel.processors.bounded import call_within

ExportFn = Callable[[Sequence[Any]], Any]


class ExportQueue:
    """A bounded FIFO drained in batches by a daemon thread calling `export`."""

    def __init__(
        self,
        name: str,
        signal: str,
        export: ExportFn,
        health: TelemetryHealth,
        config: QueueConfig = QueueConfig(),
    ) -> None:
        self.name = name
        self.signal = signal
        self._export = export
        self._health = health
        self._max = config.max_size
        self._batch = config.batch_size
        self._delay_s = config.schedule_delay_ms / 1000.0
        self._items: collections.deque[Any] = collections.deque()
        self._wake = threading.Event()
        self._flush_lock = threading.Lock()
        self._flush_waiters: list[threading.Event] = []
        self._stopping = False
        self._in_flight = 0
        health.track_pending(name, signal, self.pending)
        self._thread = threading.Thread(target=self._run, name=f"aiw-otel-sink-{name}-{signal}", daemon=True)
        self._thread.start()

    def pending(self) -> int:
        """Records queued or being sent right now (what a deadline passing now would lose)."""
        return len(self._items) + self._in_flight

    def put(self, item: Any) -> None:
        """Never blocks: a full queue (or a stopped one) drops the item and counts it."""
        items = self._items
        if len(items) >= self._max or self._stopping:
            self._health.dropped(self.name, self.signal)
            return
        items.append(item)
        if len(items) >= self._batch:
            self._wake.set()

    def flush(self, timeout_s: float) -> bool:
        """Wait until everything queued before the call was handed to the exporter."""
        if not self._thread.is_alive():
            return not self._items
        done = threading.Event()
        with self._flush_lock:
            self._flush_waiters.append(done)
        self._wake.set()
        return done.wait(max(timeout_s, 0.0))

    def shutdown(self, timeout_s: float) -> bool:
        """Export what is queued within the deadline, then stop accepting; True if drained."""
        drained = self.flush(timeout_s)
        self._stopping = True
        self._wake.set()
        self._thread.join(max(timeout_s, 0.0) if drained else 0.0)
        return drained

    def _run(self) -> None:
        while True:
            self._wake.wait(self._delay_s)
            self._wake.clear()
            with self._flush_lock:
                waiters, self._flush_waiters = self._flush_waiters, []
            self._drain()
            for waiter in waiters:
                waiter.set()
            if self._stopping:
                self._drain()
                return

    def _drain(self) -> None:
        items = self._items
        while items:
            batch = [items.popleft() for _ in range(min(self._batch, len(items)))]
            self._in_flight = len(batch)
            try:
                result = self._export(batch)
            except Exception as error:  # an exporter bug must not kill the thread
                self._health.failed(self.name, self.signal, error, lost=len(batch))
                continue
            finally:
                self._in_flight = 0
            if getattr(result, "name", "") == "FAILURE":
                self._health.failed(self.name, self.signal, f"exporter reported failure for {len(batch)} records",
                                    lost=len(batch))


class QueuedSpanSink(SpanProcessor):
    """A SpanExporter behind an ExportQueue: ended spans go to the exporter off the caller's thread."""

    def __init__(self, name: str, exporter: SpanExporter, health: TelemetryHealth, config: QueueConfig) -> None:
        self.name = name
        self._exporter = exporter
        self._queue = ExportQueue(name, "traces", exporter.export, health, config)

    def on_end(self, span: ReadableSpan) -> None:
        self._queue.put(span)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._queue.flush(timeout_millis / 1000.0)

    def shutdown(self, timeout_millis: int = 5000) -> None:
        _shutdown_exporter(self._queue, self._exporter, timeout_millis)


class QueuedLogSink(LogRecordProcessor):
    """A LogRecordExporter behind an ExportQueue.

    Records are queued as they come and frozen for the exporter on the queue's thread: nothing
    changes a record once the pipeline has handed it to its sinks (redaction is done by then, the
    SDK's `emit` has returned), so the caller need not pay for the frozen copy.
    """

    def __init__(self, name: str, exporter: LogRecordExporter, health: TelemetryHealth, config: QueueConfig) -> None:
        self.name = name
        self._exporter = exporter
        self._queue = ExportQueue(name, "logs", self._export, health, config)

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        self._queue.put(log_record)

    def _export(self, batch: Sequence[ReadWriteLogRecord]) -> Any:
        return self._exporter.export([readable_log_record(record) for record in batch])

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._queue.flush(timeout_millis / 1000.0)

    def shutdown(self, timeout_millis: int = 5000) -> None:
        _shutdown_exporter(self._queue, self._exporter, timeout_millis)


def readable_log_record(record: ReadWriteLogRecord) -> ReadableLogRecord:
    """Freeze a record for a queue.

    Unlike the SDK's batch processor this keeps the record's context instead of copying the record
    to drop it: the context only lives until the writer's next flush (a second at most), and the
    copy cost as much as a third of the file sink's per-record budget.
    """
    return ReadableLogRecord(
        log_record=record.log_record,
        # Logger.emit() always sets it; the SDK's own processors make the same None check.
        resource=record.resource if record.resource is not None else Resource.create({}),
        instrumentation_scope=record.instrumentation_scope,
        limits=record.limits,
    )


def _shutdown_exporter(queue: ExportQueue, exporter: Any, timeout_millis: int) -> None:
    """Drain within the deadline, then close the exporter with what is left of it."""
    deadline = time.monotonic() + timeout_millis / 1000.0
    queue.shutdown(timeout_millis / 1000.0)
    call_within(exporter.shutdown, deadline - time.monotonic())
