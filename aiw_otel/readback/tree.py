"""Spans and log records regrouped into runs: plan -> steps -> actions, each log line under its span.

A span reaches the file only when it ends, so a running (or killed) run has children whose
parent is not there yet: they are kept under a stand-in node for the missing span rather than
dropped, because the newest, unfinished part of a run is exactly what someone tailing it wants.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Sequence

from aiw_otel import conventions as sc
from aiw_otel.model import State
from aiw_otel.readback.records import LogRecord, Span, SpanEvent
from aiw_otel.readback.stream import time_written

FAILED = State.FAILED.value
#: How far past a plan span's end the records of its run may still come, in time-written order:
#: threads stamp a record before queueing it, so two streams may disagree by this much.
SETTLE_NS = 1_000_000_000
#: Log lines shown in the failure panel.
FAILURE_LOG_LINES = 5


@dataclass(frozen=True)
class Usage:
    """Tokens and cost of the AI calls in a subtree: a step's totals, a plan's totals."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None  # None: no call reported a cost (not the same as free)

    def __add__(self, other: Usage) -> Usage:
        costs = [c for c in (self.cost_usd, other.cost_usd) if c is not None]
        return Usage(self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens,
                     sum(costs) if costs else None)

    def __bool__(self) -> bool:
        return bool(self.input_tokens or self.output_tokens or self.cost_usd is not None)

    @classmethod
    def of_span(cls, span: Span) -> Usage:
        attributes = span.attributes
        cost = attributes.get(sc.AIW_AI_COST)
        return cls(int(attributes.get(sc.GEN_AI_USAGE_INPUT_TOKENS) or 0),
                   int(attributes.get(sc.GEN_AI_USAGE_OUTPUT_TOKENS) or 0),
                   float(cost) if isinstance(cost, (int, float)) else None)


@dataclass
class Node:
    """A span and what happened under it; `span` is None for a span that is not in the files."""

    span_id: str
    span: Span | None = None
    children: list[Node] = field(default_factory=list)
    logs: list[LogRecord] = field(default_factory=list)
    usage: Usage = Usage()

    @property
    def missing(self) -> bool:
        return self.span is None

    @property
    def start_ns(self) -> int:
        if self.span is not None:
            return self.span.start_ns
        times = [c.start_ns for c in self.children] + [r.time_ns for r in self.logs]
        return min(times, default=0)

    @property
    def step_id(self) -> str | None:
        """For a missing span, the step its children and log lines say they belong to."""
        if self.span is not None:
            return self.span.step_id
        ids = {c.step_id for c in self.children} | {r.step_id for r in self.logs}
        ids.discard(None)
        return ids.pop() if len(ids) == 1 else None

    @property
    def is_step(self) -> bool:
        return self.span.is_step if self.span is not None else False

    def walk(self) -> Iterator[Node]:
        """This node and all below it, depth first; iterative, as a span chain may be any depth."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def subtree_logs(self) -> list[LogRecord]:
        return sorted((record for node in self.walk() for record in node.logs), key=_log_time)

    def _settle(self) -> None:
        """Order children and log lines by time and total the usage, bottom up (iteratively:
        children before their parent, the reverse of a depth-first walk)."""
        for node in reversed(list(self.walk())):
            node.children.sort(key=lambda n: n.start_ns)
            node.logs.sort(key=_log_time)
            own = Usage.of_span(node.span) if node.span is not None else Usage()
            node.usage = sum((c.usage for c in node.children), own)


def _log_time(record: LogRecord) -> int:
    return record.time_ns


@dataclass
class Run:
    """One trace. `top` is normally just the plan; `logs` are the trace's records tied to no span."""

    trace_id: str
    top: list[Node]
    logs: list[LogRecord]

    @property
    def root(self) -> Node | None:
        return self.top[0] if len(self.top) == 1 else None

    @property
    def start_ns(self) -> int:
        return min([n.start_ns for n in self.top] + [r.time_ns for r in self.logs], default=0)

    def nodes(self) -> Iterator[Node]:
        for node in self.top:
            yield from node.walk()


@dataclass(frozen=True)
class Failure:
    """What to look at first in a failed run."""

    node: Node  # the failing step, or the plan when no step failed
    error_type: str | None
    message: str | None
    cause: Span | None  # innermost_failed(node): the command that exited 1, not the tool call around it
    exception: SpanEvent | None
    last_logs: list[LogRecord]


def build_runs(spans: Iterable[Span], logs: Iterable[LogRecord]) -> list[Run]:
    """Runs oldest first; log records outside any trace come last, as a run with an empty trace id."""
    spans_by_trace: dict[str, list[Span]] = defaultdict(list)
    logs_by_trace: dict[str, list[LogRecord]] = defaultdict(list)
    for span in spans:
        spans_by_trace[span.trace_id].append(span)
    for record in logs:
        logs_by_trace[record.trace_id].append(record)
    traced = [_build_trace(t, spans_by_trace.get(t, []), logs_by_trace.get(t, []))
              for t in set(spans_by_trace) | set(logs_by_trace) if t]
    traced.sort(key=lambda run: run.start_ns)
    untraced = logs_by_trace.get("", [])
    return traced + ([Run("", [], sorted(untraced, key=_log_time))] if untraced else [])


def runs_as_they_end(records: Iterable[Span | LogRecord], settle_ns: int = SETTLE_NS) -> Iterator[Run]:
    """Records in the order they were written (`stream.stream_records`) grouped into runs, each built
    and yielded as soon as the stream is `settle_ns` past the end of its plan span; then the runs that
    never ended (oldest first) and the records outside any run. Memory is the runs in progress (for
    runs one after another, the largest one), never the directory.

    A record of a run that comes after the run was yielded (a writer's clock that far off) starts a
    second part of it, shown after it, rather than being lost."""
    pending: dict[str, tuple[list[Span], list[LogRecord]]] = {}
    ending: list[tuple[int, str]] = []  # (plan end + SETTLE_NS, trace), soonest first
    for record in records:
        written = time_written(record)
        while ending and ending[0][0] < written:
            trace_id = heapq.heappop(ending)[1]
            if trace_id in pending:
                yield _build_trace(trace_id, *pending.pop(trace_id))
        spans, logs = pending.setdefault(record.trace_id, ([], []))
        if isinstance(record, Span):
            spans.append(record)
            if record.trace_id and not record.parent_span_id and sc.AIW_PLAN_STATE in record.attributes:
                heapq.heappush(ending, (record.end_ns + settle_ns, record.trace_id))
        else:
            logs.append(record)
    untraced = pending.pop("", None)
    yield from sorted((_build_trace(t, *parts) for t, parts in pending.items()), key=lambda run: run.start_ns)
    if untraced is not None:
        yield Run("", [], sorted(untraced[1], key=_log_time))


def _build_trace(trace_id: str, spans: Sequence[Span], logs: Sequence[LogRecord]) -> Run:
    nodes: dict[str, Node] = {}
    for span in spans:
        nodes.setdefault(span.span_id, Node(span.span_id, span))  # the same span read twice shows once
    missing: dict[str, Node] = {}

    def node_for(span_id: str) -> Node:
        return nodes.get(span_id) or missing.setdefault(span_id, Node(span_id))

    top: list[Node] = []
    for node in list(nodes.values()):
        parent = node.span.parent_span_id if node.span is not None else ""
        (node_for(parent).children if parent else top).append(node)
    unattached: list[LogRecord] = []
    for record in logs:
        (node_for(record.span_id).logs if record.span_id else unattached).append(record)
    plan = _plan_node(top, missing)
    for stand_in in missing.values():
        if stand_in is not plan:
            (plan.children if plan is not None else top).append(stand_in)
    if plan is not None and plan not in top:
        top.insert(0, plan)
    for node in top:
        node._settle()
    top.sort(key=lambda n: n.start_ns)
    return Run(trace_id, top, sorted(unattached, key=_log_time))


def _plan_node(top: Sequence[Node], missing: dict[str, Node]) -> Node | None:
    """The run's root: its plan span, or while the plan is still open the missing span its start record
    or its steps point at."""
    from aiw_otel.readback.identity import is_start_record

    for node in top:
        if node.span is not None and sc.AIW_PLAN_STATE in node.span.attributes:
            return node
    if len(top) == 1 and not missing:
        return top[0]
    return next((n for n in missing.values() if any(c.is_step for c in n.children) or any(map(is_start_record, n.logs))),
                None)


def failure(run: Run, log_lines: int = FAILURE_LOG_LINES) -> Failure | None:
    """The failing step (the first to fail), else the failed plan; None when nothing failed."""
    steps = [(node, node.span) for node in run.nodes() if node.span is not None and node.span.is_step]
    failed = [pair for pair in steps if pair[1].state == FAILED] or [pair for pair in steps if pair[1].failed]
    root = run.root
    if failed:
        node, span = min(failed, key=lambda pair: pair[1].end_ns)
    elif root is not None and root.span is not None and (root.span.failed or root.span.state == FAILED):
        node, span = root, root.span
    else:
        return None
    cause = innermost_failed(node)
    error_type = span.error_type or (cause.error_type if cause else None)
    message = span.status_message or (cause.status_message if cause else None)
    exception = span.exception() or (cause.exception() if cause else None)
    logs = node.subtree_logs()
    if node.is_step:  # records of the step that are tied to no span of it (bridged ones) count too
        logs = sorted(logs + [r for r in run.logs if r.step_id == span.step_id], key=_log_time)
    return Failure(node, error_type, message, cause, exception, logs[-log_lines:] if log_lines else [])


def innermost_failed(node: Node) -> Span | None:
    """The deepest span under `node` that really failed (the command, not the tool call or step
    around it), the latest started of those as deep; None when nothing under it did.

    A failed AI attempt that announced a retry, or a span the user cancelled, is not the failure: the
    command that failed before the retried attempt is, though the attempt is as deep and ends later."""
    from aiw_otel.present import Outcome
    from aiw_otel.readback.describe import span_outcome  # describe builds on this module

    found: tuple[int, int, Span] | None = None
    stack = [(child, 1) for child in node.children]
    while stack:  # iterative: a span chain may be deeper than Python's recursion limit
        below, depth = stack.pop()
        stack += [(child, depth + 1) for child in below.children]
        span = below.span
        if span is not None and span.failed and span_outcome(span) is Outcome.FAILED:
            if found is None or (depth, span.start_ns) > found[:2]:
                found = (depth, span.start_ns, span)
    return found[2] if found is not None else None
