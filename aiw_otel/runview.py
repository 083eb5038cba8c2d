"""The live picture of a run that front ends show: plain data, copied out of the state tracker.

The console renders it, the control socket sends it to `aiw-otel watch` as JSON, a future GUI can
do either. Nothing here knows OpenTelemetry.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any, Mapping


@dataclass(frozen=True)
class LogLine:
    time_ns: int
    level: str
    component: str
    message: str
    step_id: str | None = None


#: How a line of a command's stderr starts in `ActionLine.output`.
STDERR_MARK = "stderr: "


@dataclass(frozen=True)
class ActionLine:
    """A sub-action of a step (AI call, tool call, file operation, command), running or finished."""

    span_id: int
    name: str
    kind: str  # "ai", "tool", "file", "command", "other"
    started_ns: int
    ended_ns: int | None = None
    failed: bool = False
    summary: str = ""  # e.g. "in 120 / out 40 tokens", "exit 1", "4 KB written"
    #: `present.Outcome`'s value once it ended: "ok", "failed", "retried" (an AI attempt tried
    #: again) or "cancelled" (stopped by the user); "" while it runs.
    outcome: str = ""
    #: A failed command's last recorded lines of output (stderr ones marked `stderr: `).
    output: tuple[str, ...] = ()


@dataclass(frozen=True)
class CommandOutput:
    """What one command of a step printed, for `output STEP`: fetched on demand, not part of a
    RunView (which goes to every watcher on every change)."""

    name: str
    summary: str = ""
    #: As `ActionLine.outcome`: "" while the command runs.
    outcome: str = ""
    #: The lines recorded (stderr's marked `stderr: `), the newest ones when there were many.
    lines: tuple[str, ...] = ()
    #: Lines the command printed in all, once it ended (None: still running, or not known).
    printed: int | None = None
    #: False: this command's output is no longer held in memory (it is in the telemetry files).
    kept: bool = True


@dataclass(frozen=True)
class StepView:
    step_id: str
    description: str = ""
    step_type: str = ""
    state: str = "Pending"
    started_ns: int | None = None
    ended_ns: int | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    error: str | None = None
    logs: tuple[LogLine, ...] = ()
    actions: tuple[ActionLine, ...] = ()
    #: The step's readable name (AIWhisperer's subtask `name`); "" when the plan gives none.
    name: str = ""


@dataclass(frozen=True)
class RunView:
    plan_name: str = ""
    plan_id: str = ""
    run_id: str = ""
    state: str = "Pending"
    started_ns: int | None = None
    ended_ns: int | None = None
    steps: tuple[StepView, ...] = ()
    #: Log lines that belong to no step (plan-level, stdlib records outside steps).
    general_logs: tuple[LogLine, ...] = ()
    #: Records the sinks dropped because their queues were full.
    dropped: int = 0
    last_message: str = ""
    #: Increases with every change; front ends redraw only when it moved.
    version: int = 0
    control_socket: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def step(self, step_id: str) -> StepView | None:
        return next((s for s in self.steps if s.step_id == step_id), None)

    @cached_property
    def _labels(self) -> Mapping[str, str]:
        from aiw_otel.stepref import StepRef, labels

        return labels(StepRef(s.step_id, s.name or None) for s in self.steps)

    def step_labels(self) -> Mapping[str, str]:
        """step id -> what the step is shown as (its name, else its id, a long id shortened).

        Worked out once per view: the console's panels each ask, on every frame."""
        return self._labels

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for step in self.steps:
            out[step.state] = out.get(step.state, 0) + 1
        return out

    @property
    def input_tokens(self) -> int:
        return sum(s.input_tokens for s in self.steps)

    @property
    def output_tokens(self) -> int:
        return sum(s.output_tokens for s in self.steps)

    @property
    def cost_usd(self) -> float:
        return sum(s.cost_usd for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (for the control socket)."""
        return asdict(self)
