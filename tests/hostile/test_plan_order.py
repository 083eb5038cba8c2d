"""Dependency order is the plan's graph, not the order its steps are listed in."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from aiw_otel import State
from aiw_otel.runner.engine import Engine, RunOptions
from aiw_otel.runner.plan import Plan, PlanError, StepSpec
from aiw_otel.runner.plan_loader import load_plan, validate_plan


def _step(step_id: str, *depends_on: str) -> dict[str, object]:
    return {"step_id": step_id, "description": step_id, "depends_on": list(depends_on),
            "agent_spec": {"type": "t"}, "actions": [{"write": f"{step_id}.txt", "content": step_id}]}


def _plan(tmp_path: Path, *steps: dict[str, object]) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"task_id": "t", "plan": list(steps)}))
    return path


def _states(cap) -> dict[str, str]:
    return {s.attributes["aiw.step.id"]: s.attributes["aiw.step.state"]
            for s in cap.spans() if "aiw.step.state" in s.attributes}


def test_a_step_may_depend_on_a_step_listed_after_it(capture, tmp_path):
    plan = load_plan(_plan(tmp_path, _step("a", "b"), _step("b")))
    cap = capture()
    engine = Engine(cap.telemetry, plan, RunOptions(workspace=tmp_path / "ws"))
    assert engine.run() is State.COMPLETED
    assert _states(cap) == {"a": "Completed", "b": "Completed"}
    started = [s.attributes["aiw.step.id"] for s in sorted(cap.spans(), key=lambda s: s.start_time)
               if "aiw.step.state" in s.attributes]
    assert started == ["b", "a"]


def test_ties_keep_the_file_order(capture, tmp_path):
    plan = load_plan(_plan(tmp_path, _step("c", "a"), _step("b"), _step("a")))
    assert [s.step_id for s in plan.in_dependency_order()] == ["b", "a", "c"]


def test_a_1200_step_chain_listed_in_reverse_runs(capture, tmp_path):
    count = 1200
    assert count > sys.getrecursionlimit() // 2
    steps = [_step(f"s{i}", *([f"s{i - 1}"] if i else [])) for i in reversed(range(count))]
    plan = load_plan(_plan(tmp_path, *steps))
    assert plan.in_dependency_order()[0].step_id == "s0"
    cap = capture()
    engine = Engine(cap.telemetry, plan, RunOptions(workspace=tmp_path / "ws"))
    assert engine.run() is State.COMPLETED
    assert (tmp_path / "ws" / f"s{count - 1}.txt").read_text() == f"s{count - 1}"


def test_a_long_cycle_is_found_without_recursion_and_named(tmp_path):
    count = 2000
    steps = [_step(f"s{i}", f"s{(i + 1) % count}") for i in range(count)]
    with pytest.raises(PlanError) as caught:
        load_plan(_plan(tmp_path, *steps))
    message = str(caught.value)
    assert "step 's0': depends_on[0]: dependency cycle: s0 -> s1 -> s2" in message
    assert message.endswith(f"s{count - 1} -> s0 (each step depends on the next)")


def test_a_cycle_behind_a_step_names_only_the_cycle(tmp_path):
    with pytest.raises(PlanError) as caught:
        load_plan(_plan(tmp_path, _step("x", "a"), _step("a", "b"), _step("b", "a")))
    assert str(caught.value).endswith("step 'a': depends_on[0]: dependency cycle: a -> b -> a"
                                      " (each step depends on the next)")


def test_the_engine_refuses_a_plan_built_in_code_with_a_bad_graph(capture, tmp_path):
    cap = capture()
    for steps, expected in (
        ((StepSpec("a", "a", depends_on=("ghost",), actions=()),), "depends on unknown step 'ghost'"),
        ((StepSpec("a", "a", depends_on=("b",)), StepSpec("b", "b", depends_on=("a",))), "dependency cycle: a -> b -> a"),
    ):
        plan = Plan("p", "p", "goal", steps, source="built.py")
        with pytest.raises(PlanError, match=expected):
            validate_plan(plan)
        with pytest.raises(PlanError, match=expected):
            Engine(cap.telemetry, plan, RunOptions(workspace=tmp_path / "ws")).run()
