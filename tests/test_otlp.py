"""OTLP export over a real socket, to a receiver built on opentelemetry-proto's messages."""

from __future__ import annotations

import os
import socket

import pytest
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import aiw_otel
from tests.cli_process import run_demo
from tests.otlp_files import spans_in
from tests.stack import free_port


def test_endpoint_variable_turns_on_otlp_and_everything_arrives_redacted(receiver):
    secret = "sk-or-v1-" + "a1B2c3D4" * 6
    telemetry = aiw_otel.configure(
        environ={"AIW_FILE": "off", "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_SERVICE_NAME": "runner-under-test",
                 "OTEL_EXPORTER_OTLP_HEADERS": "x-team=aiw"},
        set_global=False, handle_signals=False)
    with telemetry.plan_run("p", "shipped plan") as run, run.step("s1", "code_generation") as step:
        with step.command(["deploy", "--token", secret]) as cmd:
            cmd.exited(0)
    assert telemetry.shutdown(10.0)
    spans = receiver.spans()
    assert {s.name for s in spans} == {"invoke_workflow shipped plan", "code_generation", "deploy"}
    headers, request = receiver.received["/v1/traces"][0]
    assert headers["x-team"] == "aiw"
    resource = {a.key: a.value.string_value for a in request.resource_spans[0].resource.attributes}
    assert resource["service.name"] == "runner-under-test"
    assert resource["service.version"] and resource["service.instance.id"]
    assert secret[10:30] not in str(request)
    logs = receiver.log_records()
    assert any(r.body.string_value == "Starting execution of step 's1'." for r in logs)
    step_span = next(s for s in spans if s.name == "code_generation")
    started = next(r for r in logs if r.body.string_value == "Starting execution of step 's1'.")
    assert started.span_id == step_span.span_id and started.trace_id == step_span.trace_id
    metrics = [m.name for m in receiver.metrics()]
    assert "aiw.telemetry.redactions" in metrics


def test_traces_exporter_none_keeps_traces_home(receiver):
    telemetry = aiw_otel.configure(
        environ={"AIW_FILE": "off", "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_TRACES_EXPORTER": "none"},
        set_global=False, handle_signals=False)
    with telemetry.plan_run("p", "plan") as run:
        run.step("s1", "t").__enter__().__exit__(None, None, None)
    assert telemetry.shutdown(10.0)
    assert receiver.received["/v1/traces"] == []
    assert receiver.received["/v1/logs"]


def test_an_unreachable_collector_costs_one_summary_line_that_counts_what_was_lost(capsys):
    endpoint = f"http://127.0.0.1:{free_port()}"
    spans, logs = InMemorySpanExporter(), InMemoryLogRecordExporter()  # what a working sink received
    telemetry = aiw_otel.configure(
        environ={"AIW_FILE": "off", "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "AIW_SHUTDOWN_TIMEOUT": "1"},
        sinks=[aiw_otel.ExporterSink("memory", span_exporter=spans, log_exporter=logs)],
        set_global=False, handle_signals=False)
    with telemetry.plan_run("p", "plan") as run:
        for index in range(20):
            with run.step(f"s{index}", "t"):
                pass
    telemetry.shutdown()
    err = capsys.readouterr().err
    (summary,) = [line for line in err.splitlines() if "did not receive" in line]
    sent = f"{len(spans.get_finished_spans())} spans, {len(logs.get_finished_logs())} log records"
    assert len(spans.get_finished_spans()) == 21
    assert summary.startswith(f"aiw-otel: WARNING: sink 'otlp' ({endpoint}/v1/logs, {endpoint}/v1/metrics, "
                              f"{endpoint}/v1/traces) did not receive {sent}"), err
    assert "Transient error" not in err and "Traceback" not in err


class Silent:
    """A collector that accepts connections and never answers: the worst case for a deadline."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.endpoint = f"http://127.0.0.1:{self.server.getsockname()[1]}"

    def close(self) -> None:
        self.server.close()


def quick_exit(**variables: str) -> dict[str, str]:
    """This environment plus `variables`, the run waiting at most 1 s for its exporters when it ends."""
    return {**os.environ, "AIW_SHUTDOWN_TIMEOUT": "1", **variables}


@pytest.mark.slow
def test_a_silent_collector_neither_stalls_the_run_nor_starves_the_file_sink(tmp_path):
    silent = Silent()
    try:
        result = run_demo(tmp_path, env=quick_exit(OTEL_EXPORTER_OTLP_ENDPOINT=silent.endpoint))
    finally:
        silent.close()
    assert result.returncode == 0, result.stderr
    (summary,) = [line for line in result.stderr.splitlines() if "did not receive" in line]
    assert silent.endpoint in summary and "spans" in summary and "log records" in summary
    assert "Transient error" not in result.stderr and "Traceback" not in result.stderr
    # The root span ends last: the file has it although the OTLP exporter held the whole deadline.
    assert "invoke_workflow greet-release" in (tmp_path / "logs" / "traces.otlp.jsonl").read_text()


@pytest.mark.slow
def test_a_traces_only_endpoint_gets_traces_and_nothing_else(receiver, tmp_path):
    result = run_demo(tmp_path, env=quick_exit(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=receiver.endpoint + "/v1/traces"))
    assert result.returncode == 0, result.stderr
    assert any(s.name == "invoke_workflow greet-release" for s in receiver.spans())
    assert receiver.received["/v1/logs"] == [] and receiver.received["/v1/metrics"] == []


@pytest.mark.slow
def test_the_otlp_endpoint_option_sends_every_signal(receiver, tmp_path):
    result = run_demo(tmp_path, "--otlp-endpoint", receiver.endpoint)
    assert result.returncode == 0, result.stderr
    assert receiver.spans() and receiver.received["/v1/logs"] and receiver.received["/v1/metrics"]


@pytest.mark.slow
def test_a_run_started_with_traceparent_continues_that_trace(tmp_path):
    parent_trace, parent_span = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    result = run_demo(tmp_path, env=quick_exit(TRACEPARENT=f"00-{parent_trace}-{parent_span}-01"))
    assert result.returncode == 0, result.stderr
    spans = spans_in(tmp_path / "logs")
    assert {span["traceId"] for span in spans} == {parent_trace}
    (root,) = [span for span in spans if span["name"] == "invoke_workflow greet-release"]
    assert root["parentSpanId"] == parent_span


@pytest.mark.slow
def test_a_malformed_traceparent_is_reported_and_a_new_trace_starts(tmp_path):
    result = run_demo(tmp_path, env=quick_exit(TRACEPARENT="00-not-a-trace-01"))
    assert result.returncode == 0, result.stderr
    assert "TRACEPARENT='00-not-a-trace-01' is not a W3C traceparent" in result.stderr
    assert '"parentSpanId"' not in (tmp_path / "logs" / "traces.otlp.jsonl").read_text().split("invoke_workflow")[0][-400:]


@pytest.mark.slow
@pytest.mark.parametrize("users_value", [None, "DEBUG"])
def test_commands_do_not_inherit_the_grpc_quieting_but_keep_the_users_own_value(tmp_path, users_value) -> None:
    """gRPC export sets GRPC_VERBOSITY=ERROR in the runner's own environment (its C core would print
    on the console); a plan's commands get the user's environment, with a value the user set kept."""
    from tests.cli_process import ROOT, aiw

    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "task_id: env\nnatural_language_goal: look at the environment\nplan:\n"
        "  - step_id: look\n    description: write what GRPC_VERBOSITY is\n    actions:\n"
        "      - run: \"python -c \\\"import os; open('seen.txt', 'w').write(os.environ.get('GRPC_VERBOSITY', 'unset'))\\\"\"\n"
        "    agent_spec: {type: file_edit, instructions: [nothing]}\n")
    env = {name: value for name, value in os.environ.items() if name != "GRPC_VERBOSITY"}
    env.update(OTEL_EXPORTER_OTLP_PROTOCOL="grpc", OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{free_port()}",
               OTEL_EXPORTER_OTLP_TIMEOUT="500")
    if users_value is not None:
        env["GRPC_VERBOSITY"] = users_value
    workspace = tmp_path / "ws"
    result = aiw("run", str(plan), "--provider", "replay", "--replay", str(ROOT / "examples" / "plans" / "replay.json"),
                 "--no-console", "--log-dir", str(tmp_path / "logs"),
                 "--workspace", str(workspace), env=env)
    assert "Traceback" not in result.stderr
    assert (workspace / "seen.txt").read_text() == (users_value or "unset")
