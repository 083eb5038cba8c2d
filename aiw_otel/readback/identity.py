"""What a run is known by (its plan's name and id, its run id): its plan span, else its start record.

A span reaches the files when it ends, so the plan span is the last record a run writes, and a
killed run (SIGKILL, a lost machine) never writes it. The plan's first log record,
`plan_execution_started` (instrument/plan.py), carries the same three from the run's first moment.
Readers take them from the plan span when it is there and from that record only when it is not:
the record is never trusted over the span.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from aiw_otel import conventions as sc
from aiw_otel.readback.records import LogRecord, Span

if TYPE_CHECKING:
    from aiw_otel.readback.tree import Node

#: In the raw line of every start record: lines without it are passed over before they are decoded.
START_MARK = sc.ACTION_PLAN_STARTED.encode()


@dataclass(frozen=True)
class RunIdentity:
    plan: str  # the plan's name, as the live console's header shows it
    plan_id: str
    run_id: str


def run_name(plan: Span) -> str:
    """A run is named by its plan's name, as the live console's header names it (the plan id is an
    attribute beside it)."""
    return str(plan.attributes.get(sc.GEN_AI_WORKFLOW_NAME) or plan.name.removeprefix(f"{sc.OP_INVOKE_WORKFLOW} "))


def of_plan_span(plan: Span) -> RunIdentity:
    attributes = plan.attributes
    return RunIdentity(run_name(plan), str(attributes.get(sc.AIW_PLAN_ID, "")), str(attributes.get(sc.AIW_RUN_ID, "")))


def is_start_record(record: LogRecord) -> bool:
    attributes = record.attributes
    return attributes.get(sc.AIW_ACTION) == sc.ACTION_PLAN_STARTED and sc.AIW_RUN_ID in attributes


def of_start_record(record: LogRecord) -> RunIdentity:
    attributes = record.attributes
    return RunIdentity(str(attributes.get(sc.GEN_AI_WORKFLOW_NAME, "")), str(attributes.get(sc.AIW_PLAN_ID, "")),
                       str(attributes[sc.AIW_RUN_ID]))


def from_records(logs: Iterable[LogRecord]) -> RunIdentity | None:
    """The identity the first start record among `logs` gives; None when there is none."""
    return next((of_start_record(record) for record in logs if is_start_record(record)), None)


def of_node(root: Node) -> RunIdentity | None:
    """A run's identity from its root node: the plan span's, else its start record's (correlated to
    the plan span, so among the stand-in root's log lines); None when neither is in the files."""
    if root.span is not None:
        return of_plan_span(root.span) if sc.AIW_PLAN_STATE in root.span.attributes else None
    return from_records(root.logs)
