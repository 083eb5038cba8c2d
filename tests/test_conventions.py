"""Our telemetry in the shapes the semantic conventions define (GenAI messages, server, command, file)."""

from __future__ import annotations

import pytest

from aiw_otel.instrument.ai import semconv_messages
from aiw_otel.runner.openai_chat import server_of


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
