"""Finished runs for the web page, read from a log directory by the same code as `aiw-otel logs`.

The page shows what the files hold and nothing else: the files went through redaction when they
were written, so every value here is as redacted as the tree `logs` prints. Rotated and `.gz`
backups count like the live files (`find_files`), a bad line costs one warning, never the page.

Everything returned is plain JSON data (times as unix nanoseconds): non-finite floats, which
OTLP/JSON may carry as "NaN" or "Infinity", become those strings, since `JSON.parse` refuses them.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Sequence

from aiw_otel.readback.files import SignalFile, Warn, find_files, warn_on_stderr
from aiw_otel.readback.records import LogRecord, load
from aiw_otel.readback.runs import RunSummary, summaries
from aiw_otel.readback.select import Selection
from aiw_otel.readback.stream import trace_line_filter
from aiw_otel.readback.tree import Node, Run, Usage, build_runs, failure

#: The streams a run's page reads: metrics belong to no span.
SIGNALS = ("traces", "logs")
_HEX = re.compile(r"[0-9a-fA-F]{1,32}")
#: Candidates named when a prefix fits several runs.
_LISTED = 5


class TraceLookupError(LookupError):
    """A trace id (prefix) that names no single run; the message is one line for the user."""


class BadTraceId(TraceLookupError):
    """Not a hex trace id or prefix of one (HTTP: 400)."""


class UnknownTrace(TraceLookupError):
    """No run in the files has a trace id starting so (HTTP: 404)."""


class AmbiguousTrace(TraceLookupError):
    """Several runs start so (HTTP: 400); `candidates` holds their whole ids, newest first."""

    def __init__(self, message: str, candidates: Sequence[str]) -> None:
        super().__init__(message)
        self.candidates = list(candidates)


def _files(log_dir: Path) -> list[SignalFile]:
    """An empty or missing directory is no runs yet, not an error: the page opens before the first run."""
    return find_files([log_dir], SIGNALS) if log_dir.is_dir() else []


def run_list(log_dir: Path, warn: Warn = warn_on_stderr) -> list[dict[str, Any]]:
    """The runs in `log_dir`, newest first (a run still going, its plan span not written yet, first of all,
    with `start` and `duration_s` None)."""
    return [_summary(run) for run in summaries(_files(log_dir), warn=warn)]


def _summary(run: RunSummary) -> dict[str, Any]:
    return {
        "trace_id": run.trace_id,
        "plan": run.plan,
        "outcome": run.outcome,
        "start": run.start_ns or None,
        "duration_s": run.duration_ms / 1000 if run.duration_ms is not None else None,
        **_usage(run.usage),
    }


def _usage(usage: Usage) -> dict[str, Any]:
    return {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens, "cost_usd": usage.cost_usd}


def resolve_trace(files: Sequence[SignalFile], prefix: str, warn: Warn = warn_on_stderr) -> str:
    """The whole trace id of the one run whose id starts with `prefix` (any case)."""
    prefix = prefix.strip()
    if not _HEX.fullmatch(prefix):
        raise BadTraceId(f"{prefix[:40]!r} is not a trace id (1 to 32 hex digits)")
    matching = [run.trace_id for run in summaries(files, usage=False, warn=warn)
                if run.trace_id.startswith(prefix.lower())]
    if not matching:
        raise UnknownTrace(f"no run with a trace id starting {prefix!r} in the log files")
    if len(matching) > 1:
        listed = ", ".join(matching[:_LISTED]) + (f" and {len(matching) - _LISTED} more" if len(matching) > _LISTED else "")
        raise AmbiguousTrace(f"{len(matching)} runs have a trace id starting {prefix!r}: {listed}", matching)
    return matching[0]


def run_detail(log_dir: Path, trace_id_prefix: str, warn: Warn = warn_on_stderr) -> dict[str, Any] | None:
    """One run as a waterfall: its spans in start order (a parent before its children), each with its
    depth, attributes, events and correlated log records; `failure` is the innermost failed span.

    Raises a TraceLookupError (BadTraceId, UnknownTrace, AmbiguousTrace) for a prefix that names no
    single run; None when the run's records vanished between the lookup and the read (rotated away)."""
    files = _files(log_dir)
    trace_id = resolve_trace(files, trace_id_prefix, warn)
    spans, logs = Selection(trace=trace_id).apply(*load(files, warn, keep_line=trace_line_filter(trace_id)))
    run = next((run for run in build_runs(spans, logs) if run.trace_id == trace_id), None)
    if run is None:
        return None
    from aiw_otel.readback.render import step_labels

    labels = step_labels(run)
    order = _depth_first(run)
    rows = [_span_row(node, depth, labels) for node, depth in order]
    rows.sort(key=lambda row: row["start"])  # stable: a child starting with its parent stays after it
    found = failure(run)
    return {
        "trace_id": trace_id,
        "spans": rows,
        "logs": [_log_row(record) for record in run.logs],  # the trace's records tied to no span
        "failure": _innermost_failed(found.node, {id(node): depth for node, depth in order}) if found is not None else None,
        "failed_step": found.node.span_id if found is not None else None,
    }


def _innermost_failed(failing: Node, depths: dict[int, int]) -> str:
    """The deepest failed span under the failing step (the command, not the tool call around it), a
    real failure before an AI attempt that was retried; `depths` by id(node), as nodes are unhashable."""
    from aiw_otel.present import Outcome
    from aiw_otel.readback.describe import span_outcome

    failed = [node for node in failing.walk() if node.span is not None and node.span.failed] or [failing]
    return max(failed, key=lambda node: (node.span is not None and span_outcome(node.span) is Outcome.FAILED,
                                         depths[id(node)], node.start_ns)).span_id


def _depth_first(run: Run) -> list[tuple[Node, int]]:
    order: list[tuple[Node, int]] = []
    stack = [(node, 0) for node in reversed(run.top)]
    while stack:  # iterative: a span chain may be deeper than Python's recursion limit
        node, depth = stack.pop()
        order.append((node, depth))
        stack.extend((child, depth + 1) for child in reversed(node.children))
    return order


def _span_row(node: Node, depth: int, labels: dict[str, str]) -> dict[str, Any]:
    """A span as the page draws it; a span the files lack (its children are there) is a `missing` row."""
    from aiw_otel.readback.describe import span_outcome, span_title

    common = {"span_id": node.span_id, "depth": depth, "logs": [_log_row(record) for record in node.logs],
              **_usage(node.usage)}
    span = node.span
    if span is None:
        return {**common, "missing": True, "parent_span_id": None, "name": "", "title": "", "kind": "",
                "start": node.start_ns, "end": None, "status": "UNSET", "status_message": None, "state": None,
                "outcome": "ok", "attributes": {}, "events": []}
    described = span.as_json()
    return {
        **common,
        "missing": False,
        "parent_span_id": span.parent_span_id or None,
        "name": span.name,
        "title": span_title(span, labels.get(span.step_id or "")),
        "kind": described["kind"],
        "start": span.start_ns,
        "end": span.end_ns,
        "status": described["status"],
        "status_message": span.status_message or None,
        "state": span.state,
        "outcome": span_outcome(span).value,
        "attributes": json_safe(span.attributes),
        "events": [{"time": event.time_ns, "name": event.name, "attributes": json_safe(event.attributes)}
                   for event in span.events],
    }


def _log_row(record: LogRecord) -> dict[str, Any]:
    return {
        "time": record.time_ns,
        "severity": record.level,
        "component": record.component,
        "message": record.message,
        "attributes": json_safe(record.attributes),
    }


def json_safe(value: Any) -> Any:
    """`value` with every NaN or infinity replaced by its name, which JSON can carry; a dict or list
    of plain values (nearly every one) is returned as it is, uncopied."""
    kind = type(value)
    if kind is float and not math.isfinite(value):
        return str(value).replace("inf", "Infinity").replace("nan", "NaN")
    if kind is dict:
        return value if all(map(_plain, value.values())) else {key: json_safe(item) for key, item in value.items()}
    if kind is list:
        return value if all(map(_plain, value)) else [json_safe(item) for item in value]
    return value


def _plain(value: Any) -> bool:
    """A value JSON carries as it is."""
    kind = type(value)
    return kind is str or kind is int or kind is bool or value is None or (kind is float and math.isfinite(value))
