"""Our telemetry in the shapes the semantic conventions define (GenAI messages, server, command, file)."""

from __future__ import annotations

import pytest

from aiw_otel.instrument.ai import semconv_messages


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
