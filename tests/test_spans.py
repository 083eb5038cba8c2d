"""The span tree a run produces: names, kinds, parentage, attributes, events, status."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from aiw_otel import ContentCapture, RunCancelled, State
from tests.recorded_runs import debug_config, run_sample_plan


def test_span_tree_names_kinds_and_parentage(capture, tmp_path):
    cap = capture()
    run_sample_plan(cap.telemetry, tmp_path)
    spans = {s.name: s for s in cap.spans()}
    root = spans["invoke_workflow refactor module"]
    step = spans["code_generation"]
    chat = spans["chat gpt-4o"]
    tool = spans["execute_tool write_file"]
    write = spans["file write"]
    command = spans[sys.executable.rsplit("/", 1)[-1]]
    assert root.parent is None and root.kind is SpanKind.INTERNAL
    assert step.parent.span_id == root.context.span_id and step.kind is SpanKind.INTERNAL
    for child in (chat, tool, command):
        assert child.parent.span_id == step.context.span_id
    assert write.parent.span_id == tool.context.span_id
    assert chat.kind is SpanKind.CLIENT and command.kind is SpanKind.CLIENT and tool.kind is SpanKind.INTERNAL
    assert len({s.context.trace_id for s in spans.values()}) == 1


def test_plan_step_and_ai_attributes(capture, tmp_path):
    cap = capture()
    run = run_sample_plan(cap.telemetry, tmp_path)
    root = cap.span("invoke_workflow refactor module")
    assert root.attributes["gen_ai.operation.name"] == "invoke_workflow"
    assert root.attributes["gen_ai.workflow.name"] == "refactor module"
    assert root.attributes["aiw.plan.id"] == "plan-7"
    assert root.attributes["aiw.run.id"] == run.run_id
    assert root.attributes["aiw.plan.state"] == "Completed"
    step = cap.span("code_generation")
    assert {k: step.attributes[k] for k in ("aiw.step.id", "aiw.step.type", "aiw.step.state")} == {
        "aiw.step.id": "s1", "aiw.step.type": "code_generation", "aiw.step.state": "Completed"}
    chat = cap.span("chat gpt-4o")
    assert chat.attributes["gen_ai.operation.name"] == "chat"
    assert chat.attributes["gen_ai.provider.name"] == "openai"
    assert chat.attributes["gen_ai.request.model"] == "gpt-4o"
    assert chat.attributes["server.address"] == "api.openai.com" and chat.attributes["server.port"] == 443
    assert chat.attributes["gen_ai.response.model"] == "gpt-4o-2024-08-06"
    assert tuple(chat.attributes["gen_ai.response.finish_reasons"]) == ("tool_calls",)
    assert chat.attributes["gen_ai.usage.input_tokens"] == 12 and chat.attributes["gen_ai.usage.output_tokens"] == 7
    assert [e.name for e in chat.events] == ["api_request_sent", "api_response_received"]
    assert chat.status.status_code is StatusCode.UNSET
    tool = cap.span("execute_tool write_file")
    assert tool.attributes["gen_ai.tool.name"] == "write_file" and tool.attributes["gen_ai.tool.call.id"] == "call_1"


def test_sampling_attributes_are_present_at_span_start():
    seen = {}

    class StartRecorder:
        name = "start-recorder"

        def on_start(self, span, parent_context=None):
            seen[span.name] = dict(span.attributes)

        def on_end(self, span):
            pass

        def shutdown(self):
            pass

        def force_flush(self, timeout_millis=0):
            return True

    import aiw_otel

    telemetry = aiw_otel.configure(sinks=[aiw_otel.ProcessorSink("rec", span_processor=StartRecorder())],
                                   environ={"AIW_FILE": "off"}, set_global=False, handle_signals=False)
    try:
        with telemetry.plan_run("p", "p") as run, run.step("s", "t") as step:
            with step.ai_call(provider="openrouter", model="m1", server_address="openrouter.ai", server_port=443):
                pass
    finally:
        telemetry.shutdown(2.0)
    assert seen["chat m1"] == {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openrouter", "gen_ai.request.model": "m1",
        "server.address": "openrouter.ai", "server.port": 443, "aiw.step.id": "s",
    }


def test_file_and_command_attributes(capture, tmp_path):
    cap = capture()
    run_sample_plan(cap.telemetry, tmp_path)
    write = cap.span("file write")
    assert write.attributes["file.path"] == str(tmp_path / "out.py")
    assert write.attributes["file.size"] == 12 and write.attributes["aiw.file.bytes_written"] == 12
    assert write.attributes["aiw.file.operation"] == "write"
    command = cap.span(sys.executable.rsplit("/", 1)[-1])
    attrs = command.attributes
    assert attrs["process.executable.name"] == sys.executable.rsplit("/", 1)[-1]
    assert attrs["process.pid"] == 12345 and attrs["process.exit.code"] == 0
    assert attrs["aiw.command.stdout.lines"] == 2 and attrs["aiw.command.stdout.bytes"] == len(b"one\ntwo\n")
    assert attrs["aiw.command.stderr.bytes"] == 0
    assert "error.type" not in attrs
    assert [e.attributes["aiw.command.output_line"] for e in command.events] == ["one", "two"]


def test_failing_command_sets_error_type_from_exit_code(capture):
    cap = capture()
    with cap.telemetry.plan_run("p", "p") as run, run.step("s", "t") as step:
        with step.command(["sh", "-c", "exit 3"]) as cmd:
            cmd.exited(subprocess.run(cmd.argv).returncode)
        with step.command(["sh", "-c", "kill -9 $$"]) as cmd:
            cmd.exited(subprocess.run(cmd.argv).returncode)
    spans = [s for s in cap.spans() if s.name == "sh"]
    assert [s.attributes["error.type"] for s in spans] == ["3", "SIGKILL"]
    assert all(s.status.status_code is StatusCode.ERROR for s in spans)
    assert len(cap.logs_with("command_execution_failed")) == 2


def test_command_output_counts_stay_exact_beyond_the_event_cap(capture):
    cap = capture()
    payload = b"".join(b"line %d\n" % i for i in range(5000)) + b"\xff\xfe not utf-8 tail"
    with cap.telemetry.plan_run("p", "p") as run, run.step("s", "t") as step:
        with step.command("generate") as cmd:
            for offset in range(0, len(payload), 4096):
                cmd.output("stdout", payload[offset:offset + 4096])
            cmd.exited(0)
    span = cap.span("generate")
    assert span.attributes["aiw.command.stdout.bytes"] == len(payload)
    assert span.attributes["aiw.command.stdout.lines"] == 5001
    assert len(span.events) == 50
    assert span.attributes["aiw.command.output_events_dropped"] == 4951


def test_non_utf8_output_is_replaced_not_raised(capture):
    cap = capture()
    with cap.telemetry.plan_run("p", "p") as run, run.step("s", "t") as step:
        with step.command("bin") as cmd:
            cmd.output("stderr", b"ok \xff\xfe\n")
            cmd.exited(0)
    (event,) = cap.span("bin").events
    assert event.attributes["aiw.command.output_line"] == "ok \ufffd\ufffd"
    assert event.attributes["aiw.command.stream"] == "stderr"


def test_traceparent_reaches_a_real_child_process(capture):
    cap = capture()
    with cap.telemetry.plan_run("p", "p") as run, run.step("s", "t") as step:
        with step.command([sys.executable, "-c", "import os; print(os.environ['TRACEPARENT'])"]) as cmd:
            out = subprocess.run(cmd.argv, env=cmd.child_env(), capture_output=True, text=True, check=True).stdout
            cmd.exited(0)
    span = cap.span(sys.executable.rsplit("/", 1)[-1])
    version, trace_id, span_id, flags = out.strip().split("-")
    assert version == "00"
    assert int(trace_id, 16) == span.context.trace_id
    assert int(span_id, 16) == span.context.span_id


def test_rate_limited_ai_call_is_an_error_with_error_type(capture):
    cap = capture(debug_config())
    with cap.telemetry.plan_run("p", "p") as run, run.step("s", "t") as step:
        with step.ai_call(provider="openai", model="gpt-4o", event_id="ai_call_002") as call:
            call.request_sent()
            call.response_failed(error_type="RateLimitError", message="API rate limit exceeded", status_code=429,
                                 retry_after_s=2.0)
        with step.ai_call(provider="openai", model="gpt-4o", attempt=2) as call:
            call.request_sent()
            call.response_received(input_tokens=1, output_tokens=1)
    first, second = [s for s in cap.spans() if s.name == "chat gpt-4o"]
    assert first.status.status_code is StatusCode.ERROR
    assert first.status.description == "API rate limit exceeded"
    assert first.attributes["error.type"] == "RateLimitError"
    failed = [e for e in first.events if e.name == "api_response_failed"][0]
    assert failed.attributes["http.response.status_code"] == 429
    assert second.attributes["aiw.ai.attempt"] == 2 and second.status.status_code is StatusCode.UNSET
    (record,) = cap.logs_with("api_response_failed")
    assert record.severity_text == "WARN"
    assert record.attributes["http.response.status_code"] == 429 and record.attributes["aiw.event_id"] == "ai_call_002_resp"
    # The step itself did not fail: a retried error is not the enclosing operation's error.
    assert cap.span("t").status.status_code is StatusCode.UNSET


def test_exception_is_recorded_once_and_every_span_it_leaves_is_an_error(capture, tmp_path):
    cap = capture()
    with pytest.raises(FileNotFoundError):
        with cap.telemetry.plan_run("p", "plan") as run, run.step("s", "t") as step:
            with step.tool_call("read_file") as tool, tool.file_operation("read", str(tmp_path / "missing")):
                (tmp_path / "missing").read_text()
    spans = {s.name: s for s in cap.spans()}
    exception_events = [(n, e) for n, s in spans.items() for e in s.events if e.name == "exception"]
    assert [n for n, _ in exception_events] == ["file read"]
    assert exception_events[0][1].attributes["exception.type"] == "FileNotFoundError"
    for name in ("file read", "execute_tool read_file", "t", "invoke_workflow plan"):
        span = spans[name]
        assert span.status.status_code is StatusCode.ERROR, name
        assert span.attributes["error.type"] == "FileNotFoundError", name
        assert "No such file" in span.status.description
        assert not span.status.description.startswith("FileNotFoundError:")
    assert spans["t"].attributes["aiw.step.state"] == "Failed"
    assert spans["invoke_workflow plan"].attributes["aiw.plan.state"] == "Failed"
    (failed_read,) = cap.logs_with("file_read_failed")
    assert failed_read.attributes["error.type"] == "FileNotFoundError"
    (step_failed,) = cap.logs_with("step_execution_failed")
    assert step_failed.severity_text == "ERROR"
    assert step_failed.attributes["error.type"] == "FileNotFoundError"
    assert "aiw.traceback_summary" in step_failed.attributes


def test_every_state_change_is_an_event_and_a_log_message(capture):
    cap = capture()
    with cap.telemetry.plan_run("p", "plan") as run:
        with run.step("s1", "t") as step:
            run.pause(step)
            run.resume(step)
        run.skip_step("s2", "dependency s0 did not complete")
    step_span = cap.span("t")
    changes = [(e.attributes["aiw.state_before"], e.attributes["aiw.state_after"])
               for e in step_span.events if e.name == "state_change"]
    assert changes == [("Pending", "Running"), ("Running", "Paused"), ("Paused", "Running"), ("Running", "Completed")]
    step_logs = [(r.attributes["aiw.state_before"], r.attributes["aiw.state_after"])
                 for r in cap.logs() if r.attributes.get("aiw.component") == "execution_engine"
                 and r.attributes.get("aiw.step_id") == "s1"]
    assert step_logs == changes
    skipped = [s for s in cap.spans() if s.attributes.get("aiw.step.id") == "s2"][0]
    assert skipped.attributes["aiw.step.state"] == "Skipped"
    assert skipped.attributes["aiw.skip.reason"] == "dependency s0 did not complete"


def test_plan_fails_when_a_step_failed(capture):
    cap = capture()
    with cap.telemetry.plan_run("p", "plan") as run:
        with run.step("s1", "t") as step:
            step.fail("ValidationError", "output artifact missing: out.py")
        with run.step("s2", "t"):
            pass
    root = cap.span("invoke_workflow plan")
    assert root.attributes["aiw.plan.state"] == "Failed"
    assert root.attributes["error.type"] == "step_failed"
    assert run.state is State.FAILED
    assert run.steps["s2"].state is State.COMPLETED


def test_log_records_are_correlated_to_their_span(capture):
    cap = capture()
    with cap.telemetry.plan_run("p", "plan") as run, run.step("s1", "t") as step:
        with step.command("true") as cmd:
            cmd.exited(0)
    spans = {s.name: s for s in cap.spans()}
    (started,) = cap.logs_with("command_execution_started")
    assert started.trace_id == spans["true"].context.trace_id
    assert started.span_id == spans["true"].context.span_id
    (step_started,) = cap.logs_with("step_execution_started")
    assert step_started.span_id == spans["t"].context.span_id
    assert step_started.attributes["aiw.step_id"] == "s1"
    assert step_started.body == "Starting execution of step 's1'."
    assert step_started.severity_number.value == 9


def test_user_interactions_record_span_event_and_log(capture):
    cap = capture()
    with cap.telemetry.plan_run("p", "plan") as run:
        with pytest.raises(RunCancelled), run.step("s1", "long_analysis"):
            run.pause(source="console")
            run.add_context("focus on the API section", source="console")
            run.resume()
            run.cancel()
            raise RunCancelled("user cancelled")
    assert run.state is State.CANCELLED and run.steps["s1"].state is State.CANCELLED
    interaction_spans = [s for s in cap.spans() if s.name.startswith("user_interaction ")]
    assert [s.name for s in interaction_spans] == [
        "user_interaction pause", "user_interaction context", "user_interaction resume", "user_interaction cancel"]
    root = cap.span("invoke_workflow plan")
    assert all(s.parent.span_id == root.context.span_id for s in interaction_spans)
    step_span = cap.span("long_analysis")
    events = [(e.attributes["aiw.interaction.kind"], e.attributes["aiw.state_before"], e.attributes["aiw.state_after"])
              for e in step_span.events if e.name == "user_interaction"]
    assert events == [("pause", "Running", "Paused"), ("context", "Paused", "Paused"),
                      ("resume", "Paused", "Running"), ("cancel", "Running", "Cancelled")]
    (pause_log,) = cap.logs_with("execution_pause_requested")
    assert pause_log.attributes["aiw.component"] == "user_interaction"
    assert pause_log.attributes["aiw.step_id"] == "s1"
    assert (pause_log.attributes["aiw.state_before"], pause_log.attributes["aiw.state_after"]) == ("Running", "Paused")
    assert pause_log.attributes["aiw.interaction.source"] == "console"
    (context_log,) = cap.logs_with("context_added_by_user")
    assert context_log.attributes["aiw.context_provided_summary"] == "focus on the API section"
    assert run.take_context() == ["focus on the API section"] and run.take_context() == []
    assert root.attributes["aiw.plan.state"] == "Cancelled"
    assert step_span.status.status_code is not StatusCode.ERROR


def test_invalid_request_is_refused_clearly_and_changes_nothing(capture):
    import aiw_otel

    cap = capture()
    with cap.telemetry.plan_run("p", "plan") as run, run.step("s1", "t"):
        with pytest.raises(aiw_otel.InvalidTransition, match="cannot go from Running to Running"):
            run.resume()
        assert run.state is State.RUNNING
    (refused,) = cap.logs_with("execution_resume_rejected")
    assert refused.severity_text == "WARN"
    assert "refused" in refused.body
    assert not [s for s in cap.spans() if s.name.startswith("user_interaction")]


@pytest.mark.parametrize("mode,on_span,on_event", [
    (ContentCapture.NO_CONTENT, False, False),
    (ContentCapture.SPAN_ONLY, True, False),
    (ContentCapture.EVENT_ONLY, False, True),
    (ContentCapture.SPAN_AND_EVENT, True, True),
])
def test_content_capture_modes(capture, mode, on_span, on_event):
    cap = capture(debug_config(content_capture=mode))
    with cap.telemetry.plan_run("p", "plan") as run, run.step("s", "t") as step:
        with step.ai_call(provider="openai", model="m") as call:
            call.request_sent(messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}])
            call.response_received(output_messages=[{"role": "assistant", "content": "hello", "finish_reason": "stop"}])
    chat = cap.span("chat m")
    assert ("gen_ai.input.messages" in chat.attributes) is on_span
    assert ("gen_ai.output.messages" in chat.attributes) is on_span
    if on_span:
        assert json.loads(chat.attributes["gen_ai.input.messages"])[1] == {"role": "user", "parts": [{"type": "text", "content": "hi"}]}
        assert json.loads(chat.attributes["gen_ai.output.messages"])[0]["finish_reason"] == "stop"
    details = [r for r in cap.logs() if r.event_name == "gen_ai.client.inference.operation.details"]
    assert bool(details) is on_event
    if on_event:
        assert details[0].attributes["gen_ai.input.messages"][0]["role"] == "system"
        assert details[0].span_id == chat.context.span_id
    bodies = " ".join(str(r.body) + str(dict(r.attributes)) for r in cap.logs() if r.event_name is None)
    assert "hello" not in bodies and "be brief" not in bodies


def test_content_capture_from_the_environment(capture):
    cap = capture(environ={"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "span_only"})
    with cap.telemetry.plan_run("p", "plan") as run, run.step("s", "t") as step:
        with step.ai_call(provider="openai", model="m") as call:
            call.request_sent(messages=[{"role": "user", "content": "hi"}])
    assert "gen_ai.input.messages" in cap.span("chat m").attributes
