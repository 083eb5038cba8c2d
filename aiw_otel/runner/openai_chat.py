"""One chat-completions attempt through the official `openai` SDK: OpenAI, OpenRouter, and every
OpenAI-compatible server (Ollama, vLLM, llama.cpp).

The SDK's own retries are off (`max_retries=0`) so that every attempt is ours, and visible as a
span; the SDK's exception classes name the failure (`RateLimitError`) in `error.type`.
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import Any, Mapping
from urllib.parse import urlsplit

import openai
from openai.types.chat import ChatCompletion

from aiw_otel.runner.abortable import ConnectionAborter, run_abortable
from aiw_otel.runner.ai_chat import (
    AttemptFailed,
    ChatRequest,
    ChatResult,
    ToolCallRequest,
    assistant_message,
    is_retryable_status,
)
from aiw_otel.runner.control import RunControl


class OpenAITransport:
    """Sends attempts to one base URL. `report_cost` asks an OpenRouter-style server for the cost
    it charged (`usage.cost`), which beats any price table."""

    def __init__(self, *, provider: str, base_url: str, api_key: str, timeout_s: float, report_cost: bool = False) -> None:
        self.provider = provider
        self.server_address, self.server_port = server_of(base_url)
        self._extra_body = {"usage": {"include": True}} if report_cost else None
        self._connections = ConnectionAborter()
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key,
            timeout=timeout_s,
            max_retries=0,
            http_client=openai.DefaultHttpxClient(event_hooks={"request": [self._connections.on_request]}),
        )

    def send(self, step_id: str, request: ChatRequest, control: RunControl) -> ChatResult:
        try:
            completion = run_abortable(lambda: self._create(request), control, self._connections.abort)
        except openai.APIStatusError as error:
            raise AttemptFailed(
                type(error).__name__,
                _status_message(error),
                retryable=is_retryable_status(error.status_code),
                status_code=error.status_code,
                retry_after_s=retry_after_s(error.response.headers),
            ) from error
        except openai.APIConnectionError as error:  # APITimeoutError included
            cause = f" ({error.__cause__})" if error.__cause__ else ""
            raise AttemptFailed(type(error).__name__, f"{error}{cause}", retryable=True) from error
        except openai.APIError as error:  # a body the SDK could not read: the server speaks another dialect
            raise AttemptFailed(type(error).__name__, str(error), retryable=False) from error
        return parse_completion(completion)

    def _create(self, request: ChatRequest) -> ChatCompletion:
        # Unset options stay out of the body: servers reject an empty `tools` list, and a
        # temperature we did not choose should be the server's default, not ours.
        options: dict[str, Any] = {}
        if request.tools:
            options["tools"] = request.tools
        if request.temperature is not None:
            options["temperature"] = request.temperature
        if request.max_tokens is not None:
            options["max_tokens"] = request.max_tokens
        if self._extra_body:
            options["extra_body"] = self._extra_body
        return self._client.chat.completions.create(model=request.model, messages=request.messages, **options)  # type: ignore[arg-type]


#: The port a base URL without one means, by scheme.
DEFAULT_PORTS = {"https": 443, "http": 80}


def server_of(base_url: str) -> tuple[str, int]:
    """`server.address` and `server.port` of a base URL: the conventions want the port whenever the
    address is set, so an implicit one is spelled out (443 for https, 80 for http)."""
    parts = urlsplit(base_url)
    port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    if not parts.hostname or port is None:
        raise ValueError(f"base URL {base_url!r} names no http(s) server")
    return parts.hostname, port


def parse_completion(completion: ChatCompletion) -> ChatResult:
    """The first choice as a ChatResult; a reply without choices is a (retryable) failed attempt,
    since OpenRouter reports some upstream failures that way with status 200."""
    if not completion.choices:
        error = (completion.model_extra or {}).get("error")
        detail = error.get("message") if isinstance(error, Mapping) else error
        raise AttemptFailed("empty_response", f"response without choices: {detail or 'no detail'}", retryable=True)
    choice = completion.choices[0]
    calls = tuple(
        ToolCallRequest(call.id, call.function.name, call.function.arguments)
        for call in choice.message.tool_calls or ()
        if call.type == "function"
    )
    usage = completion.usage
    cost = getattr(usage, "cost", None) if usage is not None else None
    return ChatResult(
        message=assistant_message(choice.message.content, calls),
        tool_calls=calls,
        finish_reason=choice.finish_reason or "unknown",
        response_model=completion.model or None,
        input_tokens=usage.prompt_tokens if usage is not None else None,
        output_tokens=usage.completion_tokens if usage is not None else None,
        cost_usd=float(cost) if isinstance(cost, (int, float)) else None,
        response_id=completion.id or None,
    )


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """The server's requested wait: `retry-after-ms` (OpenAI), else `Retry-After` in seconds or as
    an HTTP date; None when absent or unreadable."""
    milliseconds = _number(headers.get("retry-after-ms"))
    if milliseconds is not None:
        return milliseconds / 1000
    value = headers.get("retry-after")
    seconds = _number(value)
    if seconds is not None or not value:
        return seconds
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _number(value: str | None) -> float | None:
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and number >= 0 else None


def _status_message(error: openai.APIStatusError) -> str:
    """The provider's own words (`error.message` of the body) rather than the SDK's 'Error code: 429 - {...}'."""
    body = error.body
    message = body.get("message") if isinstance(body, Mapping) else None
    return message if isinstance(message, str) and message else error.message
