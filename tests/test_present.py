"""The one place runs are put into words: durations, state colours, span verdicts, step names."""

from __future__ import annotations

import pytest

from aiw_otel import conventions as sc
from aiw_otel.model import State
from aiw_otel.present import STATE_STYLES, Outcome, duration, duration_between, outcome, state_style
from aiw_otel.stepref import StepNotFound, StepRef, completions, labels, resolve, short_ids


@pytest.mark.parametrize("ms, shown", [
    (0, "0.0 ms"), (0.27, "0.3 ms"), (0.96, "1 ms"), (12.4, "12 ms"), (801, "801 ms"), (999.4, "999 ms"),
    (999.6, "1.0 s"), (1600, "1.6 s"), (59_940, "59.9 s"), (59_960, "1 m 00 s"), (125_000, "2 m 05 s"),
    (3_599_400, "59 m 59 s"), (3_599_600, "1 h 00 m"), (7_500_000, "2 h 05 m"), (-5, "0.0 ms"),
])
def test_one_duration_format_never_shows_zero_seconds_for_sub_second_work(ms, shown):
    assert duration(ms) == shown


def test_a_duration_between_times_is_empty_before_the_start_and_runs_to_now():
    assert duration_between(None, None, 5) == ""
    assert duration_between(0, None, 1_600_000_000) == "1.6 s"
    assert duration_between(0, 801_000_000, 10**12) == "801 ms"


def test_every_state_has_one_colour_and_names_come_from_the_enum():
    assert set(STATE_STYLES) == set(State)
    assert state_style("Failed") == state_style(State.FAILED) == "red"
    assert state_style("Completed") == "green" and state_style("Cancelled") == "dim"
    assert state_style("no such state") == ""


def test_a_retried_attempt_and_a_cancel_are_not_failures():
    retry_event = [(sc.EV_API_RESPONSE_FAILED, {sc.ERROR_TYPE: "RateLimitError", sc.AIW_AI_RETRY_AFTER_S: 0.2})]
    last_event = [(sc.EV_API_RESPONSE_FAILED, {sc.ERROR_TYPE: "RateLimitError"})]
    assert outcome(True, {sc.ERROR_TYPE: "RateLimitError"}, retry_event) is Outcome.RETRIED
    assert outcome(True, {sc.ERROR_TYPE: "RateLimitError"}, last_event) is Outcome.FAILED
    assert outcome(True, {sc.ERROR_TYPE: "cancelled"}) is Outcome.CANCELLED
    assert outcome(False, {}, state="Cancelled") is Outcome.CANCELLED
    assert outcome(False, {}) is Outcome.OK


UUIDS = [f"a1f0c2d4-0001-4000-8000-00000000000{i}" for i in range(1, 5)]
REAL = [StepRef(UUIDS[0], "write_module"), StepRef(UUIDS[1], "write_tests"), StepRef(UUIDS[2], "run_tests"),
        StepRef(UUIDS[3])]


def test_steps_are_shown_by_name_else_by_a_short_unique_form_of_their_uuid():
    shown = labels(REAL)
    assert [shown[u] for u in UUIDS] == ["write_module", "write_tests", "run_tests", "…0004"]
    distinct = ["5b0c1c7e-2f4d-4a57-9a53-1f0d2a6e8b11", "7c0c1c7e-2f4d-4a57-9a53-1f0d2a6e8b11"]
    assert short_ids(distinct) == {distinct[0]: "5b0c1c7e…", distinct[1]: "7c0c1c7e…"}
    assert short_ids(["write_spec"]) == {"write_spec": "write_spec"}
    twice = labels([StepRef(UUIDS[0], "build"), StepRef(UUIDS[1], "build")])
    assert twice == {UUIDS[0]: "build (…0001)", UUIDS[1]: "build (…0002)"}


@pytest.mark.parametrize("typed, step", [
    ("write_module", 0), ("write_m", 0), ("WRITE_T", 1), ("run", 2), (UUIDS[2], 2), ("…0004", 3), ("...0004", 3),
])
def test_a_step_is_named_by_its_name_id_label_or_a_unique_prefix(typed, step):
    assert resolve(typed, REAL) == UUIDS[step]


def test_an_exact_name_wins_over_a_longer_one_it_prefixes():
    steps = [StepRef("check"), StepRef("check_style")]
    assert resolve("check", steps) == "check"
    assert resolve("check_", steps) == "check_style"


def test_an_ambiguous_or_unknown_step_is_refused_with_the_candidates():
    with pytest.raises(StepNotFound) as ambiguous:
        resolve("write", REAL)
    assert str(ambiguous.value) == "'write' fits 2 steps: write_module […0001], write_tests […0002]; type more of it"
    assert ambiguous.value.candidates == (UUIDS[0], UUIDS[1])
    with pytest.raises(StepNotFound, match=r"no step 'deploy' \(steps: write_module \[…0001\], .*…0004\)"):
        resolve("deploy", REAL)
    with pytest.raises(StepNotFound, match="a1f0c2d4"):  # every uuid starts so: more of it is needed
        resolve("a1f0c2d4", REAL)


def test_tab_completions_are_the_labels_then_the_ids_that_start_with_the_typed_text():
    assert completions("wr", REAL) == ["write_module", "write_tests"]
    assert completions("a1f0c2d4-0001-4000-8000-0000000000", REAL) == UUIDS
