"""The file sink: every run's default destination, readable by people and by the Collector.

Per signal an OTLP/JSON lines file (`traces.otlp.jsonl`, ...), plus the seed's text log, all
rotated and bounded. Each signal has its own queue and writer thread; the writer wakes at least
every `flush_interval_ms` and hands what it wrote to the OS, so a SIGKILL loses at most that
interval, and a normal exit (or SIGTERM / SIGINT, through shutdown) loses nothing finished.
A record the encoder cannot write is left out of its batch and counted as lost in the telemetry
health report, so the rest of the batch still lands and nothing goes missing unsaid.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from aiw_otel.config import FileSinkConfig, QueueConfig
from aiw_otel.exporters.otlp_json import OnSkipped, encode_logs, encode_metrics, encode_spans
from aiw_otel.exporters.otlp_json.lines import MAX_LINE_BYTES
from aiw_otel.exporters.rotating_file import RotatingFile, WriteFailed
from aiw_otel.exporters.text_format import format_log_line
from aiw_otel.health import TelemetryHealth
from aiw_otel.logdir import SIGNAL_FILES, TEXT_LOG
from aiw_otel.logs import SEVERITY
from aiw_otel.sinks import BuiltSink, ExporterSink

#: The text log's "signal" in the health counts: what it loses is counted in lines, not records.
TEXT_LINES = "text"
#: Metrics change slowly; a point every 10 s bounds what a crash loses without bloating the file.
METRIC_INTERVAL_MS = 10_000


class LogDirectoryError(OSError):
    """Writing the log directory failed; the message names the path and the reason.

    A full disk (or quota) is not reported on the spot, batch after batch, but once in the
    end-of-run summary of what each sink lost (`report_at_end`). `lines_written`: lines of the
    batch that landed whole before the failure."""

    def __init__(self, message: str, *, report_at_end: bool = False, lines_written: int = 0) -> None:
        super().__init__(message)
        self.report_at_end = report_at_end
        self.lines_written = lines_written


_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


def _write(file: RotatingFile, lines: Sequence[str]) -> None:
    try:
        file.write_lines(lines)
    except OSError as error:
        raise LogDirectoryError(f"cannot write {file.path}: {error.strerror or error}",
                                report_at_end=error.errno in _DISK_FULL,
                                lines_written=error.lines_written if isinstance(error, WriteFailed) else 0) from error


def counted_as_lost(health: TelemetryHealth, sink: str, signal: str) -> OnSkipped:
    """Counts each record the encoder skipped as a failure of this sink that lost it."""

    def skipped(error: BaseException, lost: int) -> None:
        health.failed(sink, signal, f"left out a record it cannot write ({type(error).__name__}: {error})", lost=lost)

    return skipped


def _cut(line: str, max_bytes: int) -> str:
    """A text log line that fits a file of `max_bytes` with its newline (cut on a character boundary)."""
    if len(line) * 4 < max_bytes:  # no character is longer than 4 bytes in UTF-8: fits without encoding
        return line
    data = line.encode("utf-8", "surrogateescape")
    if len(data) < max_bytes:
        return line
    return data[: max_bytes - 4].decode("utf-8", "ignore") + "…"


class FileSpanExporter(SpanExporter):
    """`max_line_bytes`: no line longer (with its newline), so `max_bytes` bounds every file."""

    def __init__(self, file: RotatingFile, on_skipped: OnSkipped | None = None,
                 max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self._file = file
        self._on_skipped = on_skipped
        self._max_line = max_line_bytes

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        _write(self._file, encode_spans(spans, self._max_line, on_skipped=self._on_skipped))
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._file.close()


class FileLogExporter(LogRecordExporter):
    """OTLP/JSON lines, and the same records as `timestamp - LEVEL - [component:step] - message` text.

    The two files fail apart: a batch the OTLP file lost is still tried in the text log, and text
    lines the text log lost are counted by `on_text_lost` (as lines: the records are in the OTLP
    file, which readback and the Collector read, so they are not counted lost)."""

    def __init__(
        self,
        file: RotatingFile,
        text: RotatingFile | None,
        text_min_severity: int,
        on_skipped: OnSkipped | None = None,
        max_line_bytes: int = MAX_LINE_BYTES,
        *,
        on_text_lost: OnSkipped,
    ) -> None:
        self._file = file
        self._text = text
        self._text_min = text_min_severity
        self._on_skipped = on_skipped
        self._max_line = max_line_bytes
        self._on_text_lost = on_text_lost

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        try:
            _write(self._file, encode_logs(batch, self._max_line, on_skipped=self._on_skipped))
        finally:
            if self._text is not None:
                self._write_text(self._text, batch)
        return LogRecordExportResult.SUCCESS

    def _write_text(self, text: RotatingFile, batch: Sequence[ReadableLogRecord]) -> None:
        lines = [_cut(format_log_line(r), self._max_line) for r in batch if _severity(r) >= self._text_min]
        try:
            _write(text, lines)
        except LogDirectoryError as error:
            self._on_text_lost(error, len(lines) - error.lines_written)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    def shutdown(self) -> None:
        self._file.close()
        if self._text is not None:
            self._text.close()


def _severity(record: ReadableLogRecord) -> int:
    number = record.log_record.severity_number
    return number.value if number is not None else 0


class FileMetricExporter(MetricExporter):
    def __init__(self, file: RotatingFile, on_skipped: OnSkipped | None = None,
                 max_line_bytes: int = MAX_LINE_BYTES) -> None:
        super().__init__()
        self._file = file
        self._on_skipped = on_skipped
        self._max_line = max_line_bytes

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        _write(self._file, encode_metrics(metrics_data, self._max_line, on_skipped=self._on_skipped))
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._file.close()


@dataclass(frozen=True)
class FileSink:
    """Builds the exporters above behind queues that flush every `flush_interval_ms`."""

    config: FileSinkConfig
    name: str = "file"

    def build(self, health: TelemetryHealth, queue: QueueConfig) -> BuiltSink:
        try:
            files = self._open_files()
        except OSError as error:
            # One clear report naming the directory; the run and the other sinks go on without files.
            health.unavailable(self.name, f"cannot write to log directory {self.config.directory!r}: "
                                          f"{error.strerror or error}")
            return BuiltSink(self.name)
        signals = self.config.signals
        text_min = SEVERITY[self.config.text_level][0].value

        # A batch is many lines, none longer than a file may be: a file then rotates before it
        # would pass max_bytes (one line the size of a batch made files ten times bigger).
        line = min(MAX_LINE_BYTES, self.config.max_bytes)

        def lost(signal: str) -> OnSkipped:
            return counted_as_lost(health, self.name, signal)

        return ExporterSink(
            self.name,
            span_exporter=FileSpanExporter(files["traces"], lost("traces"), line) if "traces" in signals else None,
            log_exporter=(
                FileLogExporter(files["logs"], files.get("text"), text_min, lost("logs"), line,
                                on_text_lost=lambda error, count: health.failed(self.name, TEXT_LINES, error, lost=count))
                if "logs" in signals else None
            ),
            metric_exporter=FileMetricExporter(files["metrics"], lost("metrics"), line) if "metrics" in signals else None,
            metric_interval_ms=METRIC_INTERVAL_MS,
            queue=replace(queue, schedule_delay_ms=min(queue.schedule_delay_ms, self.config.flush_interval_ms)),
        ).build(health, queue)

    def _open_files(self) -> dict[str, RotatingFile]:
        directory = Path(self.config.directory)
        names = {signal: SIGNAL_FILES[signal] for signal in self.config.signals}
        if self.config.text_log and "logs" in self.config.signals:
            names["text"] = TEXT_LOG
        return {key: self._rotating(directory / name) for key, name in names.items()}

    def _rotating(self, path: Path) -> RotatingFile:
        return RotatingFile(
            path,
            max_bytes=self.config.max_bytes,
            backup_count=self.config.backup_count,
            rotate_when=self.config.rotate_when,
            compress=self.config.compress,
        )
