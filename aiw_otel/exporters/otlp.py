"""OTLP export to a collector (Jaeger, Tempo, Grafana...), built only when configured.

The exporter packages (and gRPC) are imported here, inside the function, so `import aiw_otel`
stays fast and never loads a transport that is not used.
"""

from __future__ import annotations

from typing import Any

from aiw_otel.config import OtlpSinkConfig
from aiw_otel.sinks import ExporterSink

_HTTP_PATHS = {"traces": "/v1/traces", "logs": "/v1/logs", "metrics": "/v1/metrics"}


def otlp_sink(config: OtlpSinkConfig, name: str = "otlp") -> ExporterSink:
    """An ExporterSink for the signals the config enables, over grpc or http/protobuf."""
    make = _grpc_exporters if config.protocol == "grpc" else _http_exporters
    exporters = make(config)
    return ExporterSink(
        name,
        span_exporter=exporters["traces"] if "traces" in config.signals else None,
        log_exporter=exporters["logs"] if "logs" in config.signals else None,
        metric_exporter=exporters["metrics"] if "metrics" in config.signals else None,
    )


def _common(config: OtlpSinkConfig) -> dict[str, Any]:
    options: dict[str, Any] = {"timeout": config.timeout_s}
    if config.headers:
        options["headers"] = dict(config.headers)
    return options


def _http_exporters(config: OtlpSinkConfig) -> dict[str, Any]:
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    options = _common(config)
    if config.compression:
        options["compression"] = Compression(config.compression)

    def endpoint(signal: str) -> dict[str, Any]:
        if config.endpoint is None:  # the exporter reads OTEL_EXPORTER_OTLP_* itself
            return {}
        return {"endpoint": config.endpoint.rstrip("/") + _HTTP_PATHS[signal]}

    return {
        "traces": OTLPSpanExporter(**options, **endpoint("traces")),
        "logs": OTLPLogExporter(**options, **endpoint("logs")),
        "metrics": OTLPMetricExporter(**options, **endpoint("metrics")),
    }


def _grpc_exporters(config: OtlpSinkConfig) -> dict[str, Any]:
    from grpc import Compression
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    options = _common(config)
    if config.compression:
        options["compression"] = Compression.Gzip if config.compression == "gzip" else Compression.Deflate
    if config.endpoint is not None:
        options["endpoint"] = config.endpoint
        options["insecure"] = config.endpoint.startswith("http://")
    return {
        "traces": OTLPSpanExporter(**options),
        "logs": OTLPLogExporter(**options),
        "metrics": OTLPMetricExporter(**options),
    }
