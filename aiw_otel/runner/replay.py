"""The offline provider: plays a recorded conversation back, so the demo and the tests need no key
and no network.

A replay is a Transport like the real ones, so it goes through the same retry loop and leaves the
same spans (provider name from the file; no `server.address`, since no server answers); an
injected 429 is retried like a real one. The file is validated whole on load, so a typo is reported before the run starts.

    {"provider": "openai", "model": "gpt-4o-mini", "latency_s": 0.5,
     "steps": {"<step_id>": [
        {"response": {"content": "...", "tool_calls": [{"name": "write_file", "arguments": {...}}],
                      "finish_reason": "tool_calls", "usage": {"input_tokens": 10, "output_tokens": 5},
                      "cost_usd": 0.0001}},
        {"error": {"status": 429, "message": "slow down", "retry_after_s": 0.2}}]}}
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping, Union

from aiw_otel.errors import FileError
from aiw_otel.hand_edited import Where, named_after_a_secret
from aiw_otel.runner.ai_chat import (
    AIConfigError,
    AttemptFailed,
    ChatRequest,
    ChatResult,
    ToolCallRequest,
    assistant_message,
    is_retryable_status,
)
from aiw_otel.runner.control import RunControl

#: A replayed answer still takes a moment, as a real one does, so pause and cancel can land in it.
REPLAY_LATENCY_S = 0.02

#: The `openai` SDK's exception class per status, so an injected failure reads like a real one.
_STATUS_ERRORS = {
    400: "BadRequestError",
    401: "AuthenticationError",
    403: "PermissionDeniedError",
    404: "NotFoundError",
    409: "ConflictError",
    422: "UnprocessableEntityError",
    429: "RateLimitError",
}


class ReplayError(AIConfigError, FileError):
    """A replay file that cannot be played: names the file, the step, the turn and what was expected.

    A FileError, so the file (its `source`) and the message are redacted apart when printed: a
    replay named `token.json` that cannot be read stays `token.json: cannot read the replay file: ...`."""


@dataclass(frozen=True)
class InjectedError:
    status: int
    message: str
    retry_after_s: float | None

    def failure(self) -> AttemptFailed:
        default = "InternalServerError" if self.status >= 500 else "APIStatusError"
        return AttemptFailed(
            _STATUS_ERRORS.get(self.status, default),
            self.message,
            retryable=is_retryable_status(self.status),
            status_code=self.status,
            retry_after_s=self.retry_after_s,
        )


Turn = Union[ChatResult, InjectedError]


@dataclass(frozen=True)
class Recording:
    source: str
    provider: str
    model: str | None
    steps: Mapping[str, tuple[Turn, ...]]
    #: Seconds each answer takes; a demo sets it high enough to watch the run and type into it.
    latency_s: float = REPLAY_LATENCY_S


class ReplayTransport:
    """Serves each step's turns in order, one per attempt; past the last, a final `stop`."""

    server_address = None
    server_port = None

    def __init__(self, recording: Recording) -> None:
        self.provider = recording.provider
        self.recording = recording
        self._lock = threading.Lock()
        self._served: defaultdict[str, int] = defaultdict(int)

    def send(self, step_id: str, request: ChatRequest, control: RunControl) -> ChatResult:
        control.wait(self.recording.latency_s)
        with self._lock:
            index = self._served[step_id]
            self._served[step_id] += 1
        turns = self.recording.steps.get(step_id, ())
        if index >= len(turns):
            return _final_stop(step_id, self.recording.model or request.model)
        turn = turns[index]
        if isinstance(turn, InjectedError):
            raise turn.failure()
        return replace(turn, response_model=self.recording.model or request.model)


def _final_stop(step_id: str, model: str) -> ChatResult:
    content = f"(replay: no more recorded turns for step '{step_id}')"
    return ChatResult(assistant_message(content, ()), (), "stop", model, None, None, None)


def load_recording(path: str | Path) -> Recording:
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ReplayError(f"cannot read the replay file: {error.strerror or error}", source=source) from error
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ReplayError(f"column {error.colno}: not valid JSON: {error.msg}", source=source, line=error.lineno) from error
    return _Reader(source).recording(data)


class _Reader:
    """Validates the parsed file; every message carries where in the file it is."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, where: str, expected: str, got: Any) -> ReplayError:
        if named_after_a_secret(self.source):  # `--replay token.json`: its text is never quoted back
            return ReplayError(f"expected {expected}, got {Where(self.source).describe(got)}", source=self.source,
                               field_name=where)
        shown = json.dumps(got)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        return ReplayError(f"expected {expected}, got {shown}", source=self.source, field_name=where)

    def fields(self, value: Any, where: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(where, "an object", value)
        unknown = sorted(set(value) - set(allowed))
        if unknown:
            raise self.error(f"{where}.{unknown[0]}" if where else unknown[0], f"one of the fields {', '.join(allowed)}", unknown[0])
        return value

    def text(self, value: Any, where: str) -> str:
        if isinstance(value, str) and value:
            return value
        raise self.error(where, "a non-empty string", value)

    def optional_text(self, value: Any, where: str) -> str | None:
        return None if value is None else self.text(value, where)

    def number(self, value: Any, where: str, *, integer: bool = False) -> Any:
        """An optional non-negative number (None when absent)."""
        if value is None:
            return None
        kinds = (int,) if integer else (int, float)
        if isinstance(value, kinds) and not isinstance(value, bool) and value >= 0:
            return value
        raise self.error(where, "a non-negative integer" if integer else "a non-negative number", value)

    def recording(self, data: Any) -> Recording:
        if not isinstance(data, dict):
            raise self.error("the file", "an object", data)
        top = self.fields(data, "", ("provider", "model", "latency_s", "steps"))
        steps = top.get("steps")
        if not isinstance(steps, dict):
            raise self.error("steps", 'an object mapping step ids to lists of turns', steps)
        read: dict[str, tuple[Turn, ...]] = {}
        for step_id, turns in steps.items():
            if not isinstance(turns, list):
                raise self.error(f"step '{step_id}'", "a list of turns", turns)
            read[step_id] = tuple(self.turn(turn, step_id, index) for index, turn in enumerate(turns))
        return Recording(
            source=self.source,
            provider=self.optional_text(top.get("provider"), "provider") or "replay",
            model=self.optional_text(top.get("model"), "model"),
            steps=read,
            latency_s=self.number(top.get("latency_s"), "latency_s") if top.get("latency_s") is not None
            else REPLAY_LATENCY_S,
        )

    def turn(self, raw: Any, step_id: str, index: int) -> Turn:
        where = f"step '{step_id}' turn {index}"
        if not isinstance(raw, dict) or len(raw) != 1 or not set(raw) <= {"response", "error"}:
            raise self.error(where, 'an object with exactly one of "response" or "error"', raw)
        if "error" in raw:
            return self.injected_error(raw["error"], f"{where}: error")
        return self.response(raw["response"], f"{where}: response", f"call_{step_id}_{index}")

    def injected_error(self, raw: Any, where: str) -> InjectedError:
        error = self.fields(raw, where, ("status", "message", "retry_after_s"))
        status = error.get("status")
        if not (isinstance(status, int) and not isinstance(status, bool) and 400 <= status <= 599):
            raise self.error(f"{where}.status", "an HTTP error status (400-599)", status)
        message = self.optional_text(error.get("message"), f"{where}.message")
        return InjectedError(status, message or f"injected HTTP {status}", self.number(error.get("retry_after_s"), f"{where}.retry_after_s"))

    def response(self, raw: Any, where: str, call_prefix: str) -> ChatResult:
        response = self.fields(raw, where, ("content", "tool_calls", "finish_reason", "usage", "cost_usd"))
        content = response.get("content")
        if content is not None and not isinstance(content, str):
            raise self.error(f"{where}.content", "a string or null", content)
        raw_calls = response.get("tool_calls", [])
        if not isinstance(raw_calls, list):
            raise self.error(f"{where}.tool_calls", "a list", raw_calls)
        calls = tuple(self.tool_call(call, f"{where}.tool_calls[{i}]", f"{call_prefix}_{i}") for i, call in enumerate(raw_calls))
        usage = self.fields(response.get("usage", {}), f"{where}.usage", ("input_tokens", "output_tokens"))
        finish_reason = self.optional_text(response.get("finish_reason"), f"{where}.finish_reason")
        return ChatResult(
            message=assistant_message(content, calls),
            tool_calls=calls,
            finish_reason=finish_reason or ("tool_calls" if calls else "stop"),
            response_model=None,
            input_tokens=self.number(usage.get("input_tokens"), f"{where}.usage.input_tokens", integer=True),
            output_tokens=self.number(usage.get("output_tokens"), f"{where}.usage.output_tokens", integer=True),
            cost_usd=self.number(response.get("cost_usd"), f"{where}.cost_usd"),
            response_id=f"replay-{call_prefix}",
        )

    def tool_call(self, raw: Any, where: str, default_id: str) -> ToolCallRequest:
        call = self.fields(raw, where, ("id", "name", "arguments"))
        arguments = call.get("arguments", {})
        if isinstance(arguments, dict):
            arguments = json.dumps(arguments)
        elif not isinstance(arguments, str):
            raise self.error(f"{where}.arguments", "an object or a JSON string", arguments)
        name = self.text(call.get("name"), f"{where}.name")
        call_id = self.optional_text(call.get("id"), f"{where}.id") or default_id
        return ToolCallRequest(call_id, name, arguments)
