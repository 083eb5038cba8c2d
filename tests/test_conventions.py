"""Our telemetry in the shapes the semantic conventions define (GenAI messages, server, command, file)."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from aiw_otel.instrument.ai import semconv_messages
from aiw_otel.runner.command_line import direct_argv
from aiw_otel.runner.control import RunControl
from aiw_otel.runner.openai_chat import server_of
from aiw_otel.runner.processes import run_command
from tests.otlp_files import log_records_in, spans_in


def _assistant(arguments: str, finish_reason: str) -> dict:
    call = {"id": "call_1", "type": "function", "function": {"name": "write_file", "arguments": arguments}}
    return {"role": "assistant", "content": None, "tool_calls": [call], "finish_reason": finish_reason}


def test_tool_call_arguments_are_the_object_not_its_json_text():
    [message] = semconv_messages([_assistant('{"path": "a.py", "content": "x"}', "tool_calls")])
    assert message["parts"] == [
        {"type": "tool_call", "id": "call_1", "name": "write_file", "arguments": {"path": "a.py", "content": "x"}}
    ]


@pytest.mark.parametrize("raw", ['{"path": "a.py"', '["a.py"]', ""])
def test_tool_call_arguments_that_are_no_json_object_stay_as_sent(raw):
    [message] = semconv_messages([_assistant(raw, "tool_calls")])
    assert message["parts"][0]["arguments"] == raw


@pytest.mark.parametrize("openai,schema", [
    ("tool_calls", "tool_call"), ("function_call", "tool_call"), ("stop", "stop"), ("length", "length"),
    ("content_filter", "content_filter"), ("unknown", "unknown"),
])
def test_finish_reason_uses_the_output_message_schema_values(openai, schema):
    [message] = semconv_messages([{"role": "assistant", "content": "done", "finish_reason": openai}])
    assert message["finish_reason"] == schema


@pytest.mark.parametrize("url,server", [
    ("https://api.openai.com/v1", ("api.openai.com", 443)),
    ("http://ollama/v1", ("ollama", 80)),
    ("http://localhost:11434/v1", ("localhost", 11434)),
    ("https://openrouter.ai:8443/api/v1", ("openrouter.ai", 8443)),
])
def test_server_port_is_spelled_out_when_the_url_implies_it(url, server):
    assert server_of(url) == server


def test_an_ai_call_with_an_address_but_no_port_is_refused(capture):
    cap = capture()
    with cap.telemetry.plan_run("p", "plan") as run, run.step("s", "t") as step:
        with pytest.raises(ValueError, match="server_port"):
            step.ai_call(provider="openai", model="m", server_address="api.openai.com")


#: Every convention attribute we emit, by where it is defined (checked against that text):
#: GenAI: semantic-conventions-genai model/gen-ai/registry.yaml (v1.41.1 shape, gen-ai-spans.md,
#: gen-ai-agent-spans.md); server/http/error/exception: the core registry (v1.44.0); process:
#: registry/attributes/process.md and cli/cli-spans.md; file: registry/attributes/file.md.
SEMCONV_KEYS = frozenset({
    "gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.workflow.name", "gen_ai.request.model",
    "gen_ai.request.max_tokens", "gen_ai.request.temperature", "gen_ai.response.model", "gen_ai.response.id",
    "gen_ai.response.finish_reasons", "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
    "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.tool.name", "gen_ai.tool.call.id",
    "gen_ai.tool.type", "gen_ai.tool.call.arguments", "gen_ai.tool.call.result", "gen_ai.conversation.id",
    "gen_ai.agent.name",
    "server.address", "server.port", "http.response.status_code",
    "error.type", "exception.type", "exception.message", "exception.stacktrace",
    "process.executable.name", "process.command_args", "process.pid", "process.exit.code",
    "process.working_directory",
    "file.path", "file.size",
})


@pytest.fixture(scope="module")
def demo_keys(demo_logs: Path) -> dict[str, set[str]]:
    """Attribute key -> where it was seen, over the spans, span events and log records of a real demo run."""
    keys: defaultdict[str, set[str]] = defaultdict(set)
    for span in spans_in(demo_logs):
        for key in _keys(span):
            keys[key].add(f"span {span['name']}")
        for event in span.get("events") or ():
            for key in _keys(event):
                keys[key].add(f"event {event['name']}")
    for record in log_records_in(demo_logs):
        for key in _keys(record):
            keys[key].add("log record")
    return keys


def _keys(item: dict[str, Any]) -> list[str]:
    return [attribute["key"] for attribute in item.get("attributes") or ()]


@pytest.mark.slow
def test_every_attribute_the_demo_emits_is_a_conventions_or_ours(demo_keys):
    assert len(demo_keys) > 40  # the demo really ran: AI calls, tools, files, commands, a failure
    stray = {key: sorted(where) for key, where in demo_keys.items()
             if key not in SEMCONV_KEYS and not key.startswith("aiw.")}
    assert stray == {}


@pytest.mark.slow
def test_no_attribute_name_is_also_a_namespace(demo_keys):
    """Semconv naming: "Names SHOULD NOT coincide with namespaces" (`aiw.interaction` and
    `aiw.interaction.source` could not both exist)."""
    namespaces = {key.rsplit(".", i)[0] for key in demo_keys for i in range(1, key.count(".") + 1)}
    assert sorted(namespaces & demo_keys.keys()) == []


# -- commands: the CLI span is named after the program that ran ---------------------------------

PATH = {"PATH": os.defpath}


@pytest.mark.parametrize("line,argv", [
    ("ls -l src", ["ls", "-l", "src"]),
    ("ls 'my dir' \"other dir\" --color=never", ["ls", "my dir", "other dir", "--color=never"]),
])
def test_a_simple_line_is_executed_directly(line, argv):
    assert direct_argv(line, PATH) == argv


@pytest.mark.parametrize("line", [
    "ls | wc -l", "ls > out.txt", "ls; ls", "ls && ls", "ls &", "ls *.py", "ls ~", "ls $HOME", "ls `pwd`",
    "ls \"$HOME\"", "ls a\\ b", "ls # comment", "FOO=1 ls", "cd src", "exit 3", "echo -e hi", "if true; then ls; fi",
    "no-such-program-here x", "./script.sh", "ls 'unbalanced", "", "ls {a,b}", "(ls)",
])
def test_a_line_the_shell_would_treat_differently_keeps_the_shell(line):
    assert direct_argv(line, PATH) is None


def test_a_command_span_is_named_after_the_program_and_keeps_the_line_as_written(capture, tmp_path):
    cap = capture()
    with cap.telemetry.plan_run("p", "plan") as run, run.step("s", "validation") as step:
        for line in ("ls -a", "ls | wc -l"):
            run_command(step, line, cwd=tmp_path, control=RunControl(), timeout_s=None, env=PATH)
    direct, shell = cap.span("ls"), cap.span("sh")
    assert (direct.attributes["process.executable.name"], direct.attributes["aiw.command.line"]) == ("ls", "ls -a")
    assert direct.attributes["process.command_args"] == ("ls", "-a")
    assert shell.attributes["process.command_args"] == ("/bin/sh", "-c", "ls | wc -l")
    assert shell.attributes["aiw.command.line"] == "ls | wc -l"
    assert [r.attributes["aiw.command.line"] for r in cap.logs_with("command_execution_started")] == [
        "ls -a", "ls | wc -l"]
