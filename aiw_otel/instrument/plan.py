"""Plan runs and steps: the root and child spans, their states, and the user's interventions.

Every state change is three records at once: the span's state attribute, a `state_change` span
event, and a LogMessage with state_before/state_after. User requests (pause, resume, cancel,
context) are validated against the diagram before anything is applied, so a refused request
changes nothing and leaves a clear record of why.
"""

from __future__ import annotations

import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from typing import Any, Iterable

from typing_extensions import Self

from opentelemetry import trace

from aiw_otel import conventions as sc
from aiw_otel.instrument.base import Instruments, Operation, error_type_of
from aiw_otel.instrument.host import ActionHost
from aiw_otel.instrument.tool import ToolCall
from aiw_otel.model import (
    ComponentType,
    ContextFull,
    InvalidTransition,
    Lifecycle,
    LogLevel,
    RunCancelled,
    State,
    StateChange,
    check_transition,
)

#: Context waiting for the next AI call: items, and their UTF-8 bytes in all.
MAX_PENDING_CONTEXT = 32
MAX_PENDING_CONTEXT_BYTES = 64 * 1024


_VERBS = {
    State.RUNNING: "started",
    State.PAUSED: "paused",
    State.COMPLETED: "succeeded",
    State.FAILED: "failed",
    State.CANCELLED: "cancelled",
    State.SKIPPED: "skipped",
}


class Stateful(Operation):
    """An operation with a Lifecycle whose every change is recorded three ways."""

    entity_kind = "step"
    state_attribute = sc.AIW_STEP_STATE

    def __init__(self, instruments: Instruments, name: str, *, label: str, **kwargs: Any) -> None:
        super().__init__(instruments, name, **kwargs)
        self.label = label
        self.lifecycle = Lifecycle(f"{self.entity_kind} '{label}'")

    @property
    def state(self) -> State:
        return self.lifecycle.state

    def transition(self, requested: State, *, message: str | None = None, details: dict[str, Any] | None = None,
                   required: bool = False) -> State:
        """Move to `requested` (InvalidTransition if the diagram forbids it); returns the state before.
        `required`: its log record is written whatever the component's level (see PlanRun.__enter__)."""
        before = self.lifecycle.move(requested)
        self._record_change(before, requested, message, details, required)
        return before

    def _record_change(self, before: State, after: State, message: str | None, details: dict[str, Any] | None,
                       required: bool = False) -> None:
        self.span.set_attribute(self.state_attribute, after.value)
        self.span.add_event(sc.EV_STATE_CHANGE, {sc.AIW_STATE_BEFORE: before.value, sc.AIW_STATE_AFTER: after.value})
        verb = "resumed" if before is State.PAUSED and after is State.RUNNING else _VERBS[after]
        self.log(
            LogLevel.ERROR if after is State.FAILED else LogLevel.INFO,
            f"{self.entity_kind}_execution_{verb}",
            message or f"{self.entity_kind.capitalize()} '{self.label}' {verb}.",
            state_before=before.value,
            state_after=after.value,
            duration_ms=self.elapsed_ms if after.is_terminal else None,
            details=details,
            required=required,
        )
        listener = self._instruments.states
        if listener is not None:
            error = (details or {}).get("error_message") or (details or {}).get("reason") if after is State.FAILED else None
            listener(StateChange(self.entity_kind, self.step_id, before.value, after.value, time.time_ns(),
                                 str(error) if error else None, getattr(self, "plan_id", None),
                                 getattr(self, "run_id", None)))

    def _finish(self, target: State, details: dict[str, Any] | None = None) -> None:
        """End in `target`; a block that leaves while Paused counts as resumed first."""
        if self.state.is_terminal:
            return
        if self.state is State.PAUSED and target is not State.CANCELLED:
            self.transition(State.RUNNING, details={"reason": "the block ended while paused"})
        if self.state is State.PENDING and target is not State.CANCELLED:
            self.transition(State.RUNNING)
        self.transition(target, details=details)

    def _on_exit(self, error: BaseException | None) -> None:
        if isinstance(error, RunCancelled):
            self._finish(State.CANCELLED, {"reason": str(error) or "cancelled"})
        elif error is not None:
            self._finish(State.FAILED, _failure_details(error))
        else:
            self._finish(self._clean_exit_state())

    def _clean_exit_state(self) -> State:
        return State.COMPLETED

    def _on_interrupt(self) -> None:
        if not self.state.is_terminal:
            self._finish(State.CANCELLED, {"reason": "telemetry shut down while running"})


#: The most of a context text quoted in its log line (all of it goes into the AI call).
_QUOTED_MAX = 200


def _failure_details(error: BaseException) -> dict[str, Any]:
    frames = traceback.extract_tb(error.__traceback__)
    summary = f'File "{frames[-1].filename}", line {frames[-1].lineno}, in {frames[-1].name}' if frames else ""
    return {"error_type": error_type_of(error), "error_message": str(error), "traceback_summary": summary}


@dataclass(frozen=True)
class Agent:
    """The model a step converses with in a tool loop: a GenAI agent, invoked in-process.

    A step that has one is an `invoke_agent` span (INTERNAL, as the agent spans convention says
    for an agent in the same process), so GenAI backends group its chat and tool calls under it.
    """

    #: `gen_ai.agent.name`, in the span name too, so low-cardinality: the step kind.
    name: str
    #: `gen_ai.provider.name` (required on invoke_agent) and `gen_ai.request.model`.
    provider: str
    model: str
    #: `gen_ai.conversation.id`: the step's one conversation, also on each of its chat spans.
    conversation_id: str

    def attributes(self) -> dict[str, Any]:
        return {
            sc.GEN_AI_OPERATION_NAME: sc.OP_INVOKE_AGENT,
            sc.GEN_AI_AGENT_NAME: self.name,
            sc.GEN_AI_PROVIDER_NAME: self.provider,
            sc.GEN_AI_REQUEST_MODEL: self.model,
            sc.GEN_AI_CONVERSATION_ID: self.conversation_id,
        }


class FinishedStep:
    """What a run keeps of a step once its span has ended: its id and final state, not the span
    (its attributes, events and context are the SDK's and the sinks' business by then). A run of
    200,000 steps would otherwise keep every one of them alive to its end."""

    __slots__ = ("step_id", "state")

    def __init__(self, step_id: str, state: State) -> None:
        self.step_id = step_id
        self.state = state

    def __repr__(self) -> str:
        return f"FinishedStep({self.step_id!r}, {self.state.value})"


class Step(Stateful, ActionHost):
    """A plan step: a child span named after the step kind, or `invoke_agent {kind}` when an
    AI agent runs it; Pending -> Running on entry."""

    component = ComponentType.EXECUTION_ENGINE
    #: Always set on a step (an Operation outside any step has None).
    step_id: str

    def __init__(
        self,
        instruments: Instruments,
        run: PlanRun,
        step_id: str,
        step_type: str,
        description: str | None = None,
        agent: Agent | None = None,
        name: str | None = None,
        label: str | None = None,
    ) -> None:
        attributes: dict[str, Any] = {
            sc.AIW_STEP_ID: step_id,
            sc.AIW_STEP_TYPE: step_type,
            sc.AIW_STEP_STATE: State.PENDING.value,
            **(agent.attributes() if agent is not None else {}),
        }
        if description:
            attributes[sc.AIW_STEP_DESCRIPTION] = description
        if name:
            attributes[sc.AIW_STEP_NAME] = name
        shown = label or name or step_id
        name = f"{sc.OP_INVOKE_AGENT} {agent.name}" if agent is not None else step_type
        super().__init__(instruments, name, label=shown, attributes=attributes, parent=run, step_id=step_id)
        self.run = run
        self.step_type = step_type
        self.description = description
        self.agent = agent

    @property
    def conversation_id(self) -> str | None:
        """The conversation the step's AI calls belong to (None: the step runs no agent)."""
        return self.agent.conversation_id if self.agent is not None else None

    def __enter__(self) -> Self:
        super().__enter__()
        self.transition(
            State.RUNNING,
            message=f"Starting execution of step '{self.label}'.",
            details={sc.AIW_STEP_TYPE: self.step_type, sc.AIW_STEP_DESCRIPTION: self.description or ""},
        )
        return self

    def end(self) -> None:
        ended = not self._ended
        super().end()
        if ended:
            self.run._step_ended(self)

    def tool_call(self, name: str, call_id: str | None = None, arguments: Any = None) -> ToolCall:
        return ToolCall(self._instruments, self, name, call_id, arguments)

    def fail(self, error_type: str, message: str, details: dict[str, Any] | None = None) -> None:
        """Fail the step without an exception (e.g. an output artifact is missing)."""
        self.set_error(error_type, message)
        self._finish(State.FAILED, {"error_type": error_type, "error_message": message, **(details or {})})


class PlanRun(Stateful):
    """The root span of one execution of a plan, and the place user requests are applied."""

    component = ComponentType.RUNNER
    entity_kind = "plan"
    state_attribute = sc.AIW_PLAN_STATE

    def __init__(self, instruments: Instruments, plan_id: str, name: str, run_id: str | None = None) -> None:
        self.plan_id = plan_id
        self.plan_name = name
        self.run_id = run_id or uuid.uuid4().hex
        attributes = {
            sc.GEN_AI_OPERATION_NAME: sc.OP_INVOKE_WORKFLOW,
            sc.GEN_AI_WORKFLOW_NAME: name,
            sc.AIW_PLAN_ID: plan_id,
            sc.AIW_RUN_ID: self.run_id,
            sc.AIW_PLAN_STATE: State.PENDING.value,
        }
        super().__init__(instruments, f"{sc.OP_INVOKE_WORKFLOW} {name}", label=name, attributes=attributes)
        #: Every step by id: the Step while its span is open, a FinishedStep (id and state) after.
        self.steps: dict[str, Step | FinishedStep] = {}
        #: Steps whose span is open, in start order (what `active_step` looks through).
        self._live: dict[str, Step] = {}
        #: The steps that ended Failed, in the order they did: id -> label.
        self._failed: dict[str, str] = {}
        self._control = threading.RLock()
        self._context: list[str] = []

    def __enter__(self) -> Self:
        """The run's first record (`plan_execution_started`) names it as its plan span will: the plan
        span reaches the files only when the run ends, never for a run that is killed, and until then
        this record is what `logs --runs`, the tree and the web monitor know the run by. It is written
        whatever the runner's log level, like the spans; a log record, not a metric: one per run."""
        super().__enter__()
        self.transition(State.RUNNING, message=f"Starting plan '{self.plan_name}' (run {self.run_id}).",
                        details={sc.GEN_AI_WORKFLOW_NAME: self.plan_name, sc.AIW_PLAN_ID: self.plan_id,
                                 sc.AIW_RUN_ID: self.run_id}, required=True)
        return self

    # -- steps ----------------------------------------------------------------------------
    def step(
        self, step_id: str, step_type: str = "step", description: str | None = None, agent: Agent | None = None,
        name: str | None = None, label: str | None = None,
    ) -> Step:
        """A step span; use it as a context manager (`with run.step(...) as step:`).

        `agent`: the AI that runs the step's tool loop, if one does (see Agent). `name`: the step's
        readable name (`aiw.step.name`), shown instead of an id that is a UUID. `label`: what the
        step's log messages call it, as the front ends show it (stepref.labels: the name, else a
        short form of the id); by default its name, else its id. The records keep the id itself
        (`aiw.step.id`), so filters and look-ups by id still work.
        """
        step = Step(self._instruments, self, step_id, step_type, description, agent, name, label)
        self.steps[step_id] = self._live[step_id] = step
        return step

    def skip_step(
        self,
        step_id: str,
        reason: str,
        *,
        step_type: str = "step",
        description: str | None = None,
        state: State = State.SKIPPED,
        name: str | None = None,
        label: str | None = None,
    ) -> Step:
        """Record a step that never ran: Pending -> Skipped (dependency) or Cancelled (run cancelled)."""
        step = Step(self._instruments, self, step_id, step_type, description, name=name, label=label)
        self.steps[step_id] = self._live[step_id] = step
        step.start()
        step.set_attribute(sc.AIW_SKIP_REASON, reason)
        step.transition(state, message=f"Step '{step.label}' {_VERBS[state]}: {reason}", details={"reason": reason})
        step.end()
        return step

    @property
    def active_step(self) -> Step | None:
        """The most recently started step that is Running or Paused."""
        for step in reversed(list(self._live.values())):
            if step.state in (State.RUNNING, State.PAUSED):
                return step
        return None

    @property
    def failed_steps(self) -> tuple[str, ...]:
        """The ids of the steps that ended Failed so far, in the order they ended."""
        return tuple(self._failed)

    def _step_ended(self, step: Step) -> None:
        """Keep only the id and the state of a step whose span ended."""
        with self._control:
            if self._live.get(step.step_id) is step:
                del self._live[step.step_id]
            if self.steps.get(step.step_id) is step:
                self.steps[step.step_id] = FinishedStep(step.step_id, step.state)
            if step.state is State.FAILED:
                self._failed[step.step_id] = step.label

    def _clean_exit_state(self) -> State:
        failed = list(self._failed.values()) + [s.label for s in self._live.values() if s.state is State.FAILED]
        if failed:
            self.set_error("step_failed", f"{len(failed)} step(s) failed: {', '.join(failed)}")
            return State.FAILED
        return State.COMPLETED

    def finish(self, state: State, message: str | None = None) -> None:
        """End the run in `state` before the block exits (the engine's verdict wins over the default)."""
        if state is State.FAILED:
            self.set_error("plan_failed", message or "plan failed")
        self._finish(state, {"reason": message} if message else None)

    # -- user interaction -----------------------------------------------------------------
    def pause(self, step: Step | None = None, source: str = "api") -> None:
        self._interact("pause", "execution_pause_requested", step, State.PAUSED, (State.RUNNING,), source)

    def resume(self, step: Step | None = None, source: str = "api") -> None:
        self._interact("resume", "execution_resume_requested", step, State.RUNNING, (State.PAUSED,), source)

    def cancel(self, step: Step | None = None, source: str = "api") -> None:
        self._interact("cancel", "execution_cancel_requested", step, State.CANCELLED, (State.RUNNING, State.PAUSED), source)

    def add_context(self, text: str, step: Step | None = None, source: str = "api") -> None:
        """Queue extra context for the next AI call of the current or next step.

        What waits for that call is bounded (MAX_PENDING_CONTEXT items, MAX_PENDING_CONTEXT_BYTES):
        a front end that sends context faster than AI calls take it gets ContextFull, not memory.
        """
        with self._control:
            pending = sum(len(item.encode()) for item in self._context)
            size = len(text.encode())
            if len(self._context) >= MAX_PENDING_CONTEXT or pending + size > MAX_PENDING_CONTEXT_BYTES:
                raise ContextFull(
                    f"{len(self._context)} context items ({pending} bytes) already wait for the next AI call; "
                    f"at most {MAX_PENDING_CONTEXT} items and {MAX_PENDING_CONTEXT_BYTES} bytes may wait")
            self._context.append(text)
            self._interact("context", "context_added_by_user", step, None, (), source, {"context_provided_summary": text[:200]},
                           message=f"User added context: '{self._quoted(text)}'")

    def _quoted(self, text: str) -> str:
        """A context text for its log line: redacted whole first (a cut could split a secret and
        leave a prefix no rule recognises), then one line of at most _QUOTED_MAX characters."""
        redactor = self._instruments.redactor
        flat = " ".join((redactor.redact_text(text) if redactor is not None else text).split())
        return flat if len(flat) <= _QUOTED_MAX else flat[:_QUOTED_MAX - 1] + "…"

    def take_context(self) -> list[str]:
        """The context added since the last call, for the engine to put into its next AI request."""
        with self._control:
            taken, self._context = self._context, []
            return taken

    def _interact(
        self,
        kind: str,
        action: str,
        step: Step | None,
        target: State | None,
        applies_to: Iterable[State],
        source: str,
        details: dict[str, Any] | None = None,
        message: str | None = None,
    ) -> None:
        with self._control:
            step = step if step is not None else self.active_step
            subject: Stateful = step if step is not None else self
            movers = [e for e in (self, step) if e is not None and target is not None and e.state in applies_to]
            try:
                if target is not None:
                    check_transition(self.lifecycle.entity, self.state, target)
                    for entity in movers:
                        check_transition(entity.lifecycle.entity, entity.state, target)
            except InvalidTransition as refused:
                self.log(
                    LogLevel.WARNING,
                    f"{action.rsplit('_', 1)[0]}_rejected",
                    f"User request '{kind}' refused: {refused}",
                    component=ComponentType.USER_INTERACTION,
                    state_before=subject.state.value,
                    details={"reason": str(refused), "source": source},
                )
                raise
            before = subject.state
            for entity in movers:
                entity.transition(target)  # type: ignore[arg-type]
            after = subject.state
            self._record_interaction(kind, action, subject, step, before, after, source, details or {}, message)

    def _record_interaction(
        self,
        kind: str,
        action: str,
        subject: Stateful,
        step: Step | None,
        before: State,
        after: State,
        source: str,
        details: dict[str, Any],
        message: str | None = None,
    ) -> None:
        states = {sc.AIW_STATE_BEFORE: before.value, sc.AIW_STATE_AFTER: after.value}
        common = {sc.AIW_INTERACTION: kind, sc.AIW_INTERACTION_SOURCE: source, **states}
        if step is not None:
            common[sc.AIW_STEP_ID] = step.step_id
        span = self._instruments.tracer.start_span(
            f"user_interaction {kind}", context=trace.set_span_in_context(self.span), attributes=common
        )
        span.end()
        subject.add_event("user_interaction", common)
        where = f" during step '{step.label}'" if step is not None else ""
        subject.log(
            LogLevel.INFO,
            action,
            f"{message}{where}." if message else f"User requested '{kind}'{where}.",
            component=ComponentType.USER_INTERACTION,
            state_before=before.value,
            state_after=after.value,
            details={"source": source, **details},
        )
