"""The reference engine end to end: real plans, real files and processes, a real OpenAI client."""

from __future__ import annotations

import os
import threading

import pytest

import aiw_otel
from aiw_otel import State
from aiw_otel.config import FileSinkConfig, SinksConfig, TelemetryConfig
from aiw_otel.cli.run import DEMO_PLAN
from aiw_otel.runner.engine import Engine, RunOptions
from aiw_otel.runner.plan_loader import load_plan
from tests.fake_openai import FakeOpenAI, completion
from tests.otlp_files import attrs, spans_in
from tests.processes import pid_of, process_state, until
from tests.recorded_runs import debug_config, plan_file


@pytest.mark.slow
def test_the_demo_plan_produces_the_span_tree_of_the_plan(tmp_path):
    logs = tmp_path / "logs"
    telemetry = aiw_otel.configure(TelemetryConfig(sinks=SinksConfig(file=FileSinkConfig(directory=str(logs)))),
                                   environ={}, set_global=False, handle_signals=False)
    plan = load_plan(DEMO_PLAN)
    engine = Engine(telemetry, plan, RunOptions(workspace=tmp_path / "ws", provider="replay",
                                                replay_file=str(DEMO_PLAN / "replay.json")))
    assert engine.run() is State.FAILED
    assert telemetry.shutdown(10)
    spans = spans_in(logs)
    by_id = {s["spanId"]: s for s in spans}
    (root,) = [s for s in spans if s["name"] == "invoke_workflow greet-release"]
    steps = {attrs(s)["aiw.step.id"]: s for s in spans if s.get("parentSpanId") == root["spanId"]
             and "aiw.step.state" in attrs(s)}
    assert list(steps) == [s.step_id for s in plan.steps] or set(steps) == {s.step_id for s in plan.steps}
    states = {step_id: attrs(span)["aiw.step.state"] for step_id, span in steps.items()}
    assert states == {"write_spec": "Completed", "generate_code": "Completed", "check_style": "Completed",
                      "publish_package": "Failed", "announce_release": "Skipped"}
    run_id = attrs(root)["aiw.run.id"]
    for step_id, span in steps.items():
        spec, step = plan.step(step_id), attrs(span)
        if spec.needs_ai and step["aiw.step.state"] != "Skipped":  # an agent runs it: GenAI groups its calls
            assert (span["name"], span["kind"]) == (f"invoke_agent {spec.type}", 1)  # INTERNAL
            assert (step["gen_ai.operation.name"], step["gen_ai.agent.name"]) == ("invoke_agent", spec.type)
            assert (step["gen_ai.provider.name"], step["gen_ai.request.model"]) == ("openai", "gpt-4o-mini")
            assert step["gen_ai.conversation.id"] == f"{run_id}:{step_id}"
        else:
            assert span["name"] == spec.type and "gen_ai.operation.name" not in step
    assert {step_id for step_id, span in steps.items() if span["name"].startswith("invoke_agent")} >= {"generate_code"}

    def children(step_id: str) -> list[str]:
        return [s["name"] for s in spans if s.get("parentSpanId") == steps[step_id]["spanId"]]

    chats = [s for s in spans if s["name"] == "chat gpt-4o-mini" and by_id[s["parentSpanId"]] is steps["generate_code"]]
    assert len(chats) >= 4 and any(attrs(c).get("error.type") == "RateLimitError" for c in chats)
    assert {attrs(c)["gen_ai.conversation.id"] for c in chats} == {f"{run_id}:generate_code"}
    assert "execute_tool write_file" in children("generate_code")
    assert "execute_tool execute_command" in children("generate_code")
    assert children("check_style")[:2] == ["python", "file read"]  # `python -m py_compile greet.py`, run directly
    assert attrs(steps["publish_package"])["error.type"] == "MissingOutputArtifact"
    assert children("announce_release") == []
    assert (tmp_path / "ws" / "greet.py").exists() and (tmp_path / "ws" / "test_greet.py").exists()


def test_an_ai_step_talks_to_a_real_openai_compatible_server(capture, tmp_path, fake_openai: FakeOpenAI):
    fake_openai.script(
        completion("writing", tool_calls=[("write_file", {"path": "out.txt", "content": "made by the model"})]),
        completion("done"),
    )
    plan = load_plan(plan_file(tmp_path, """
task_id: t
natural_language_goal: make out.txt
plan:
  - step_id: make
    description: create out.txt
    agent_spec:
      type: code_generation
      instructions: [write out.txt]
      output_artifacts: [out.txt]
      model_preference: {provider: openai, model: local-model, temperature: 0.1, max_tokens: 50}
"""))
    cap = capture(debug_config())
    engine = Engine(cap.telemetry, plan, RunOptions(workspace=tmp_path / "ws",
                                                    environ={"OPENAI_BASE_URL": fake_openai.base_url}))
    assert engine.run() is State.COMPLETED
    assert (tmp_path / "ws" / "out.txt").read_text() == "made by the model"
    first, second = fake_openai.wait_for_requests(2)
    assert first.body["model"] == "local-model" and first.body["temperature"] == 0.1
    assert {t["function"]["name"] for t in first.body["tools"]} == {
        "read_file", "write_file", "list_files", "delete_file", "execute_command"}
    assert second.body["messages"][-1]["role"] == "tool"
    chats = [s for s in cap.spans() if s.name == "chat local-model"]
    assert len(chats) == 2 and all(s.attributes["gen_ai.provider.name"] == "openai" for s in chats)


def test_pause_resume_context_and_cancel_a_running_plan(capture, tmp_path, fake_openai: FakeOpenAI):
    fake_openai.script(completion("noted"))
    plan = load_plan(plan_file(tmp_path, """
task_id: t
natural_language_goal: steer me
plan:
  - step_id: long
    description: a long command
    agent_spec: {type: analysis}
    actions: [{run: "sleep 37.25"}]
  - step_id: ask
    description: ask the model
    depends_on: [long]
    agent_spec: {type: ai_interaction, instructions: [say something]}
"""))
    cap = capture(debug_config())
    engine = Engine(cap.telemetry, plan, RunOptions(workspace=tmp_path / "ws", provider="openai", model="m",
                                                    environ={"OPENAI_BASE_URL": fake_openai.base_url}))
    result: list[State] = []
    worker = threading.Thread(target=lambda: result.append(engine.run()))
    worker.start()
    pid = pid_of("sleep 37.25")
    engine.pause(source="test")
    until(lambda: process_state(pid) == "T", "the command stopped (state T)")
    engine.add_context("focus on the API section", source="test")
    engine.resume(source="test")
    until(lambda: process_state(pid) in ("S", "R"), "the command running again")
    engine.cancel(source="test")
    worker.join(20)
    assert not worker.is_alive() and result == [State.CANCELLED]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    states = {s.attributes.get("aiw.step.id"): s.attributes.get("aiw.step.state")
              for s in cap.spans() if "aiw.step.state" in s.attributes}
    assert states == {"long": "Cancelled", "ask": "Cancelled"}
    assert [s.name for s in cap.spans() if s.name.startswith("user_interaction")] == [
        "user_interaction pause", "user_interaction context", "user_interaction resume", "user_interaction cancel"]
    assert fake_openai.requests == []  # the AI step never ran


def test_context_reaches_the_next_ai_call(capture, tmp_path, fake_openai: FakeOpenAI):
    fake_openai.script(completion("ok"))
    plan = load_plan(plan_file(tmp_path, """
task_id: t
natural_language_goal: context
plan:
  - step_id: wait
    description: wait for a go file
    agent_spec: {type: analysis}
    actions: [{run: "while [ ! -f go ]; do sleep 0.02; done"}]
  - step_id: ask
    description: ask the model
    depends_on: [wait]
    agent_spec: {type: ai_interaction, instructions: [answer]}
"""))
    cap = capture(debug_config())
    workspace = tmp_path / "ws"
    engine = Engine(cap.telemetry, plan, RunOptions(workspace=workspace, provider="openai", model="m",
                                                    environ={"OPENAI_BASE_URL": fake_openai.base_url}))
    worker = threading.Thread(target=engine.run)
    worker.start()
    assert engine.wait_until_started(10)
    engine.add_context("use British spelling")
    until(workspace.exists, "the workspace")
    (workspace / "go").write_text("")
    worker.join(20)
    (request,) = fake_openai.wait_for_requests(1)
    assert request.body["messages"][-1]["content"].endswith("use British spelling")
    (applied,) = cap.logs_with("context_applied")
    assert applied.attributes["aiw.step_id"] == "ask"


def test_fail_fast_and_independent_steps(capture, tmp_path):
    body = """
task_id: t
natural_language_goal: failures
plan:
  - {step_id: bad, description: fails, agent_spec: {type: t}, actions: [{run: "exit 4"}]}
  - {step_id: free, description: independent, agent_spec: {type: t}, actions: [{write: ok.txt, content: ok}]}
  - {step_id: after, description: depends on bad, depends_on: [bad], agent_spec: {type: t}, actions: [{read: ok.txt}]}
"""
    plan = load_plan(plan_file(tmp_path, body))
    for fail_fast, expected_free in ((False, "Completed"), (True, "Skipped")):
        cap = capture()
        engine = Engine(cap.telemetry, plan, RunOptions(workspace=tmp_path / f"ws{fail_fast}", fail_fast=fail_fast))
        assert engine.run() is State.FAILED
        states = {s.attributes["aiw.step.id"]: s.attributes["aiw.step.state"]
                  for s in cap.spans() if "aiw.step.state" in s.attributes}
        assert states == {"bad": "Failed", "free": expected_free, "after": "Skipped"}


def test_log_messages_name_steps_as_the_console_shows_them_and_keep_the_id_as_an_attribute(capture, tmp_path):
    """AIWhisperer subtasks have UUID ids: a message reads `step 'write_module'`, or the short id
    the console shows for a step without a name (`…0002`), never the whole UUID; the id itself stays
    on every record (`aiw.step_id`), so filters and look-ups by id still work."""
    ids = [f"a1f0c2d4-0001-4000-8000-00000000000{n}" for n in (1, 2, 3)]
    plan = load_plan(plan_file(tmp_path, f"""
task_id: t
natural_language_goal: uuid steps
plan:
  - {{step_id: {ids[0]}, name: write_module, description: w, agent_spec: {{type: t}}, actions: [{{write: a.txt, content: a}}]}}
  - {{step_id: {ids[1]}, description: fails, depends_on: [{ids[0]}], agent_spec: {{type: t}}, actions: [{{run: "exit 4"}}]}}
  - {{step_id: {ids[2]}, name: publish, description: p, depends_on: [{ids[1]}], agent_spec: {{type: t}}, actions: [{{read: a.txt}}]}}
"""))
    cap = capture()
    engine = Engine(cap.telemetry, plan, RunOptions(workspace=tmp_path / "ws"))
    assert engine.run() is State.FAILED
    records = cap.logs()
    bodies: dict[str, list[tuple[str, str]]] = {}
    for record in records:
        attributes = record.attributes or {}
        bodies.setdefault(attributes.get("aiw.action"), []).append((record.body, attributes.get("aiw.step_id")))
    assert ("Starting execution of step 'write_module'.", ids[0]) in bodies["step_execution_started"]
    assert ("Starting execution of step '…0002'.", ids[1]) in bodies["step_execution_started"]
    assert ("Step 'write_module' succeeded.", ids[0]) in bodies["step_execution_succeeded"]
    assert ("Step '…0002' failed.", ids[1]) in bodies["step_execution_failed"]
    assert bodies["step_execution_skipped"] == [("Step 'publish' skipped: dependency '…0002' did not complete", ids[2])]
    assert not [body for body, _ in sum(bodies.values(), []) if "a1f0c2d4" in str(body)]
    (root,) = [s for s in cap.spans() if s.name.startswith("invoke_workflow")]
    assert root.status.description.endswith("1 step(s) failed: …0002"), root.status.description
    skipped = next(s for s in cap.spans() if s.attributes.get("aiw.step.id") == ids[2])
    assert skipped.attributes["aiw.step.name"] == "publish"
