"""`max_bytes` bounds every file the file sink writes: a batch is split into lines that fit, and a
file rotates before a line would take it past the bound (a batch written as one line made files
ten times bigger than configured)."""

from __future__ import annotations

import gzip
import json

import aiw_otel
from aiw_otel.config import ConsoleSinkConfig, FileSinkConfig, QueueConfig, SinksConfig, TelemetryConfig

MAX_BYTES = 4096  # the smallest the config accepts


def test_no_file_passes_max_bytes_whatever_the_batch(tmp_path):
    logs = tmp_path / "logs"
    config = TelemetryConfig(
        sinks=SinksConfig(console=ConsoleSinkConfig(enabled=False),
                          file=FileSinkConfig(directory=str(logs), max_bytes=MAX_BYTES, backup_count=10_000,
                                              compress=True)),
        # One big batch per export: every record of the run in it.
        queue=QueueConfig(batch_size=4096, schedule_delay_ms=60_000))
    telemetry = aiw_otel.configure(config, environ={}, set_global=False, handle_signals=False, stdlib_bridge=False)
    with telemetry.plan_run("p", "big batches") as run:
        for i in range(200):
            with run.step(f"step-{i}", "t", description="d" * 300) as step:
                step.log(aiw_otel.LogLevel.INFO, "work", "x" * (3 * MAX_BYTES) if i == 7 else "working")
    assert telemetry.shutdown(30)
    files = sorted(logs.iterdir())
    assert len(files) > 10  # it rotated
    spans = 0
    for path in files:
        assert path.stat().st_size <= MAX_BYTES, path
        data = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
        assert len(data) <= MAX_BYTES, path
        if ".otlp.jsonl" in path.name:
            for line in data.decode().splitlines():
                document = json.loads(line)  # whole lines only
                if path.name.startswith("traces"):
                    spans += sum(len(scope["spans"]) for resource in document["resourceSpans"]
                                 for scope in resource["scopeSpans"])
    assert spans == 201  # every span written, none lost to the bound
