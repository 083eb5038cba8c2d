"""Shared fixtures: a real pipeline whose sink is the SDK's in-memory exporters."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

import pytest
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import aiw_otel
from aiw_otel.config import TelemetryConfig
from tests.cli_process import run_demo

#: The local OpenAI-compatible server (`fake_openai` fixture) and OTLP receivers (`receiver`, `grpc_receiver`)
#: for every test module, and the real Collector, Jaeger and Prometheus (`collector`, `jaeger`, `prometheus`
#: fixtures) for the stack tests.
pytest_plugins = ["tests.fake_openai", "tests.otlp_receiver", "tests.stack"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A stack test starts real servers: it is slow too, so `-m "not slow"` leaves it out."""
    for item in items:
        if item.get_closest_marker("stack") is not None:
            item.add_marker(pytest.mark.slow)


class Captured:
    """A configured Telemetry plus what its in-memory sink received (flushed on every read)."""

    def __init__(self, telemetry: aiw_otel.Telemetry, spans: InMemorySpanExporter, logs: InMemoryLogRecordExporter):
        self.telemetry = telemetry
        self._spans = spans
        self._logs = logs

    def spans(self) -> list[Any]:
        assert self.telemetry.force_flush(5.0)
        return list(self._spans.get_finished_spans())

    def span(self, name: str) -> Any:
        found = [s for s in self.spans() if s.name == name]
        assert len(found) == 1, f"expected one span {name!r}, got {[s.name for s in self.spans()]}"
        return found[0]

    def logs(self) -> list[Any]:
        assert self.telemetry.force_flush(5.0)
        return [r.log_record for r in self._logs.get_finished_logs()]

    def logs_with(self, action: str) -> list[Any]:
        return [r for r in self.logs() if (r.attributes or {}).get("aiw.action") == action]


@pytest.fixture
def capture() -> Iterator[Any]:
    """Factory: capture(config=None, environ=None, sinks=()) -> Captured; each pipeline is shut down after the test."""
    made: list[aiw_otel.Telemetry] = []

    def make(config: Any = None, environ: dict[str, str] | None = None, sinks: tuple[Any, ...] = ()) -> Captured:
        spans, logs = InMemorySpanExporter(), InMemoryLogRecordExporter()
        telemetry = aiw_otel.configure(
            config or TelemetryConfig(),
            sinks=[aiw_otel.ExporterSink("memory", span_exporter=spans, log_exporter=logs), *sinks],
            environ={"AIW_FILE": "off", **(environ or {})},
            set_global=False,
            handle_signals=False,
        )
        made.append(telemetry)
        return Captured(telemetry, spans, logs)

    yield make
    for telemetry in made:
        telemetry.shutdown(2.0)


@pytest.fixture(scope="session")
def demo_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The log directory of one real `aiw-otel demo` run, shared: the tests given it only read it."""
    directory = tmp_path_factory.mktemp("demo")
    result = run_demo(directory)
    assert result.returncode == 0, result.stderr
    return directory / "logs"


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """A umask that would leave new files world-readable: ours must be 0600 regardless."""
    old = os.umask(0o002)
    try:
        yield
    finally:
        os.umask(old)
