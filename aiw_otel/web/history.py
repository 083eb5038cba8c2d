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
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from aiw_otel.readback.files import SignalFile, Warn, find_files, warn_on_stderr
from aiw_otel.readback.records import LogRecord, Span, load
from aiw_otel.readback.identity import of_node
from aiw_otel.readback.runs import RUNNING, RunSummary, summaries
from aiw_otel.readback.select import Selection
from aiw_otel.readback.stream import trace_line_filter
from aiw_otel.readback.tree import Failure, Node, Run, Usage, build_runs, failure

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


def run_list(log_dir: Path, warn: Warn = warn_on_stderr,
             live: Callable[[], Mapping[str, str]] | None = None) -> list[dict[str, Any]]:
    """The runs in `log_dir`, newest first (a run still going, its plan span not written yet, first of all,
    with the time of its first record written as `start` and `duration_s` None; a run killed long ago
    is `interrupted?`, at its first record's time among the others).

    `live`: the live runs, run id -> the Live view's id for it (web.live), asked only when a run is
    going; a run going that is one of them has that id as `live`, for the page to link it to Live."""
    runs = summaries(_files(log_dir), warn=warn)
    going = live() if live is not None and any(run.outcome == RUNNING and run.run_id for run in runs) else {}
    return [_summary(run, going.get(run.run_id) if run.outcome == RUNNING and run.run_id else None) for run in runs]


def _summary(run: RunSummary, live: str | None) -> dict[str, Any]:
    return {
        "trace_id": run.trace_id,
        "plan": run.plan,
        "run_id": run.run_id or None,
        "live": live,
        "outcome": run.outcome,
        "start": run.started_ns or None,
        "last_seen": run.last_ns or None,
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


#: The fields of each row of a run's `spans`, in order: a big run's rows are lists, not objects
#: (10,000 spans: under 1 MB, not 17), and carry only what the waterfall draws; a span's attributes,
#: events and log lines come with `span_detail` when it is opened. `start` and `end` are
#: microseconds after the run's `start_ns` (`end` None for a span the files lack).
ROW_FIELDS = ("span_id", "depth", "label", "start", "end", "outcome", "state")


@dataclass(frozen=True)
class _LoadedRun:
    """One run as read from the files, with what its page and its spans' details are built from."""

    trace_id: str
    run: Run
    order: list[tuple[Node, int]]  # depth first: a parent before its children
    labels: dict[str, str]  # step id -> its label
    by_span: dict[str, tuple[Node, int]]


class _LastRun:
    """The last run read, kept while no file of the directory changed: opening a span of a big run
    (10,000 spans, seconds to read) is then answered from memory, as is opening the run again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[Any, ...] | None = None
        self._loaded: _LoadedRun | None = None

    def get(self, files: Sequence[SignalFile], trace_id_prefix: str, warn: Warn) -> _LoadedRun | None:
        signature = _signature(files)
        with self._lock:
            loaded = self._loaded
            if loaded is not None and self._key == signature and loaded.trace_id == trace_id_prefix.strip().lower():
                return loaded
            if self._key != signature:  # stale: not held while the next run is read (a big run is 100s of MB)
                self._key, self._loaded = None, None
        loaded = _load(files, resolve_trace(files, trace_id_prefix, warn), warn)
        if loaded is not None:
            with self._lock:
                self._key, self._loaded = signature, loaded
        return loaded


def _signature(files: Sequence[SignalFile]) -> tuple[Any, ...]:
    """What changes when a file is written, rotated or replaced."""
    stats = []
    for file in files:
        try:
            stat = file.path.stat()
        except OSError:
            continue
        stats.append((str(file.path), stat.st_ino, stat.st_size, stat.st_mtime_ns))
    return tuple(stats)


_LAST_RUN = _LastRun()


def _load(files: Sequence[SignalFile], trace_id: str, warn: Warn) -> _LoadedRun | None:
    from aiw_otel.readback.render import step_labels

    spans, logs = Selection(trace=trace_id).apply(*load(files, warn, keep_line=trace_line_filter(trace_id)))
    run = next((run for run in build_runs(spans, logs) if run.trace_id == trace_id), None)
    if run is None:
        return None
    order = _depth_first(run)
    order.sort(key=lambda pair: pair[0].start_ns)  # stable: a child starting with its parent stays after it
    return _LoadedRun(trace_id, run, order, step_labels(run), {node.span_id: (node, depth) for node, depth in order})


def run_detail(log_dir: Path, trace_id_prefix: str, warn: Warn = warn_on_stderr) -> dict[str, Any] | None:
    """One run as its waterfall draws it: its spans in start order (a parent before its children) as
    rows of ROW_FIELDS, the run's own figures, its log records tied to no span, and what failed.

    Raises a TraceLookupError (BadTraceId, UnknownTrace, AmbiguousTrace) for a prefix that names no
    single run; None when the run's records vanished between the lookup and the read (rotated away)."""
    loaded = _LAST_RUN.get(_files(log_dir), trace_id_prefix, warn)
    if loaded is None:
        return None
    run, root = loaded.run, (loaded.run.top[0] if loaded.run.top else None)
    base = run.start_ns
    found = failure(run)
    # the plan's name as the console's header and `logs --runs` show it (from the start record while
    # the plan span is not written)
    identity = of_node(root) if root is not None else None
    return {
        "trace_id": loaded.trace_id,
        "plan": identity.plan if identity is not None else "",
        "run_id": (identity.run_id or None) if identity is not None else None,
        "state": _run_state(root),
        "start_ns": base,
        "end_ns": root.span.end_ns if root is not None and root.span is not None else None,
        **_usage(root.usage if root is not None else Usage()),
        "fields": ROW_FIELDS,
        "spans": [_row(node, depth, loaded.labels, base) for node, depth in loaded.order],
        "logs": [_log_row(record) for record in run.logs],  # the trace's records tied to no span
        "failure": _failure(found, loaded) if found is not None else None,
    }


def span_detail(log_dir: Path, trace_id: str, span_id: str, warn: Warn = warn_on_stderr) -> dict[str, Any] | None:
    """One span of a run with its attributes, events and correlated log records; None when the run
    has no such span (or its records are gone). A TraceLookupError as for `run_detail`."""
    loaded = _LAST_RUN.get(_files(log_dir), trace_id, warn)
    found = loaded.by_span.get(span_id.lower()) if loaded is not None else None
    if loaded is None or found is None:
        return None
    return _span_row(*found, loaded.labels)


def _run_state(root: Node | None) -> str:
    if root is None or root.span is None:
        return "running"
    return root.span.state or ("Failed" if root.span.failed else "done")


def _row(node: Node, depth: int, labels: dict[str, str], base: int) -> list[Any]:
    from aiw_otel.readback.describe import span_outcome, span_title

    span = node.span
    if span is None:
        return [node.span_id, depth, "", (node.start_ns - base) // 1000, None, "missing", None]
    return [node.span_id, depth, span_title(span, labels.get(span.step_id or "")), (span.start_ns - base) // 1000,
            (span.end_ns - base) // 1000, span_outcome(span).value, span.state]


def _failure(found: Failure, loaded: _LoadedRun) -> dict[str, Any]:
    """What the failure panel shows: the failing step, the innermost span that really failed under it
    (the step itself when none did), the error, and the step's last log lines."""
    from aiw_otel.readback.describe import error_text, span_title

    step = found.node
    assert step.span is not None  # failure() names a step or plan that is in the files
    cause = found.cause or step.span
    lines = sorted((record for node in step.walk() for record in node.logs), key=lambda record: record.time_ns)

    def title(span: Span) -> str:
        return span_title(span, loaded.labels.get(span.step_id or ""))

    return {"span_id": cause.span_id, "step_id": step.span_id, "title": title(cause), "step_title": title(step.span),
            "error": error_text(cause.error_type, cause.status_message or step.span.status_message),
            "logs": [_log_row(record) for record in lines[-5:]]}


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
