"""Reading what the file sink writes: OTLP/JSON files of one export request a line, as plain dicts
(spans, log records, metrics and their data points), and a `warn` callback for aiw_otel.readback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from aiw_otel.logdir import SIGNAL_FILES

#: Per signal: the keys down from an export request to its items (resource -> scope -> items).
LEVELS = {"traces": ("resourceSpans", "scopeSpans", "spans"),
          "logs": ("resourceLogs", "scopeLogs", "logRecords"),
          "metrics": ("resourceMetrics", "scopeMetrics", "metrics")}
#: The data a metric holds its points in, one of these (OTLP's `data` oneof).
POINT_KINDS = ("sum", "gauge", "histogram", "exponentialHistogram", "summary")


def file_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def exports(path: Path) -> list[dict[str, Any]]:
    """Every line of an OTLP/JSON file, parsed (a line that is not JSON fails)."""
    return [json.loads(line) for line in file_lines(path)]


def items(export: dict[str, Any], signal: str) -> Iterator[dict[str, Any]]:
    """The spans, log records or metrics (`signal`: traces, logs, metrics) of one export request."""
    resources, scopes, kind = LEVELS[signal]
    for resource in export.get(resources) or ():
        for scope in resource.get(scopes) or ():
            yield from scope.get(kind) or ()


def items_in(lines: Iterable[str], signal: str) -> list[dict[str, Any]]:
    """`items` of every export request in `lines`, in order."""
    return [item for line in lines for item in items(json.loads(line), signal)]


def spans_in(directory: Path) -> list[dict[str, Any]]:
    """The spans in a log directory's live traces file."""
    return items_in(file_lines(directory / SIGNAL_FILES["traces"]), "traces")


def log_records_in(directory: Path) -> list[dict[str, Any]]:
    """The log records in a log directory's live logs file."""
    return items_in(file_lines(directory / SIGNAL_FILES["logs"]), "logs")


def data_points(metric: dict[str, Any]) -> list[dict[str, Any]]:
    data = next(metric[kind] for kind in POINT_KINDS if kind in metric)
    return data["dataPoints"]


def attrs(item: dict[str, Any]) -> dict[str, Any]:
    """A span's, record's or point's attributes as {key: value}, the value as written (strings stay strings)."""
    return {a["key"]: next(iter(a["value"].values())) for a in item.get("attributes", [])}


def collect_warnings() -> tuple[list[str], Callable[[str], None]]:
    """A list and the `warn` callback that appends to it, for the readback functions that take one."""
    found: list[str] = []
    return found, found.append
