"""The runner's data model: log levels, components, the LogMessage record and run states.

Everything here is plain data with no OpenTelemetry in it, so that front ends (a terminal, a
socket client, a future GUI) can share it without pulling in the SDK.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from aiw_otel.timestamps import utc_timestamp


class LogLevel(enum.Enum):
    """Seed section 3.1 levels; `.number` is the stdlib level so thresholds compare as ints."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"

    #: Members are singletons compared by identity: hashed by it too, in C. Enum's own `__hash__`
    #: is a Python call, and every log record looks a level and a component up in dicts.
    __hash__ = object.__hash__

    @property
    def number(self) -> int:
        return _STDLIB_LEVELS[self]

    @classmethod
    def parse(cls, value: str | int | LogLevel) -> LogLevel:
        """Accept `info`, `INFO`, `WARN`, 20 or a LogLevel; raise ValueError naming the choices."""
        if isinstance(value, LogLevel):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            for level, number in _STDLIB_LEVELS.items():
                if number == value:
                    return level
        elif isinstance(value, str):
            name = value.strip().upper()
            name = {"WARN": "WARNING", "FATAL": "CRITICAL"}.get(name, name)
            if name in cls.__members__:
                return cls[name]
        raise ValueError(f"unknown log level {value!r} (expected one of {', '.join(cls.__members__)})")


#: The stdlib's numbers (logging.DEBUG is 10 ... logging.CRITICAL 50, fixed since Python 2.3),
#: spelled out so that `aiw-otel logs` and `--help`, which load this module, do not load `logging`.
_STDLIB_LEVELS = {
    LogLevel.DEBUG: 10,
    LogLevel.INFO: 20,
    LogLevel.WARNING: 30,
    LogLevel.ERROR: 40,
    LogLevel.CRITICAL: 50,
}


class ComponentType(enum.Enum):
    """The seven sources of seed section 3.1; the value is the stdlib logger suffix (`aiw.<value>`)."""

    RUNNER = "runner"
    EXECUTION_ENGINE = "execution_engine"
    AI_SERVICE = "ai_service"
    FILE_OPERATIONS = "file_operations"
    TERMINAL_INTERACTION = "terminal_interaction"
    STATE_MANAGEMENT = "state_management"
    USER_INTERACTION = "user_interaction"

    __hash__ = object.__hash__  # as LogLevel's

    @classmethod
    def parse(cls, value: str | ComponentType) -> ComponentType:
        """Accept `ai_service`, `AI_SERVICE` or the member; raise ValueError naming the choices."""
        if isinstance(value, ComponentType):
            return value
        key = str(value).strip()
        for member in cls:
            if key.lower() == member.value or key.upper() == member.name:
                return member
        raise ValueError(
            f"unknown component {value!r} (expected one of {', '.join(m.value for m in cls)})"
        )


@dataclass
class LogMessage:
    """One structured log event (seed section 3.1).

    Fields are keyword-friendly and ordered as in the seed; `timestamp` defaults to now.
    """

    level: LogLevel
    component: ComponentType
    action: str
    message: str
    step_id: str | None = None
    event_id: str | None = None
    state_before: str | None = None
    state_after: str | None = None
    duration_ms: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    timestamp: str = field(default_factory=utc_timestamp)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (enums by value), e.g. for stdlib `extra=` or a socket client."""
        data = asdict(self)
        data["level"] = self.level.value
        data["component"] = self.component.value
        return data


class State(enum.Enum):
    """Lifecycle of a plan run or a step (seed section 2, plus Skipped)."""

    PENDING = "Pending"
    RUNNING = "Running"
    PAUSED = "Paused"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELLED = "Cancelled"
    SKIPPED = "Skipped"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({State.COMPLETED, State.FAILED, State.CANCELLED, State.SKIPPED})

#: The seed's state diagram, plus Pending -> Skipped (a dependency did not complete) and
#: Pending -> Cancelled (the run was cancelled before the step started).
TRANSITIONS: dict[State, frozenset[State]] = {
    State.PENDING: frozenset({State.RUNNING, State.SKIPPED, State.CANCELLED}),
    State.RUNNING: frozenset({State.PAUSED, State.COMPLETED, State.FAILED, State.CANCELLED}),
    State.PAUSED: frozenset({State.RUNNING, State.CANCELLED}),
    State.COMPLETED: frozenset(),
    State.FAILED: frozenset(),
    State.CANCELLED: frozenset(),
    State.SKIPPED: frozenset(),
}


class ContextFull(ValueError):
    """More context than the next AI call may take is already waiting for it."""


class InvalidTransition(ValueError):
    """A state change the diagram forbids; says which entity, from where, to where."""

    def __init__(self, entity: str, current: State, requested: State) -> None:
        allowed = sorted(s.value for s in TRANSITIONS[current])
        hint = f"allowed from {current.value}: {', '.join(allowed)}" if allowed else (
            f"{current.value} is final"
        )
        super().__init__(
            f"{entity}: cannot go from {current.value} to {requested.value} ({hint})"
        )
        self.entity = entity
        self.current = current
        self.requested = requested


def check_transition(entity: str, current: State, requested: State) -> None:
    """Raise InvalidTransition unless the diagram allows `current -> requested`."""
    if requested not in TRANSITIONS[current]:
        raise InvalidTransition(entity, current, requested)


class Lifecycle:
    """The state of one plan or step, changed only along the diagram, safely from any thread."""

    def __init__(self, entity: str, initial: State = State.PENDING) -> None:
        self.entity = entity
        self._state = initial
        self._lock = threading.Lock()

    @property
    def state(self) -> State:
        return self._state

    def move(self, requested: State) -> State:
        """Change state; returns the state before. Raises InvalidTransition, leaving it unchanged."""
        with self._lock:
            before = self._state
            check_transition(self.entity, before, requested)
            self._state = requested
            return before


class RunCancelled(Exception):
    """Raised inside a step to unwind it after a cancel request; ends the step Cancelled, not Failed."""


@dataclass(frozen=True)
class StateChange:
    """A plan or step changed state, as the engine's own Lifecycle saw it: what a run view follows
    when there are no spans to follow (OTEL_SDK_DISABLED=true)."""

    #: "plan" or "step".
    entity: str
    #: The step's id; None for the plan.
    step_id: str | None
    before: str
    after: str
    at_ns: int
    #: Why a step or plan failed (its error message), when it did.
    error: str | None = None
    plan_id: str | None = None
    run_id: str | None = None
