"""Choosing runs without decoding them all: `logs --runs`, `--last`, `--since`.

The trace ids of a line are found with a regex over its raw bytes; only the lines that hold a plan
span (and, for `--runs`, the AI calls' tokens and cost) are decoded. Nothing is cached beside the
files, so nothing can disagree with them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

from aiw_otel import conventions as sc
from aiw_otel.readback.files import SignalFile, Warn, parse_line, read_lines, warn_on_stderr
from aiw_otel.readback.records import Span, decode_or_warn
from aiw_otel.readback.tree import Usage

_TRACE_IDS = re.compile(rb'"traceId"\s*:\s*"([0-9a-fA-F]{32})"')
_PLAN = sc.AIW_PLAN_STATE.encode()
_USAGE = b"gen_ai.usage."


@dataclass
class RunSummary:
    """One trace as the run list shows it; `start_ns` 0 while its plan span is not written yet (running)."""

    trace_id: str
    seen: int  # order of first appearance in the traces files, oldest first
    start_ns: int = 0
    duration_ms: float | None = None
    plan: str = ""
    outcome: str = "running"
    usage: Usage = field(default_factory=Usage)


def trace_ids(raw: bytes) -> set[str]:
    return {match.decode().lower() for match in _TRACE_IDS.findall(raw)}


def summaries(files: Sequence[SignalFile], usage: bool = True, warn: Warn = warn_on_stderr) -> list[RunSummary]:
    """The runs in the traces files, newest first (a run still going, having no plan span, counts as newest).

    Only lines holding a plan span are decoded (and, with `usage`, lines with AI calls' token counts)."""
    runs: dict[str, RunSummary] = {}
    for file in files:
        if file.signal not in ("traces", None):
            continue
        for number, raw in read_lines(file.path, warn):
            for trace_id in trace_ids(raw):
                if trace_id not in runs:
                    runs[trace_id] = RunSummary(trace_id, len(runs))
            if _PLAN not in raw and not (usage and _USAGE in raw):
                continue
            where = f"{file.path}:{number}"
            document = parse_line(where, raw, warn)
            for span in decode_or_warn(where, document, warn)[0] if document is not None else ():
                run = runs.setdefault(span.trace_id, RunSummary(span.trace_id, len(runs)))
                if usage and span.attributes.get(sc.GEN_AI_USAGE_INPUT_TOKENS) is not None:
                    run.usage = run.usage + Usage.of_span(span)
                if sc.AIW_PLAN_STATE in span.attributes and not span.parent_span_id:
                    run.start_ns, run.duration_ms = span.start_ns, span.duration_ms
                    run.plan = run_name(span)
                    run.outcome = str(span.state or ("failed" if span.failed else "done"))
    return sorted(runs.values(), key=_newest_first)


def run_name(plan: Span) -> str:
    """A run is named by its plan's name, as the live console's header names it (the plan id is an
    attribute beside it)."""
    return str(plan.attributes.get(sc.GEN_AI_WORKFLOW_NAME) or plan.name.removeprefix(f"{sc.OP_INVOKE_WORKFLOW} "))


def _newest_first(run: RunSummary) -> tuple[int, int, int]:
    running = run.start_ns == 0
    return (0 if running else 1, -run.seen if running else -run.start_ns, -run.seen)


def files_holding(files: Sequence[SignalFile], traces: set[str], warn: Warn = warn_on_stderr) -> list[SignalFile]:
    """The files with at least one line of one of `traces` (a regex pass, no JSON decoding)."""
    held = []
    for file in files:
        if any(trace_ids(raw) & traces for _, raw in read_lines(file.path, warn)):
            held.append(file)
    return held
