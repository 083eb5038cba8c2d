import itertools
import logging

import pytest

from aiw_otel.model import (
    TRANSITIONS,
    ComponentType,
    InvalidTransition,
    Lifecycle,
    LogLevel,
    LogMessage,
    State,
    check_transition,
)

ALLOWED = {
    (State.PENDING, State.RUNNING),
    (State.PENDING, State.SKIPPED),
    (State.PENDING, State.CANCELLED),
    (State.RUNNING, State.PAUSED),
    (State.RUNNING, State.COMPLETED),
    (State.RUNNING, State.FAILED),
    (State.RUNNING, State.CANCELLED),
    (State.PAUSED, State.RUNNING),
    (State.PAUSED, State.CANCELLED),
}


def test_the_table_is_exactly_the_seed_diagram_plus_skipped():
    table = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert table == ALLOWED


@pytest.mark.parametrize("before,after", sorted(ALLOWED, key=str))
def test_allowed_transitions_move(before, after):
    lifecycle = Lifecycle("step 's1'", before)
    assert lifecycle.move(after) is before
    assert lifecycle.state is after


FORBIDDEN = [(a, b) for a, b in itertools.product(State, State) if (a, b) not in ALLOWED]


@pytest.mark.parametrize("before,after", FORBIDDEN, ids=[f"{a.value}->{b.value}" for a, b in FORBIDDEN])
def test_forbidden_transitions_raise_and_change_nothing(before, after):
    lifecycle = Lifecycle("step 'build'", before)
    with pytest.raises(InvalidTransition) as caught:
        lifecycle.move(after)
    message = str(caught.value)
    assert "step 'build'" in message and before.value in message and after.value in message
    assert lifecycle.state is before


def test_error_message_lists_what_is_allowed():
    with pytest.raises(InvalidTransition, match=r"allowed from Paused: Cancelled, Running"):
        check_transition("plan 'p'", State.PAUSED, State.COMPLETED)
    with pytest.raises(InvalidTransition, match="Completed is final"):
        check_transition("plan 'p'", State.COMPLETED, State.RUNNING)


def test_terminal_states():
    assert {s for s in State if s.is_terminal} == {State.COMPLETED, State.FAILED, State.CANCELLED, State.SKIPPED}


def test_seed_enums():
    assert [c.value for c in ComponentType] == [
        "runner", "execution_engine", "ai_service", "file_operations",
        "terminal_interaction", "state_management", "user_interaction",
    ]
    assert LogLevel.parse("warn") is LogLevel.WARNING
    assert LogLevel.parse(40) is LogLevel.ERROR
    # model.py spells the numbers out (so as not to load logging): they are the stdlib's.
    assert {level: level.number for level in LogLevel} == {level: logging.getLevelName(level.value) for level in LogLevel}
    with pytest.raises(ValueError, match="unknown log level 'LOUD'"):
        LogLevel.parse("LOUD")
    assert ComponentType.parse("AI_SERVICE") is ComponentType.AI_SERVICE
    with pytest.raises(ValueError, match="unknown component"):
        ComponentType.parse("gpu")


def test_log_message_has_the_seed_fields_and_a_utc_timestamp():
    message = LogMessage(LogLevel.INFO, ComponentType.RUNNER, "started", "hello", step_id="s1", details={"a": 1})
    data = message.to_dict()
    assert list(data) == [
        "level", "component", "action", "message", "step_id", "event_id", "state_before",
        "state_after", "duration_ms", "details", "timestamp",
    ]
    assert data["level"] == "INFO" and data["component"] == "runner"
    assert message.timestamp.endswith("Z") and "T" in message.timestamp


def test_levels_and_components_are_dict_keys_by_identity_across_parse_and_pickle():
    """They hash by identity (in C, for the per-record lookups): members stay singletons, so a
    parsed or unpickled member finds the same entry."""
    import pickle

    levels = {level: level.number for level in LogLevel}
    assert levels[LogLevel.parse("warn")] == 30
    assert levels[pickle.loads(pickle.dumps(LogLevel.ERROR))] == 40
    components = {component: component.value for component in ComponentType}
    assert components[ComponentType.parse("AI_SERVICE")] == "ai_service"
    assert len(set(LogLevel) | set(LogLevel)) == len(LogLevel)
