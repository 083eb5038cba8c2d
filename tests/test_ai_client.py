"""The AI client through the real `openai` SDK against a local server speaking the wire protocol,
inside a real telemetry pipeline: what is sent, what is parsed, and what the trace shows of every
attempt, retry, timeout, pause and cancel; and the replay provider that stands in offline."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from email.utils import formatdate
from pathlib import Path
from typing import Any, Iterator

import pytest

from aiw_otel.model import RunCancelled, State
from aiw_otel.runner.ai_client import AIConfigError, AIRequestError, ChatResult, ReplayError, ToolCallRequest, make_client
from aiw_otel.runner.control import RunControl
from aiw_otel.runner.openai_chat import retry_after_s
from tests.recorded_runs import debug_config
from tests.processes import until
from tests.fake_openai import FakeOpenAI, completion, error

MESSAGES = [{"role": "system", "content": "You write code."}, {"role": "user", "content": "Write greet.py"}]
WRITE_FILE = {
    "type": "function",
    "function": {"name": "write_file", "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}},
}


def openai_client(fake: FakeOpenAI, **options: Any) -> Any:
    return make_client(
        "openai",
        model=None,
        replay_file=None,
        price_table=options.pop("price_table", None),
        environ={"OPENAI_BASE_URL": fake.base_url},
        **options,
    )


def ask(client: Any, step: Any, control: RunControl | None = None, **request: Any) -> ChatResult:
    arguments: dict[str, Any] = {"model": "gpt-4o-mini", "messages": list(MESSAGES), "tools": [], "temperature": None, "max_tokens": None}
    arguments.update(request)
    return client.chat(step, control=control or RunControl(), **arguments)


@contextmanager
def step_of(capture: Any) -> Iterator[tuple[Any, Any]]:
    cap = capture(debug_config())
    with cap.telemetry.plan_run("p1", "plan") as run, run.step("s1", "code_generation") as step:
        yield cap, step


def chat_spans(cap: Any) -> list[Any]:
    return sorted((s for s in cap.spans() if s.name.startswith("chat ")), key=lambda s: s.start_time)


def failed_event(span: Any) -> dict[str, Any]:
    (event,) = [e for e in span.events if e.name == "api_response_failed"]
    return dict(event.attributes)


# -- a successful turn ------------------------------------------------------------------------
def test_tool_call_response_is_parsed_and_usage_recorded(capture: Any, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(
        completion(tool_calls=[("write_file", {"path": "greet.py"})], model="gpt-4o-mini-2024-07-18",
                   prompt_tokens=120, completion_tokens=40)
    )
    with step_of(capture) as (cap, step):
        result = ask(openai_client(fake_openai), step)

    assert result.tool_calls == (ToolCallRequest("call_0", "write_file", '{"path": "greet.py"}'),)
    assert result.finish_reason == "tool_calls"
    assert result.message == {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "call_0", "type": "function", "function": {"name": "write_file", "arguments": '{"path": "greet.py"}'}}],
    }
    assert (result.response_model, result.input_tokens, result.output_tokens, result.cost_usd) == (
        "gpt-4o-mini-2024-07-18", 120, 40, None)
    (span,) = chat_spans(cap)
    assert span.name == "chat gpt-4o-mini"
    attributes = span.attributes
    assert attributes["gen_ai.provider.name"] == "openai"
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["server.port"] == int(fake_openai.base_url.rsplit(":", 1)[1].split("/")[0])
    assert attributes["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert attributes["gen_ai.response.id"] == result.response_id == "chatcmpl-1"
    assert (attributes["gen_ai.usage.input_tokens"], attributes["gen_ai.usage.output_tokens"]) == (120, 40)
    assert "aiw.ai.cost_usd" not in attributes and "error.type" not in attributes
    assert [e.name for e in span.events] == ["api_request_sent", "api_response_received"]


def test_cost_from_the_price_table(capture: Any, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(completion("done", prompt_tokens=1000, completion_tokens=500))
    with step_of(capture) as (cap, step):
        result = ask(openai_client(fake_openai, price_table={"gpt-4o-mini": (0.15, 0.60)}), step)
    assert result.cost_usd == pytest.approx((1000 * 0.15 + 500 * 0.60) / 1e6)
    assert chat_spans(cap)[0].attributes["aiw.ai.cost_usd"] == pytest.approx(result.cost_usd)


def test_the_request_carries_messages_tools_temperature_and_max_tokens(capture: Any, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(completion("ok"))
    with step_of(capture) as (cap, step):
        ask(openai_client(fake_openai), step, tools=[WRITE_FILE], temperature=0.2, max_tokens=256)
    (sent,) = fake_openai.requests
    assert sent.body["model"] == "gpt-4o-mini"
    assert sent.body["messages"] == MESSAGES
    assert sent.body["tools"] == [WRITE_FILE]
    assert (sent.body["temperature"], sent.body["max_tokens"]) == (0.2, 256)
    assert sent.headers["authorization"] == "Bearer not-needed"  # a local server needs no key
    span = chat_spans(cap)[0]
    assert (span.attributes["gen_ai.request.temperature"], span.attributes["gen_ai.request.max_tokens"]) == (0.2, 256)


def test_unset_options_stay_out_of_the_request(capture: Any, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(completion("ok"))
    with step_of(capture) as (cap, step):
        ask(openai_client(fake_openai), step)
    assert not {"tools", "temperature", "max_tokens"} & set(fake_openai.requests[0].body)


# -- retries ----------------------------------------------------------------------------------
def test_429_with_retry_after_is_retried_after_the_wait(capture: Any, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(error(429, "Rate limit reached", headers={"Retry-After": "0.4"}), completion("ok"))
    with step_of(capture) as (cap, step):
        result = ask(openai_client(fake_openai), step)
    assert result.message["content"] == "ok"
    first, second = fake_openai.requests
    assert second.at - first.at >= 0.4
    failed, succeeded = chat_spans(cap)
    assert failed.attributes["error.type"] == "RateLimitError"
    assert failed.status.description == "Rate limit reached"
    assert failed_event(failed) == {
        "error.type": "RateLimitError", "http.response.status_code": 429, "aiw.ai.retry_after_s": 0.4}
    assert "aiw.ai.attempt" not in failed.attributes
    assert succeeded.attributes["aiw.ai.attempt"] == 2
    assert "error.type" not in succeeded.attributes
    assert step.state is State.COMPLETED


def test_500_is_retried_with_backoff(capture: Any, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(error(500, "upstream exploded"), completion("ok"))
    with step_of(capture) as (cap, step):
        assert ask(openai_client(fake_openai), step).message["content"] == "ok"
    first, second = fake_openai.requests
    assert second.at - first.at >= 0.5 * 0.75  # the first exponential step, jittered down at most 25%
    failed, _ = chat_spans(cap)
    assert failed_event(failed)["error.type"] == "InternalServerError"
    assert failed_event(failed)["http.response.status_code"] == 500


def test_400_is_not_retried(capture: Any, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(error(400, "Invalid value for 'messages'"), completion("never sent"))
    with step_of(capture) as (cap, step), pytest.raises(AIRequestError) as raised:
        ask(openai_client(fake_openai), step)
    assert str(raised.value) == (
        "openai chat gpt-4o-mini was refused (not retried): BadRequestError, HTTP 400: Invalid value for 'messages'")
    assert (raised.value.status_code, raised.value.attempts) == (400, 1)
    assert len(fake_openai.requests) == 1
    (span,) = chat_spans(cap)
    assert span.attributes["error.type"] == "BadRequestError"
    assert "aiw.ai.retry_after_s" not in failed_event(span)


def test_retries_exhausted_after_visible_attempts(capture: Any, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(*[error(503, "overloaded", headers={"retry-after-ms": "20"})] * 3)
    with step_of(capture) as (cap, step), pytest.raises(AIRequestError) as raised:
        ask(openai_client(fake_openai, max_retries=2), step)
    assert "failed after 3 attempt(s): InternalServerError, HTTP 503: overloaded" in str(raised.value)
    spans = chat_spans(cap)
    assert [s.attributes.get("aiw.ai.attempt", 1) for s in spans] == [1, 2, 3]
    assert all(s.attributes["error.type"] == "InternalServerError" for s in spans)
    assert [failed_event(s).get("aiw.ai.retry_after_s") for s in spans] == [0.02, 0.02, None]


def test_timeout_is_a_visible_failed_attempt(capture: Any, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(completion("too late", delay_s=30))
    started = time.monotonic()
    with step_of(capture) as (cap, step), pytest.raises(AIRequestError, match="APITimeoutError"):
        ask(openai_client(fake_openai, timeout_s=0.3, max_retries=0), step)
    assert time.monotonic() - started < 15  # the server would take 30 s
    (span,) = chat_spans(cap)
    assert span.attributes["error.type"] == "APITimeoutError"
    assert "http.response.status_code" not in failed_event(span)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "250", "retry-after": "7"}, 0.25),
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "-1"}, None),
        ({}, None),
    ],
)
def test_retry_after_headers(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_s(headers) == expected


def test_retry_after_as_an_http_date() -> None:
    wait = retry_after_s({"retry-after": formatdate(time.time() + 30, usegmt=True)})
    assert wait is not None and 25 < wait <= 30


# -- steering ---------------------------------------------------------------------------------
def test_cancel_aborts_the_request_in_flight(capture: Any, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(completion("too late", delay_s=30))
    control = RunControl()
    with step_of(capture) as (cap, step), ThreadPoolExecutor(1) as pool:
        call = pool.submit(ask, openai_client(fake_openai), step, control)
        fake_openai.wait_for_requests(1)
        cancelled_at = time.monotonic()
        control.cancel()
        assert isinstance(call.exception(timeout=5), RunCancelled)
        assert time.monotonic() - cancelled_at < 10  # the server would take 30 s
        # the socket was shut down: the worker ends too, well before the server's 30 s
        until(lambda: not any(t.name == "aiw-abortable-call" for t in threading.enumerate()),
              "the aborted request to end", 10)
    (span,) = chat_spans(cap)
    assert span.attributes["error.type"] == "cancelled"
    assert failed_event(span) == {"error.type": "cancelled"}
    assert span.status.description == "request aborted: cancelled by user"


def test_cancel_cuts_the_backoff_short(capture: Any, fake_openai: FakeOpenAI) -> None:
    class Backoff(RunControl):
        def __init__(self) -> None:
            super().__init__()
            self.waiting = threading.Event()

        def wait(self, seconds: float) -> None:
            self.waiting.set()
            super().wait(seconds)

    fake_openai.script(error(429, "slow down", headers={"Retry-After": "30"}))
    control = Backoff()
    with step_of(capture) as (cap, step), ThreadPoolExecutor(1) as pool:
        call = pool.submit(ask, openai_client(fake_openai), step, control)
        assert control.waiting.wait(5)
        control.cancel()
        assert isinstance(call.exception(timeout=2), RunCancelled)
    assert len(fake_openai.requests) == 1
    assert chat_spans(cap)[0].attributes["error.type"] == "RateLimitError"


def test_pause_holds_the_next_call_until_resume(capture: Any, fake_openai: FakeOpenAI) -> None:
    order: list[str] = []

    class Gate(RunControl):
        def __init__(self) -> None:
            super().__init__()
            self.at_gate = threading.Event()

        def checkpoint(self) -> None:
            order.append("at gate")
            self.at_gate.set()
            super().checkpoint()
            order.append("passed")

    fake_openai.script(completion("ok"))
    control = Gate()
    control.pause()
    with step_of(capture) as (cap, step), ThreadPoolExecutor(1) as pool:
        call = pool.submit(ask, openai_client(fake_openai), step, control)
        assert control.at_gate.wait(5)
        assert not fake_openai.requests
        order.append("resume")
        resumed_at = time.monotonic()
        control.resume()
        assert call.result(timeout=5).message["content"] == "ok"
    assert order == ["at gate", "resume", "passed"]
    assert fake_openai.requests[0].at >= resumed_at


# -- OpenRouter and configuration -------------------------------------------------------------
def test_openrouter_records_the_cost_it_reports(capture: Any, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(completion("ok", cost=0.00042))
    client = make_client(
        "openrouter",
        model="openai/gpt-4o-mini",
        replay_file=None,
        price_table={"openai/gpt-4o-mini": (100.0, 100.0)},  # the provider's own figure wins
        environ={"OPENROUTER_API_KEY": "sk-or-test", "OPENROUTER_BASE_URL": fake_openai.base_url},
    )
    assert (client.provider, client.default_model) == ("openrouter", "openai/gpt-4o-mini")
    with step_of(capture) as (cap, step):
        result = ask(client, step, model="openai/gpt-4o-mini")
    assert result.cost_usd == 0.00042
    (sent,) = fake_openai.requests
    assert sent.body["usage"] == {"include": True}
    assert sent.headers["authorization"] == "Bearer sk-or-test"
    (span,) = chat_spans(cap)
    assert span.attributes["gen_ai.provider.name"] == "openrouter"
    assert span.attributes["aiw.ai.cost_usd"] == 0.00042


@pytest.mark.parametrize(
    ("provider", "environ", "message"),
    [
        ("openai", {}, "provider 'openai' at https://api.openai.com/v1 needs an API key: set OPENAI_API_KEY"),
        ("openai", {"OPENAI_BASE_URL": "https://llm.example.com/v1"}, "set OPENAI_API_KEY"),
        ("openrouter", {"OPENAI_API_KEY": "sk-x"}, "provider 'openrouter' needs an API key: set OPENROUTER_API_KEY"),
        ("openai", {"OPENAI_BASE_URL": "localhost:11434"}, "OPENAI_BASE_URL: expected an http(s) URL"),
        ("replay", {}, "provider 'replay' needs a replay file"),
        ("anthropic", {}, "unknown AI provider 'anthropic' (expected one of openai, openrouter, replay)"),
    ],
)
def test_configuration_errors_name_what_to_fix(provider: str, environ: dict[str, str], message: str) -> None:
    with pytest.raises(AIConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        make_client(provider, model=None, replay_file=None, price_table=None, environ=environ)


@pytest.mark.parametrize("base_url", ["http://localhost:11434/v1", "http://192.168.1.20:8000/v1", "http://ollama:11434/v1"])
def test_local_servers_need_no_key(base_url: str) -> None:
    client = make_client("openai", model=None, replay_file=None, price_table=None, environ={"OPENAI_BASE_URL": base_url})
    assert client.provider == "openai"


# -- replay -----------------------------------------------------------------------------------
def write_replay(tmp_path: Path, data: Any) -> str:
    path = tmp_path / "replay.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def test_replay_serves_each_steps_turns_in_order(capture: Any, tmp_path: Path) -> None:
    replay_file = write_replay(tmp_path, {
        "provider": "openai",
        "model": "gpt-4o-mini-2024-07-18",
        "steps": {
            "s1": [
                {"error": {"status": 429, "message": "Rate limit reached", "retry_after_s": 0.05}},
                {"response": {"tool_calls": [{"name": "write_file", "arguments": {"path": "a.py"}}],
                              "usage": {"input_tokens": 100, "output_tokens": 20}}},
                {"response": {"content": "Done.", "usage": {"input_tokens": 130, "output_tokens": 5}, "cost_usd": 0.01}},
            ],
            "s2": [{"response": {"content": "Other step."}}],
        },
    })
    client = make_client("replay", model=None, replay_file=replay_file, price_table={"gpt-4o-mini": (1.0, 2.0)}, environ={})
    assert (client.provider, client.default_model) == ("openai", "gpt-4o-mini-2024-07-18")
    cap = capture(debug_config())
    with cap.telemetry.plan_run("p1", "plan") as run:
        with run.step("s2", "analysis") as other:
            assert ask(client, other).message["content"] == "Other step."
        with run.step("s1", "code_generation") as step:
            first, second, past_the_end = ask(client, step), ask(client, step), ask(client, step)
    assert first.tool_calls == (ToolCallRequest("call_s1_1_0", "write_file", '{"path": "a.py"}'),)
    assert (first.finish_reason, first.cost_usd) == ("tool_calls", (100 * 1.0 + 20 * 2.0) / 1e6)
    assert (second.message, second.finish_reason, second.cost_usd) == (
        {"role": "assistant", "content": "Done."}, "stop", 0.01)
    assert past_the_end.finish_reason == "stop" and past_the_end.tool_calls == ()
    spans = [s for s in chat_spans(cap) if s.attributes["aiw.step.id"] == "s1"]
    assert [s.attributes.get("aiw.ai.attempt", 1) for s in spans] == [1, 2, 1, 1]
    assert {s.attributes["gen_ai.provider.name"] for s in spans} == {"openai"}
    assert not [s for s in spans if "server.address" in s.attributes or "server.port" in s.attributes]
    assert failed_event(spans[0]) == {"error.type": "RateLimitError", "http.response.status_code": 429, "aiw.ai.retry_after_s": 0.05}
    assert spans[1].attributes["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert spans[1].attributes["gen_ai.usage.input_tokens"] == 100


def test_cancel_during_a_replayed_answer(capture: Any, tmp_path: Path) -> None:
    class CancelMidAnswer(RunControl):
        def wait(self, seconds: float) -> None:  # the replay's latency: the user cancels right then
            self.cancel()
            super().wait(seconds)

    client = make_client("replay", model=None, replay_file=write_replay(tmp_path, {"steps": {}}), price_table=None, environ={})
    with step_of(capture) as (cap, step), pytest.raises(RunCancelled):
        ask(client, step, CancelMidAnswer())
    (span,) = chat_spans(cap)
    assert (span.attributes["gen_ai.provider.name"], span.attributes["error.type"]) == ("replay", "cancelled")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"steps": {', "replay.json:1: column 12: not valid JSON"),
        ("[]", "replay.json: the file: expected an object, got []"),
        ({"turns": {}}, 'replay.json: turns: expected one of the fields provider, model, latency_s, steps, got "turns"'),
        ({"steps": []}, "replay.json: steps: expected an object mapping step ids to lists of turns, got []"),
        ({"steps": {"s1": [{"response": {}, "error": {}}]}}, "step 's1' turn 0: expected an object with exactly one of"),
        ({"steps": {"s1": [{"response": {}}, {"error": {"status": 200}}]}},
         "step 's1' turn 1: error.status: expected an HTTP error status (400-599), got 200"),
        ({"steps": {"s1": [{"response": {"usage": {"input_tokens": "12"}}}]}},
         'step \'s1\' turn 0: response.usage.input_tokens: expected a non-negative integer, got "12"'),
        ({"steps": {"s1": [{"response": {"tool_calls": [{"arguments": {}}]}}]}},
         "step 's1' turn 0: response.tool_calls[0].name: expected a non-empty string, got null"),
        ({"steps": {"s1": [{"response": {"finish_reasn": "stop"}}]}},
         'step \'s1\' turn 0: response.finish_reasn: expected one of the fields content, tool_calls'),
    ],
)
def test_bad_replay_files_are_refused_with_where_and_what(tmp_path: Path, content: Any, message: str) -> None:
    with pytest.raises(ReplayError) as raised:
        make_client("replay", model=None, replay_file=write_replay(tmp_path, content), price_table=None, environ={})
    assert message in str(raised.value)


def test_missing_replay_file(tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match="cannot read the replay file: No such file"):
        make_client("replay", model=None, replay_file=str(tmp_path / "nope.json"), price_table=None, environ={})
