"""The live picture of a run (a RunView), kept up to date from spans and log records as they happen.

It is registered as a ProcessorSink, so it sees what every other sink sees: records already
redacted. It runs in the caller's thread on every span start and end and every log record, so it
only updates plain mutable state under a lock and bumps a version; the immutable RunView is built
on `snapshot()`, and only for the steps that changed since the last one. Log lines and actions are
kept as plain tuples until then: building a frozen LogLine or ActionLine costs ~1.5 µs, three of
them a tenth of what the runner's own span, event and log record cost, and a line that scrolls
out before anybody looks is never built. Spans report their
events only when they end, so step and plan states come from the state-change LogMessages, which
are emitted the moment a state changes.

Memory is bounded whatever the run does: a step keeps its last `step_log_limit` log lines and
`action_limit` sub-actions, lines outside any step the last `general_log_limit`, and what commands
printed is kept for the last few of them only (OutputStore).
"""

from __future__ import annotations

import collections
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from opentelemetry.context import Context
from opentelemetry.sdk._logs import LogRecordProcessor, ReadWriteLogRecord
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import StatusCode

from aiw_otel import conventions as sc
from aiw_otel.instrument.command import STREAMS
from aiw_otel.model import State, StateChange
from aiw_otel.present import Outcome, outcome, span_label
from aiw_otel.processors.attributes import plain_attributes, span_attributes
from aiw_otel.processors.output_store import OutputStore, output_lines
from aiw_otel.runview import ActionLine, CommandOutput, LogLine, RunView, StepView
from aiw_otel.sinks import ProcessorSink

if TYPE_CHECKING:
    from aiw_otel.redaction import Redactor
    from aiw_otel.runner.plan import Plan

_TERMINAL_STATES = frozenset(state.value for state in State if state.is_terminal)
#: Lines of a failed command's output kept with it.
OUTPUT_LINES = 5
#: SeverityNumber.INFO: records at or above it may become the status bar's last message.
_INFO = 9
#: Span and log attributes as the tracker reads them: the values our own instrumentation sets under
#: the conventions' keys (str ids and states, int token counts, a float cost), not any AttributeValue.
_Attributes = Mapping[str, Any]
#: A LogLine's fields in order, or an action's: its ActionLine's first four while it runs, and once
#: it ended (span id, name, kind, started, ended, failed, attributes, verdict, output), its summary
#: to be written from the attributes: what the mutable state holds until `freeze` builds it once.
_RawLine = tuple[int, str, str, str, "str | None"]
_RawAction = tuple[Any, ...]


class _Step:
    """One step's mutable state; `view` is its last frozen StepView, rebuilt only when marked dirty.

    A finished step keeps only its view: its log lines and actions move into the view's tuples
    when it reaches a final state, and come back into a deque and a dict only if a late record
    changes it (a run of many steps keeps no mutable containers for the finished ones)."""

    __slots__ = ("step_id", "name", "description", "step_type", "state", "started_ns", "ended_ns", "input_tokens",
                 "output_tokens", "cost_usd", "error", "_logs", "_actions", "_log_limit", "view")

    def __init__(self, step_id: str, log_limit: int) -> None:
        self.step_id = step_id
        self.name = ""
        self.description = ""
        self.step_type = ""
        self.state = State.PENDING.value
        self.started_ns: int | None = None
        self.ended_ns: int | None = None
        self.input_tokens = 0
        self.output_tokens = 0
        self.cost_usd = 0.0
        self.error: str | None = None
        self._log_limit = log_limit
        self._logs: collections.deque[LogLine | _RawLine] | None = None
        self._actions: dict[int, ActionLine | _RawAction] | None = None
        self.view = StepView(step_id)

    @property
    def logs(self) -> collections.deque[LogLine | _RawLine]:
        if self._logs is None:
            self._logs = collections.deque(self.view.logs, maxlen=self._log_limit)
        return self._logs

    @property
    def actions(self) -> dict[int, ActionLine | _RawAction]:
        if self._actions is None:
            self._actions = {action.span_id: action for action in self.view.actions}
        return self._actions

    def action_list(self) -> list[ActionLine]:
        """The actions as they stand, without making containers again for a finished step."""
        if self._actions is None:
            return list(self.view.actions)
        return [a if isinstance(a, ActionLine) else _action_line(a) for a in self._actions.values()]

    def move_to(self, state: str, at_ns: int) -> None:
        self.state = state
        if state == State.RUNNING.value and self.started_ns is None:
            self.started_ns = at_ns
        elif state in _TERMINAL_STATES and self.ended_ns is None:
            self.ended_ns = at_ns

    def freeze(self) -> StepView:
        """Rebuild `view`; a finished step then lets go of its deque and dict (the view has them)."""
        logs = self.view.logs
        if self._logs is not None:
            logs = _frozen_lines(self._logs)
            self._logs = collections.deque(logs, maxlen=self._log_limit)  # each line is built once
        actions = self.view.actions
        if self._actions is not None:
            actions = tuple(a if isinstance(a, ActionLine) else _action_line(a) for a in self._actions.values())
            self._actions = {action.span_id: action for action in actions}
        self.view = StepView(self.step_id, self.description, self.step_type, self.state, self.started_ns,
                             self.ended_ns, self.input_tokens, self.output_tokens, self.cost_usd, self.error, logs,
                             actions, self.name)
        if self.state in _TERMINAL_STATES:
            self._logs = self._actions = None
        return self.view


def _frozen_lines(lines: Iterable[LogLine | _RawLine]) -> tuple[LogLine, ...]:
    return tuple(line if isinstance(line, LogLine) else LogLine(*line) for line in lines)


class StateTracker(SpanProcessor, LogRecordProcessor):
    """Maintains one run's RunView; feed it through `sink()` and read it with `snapshot()`.

    It is its own span and log processor (nothing to flush or stop): the pipeline calls it three
    times per action, and a forwarding object in between cost a call each time.
    """

    def __init__(self, *, step_log_limit: int = 200, general_log_limit: int = 500, action_limit: int = 100) -> None:
        self._lock = threading.Lock()
        self._step_log_limit = step_log_limit
        self._action_limit = action_limit
        self._steps: dict[str, _Step] = {}
        self._dirty: set[_Step] = set()
        self._steps_view: tuple[StepView, ...] = ()
        #: Open spans inside steps, so a stdlib record (which carries only its span) finds its step.
        self._span_steps: dict[int, str] = {}
        #: Commands running now (their live spans, read on demand), and what ended ones printed.
        self._running_commands: dict[int, Span] = {}
        self._outputs = OutputStore()
        self._general: collections.deque[LogLine | _RawLine] = collections.deque(maxlen=general_log_limit)
        self._general_view: tuple[LogLine, ...] = ()
        self._general_dirty = False
        self._plan: dict[str, Any] = {"plan_name": "", "plan_id": "", "run_id": "", "state": State.PENDING.value,
                                      "started_ns": None, "ended_ns": None}
        self._last_message = ""
        self._control_socket: str | None = None
        self._dropped = 0
        self._read_drops: Callable[[], int] | None = None
        self._version = 0
        self._view: RunView | None = None
        self._subscribers: tuple[Callable[[], None], ...] = ()
        self._redactor: Redactor | None = None

    # -- wiring -----------------------------------------------------------------------------
    def sink(self, name: str = "console-state") -> ProcessorSink:
        """The sink to pass to `configure(sinks=...)`: behind redaction, like every other sink."""
        return ProcessorSink(name, span_processor=self, log_processor=self,
                             state_listener=self.state_changed)

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    def seed(self, plan: Plan, redactor: Redactor | None = None) -> None:
        """List every step as Pending before the run starts: a step's span only exists once it runs.

        The plan comes straight from its file, not through the pipeline, so it is redacted here
        (pass the Telemetry's `redactor`): the console, `ctl status` and `watch` show Pending steps
        before any record exists. Ids are redacted with the same rules as the span attributes that
        carry them later, so a step's spans still find the row seeded for it.
        """
        self._redactor = redactor
        clean = self._clean
        with self._lock:
            self._plan.update(plan_name=clean(plan.name), plan_id=clean(plan.plan_id))
            for spec in plan.steps:
                step = self._step(clean(spec.step_id))
                step.description = clean(spec.description)
                step.name = clean(spec.name or "")
                step.step_type = clean(spec.type)
            self._bump()
        self._notify()

    def set_drop_counter(self, read: Callable[[], int]) -> None:
        """How many records the sinks dropped, read at each snapshot.

        A callable rather than a value because the Telemetry that counts drops is configured after
        this tracker (it is one of its sinks): `tracker.set_drop_counter(lambda:
        telemetry.health.snapshot().total_dropped)`.
        """
        self._read_drops = read

    def set_control_socket(self, path: str | None) -> None:
        """Shown in the header, so whoever watches knows where `aiw-otel ctl` can reach the run."""
        with self._lock:
            self._control_socket = path
            self._bump()
        self._notify()

    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback()` after every change, on the thread that made it; returns the unsubscribe.

        The callback runs inside the runner's span and log calls: it must not block or raise
        (setting a threading.Event is the intended use).
        """
        with self._lock:
            self._subscribers = (*self._subscribers, callback)

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = tuple(s for s in self._subscribers if s is not callback)

        return unsubscribe

    # -- reading ----------------------------------------------------------------------------
    def snapshot(self) -> RunView:
        """An immutable copy; unchanged steps keep their previous StepView objects (so `is` tells)."""
        drops = self._read_drops() if self._read_drops is not None else self._dropped
        with self._lock:
            if drops != self._dropped:
                self._dropped = drops
                self._bump()
            view = self._view
            if view is not None and view.version == self._version:
                return view
            if self._dirty:
                for step in self._dirty:
                    step.freeze()
                self._dirty.clear()
                self._steps_view = tuple(step.view for step in self._steps.values())
            if self._general_dirty:
                self._general_view = _frozen_lines(self._general)
                self._general.clear()
                self._general.extend(self._general_view)  # each line is built once
                self._general_dirty = False
            view = self._view = RunView(
                **self._plan, steps=self._steps_view, general_logs=self._general_view, dropped=self._dropped,
                last_message=self._last_message, version=self._version, control_socket=self._control_socket,
            )
            return view

    def command_output(self, step_id: str) -> tuple[CommandOutput, ...]:
        """What each command of the step printed, oldest command first (see OutputStore)."""
        with self._lock:
            step = self._steps.get(step_id)
            actions = step.action_list() if step is not None else []
            running = {a.span_id: self._running_commands.get(a.span_id) for a in actions if a.ended_ns is None}
            kept = {a.span_id: self._outputs.get(a.span_id) for a in actions}
        found = []
        for action in actions:
            if action.kind != "command":
                continue
            live = running.get(action.span_id)
            stored = kept.get(action.span_id)
            if live is not None:  # its events, redacted at the source, once more as the seed is
                lines = [self._clean(line) for line in output_lines((e.name, e.attributes or {}) for e in live.events)]
                found.append(CommandOutput(action.name, lines=tuple(lines)))
            else:
                found.append(CommandOutput(action.name, action.summary, action.outcome,
                                           stored[0] if stored else (), stored[1] if stored else None,
                                           kept=stored is not None or action.ended_ns is None))
        return tuple(found)

    # -- fed by the pipeline, in the caller's thread -----------------------------------------
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        attributes: _Attributes = span_attributes(span)
        if sc.AIW_PLAN_ID in attributes:
            self._plan_span(span, attributes, started=True)
            return
        step_id = attributes.get(sc.AIW_STEP_ID)
        if step_id is None or sc.AIW_INTERACTION in attributes:
            return  # outside any step, or a user request (its log record tells the story)
        span_id = span.context.span_id
        with self._lock:
            self._span_steps[span_id] = step_id
            step = self._steps.get(step_id) or self._step(step_id)  # no call for a step already seen
            if sc.AIW_STEP_STATE in attributes:
                step.step_type = attributes.get(sc.AIW_STEP_TYPE, step.step_type)
                step.description = attributes.get(sc.AIW_STEP_DESCRIPTION, step.description)
                step.name = attributes.get(sc.AIW_STEP_NAME, step.name)
                step.started_ns = step.started_ns or span.start_time
            else:
                kind = _action_kind(attributes)
                actions = step.actions
                name = span.name
                if kind == "file" or kind == "command":  # the others are shown by their span's name
                    name = _action_name(name, kind, attributes)
                actions[span_id] = (span_id, name, kind, span.start_time or time.time_ns())
                if kind == "command":
                    self._running_commands[span_id] = span
                if len(actions) > self._action_limit:
                    del actions[next(iter(actions))]
            self._changed(step)
        if self._subscribers:  # a call saved per span and record when nobody watches (no console)
            self._notify()

    def on_end(self, span: ReadableSpan) -> None:
        attributes: _Attributes = span_attributes(span)
        if sc.AIW_PLAN_ID in attributes:
            self._plan_span(span, attributes, started=False)
            return
        span_id = span.context.span_id
        with self._lock:
            step_id = self._span_steps.pop(span_id, None)
            self._running_commands.pop(span_id, None)
            if step_id is None:
                return
            step = self._steps.get(step_id) or self._step(step_id)  # no call for a step already seen
            failed = span.status.status_code is StatusCode.ERROR
            if sc.AIW_STEP_STATE in attributes:
                step.move_to(attributes[sc.AIW_STEP_STATE], span.end_time or time.time_ns())
                step.ended_ns = span.end_time or step.ended_ns
                if failed:
                    step.error = span.status.description or str(attributes.get(sc.ERROR_TYPE, "failed"))
            else:
                actions = step.actions
                started = actions.get(span_id)
                if started is None:
                    return  # evicted by newer actions
                name, kind, started_ns = _started(started)
                if kind == "ai":
                    step.input_tokens += int(attributes.get(sc.GEN_AI_USAGE_INPUT_TOKENS, 0))
                    step.output_tokens += int(attributes.get(sc.GEN_AI_USAGE_OUTPUT_TOKENS, 0))
                    step.cost_usd += float(attributes.get(sc.AIW_AI_COST, 0.0))
                verdict = Outcome.OK
                printed: list[str] = []
                if failed or kind == "command":  # only these read the events: `span.events` copies them
                    events = [(e.name, e.attributes or {}) for e in span.events]
                    verdict = outcome(failed, attributes, events)
                    if kind == "command":
                        printed = output_lines(events)
                        self._outputs.keep(span_id, printed, sum(int(attributes.get(sc.AIW_OUTPUT_LINES.format(stream=s), 0))
                                                                 for s in STREAMS))
                # The span's attributes are final once it ended: the summary is written from them later.
                actions[span_id] = (span_id, name, kind, started_ns, span.end_time or time.time_ns(), failed,
                                    attributes, verdict, tuple(printed[-OUTPUT_LINES:]) if verdict is Outcome.FAILED else ())
            self._changed(step)
        if self._subscribers:
            self._notify()

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        record = log_record.log_record
        body = record.body
        if body is None:
            return  # a content event (GenAI inference details): nothing to show as a line
        attributes: _Attributes = plain_attributes(record.attributes)
        component = attributes.get(sc.AIW_COMPONENT)
        if component is None:
            scope = log_record.instrumentation_scope
            component = scope.name if scope is not None else ""
        at_ns = record.timestamp or record.observed_timestamp or time.time_ns()
        state_after = attributes.get(sc.AIW_STATE_AFTER)
        step_id = attributes.get(sc.AIW_LOG_STEP_ID)
        with self._lock:
            if step_id is None and record.span_id:
                step_id = self._span_steps.get(record.span_id)
            message = body if isinstance(body, str) else str(body)
            line: _RawLine = (at_ns, record.severity_text or "INFO", str(component), message, step_id)
            if record.severity_number is None or record.severity_number._value_ >= _INFO:  # not `.value`: a property
                self._last_message = message
            if step_id is None:
                self._general.append(line)
                self._general_dirty = True
                if state_after is not None and component == "runner":
                    self._move_plan(str(state_after), at_ns)
                self._bump()
            else:
                step = self._steps.get(step_id) or self._step(step_id)
                step.logs.append(line)
                if state_after is not None:
                    step.move_to(str(state_after), at_ns)
                self._changed(step)
        if self._subscribers:
            self._notify()

    def state_changed(self, change: StateChange) -> None:
        """A state change told by the engine itself: with the SDK disabled there are no spans or
        records, and this is how the view still follows the run (redacted like the seed)."""
        clean = self._clean
        with self._lock:
            if change.entity == "plan":
                if change.plan_id:
                    self._plan["plan_id"] = clean(change.plan_id)
                if change.run_id:
                    self._plan["run_id"] = change.run_id
                self._move_plan(change.after, change.at_ns)
                self._bump()
            elif change.step_id is not None:
                step = self._step(clean(change.step_id))
                step.move_to(change.after, change.at_ns)
                if change.error:
                    step.error = clean(change.error)
                self._changed(step)
        self._notify()

    def _clean(self, text: str) -> str:
        return self._redactor.redact_text(text) if self._redactor is not None else text

    def note(self, message: str) -> None:
        """Show a message in the status bar (telemetry's own trouble, while the screen is taken)."""
        with self._lock:
            self._last_message = message
            self._bump()
        self._notify()

    # -- internals (called with the lock held, except _notify) ------------------------------
    def _step(self, step_id: str) -> _Step:
        step = self._steps.get(step_id)
        if step is None:
            step = self._steps[step_id] = _Step(step_id, self._step_log_limit)
            self._dirty.add(step)
        return step

    def _changed(self, step: _Step) -> None:
        self._dirty.add(step)
        if step.state in _TERMINAL_STATES:
            step.freeze()  # now, not at the next snapshot: a run nobody watches keeps no containers either
        self._version += 1  # `_bump`, without a call: this runs on every span and record

    def _bump(self) -> None:
        self._version += 1

    def _move_plan(self, state: str, at_ns: int) -> None:
        plan = self._plan
        plan["state"] = state
        if state == State.RUNNING.value and plan["started_ns"] is None:
            plan["started_ns"] = at_ns
        elif state in _TERMINAL_STATES:
            plan["ended_ns"] = plan["ended_ns"] or at_ns

    def _plan_span(self, span: ReadableSpan, attributes: Mapping[str, Any], started: bool) -> None:
        with self._lock:
            plan = self._plan
            plan["plan_id"] = attributes[sc.AIW_PLAN_ID]
            plan["run_id"] = attributes.get(sc.AIW_RUN_ID, plan["run_id"])
            plan["plan_name"] = attributes.get(sc.GEN_AI_WORKFLOW_NAME) or span.name.removeprefix(
                f"{sc.OP_INVOKE_WORKFLOW} ")
            at_ns = (span.start_time if started else span.end_time) or time.time_ns()
            plan["started_ns" if started else "ended_ns"] = at_ns
            self._move_plan(str(attributes.get(sc.AIW_PLAN_STATE, plan["state"])), at_ns)
            self._bump()
        self._notify()

    def _notify(self) -> None:
        for callback in self._subscribers:
            callback()


def _action_line(action: _RawAction) -> ActionLine:
    if len(action) == 4:  # still running
        return ActionLine(*action)
    span_id, name, kind, started_ns, ended_ns, failed, attributes, verdict, output = action
    return ActionLine(span_id, name, kind, started_ns, ended_ns, failed, _action_summary(kind, attributes, verdict),
                      verdict.value, output)


def _started(action: ActionLine | _RawAction) -> tuple[str, str, int]:
    """Name, kind and start of an action, built (a snapshot froze it while it ran) or not."""
    if isinstance(action, ActionLine):
        return action.name, action.kind, action.started_ns
    return action[1], action[2], action[3]


def _action_kind(attributes: Mapping[str, Any]) -> str:
    operation = attributes.get(sc.GEN_AI_OPERATION_NAME)
    if operation == sc.OP_CHAT:
        return "ai"
    if operation == sc.OP_EXECUTE_TOOL:
        return "tool"
    if sc.AIW_FILE_OPERATION in attributes:
        return "file"
    if sc.PROCESS_EXECUTABLE_NAME in attributes:
        return "command"
    return "other"


def _action_name(span_name: str, kind: str, attributes: Mapping[str, Any]) -> str:
    """What a reader recognises: the command line rather than the executable, the file's path."""
    if kind == "file":
        return f"{span_name} {attributes.get(sc.AIW_FILE_RELATIVE_PATH) or attributes.get(sc.FILE_PATH, '')}".rstrip()
    return span_label(span_name, attributes)


def _action_summary(kind: str, attributes: Mapping[str, Any], verdict: Outcome) -> str:
    failed = verdict is not Outcome.OK
    parts = []
    if kind == "ai" and sc.GEN_AI_USAGE_INPUT_TOKENS in attributes:
        parts.append(f"in {attributes[sc.GEN_AI_USAGE_INPUT_TOKENS]} / out "
                     f"{attributes.get(sc.GEN_AI_USAGE_OUTPUT_TOKENS, 0)} tokens")
        if attributes.get(sc.AIW_AI_COST):
            parts.append(f"${attributes[sc.AIW_AI_COST]:.4f}")
    elif kind == "command" and sc.PROCESS_EXIT_CODE in attributes:
        parts.append(f"exit {attributes[sc.PROCESS_EXIT_CODE]}")
    elif kind == "file":
        for key, verb in ((sc.AIW_FILE_BYTES_READ, "read"), (sc.AIW_FILE_BYTES_WRITTEN, "written")):
            if key in attributes:
                parts.append(f"{_size(attributes[key])} {verb}")
    error_type = attributes.get(sc.ERROR_TYPE, "error")
    if verdict is Outcome.CANCELLED:
        parts.append("cancelled")
    elif verdict is Outcome.RETRIED:
        parts.append(f"retried after {error_type}")
    elif failed and not (kind == "command" and parts):
        parts.append(f"failed: {error_type}")
    return ", ".join(parts)


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    if count < 1024 * 1024:
        return f"{count / 1024:.1f} KB"
    return f"{count / (1024 * 1024):.1f} MB"
