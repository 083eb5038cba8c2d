"""Prometheus `/metrics`: OpenTelemetry's Prometheus reader on the one MeterProvider, served by
prometheus-client's HTTP server.

The reader (opentelemetry-exporter-prometheus) does the OTel -> Prometheus translation the
compatibility spec describes (`.` -> `_`, unit suffixes such as `_seconds` and `_bytes`,
`_total` on counters, `target_info` with the resource attributes, `otel_scope_*` labels), so no
name is hand-made here. It feeds a registry of its own, not prometheus-client's global one: the
page shows exactly the run's metrics, and a second `configure()` does not collide with the first.
A port that cannot be bound turns this sink off with one clear report and the run goes on
without it, like any sink that cannot start. `setup` imports this module only when the sink is
configured, so `import aiw_otel` never loads the Prometheus packages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIServer

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from prometheus_client import CollectorRegistry, start_http_server

from aiw_otel.config import PrometheusSinkConfig, QueueConfig
from aiw_otel.health import TelemetryHealth
from aiw_otel.sinks import BuiltSink


class ServedReader(PrometheusMetricReader):
    """The reader and the HTTP server that serves it: they stop together, at provider shutdown."""

    def __init__(self, registry: CollectorRegistry, server: WSGIServer) -> None:
        super().__init__(registry=registry)
        self._server: WSGIServer | None = server

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        """Nothing to push: a scrape collects the current values itself.

        The base class would collect here, and the upstream collector queues every collection
        and yields each one at the next scrape: after a flush (a run starting, `force_flush`,
        shutdown) a page carried `target_info` and every series twice or more, and Prometheus
        rejects such a scrape's duplicates.
        """
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        super().shutdown(timeout_millis, **kwargs)


@dataclass(frozen=True)
class PrometheusSink:
    """Starts listening when built; `BuiltSink.endpoint` is the URL to scrape."""

    config: PrometheusSinkConfig
    name: str = "prometheus"

    def build(self, health: TelemetryHealth, queue: QueueConfig) -> BuiltSink:
        host, port = self.config.host, self.config.port
        registry = CollectorRegistry()
        try:
            server, _thread = start_http_server(port, addr=host, registry=registry)
        except OSError as error:
            health.unavailable(self.name, f"cannot listen on {netloc(host, port)}: {error.strerror or error}")
            return BuiltSink(self.name)
        url = f"http://{netloc(host, server.server_port)}/metrics"
        return BuiltSink(self.name, metric_reader=ServedReader(registry, server), endpoint=url)


def netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
