"""Sinks: named destinations that `configure()` wires behind redaction, each independent of the rest.

A sink is either a set of exporters (put behind our bounded queues, one thread per signal) or a
set of processors that want live spans (the console's state tracker). Neither knows the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from opentelemetry.sdk._logs import LogRecordProcessor
from opentelemetry.sdk._logs.export import LogRecordExporter
from opentelemetry.sdk.metrics.export import MetricExporter, MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter

from aiw_otel.config import QueueConfig
from aiw_otel.health import TelemetryHealth
from aiw_otel.processors.queued import QueuedLogSink, QueuedSpanSink


@dataclass(frozen=True)
class BuiltSink:
    """What the providers are given for one sink."""

    name: str
    span_processor: SpanProcessor | None = None
    log_processor: LogRecordProcessor | None = None
    metric_reader: MetricReader | None = None
    #: Where the sink can be reached from outside (a URL), if it listens.
    endpoint: str | None = None


class Sink(Protocol):
    @property
    def name(self) -> str: ...

    def build(self, health: TelemetryHealth, queue: QueueConfig) -> BuiltSink: ...


@dataclass(frozen=True)
class ExporterSink:
    """Standard OTel exporters as a sink: spans and logs go through bounded queues."""

    name: str
    span_exporter: SpanExporter | None = None
    log_exporter: LogRecordExporter | None = None
    metric_exporter: MetricExporter | None = None
    #: None: the SDK default (OTEL_METRIC_EXPORT_INTERVAL, else 60 s).
    metric_interval_ms: int | None = None
    #: This sink's own queue settings; None: the configured `telemetry.queue`.
    queue: QueueConfig | None = None

    def build(self, health: TelemetryHealth, queue: QueueConfig) -> BuiltSink:
        queue = self.queue or queue
        return BuiltSink(
            self.name,
            span_processor=QueuedSpanSink(self.name, self.span_exporter, health, queue) if self.span_exporter else None,
            log_processor=QueuedLogSink(self.name, self.log_exporter, health, queue) if self.log_exporter else None,
            metric_reader=(
                PeriodicExportingMetricReader(
                    self.metric_exporter,
                    export_interval_millis=self.metric_interval_ms,
                    export_timeout_millis=queue.export_timeout_ms,
                )
                if self.metric_exporter
                else None
            ),
        )


@dataclass(frozen=True)
class ProcessorSink:
    """Processors that need live spans or records themselves; they must never block."""

    name: str
    span_processor: SpanProcessor | None = None
    log_processor: LogRecordProcessor | None = None
    metric_reader: MetricReader | None = None

    def build(self, health: TelemetryHealth, queue: QueueConfig) -> BuiltSink:
        return BuiltSink(self.name, self.span_processor, self.log_processor, self.metric_reader)
