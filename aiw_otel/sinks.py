"""Sinks: named destinations that `configure()` wires behind redaction, each independent of the rest.

A sink is either a set of exporters (put behind our bounded queues, one thread per signal) or a
set of processors that want live spans (the console's state tracker). Neither knows the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

from opentelemetry.sdk._logs import LogRecordProcessor
from opentelemetry.sdk._logs.export import LogRecordExporter
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    MetricReader,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter

from aiw_otel.config import QueueConfig
from aiw_otel.health import TelemetryHealth
from aiw_otel.model import StateChange
from aiw_otel.processors.queued import QueuedLogSink, QueuedSpanSink


@dataclass(frozen=True)
class BuiltSink:
    """What the providers are given for one sink."""

    name: str
    span_processor: SpanProcessor | None = None
    log_processor: LogRecordProcessor | None = None
    metric_reader: MetricReader | None = None
    #: Where the records go (an endpoint URL), named in the end-of-run summary of what was lost.
    destination: str | None = None
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
    #: Where the exporters send (an endpoint URL), for the end-of-run summary.
    destination: str | None = None

    def build(self, health: TelemetryHealth, queue: QueueConfig) -> BuiltSink:
        queue = self.queue or queue
        return BuiltSink(
            self.name,
            span_processor=QueuedSpanSink(self.name, self.span_exporter, health, queue) if self.span_exporter else None,
            log_processor=QueuedLogSink(self.name, self.log_exporter, health, queue) if self.log_exporter else None,
            metric_reader=(
                PeriodicExportingMetricReader(
                    CountedMetricExporter(self.name, self.metric_exporter, health),
                    export_interval_millis=self.metric_interval_ms,
                    export_timeout_millis=queue.export_timeout_ms,
                )
                if self.metric_exporter
                else None
            ),
            destination=self.destination,
        )


class CountedMetricExporter(MetricExporter):
    """A metric exporter whose failures are counted in data points, like the span and log queues'."""

    def __init__(self, name: str, exporter: MetricExporter, health: TelemetryHealth) -> None:
        super().__init__(exporter._preferred_temporality, exporter._preferred_aggregation)
        self._name = name
        self._exporter = exporter
        self._health = health
        self._in_flight = 0
        health.track_pending(name, "metrics", lambda: self._in_flight)

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        points = _points(metrics_data)
        self._in_flight = points
        try:
            result = self._exporter.export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        except Exception as error:  # counted like a reported failure; the reader carries on
            self._health.failed(self._name, "metrics", error, lost=points)
            return MetricExportResult.FAILURE
        finally:
            self._in_flight = 0
        if result is MetricExportResult.FAILURE:
            self._health.failed(self._name, "metrics", f"exporter reported failure for {points} points", lost=points)
        return result

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self._exporter.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._exporter.shutdown(timeout_millis=timeout_millis, **kwargs)


def _points(metrics_data: MetricsData) -> int:
    return sum(
        len(metric.data.data_points)
        for resource in metrics_data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    )


@dataclass(frozen=True)
class ProcessorSink:
    """Processors that need live spans or records themselves; they must never block."""

    name: str
    span_processor: SpanProcessor | None = None
    log_processor: LogRecordProcessor | None = None
    metric_reader: MetricReader | None = None
    #: Told of state changes directly, for when the SDK is disabled and the processors see nothing.
    state_listener: Callable[[StateChange], None] | None = None

    def build(self, health: TelemetryHealth, queue: QueueConfig) -> BuiltSink:
        return BuiltSink(self.name, self.span_processor, self.log_processor, self.metric_reader)
