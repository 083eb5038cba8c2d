"""Writing log records to disk: our file sink vs the floor and vs stdlib, per record, in one run.

- floor: a dict of 11 fields, `json.dumps`, a buffered append (the least any JSON-lines writer does);
- stdlib: `logging` with `RotatingFileHandler` and python-json-logger's JsonFormatter (seed 3.2);
- sink: ready OTel log records handed to the file sink (queue, OTLP/JSON encoding, rotating file,
  flush), timed until they are on disk;
- pipeline: the same records emitted as LogMessages through the whole pipeline (levels,
  OTel record, redaction, sink), for information.

Prints µs per record and ratios to the floor (goal: sink <= 2x the floor).

    python benchmarks/bench_files.py [records]
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
import tempfile
import time
from pathlib import Path

from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor, ReadWriteLogRecord
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from pythonjsonlogger.json import JsonFormatter

import aiw_otel
from aiw_otel import LogLevel
from aiw_otel.config import FileSinkConfig, QueueConfig, SinksConfig, TelemetryConfig
from aiw_otel.exporters.file_sink import FileSink
from aiw_otel.health import TelemetryHealth

FIELDS = {
    "level": "INFO",
    "component": "execution_engine",
    "action": "step_execution_started",
    "message": "Starting execution of step 'generate_initial_code'.",
    "step_id": "generate_initial_code_step_001",
    "event_id": "evt-000123",
    "state_before": "Pending",
    "state_after": "Running",
    "duration_ms": 2530.7,
    "trace_id": "5b8efff798038103d269b633813fc60c",
    "span_id": "eee19b7ec3c1b174",
}
QUEUE = QueueConfig(max_size=1 << 20, batch_size=512, schedule_delay_ms=200)


def floor(directory: Path, count: int) -> float:
    start = time.perf_counter()
    with open(directory / "floor.jsonl", "a", buffering=1 << 16) as out:
        for index in range(count):
            record = dict(FIELDS, timestamp=time.time_ns(), seq=index)
            out.write(json.dumps(record, separators=(",", ":")) + "\n")
        out.flush()
    return time.perf_counter() - start


def stdlib(directory: Path, count: int) -> float:
    handler = logging.handlers.RotatingFileHandler(directory / "stdlib.jsonl", maxBytes=10 << 20, backupCount=5)
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger("bench.stdlib")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    extra = {k: v for k, v in FIELDS.items() if k not in ("level", "message")}
    start = time.perf_counter()
    for index in range(count):
        logger.info(FIELDS["message"], extra=dict(extra, seq=index))
    handler.flush()
    elapsed = time.perf_counter() - start
    logger.removeHandler(handler)
    handler.close()
    return elapsed


class _Keep(LogRecordProcessor):
    def __init__(self) -> None:
        self.records: list[ReadWriteLogRecord] = []

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        self.records.append(log_record)

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def ready_records(count: int) -> list[ReadWriteLogRecord]:
    """Real SDK log records (correlated to a span), built before the clock starts."""
    resource = Resource.create({"service.name": "bench"})
    provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
    keep = _Keep()
    provider.add_log_record_processor(keep)
    logger = provider.get_logger("bench")
    span = TracerProvider(resource=resource, shutdown_on_exit=False).get_tracer("bench").start_span("step")
    context = trace.set_span_in_context(span)
    attributes = {f"aiw.{k}": v for k, v in FIELDS.items() if k not in ("level", "message", "trace_id", "span_id")}
    for index in range(count):
        logger.emit(timestamp=time.time_ns(), context=context, severity_number=SeverityNumber.INFO,
                    severity_text="INFO", body=FIELDS["message"], attributes=dict(attributes, seq=index))
    return keep.records


def sink(directory: Path, count: int) -> float:
    records = ready_records(count)
    built = FileSink(FileSinkConfig(directory=str(directory / "sink"), text_log=False)).build(TelemetryHealth(), QUEUE)
    processor = built.log_processor
    start = time.perf_counter()
    for record in records:
        processor.on_emit(record)
    processor.force_flush(60_000)
    elapsed = time.perf_counter() - start
    processor.shutdown()
    return elapsed


def pipeline(directory: Path, count: int) -> float:
    config = TelemetryConfig(queue=QUEUE, sinks=SinksConfig(file=FileSinkConfig(directory=str(directory / "pipe"),
                                                                               text_log=False)))
    telemetry = aiw_otel.configure(config, environ={}, set_global=False, handle_signals=False, stdlib_bridge=False)
    run = telemetry.plan_run("bench", "bench").__enter__()
    step = run.step("generate_initial_code_step_001", "code_generation").__enter__()
    start = time.perf_counter()
    for index in range(count):
        step.log(LogLevel.INFO, "step_execution_started", FIELDS["message"], event_id="evt-000123",
                 state_before="Pending", state_after="Running", duration_ms=2530.7, details={"seq": index})
    telemetry.force_flush(60)
    elapsed = time.perf_counter() - start
    telemetry.shutdown()
    return elapsed


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    cases = {"floor": floor, "stdlib": stdlib, "sink": sink, "pipeline": pipeline}
    best = {name: float("inf") for name in cases}
    for _ in range(5):  # interleaved, best of 5
        for name, case in cases.items():
            with tempfile.TemporaryDirectory() as directory:
                best[name] = min(best[name], case(Path(directory), count))
    floor_us = best["floor"] / count * 1e6
    labels = {
        "floor": "floor (dict + json.dumps + buffered append)",
        "stdlib": "stdlib RotatingFileHandler + JsonFormatter",
        "sink": "aiw-otel file sink (queue + OTLP/JSON + rotating file)",
        "pipeline": "aiw-otel LogMessage through the whole pipeline",
    }
    for name, label in labels.items():
        us = best[name] / count * 1e6
        print(f"{label:<58} {us:7.2f} µs/record  {us / floor_us:5.2f}x floor")
    print(f"goal: sink <= 2x floor -> {'met' if best['sink'] <= 2 * best['floor'] else 'NOT met'}")


if __name__ == "__main__":
    main()
