"""A long run keeps what a finished step needs for the console and the summary, not its SDK span.

Counted in objects alive after the run, not in time or bytes: a finished step must leave no Step,
no SDK span and no mutable log deque behind, whatever the number of steps.
"""

from __future__ import annotations

import collections
import gc

from opentelemetry.sdk.trace import Span as SdkSpan

import aiw_otel
from aiw_otel.config import ConsoleSinkConfig, FileSinkConfig, SinksConfig, TelemetryConfig

#: No file and no console sink: only the run view, which is what is measured.
QUIET = TelemetryConfig(sinks=SinksConfig(console=ConsoleSinkConfig(enabled=False), file=FileSinkConfig(enabled=False)))
from aiw_otel import State
from aiw_otel.instrument.plan import FinishedStep, Step
from aiw_otel.processors.state_tracker import StateTracker

STEPS = 2000


def _alive(kind: type) -> int:
    gc.collect()
    return sum(1 for obj in gc.get_objects() if isinstance(obj, kind))


def test_finished_steps_keep_no_span_step_or_deque():
    tracker = StateTracker(step_log_limit=173)  # a maxlen no other deque here has
    telemetry = aiw_otel.configure(QUIET, environ={}, sinks=[tracker.sink()], set_global=False, handle_signals=False,
                                   stdlib_bridge=False)
    spans_before, steps_before = _alive(SdkSpan), _alive(Step)
    try:
        with telemetry.plan_run("p", "many steps") as run:
            for i in range(STEPS):
                with run.step(f"step-{i}", "t", description="a step") as step:
                    step.log(aiw_otel.LogLevel.INFO, "work", "working")
            del step  # the test's own reference to the last one
            run.skip_step("skipped", "nothing to do")
            with run.step("open", "t"):
                # Only the plan's and the open step's spans, the open Step, one deque: not one per step.
                assert _alive(SdkSpan) - spans_before <= 2
                assert _alive(Step) - steps_before == 1
                deques = sum(1 for obj in gc.get_objects() if isinstance(obj, collections.deque) and obj.maxlen == 173)
                assert deques <= 1
            assert isinstance(run.steps["step-7"], FinishedStep) and run.steps["step-7"].state is State.COMPLETED
    finally:
        telemetry.shutdown(5)
    view = tracker.snapshot()
    # What the console and the summary read is all there.
    assert len(view.steps) == STEPS + 2 and view.state == "Completed"
    step = next(s for s in view.steps if s.step_id == "step-7")
    assert step.state == "Completed" and step.started_ns and step.ended_ns and step.description == "a step"
    assert [line.message for line in step.logs] == ["Starting execution of step 'step-7'.", "working",
                                                    "Step 'step-7' succeeded."]


def test_a_late_record_for_a_finished_step_is_still_shown():
    tracker = StateTracker()
    telemetry = aiw_otel.configure(QUIET, environ={}, sinks=[tracker.sink()], set_global=False, handle_signals=False,
                                   stdlib_bridge=False)
    try:
        with telemetry.plan_run("p", "late") as run:
            with run.step("a", "t") as step:
                pass
            step.log(aiw_otel.LogLevel.WARNING, "late", "after the end")
    finally:
        telemetry.shutdown(5)
    (view,) = tracker.snapshot().steps
    assert view.state == "Completed" and [line.message for line in view.logs][-1] == "after the end"
