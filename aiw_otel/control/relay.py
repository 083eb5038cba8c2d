"""The one path from every front end (console keys, the control socket, Python) to the engine.

Front ends hand it a command line and get a Reply back; they never touch the engine themselves,
so every request is validated the same way and recorded as telemetry whoever typed it. In the
other direction it fans the state tracker's change notices out to any number of subscribers.
It knows nothing of terminals or sockets: those are front ends. A front end sees it as a
`FrontDoor`; it sees the engine as a `Steerable` and the tracker as a `StateSource`.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Callable, Protocol

from aiw_otel.model import ComponentType, ContextFull, InvalidTransition, LogLevel, LogMessage, State
from aiw_otel.runview import CommandOutput, RunView
from aiw_otel.stepref import StepNotFound, StepRef, labels, resolve

if TYPE_CHECKING:  # types only: the relay imports nothing of the runner or the pipeline
    from aiw_otel.instrument.plan import PlanRun
    from aiw_otel.runner.plan import Plan
    from aiw_otel.setup import Telemetry

#: Usage and meaning of every command, in the order `help` lists them.
COMMANDS: dict[str, str] = {
    "pause": "suspend the running command and hold the next AI call",
    "resume": "continue a paused run",
    "cancel": "end the run Cancelled (the running command's process group is terminated)",
    "context <text>": "add text to the next AI call",
    "details <step>": "show that step's log lines, finished or not (its name, id or a prefix; Tab completes)",
    "output <step>": "what that step's commands printed (redacted)",
    "status": "the run's current state",
    "help": "this list",
}
COMMAND_NAMES = tuple(usage.split()[0] for usage in COMMANDS)


@dataclass(frozen=True)
class Reply:
    ok: bool
    message: str
    data: dict[str, Any] | None = None


class StateSource(Protocol):
    """What the relay needs of the state tracker."""

    def snapshot(self) -> RunView: ...

    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]: ...

    def command_output(self, step_id: str) -> tuple[CommandOutput, ...]: ...


#: Called with no argument when the run's view changed; it must return at once (it runs on the
#: thread that recorded the change, often the engine's) and fetch `snapshot()` on its own time.
Subscriber = Callable[[], None]


class Steerable(Protocol):
    """What the relay needs of the engine (`aiw_otel.runner.engine.Engine` is one)."""

    #: The run once it started (None before): where requests are recorded and checked.
    @property
    def run_record(self) -> PlanRun | None: ...

    @property
    def plan(self) -> Plan: ...

    #: For a record when there is no run yet, and for the health report.
    @property
    def telemetry(self) -> Telemetry: ...

    # Each records the request on the run first; InvalidTransition when the run refuses it.
    def pause(self, source: str = ...) -> None: ...

    def resume(self, source: str = ...) -> None: ...

    def cancel(self, source: str = ...) -> None: ...

    def add_context(self, text: str, source: str = ...) -> None: ...

    def stop(self, source: str = ...) -> None: ...


class FrontDoor(Protocol):
    """The relay as every front end (console, control socket, a later web page) sees it: the run's
    state out, commands in. `ControlRelay` is the implementation; tests may pass a fake."""

    def snapshot(self) -> RunView: ...

    def subscribe(self, callback: Subscriber) -> Callable[[], None]: ...

    def submit(self, line: str, source: str = ...) -> Reply: ...


_STEER_REPLIES = {
    "pause": "paused: the running command is suspended and the next AI call held",
    "resume": "resumed",
    "cancel": "cancelled: the running command is being terminated",
}


class ControlRelay:
    """Validate, forward and record user commands; fan state changes out. Safe from any thread."""

    def __init__(self, engine: Steerable, tracker: StateSource) -> None:
        self._engine = engine
        self._tracker = tracker
        #: One command at a time: the run records a request and RunControl applies it in two
        #: steps, and a pause and a resume interleaving between them would leave the two disagreeing.
        self._commands = threading.Lock()
        self._subscribers_lock = threading.Lock()
        self._subscribers: dict[object, Subscriber] = {}
        tracker.subscribe(self._changed)

    # -- state, outwards ------------------------------------------------------------------
    def snapshot(self) -> RunView:
        return self._tracker.snapshot()

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Be told of every change until the returned function is called (or the callback raises)."""
        token = object()
        with self._subscribers_lock:
            self._subscribers[token] = callback

        def unsubscribe() -> None:
            with self._subscribers_lock:
                self._subscribers.pop(token, None)

        return unsubscribe

    def _changed(self) -> None:
        with self._subscribers_lock:
            subscribers = list(self._subscribers.items())
        for token, callback in subscribers:
            try:
                callback()
            except Exception as error:  # one broken front end must not cost the others their updates
                with self._subscribers_lock:
                    self._subscribers.pop(token, None)
                # Not a print: with the live console up, stderr would tear its screen. The health
                # report goes to the console's status bar then, to stderr otherwise.
                self._engine.telemetry.health.problem(
                    "control-relay", f"a state subscriber failed and was dropped: {error!r}")

    # -- commands, inwards ----------------------------------------------------------------
    def interrupt(self, source: str) -> None:
        """The process was told to stop (Ctrl-C, SIGTERM): cancel the run, started or not, once.

        Unlike `submit("cancel")` a run not started yet is stopped too (at its first checkpoint), and
        a repeated request is no refusal. Safe in a signal handler: it takes none of the relay's locks
        (the interrupted code may hold them)."""
        self._engine.stop(source)

    def submit(self, line: str, source: str = "api") -> Reply:
        """Run one command line (`pause`, `context focus on X`...); never raises."""
        word, _, argument = line.strip().partition(" ")
        command, argument = word.lower(), argument.strip()
        try:
            with self._commands:
                if command in _STEER_REPLIES:
                    return self._steer(command, argument, source)
                if command == "context":
                    return self._context(argument, source)
                if command == "details":
                    return self._details(argument, source)
                if command == "output":
                    return self._output(argument, source)
                if command == "status":
                    view = self.snapshot()
                    return Reply(True, f"plan '{view.plan_name}' {view.state}", view.to_dict())
                if command == "help":
                    return Reply(True, "commands:\n" + "\n".join(f"  {u:<18} {m}" for u, m in COMMANDS.items()))
                return self._unknown(word, source)
        except Exception as error:  # a front end's thread must get an answer, whatever broke
            return Reply(False, f"'{command}' failed: {type(error).__name__}: {error}")

    def _steer(self, command: str, argument: str, source: str) -> Reply:
        if argument:
            return Reply(False, f"'{command}' takes no argument")
        run = self._engine.run_record
        if run is None:
            return _NOT_STARTED
        engine = self._engine
        steer = {"pause": engine.pause, "resume": engine.resume, "cancel": engine.cancel}[command]
        try:
            steer(source=source)
        except InvalidTransition as refused:  # the run has logged it as `<request>_rejected`
            return Reply(False, _refusal(command, run.state, refused))
        return Reply(True, _STEER_REPLIES[command])

    def _context(self, text: str, source: str) -> Reply:
        if not text:
            return Reply(False, "context needs text: context <text>")
        run = self._engine.run_record
        if run is None:
            return _NOT_STARTED
        if run.state.is_terminal:  # no AI call will ever read it
            message = f"cannot add context: the run has already ended ({run.state.value})"
            self._record(LogLevel.WARNING, "context_rejected", message, {"source": source}, run.state)
            return Reply(False, message)
        try:
            self._engine.add_context(text, source=source)
        except ContextFull as full:
            message = f"cannot add context: {full}"
            self._record(LogLevel.WARNING, "context_rejected", message, {"source": source}, run.state)
            return Reply(False, message)
        return Reply(True, "context added: it goes into the next AI call")

    def _details(self, typed: str, source: str) -> Reply:
        step_id = self._step(typed, "details", "the details", source)
        if isinstance(step_id, Reply):
            return step_id
        return Reply(True, f"showing step {self._shown(step_id)}", {"select_step": step_id})

    def _output(self, typed: str, source: str) -> Reply:
        """The step's commands and what they printed: the lines in `data`, the whole as the message
        (what `aiw-otel ctl output STEP` prints)."""
        step_id = self._step(typed, "output", "the output", source)
        if isinstance(step_id, Reply):
            return step_id
        commands = self._tracker.command_output(step_id)
        text = [f"output of step {self._shown(step_id)}: " + (f"{len(commands)} command(s)" if commands else "no command ran")]
        for command in commands:
            text += output_text(command)
        return Reply(True, "\n".join(text), {"select_step": step_id, "commands": [asdict(c) for c in commands]})

    def _step(self, typed: str, command: str, what: str, source: str) -> str | Reply:
        """The step `typed` names (its name, id or a unique prefix; recorded as asked for), or the refusal."""
        if not typed:
            return Reply(False, f"{command} needs a step: {command} <name, id or a prefix of one>")
        steps = [StepRef(spec.step_id, spec.name) for spec in self._engine.plan.steps]
        try:
            step_id = resolve(typed, steps)
        except StepNotFound as refused:
            message = str(refused)
            self._record(LogLevel.WARNING, f"{command}_rejected", message, {"requested_step": typed[:200],
                                                                             "source": source})
            return Reply(False, message)
        self._record(LogLevel.INFO, f"{command}_requested",
                     f"User asked for {what} of step '{labels(steps)[step_id]}'.",
                     {"requested_step": step_id, "source": source})
        return step_id

    def _shown(self, step_id: str) -> str:
        spec = self._engine.plan.step(step_id)
        return f"'{spec.name}' ({step_id})" if spec.name else f"'{step_id}'"

    def _unknown(self, word: str, source: str) -> Reply:
        message = f"unknown command {word!r}; commands: {', '.join(COMMAND_NAMES)}"
        self._record(LogLevel.WARNING, "unknown_command_rejected", f"User command refused: {message}",
                     {"requested_command": word[:100], "source": source})
        return Reply(False, message)

    def _record(self, level: LogLevel, action: str, message: str, details: dict[str, Any],
                state: State | None = None) -> None:
        """On the run when there is one (correlated to its trace), else as a plain record: never lost."""
        run = self._engine.run_record
        before = state.value if state is not None else None
        if run is not None:
            run.log(level, action, message, component=ComponentType.USER_INTERACTION, state_before=before,
                    details=details)
        else:
            self._engine.telemetry.log(LogMessage(level, ComponentType.USER_INTERACTION, action, message,
                                                  state_before=before, details=details))


_NOT_STARTED = Reply(False, "the run has not started yet")


def output_heading(command: CommandOutput) -> str:
    """`$ python test_greet.py  exit 1  (5 of 1200 lines)`: a command of `output STEP`, as it stands."""
    return "".join(output_heading_parts(command))


def output_heading_parts(command: CommandOutput) -> tuple[str, str]:
    """The heading as (`$ ` and the command line, how it stands): a narrow panel cuts the line, not the rest."""
    state = command.summary if command.outcome else "running"
    after = f"  {state}".rstrip()
    if not command.kept:
        return f"$ {command.name}", after + "  (output no longer held here: aiw-otel logs has it)"
    if command.printed is not None and command.printed > len(command.lines):
        after += f"  ({len(command.lines)} of {command.printed} lines)"
    return f"$ {command.name}", after


def output_text(command: CommandOutput) -> list[str]:
    """The heading, then the lines indented (stderr's marked as STDERR_MARK does: `stderr: ...`)."""
    return [output_heading(command)] + [f"  {line}" for line in command.lines]


def _refusal(command: str, state: State, refused: InvalidTransition) -> str:
    if state.is_terminal:
        return f"cannot {command}: the run has already ended ({state.value})"
    if command == "resume":
        return f"cannot resume: the run is not paused (it is {state.value})"
    if command == "pause" and state is State.PAUSED:
        return "cannot pause: the run is already paused"
    return f"cannot {command}: {refused}"
