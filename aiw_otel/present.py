"""How runs, steps and spans are put into words and colours: written once, used by every front end.

The live console, the plain line output, `aiw-otel logs` and `aiw-otel ctl status` / `watch` all
take their duration format, their colour per state and per level, and their verdict on a finished
span (done, failed, retried, cancelled) from here, so the same run reads the same everywhere.
Plain data and strings only: no Rich, no OpenTelemetry (`ctl` must stay cheap to start).
"""

from __future__ import annotations

import enum
import shlex
from typing import Any, Iterable, Mapping

from aiw_otel import conventions as sc
from aiw_otel.model import State

#: Colour (a Rich style) of each state: seed 5.2's colours; states that are over without a verdict
#: of their own (Cancelled, Skipped) are dim, a step that has not started is plain.
STATE_STYLES: dict[State, str] = {
    State.PENDING: "",
    State.RUNNING: "yellow",
    State.PAUSED: "dark_orange",
    State.COMPLETED: "green",
    State.FAILED: "red",
    State.CANCELLED: "dim",
    State.SKIPPED: "dim",
}
#: The order states are counted in (status bar, `watch`).
STATE_ORDER: tuple[State, ...] = tuple(STATE_STYLES)
#: States of a step or plan that is under way.
LIVE_STATES: frozenset[State] = frozenset({State.RUNNING, State.PAUSED})
LIVE_STATE_NAMES: frozenset[str] = frozenset(state.value for state in LIVE_STATES)

#: Colour of each log level (OTLP's and the stdlib's spellings).
LEVEL_STYLES: dict[str, str] = {"TRACE": "dim", "DEBUG": "dim", "WARN": "yellow", "WARNING": "yellow",
                                "ERROR": "red", "FATAL": "bold red", "CRITICAL": "bold red"}

#: A failed attempt that is tried again, and a request the user cancelled: neither is a failure.
RETRY_STYLE = "yellow"
CANCELLED_STYLE = "dim"
FAILED_STYLE = STATE_STYLES[State.FAILED]

#: `error.type` values that mean "stopped on purpose" (a user's cancel, telemetry shut down mid-span).
CANCELLED_ERROR_TYPES = frozenset({"cancelled", sc.ERROR_INTERRUPTED})


def state_of(name: str | None) -> State | None:
    """The State named `name` (`Completed`), None for anything else."""
    try:
        return State(name) if name else None
    except ValueError:
        return None


def state_style(state: State | str | None) -> str:
    """The colour of a state, given as a State or its name; "" for an unknown one."""
    found = state if isinstance(state, State) else state_of(state)
    return STATE_STYLES.get(found, "") if found is not None else ""



# -- names ------------------------------------------------------------------------------------
def span_label(name: str, attributes: Mapping[str, Any]) -> str:
    """What a span is called wherever it is shown: a command by its line as the plan or the model
    wrote it (`python test_greet.py`, `make && make test`), anything else by its span name.

    A command's span name follows the CLI span convention, `{process.executable.name}`: the
    program that really ran, which is `sh` for a line the shell runs (runner/command_line.py).
    Right for grouping spans, not for a reader, who needs the line they know; its argv
    (`process.command_args`) is the fallback for a command recorded without its line.
    """
    if sc.PROCESS_EXECUTABLE_NAME not in attributes:
        return name
    line = attributes.get(sc.AIW_COMMAND_LINE)
    if line:
        return str(line)
    args = attributes.get(sc.PROCESS_COMMAND_ARGS)
    return shlex.join(str(arg) for arg in args) if args else name


def step_count(count: int) -> str:
    """`1 step`, `5 steps`: how many steps a plan has, as `run` and `check` say it."""
    return f"{count} step{'' if count == 1 else 's'}"


# -- durations ----------------------------------------------------------------------------------
def duration(ms: float) -> str:
    """`0.3 ms`, `801 ms`, `1.6 s`, `2 m 05 s`, `1 h 02 m`: one format for every duration shown.

    Below a second in milliseconds (never `0s`), below a minute in tenths of a second, then
    minutes and seconds, then hours and minutes. Each unit hands over to the next where its
    rounding would reach it (999.7 ms is `1.0 s`, not `1000 ms`).
    """
    ms = max(0.0, float(ms))
    if ms < 0.95:
        return f"{ms:.1f} ms"
    if round(ms) < 1000:
        return f"{ms:.0f} ms"
    tenths = round(ms / 100)
    if tenths < 600:
        return f"{tenths / 10:.1f} s"
    seconds = round(ms / 1000)
    if seconds < 3600:
        return f"{seconds // 60} m {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} m"


def duration_between(started_ns: int | None, ended_ns: int | None, now_ns: int) -> str:
    """The `duration` from a start to its end (or to now while it lasts); "" before the start."""
    if started_ns is None:
        return ""
    return duration(max(0, (ended_ns or now_ns) - started_ns) / 1e6)


#: The widest `duration` below 100 hours (`99 h 59 m`, `59 m 59 s`): a column of them fits this.
DURATION_WIDTH = len("59 m 59 s")


# -- what a finished span amounts to ------------------------------------------------------------
class Outcome(enum.Enum):
    OK = "ok"
    FAILED = "failed"
    #: A failed AI attempt whose failure announced a retry: the next attempt decides.
    RETRIED = "retried"
    #: Stopped by the user's cancel (or by shutdown): not a failure of the step's own.
    CANCELLED = "cancelled"


def outcome(failed: bool, attributes: Mapping[str, Any], event_attributes: Iterable[tuple[str, Mapping[str, Any]]] = (),
            state: str | None = None) -> Outcome:
    """The verdict on a finished span from its status, `error.type`, its events (name, attributes) and state."""
    if state == State.CANCELLED.value:
        return Outcome.CANCELLED
    if not failed:
        return Outcome.OK
    if attributes.get(sc.ERROR_TYPE) in CANCELLED_ERROR_TYPES:
        return Outcome.CANCELLED
    for name, event in event_attributes:
        if name == sc.EV_API_RESPONSE_FAILED and sc.AIW_AI_RETRY_AFTER_S in event:
            return Outcome.RETRIED
    return Outcome.FAILED


OUTCOME_STYLES: dict[Outcome, str] = {Outcome.OK: "", Outcome.FAILED: FAILED_STYLE, Outcome.RETRIED: RETRY_STYLE,
                                      Outcome.CANCELLED: CANCELLED_STYLE}
#: The word a line uses where a span is not simply done: `retried after RateLimitError`.
OUTCOME_WORDS: dict[Outcome, str] = {Outcome.OK: "", Outcome.FAILED: "error", Outcome.RETRIED: "retried after",
                                     Outcome.CANCELLED: "cancelled"}
