"""A compact OTLP-shaped JSON-lines exporter used on both sides of the pipeline benchmark.

It stands for "a file sink" so both sides pay the same export cost; it is not the project's file
sink (that one comes with the rotating file exporter).
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult


def _attrs(attributes: Any) -> list[dict[str, Any]]:
    return [{"key": k, "value": v if isinstance(v, (str, int, float, bool)) else str(v)} for k, v in (attributes or {}).items()]


class JsonSpanExporter(SpanExporter):
    def __init__(self, path: str) -> None:
        self._file = open(path, "a", buffering=1 << 16)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = []
        for span in spans:
            lines.append(json.dumps({
                "traceId": format(span.context.trace_id, "032x"), "spanId": format(span.context.span_id, "016x"),
                "parentSpanId": format(span.parent.span_id, "016x") if span.parent else "",
                "name": span.name, "kind": span.kind.value, "startTimeUnixNano": str(span.start_time),
                "endTimeUnixNano": str(span.end_time), "attributes": _attrs(span.attributes),
                "events": [{"name": e.name, "timeUnixNano": str(e.timestamp), "attributes": _attrs(e.attributes)} for e in span.events],
                "status": {"code": span.status.status_code.value},
            }, separators=(",", ":")))
        self._file.write("\n".join(lines) + "\n")
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._file.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        self._file.flush()
        return True


class JsonLogExporter(LogRecordExporter):
    def __init__(self, path: str) -> None:
        self._file = open(path, "a", buffering=1 << 16)

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        lines = []
        for item in batch:
            record = item.log_record
            lines.append(json.dumps({
                "timeUnixNano": str(record.timestamp), "severityNumber": record.severity_number.value if record.severity_number else 0,
                "severityText": record.severity_text, "body": record.body, "attributes": _attrs(record.attributes),
                "traceId": format(record.trace_id or 0, "032x"), "spanId": format(record.span_id or 0, "016x"),
            }, separators=(",", ":")))
        self._file.write("\n".join(lines) + "\n")
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        self._file.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        self._file.flush()
        return True
