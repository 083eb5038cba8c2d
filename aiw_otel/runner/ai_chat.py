"""One model turn with its retries, as the trace shows it: a `chat {model}` span per attempt.

Providers differ only in how one attempt goes out (a `Transport`); the retry policy, the spans, the
pause/cancel gate and pricing live here once, so that a replayed conversation and a real one look
the same in the trace and behave the same under steering.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, replace
from typing import Any, NamedTuple, Protocol

from aiw_otel.instrument.plan import Step
from aiw_otel.model import RunCancelled
from aiw_otel.runner.control import RunControl
from aiw_otel.runner.pricing import PriceTable, table_cost

#: Exponential backoff when the provider gives no Retry-After: 0.5 s, 1 s, 2 s ... up to 8 s.
INITIAL_BACKOFF_S = 0.5
MAX_BACKOFF_S = 8.0
#: A Retry-After longer than this is cut to it: the run should stay responsive, and a cancel
#: interrupts the wait anyway.
MAX_RETRY_AFTER_S = 60.0
#: `error.type` of an attempt aborted by the user's cancel.
ERROR_CANCELLED = "cancelled"


@dataclass(frozen=True)
class ToolCallRequest:
    """A function call the model asked for; `arguments` is the raw JSON string, parsed by the tool."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ChatResult:
    """A model turn as the engine needs it, whichever provider answered."""

    #: The assistant message in OpenAI shape, ready to append to the conversation.
    message: dict[str, Any]
    tool_calls: tuple[ToolCallRequest, ...]
    finish_reason: str
    response_model: str | None
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float | None
    response_id: str | None = None


def assistant_message(content: str | None, tool_calls: tuple[ToolCallRequest, ...]) -> dict[str, Any]:
    """The OpenAI-shape assistant message; `tool_calls` only when there are some (servers reject `[]`)."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in tool_calls
        ]
    return message


class AIClient(Protocol):
    #: `gen_ai.provider.name`: "openai", "openrouter", or the provider a replay file recorded.
    provider: str

    def chat(
        self,
        step: Step,
        *,
        model: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        temperature: float | None,
        max_tokens: int | None,
        control: RunControl,
    ) -> ChatResult:
        """One model turn, retries included; raises AIRequestError, or RunCancelled on cancel."""
        ...


class AIConfigError(ValueError):
    """A client that cannot be built: unknown provider, missing API key, bad replay file."""


class AIRequestError(RuntimeError):
    """A model turn that failed for good: refused (4xx other than 429) or out of retries."""

    def __init__(self, message: str, *, error_type: str, status_code: int | None, attempts: int) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.status_code = status_code
        self.attempts = attempts


class AttemptFailed(Exception):
    """One attempt refused by the provider or lost in transport, as a Transport reports it."""

    def __init__(
        self,
        error_type: str,
        message: str,
        *,
        retryable: bool,
        status_code: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.retryable = retryable
        self.status_code = status_code
        self.retry_after_s = retry_after_s


def is_retryable_status(status: int) -> bool:
    """Rate limits and server errors pass; any other 4xx would fail the same way again."""
    return status == 429 or status >= 500


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    temperature: float | None
    max_tokens: int | None


class Transport(Protocol):
    """Sends one attempt. Raises AttemptFailed for a provider/transport failure, RunCancelled on cancel."""

    # Read-only properties, not plain attributes: a protocol attribute is mutable, so `str | None`
    # would refuse a transport whose address is always a str (or always None).
    @property
    def provider(self) -> str: ...

    #: The server answering, or None when none does (a replay); the port is set whenever the address is.
    @property
    def server_address(self) -> str | None: ...

    @property
    def server_port(self) -> int | None: ...

    def send(self, step_id: str, request: ChatRequest, control: RunControl) -> ChatResult: ...


def backoff_delay(attempt: int, retry_after_s: float | None) -> float:
    """The server's Retry-After when it gave one, else exponential with jitter so clients spread out."""
    if retry_after_s is not None:
        return min(retry_after_s, MAX_RETRY_AFTER_S)
    return min(INITIAL_BACKOFF_S * 2.0 ** (attempt - 1), MAX_BACKOFF_S) * random.uniform(0.75, 1.0)


class _Failure(NamedTuple):
    error: AttemptFailed
    retry_in_s: float | None  # None: this was the last attempt


class RetryingClient:
    """An AIClient over any Transport; the only place retries, spans and steering are decided."""

    def __init__(
        self, transport: Transport, *, max_retries: int, price_table: PriceTable | None, default_model: str | None
    ) -> None:
        self.provider = transport.provider
        #: The model to ask for when neither the plan nor the config names one.
        self.default_model = default_model
        self.max_retries = max_retries
        self._transport = transport
        self._price_table = price_table
        self._event_ids = itertools.count(1)

    def chat(
        self,
        step: Step,
        *,
        model: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        temperature: float | None,
        max_tokens: int | None,
        control: RunControl,
    ) -> ChatResult:
        request = ChatRequest(model, messages, tools, temperature, max_tokens)
        attempt = 1
        while True:
            control.checkpoint()
            outcome = self._attempt(step, request, attempt, control)
            if isinstance(outcome, ChatResult):
                return outcome
            if outcome.retry_in_s is None:
                raise self._request_error(request, outcome.error, attempt) from outcome.error
            control.wait(outcome.retry_in_s)
            attempt += 1

    def _attempt(self, step: Step, request: ChatRequest, attempt: int, control: RunControl) -> ChatResult | _Failure:
        """One `chat {model}` span. A failure is returned, not raised, so the span ends with the
        provider's error type (RateLimitError) rather than that of an exception passing through."""
        transport = self._transport
        parameters = {"max_tokens": request.max_tokens, "temperature": request.temperature}
        with step.ai_call(
            provider=transport.provider,
            model=request.model,
            server_address=transport.server_address,
            server_port=transport.server_port,
            attempt=attempt,
            event_id=f"ai_call_{next(self._event_ids):03d}",
            request={k: v for k, v in parameters.items() if v is not None},
            conversation_id=step.conversation_id,
        ) as call:
            call.request_sent(messages=request.messages, message_count=len(request.messages), tool_count=len(request.tools))
            try:
                result = transport.send(step.step_id, request, control)
            except AttemptFailed as failed:
                retry_in_s = self._retry_delay(failed, attempt)
                call.response_failed(
                    error_type=failed.error_type,
                    message=failed.message,
                    status_code=failed.status_code,
                    retry_after_s=retry_in_s,
                )
                return _Failure(failed, retry_in_s)
            except RunCancelled as cancelled:
                # RunCancelled leaves spans without an error mark; say on this one that it was cut off.
                call.response_failed(error_type=ERROR_CANCELLED, message=f"request aborted: {cancelled}")
                raise
            if result.cost_usd is None:
                cost = table_cost(
                    self._price_table, (request.model, result.response_model), result.input_tokens, result.output_tokens
                )
                result = replace(result, cost_usd=cost)
            call.response_received(
                response_model=result.response_model,
                finish_reasons=[result.finish_reason],
                input_tokens=result.input_tokens,
                output_tokens=result.output_tokens,
                response_id=result.response_id,
                cost_usd=result.cost_usd,
                output_messages=[{**result.message, "finish_reason": result.finish_reason}],
            )
            return result

    def _retry_delay(self, failed: AttemptFailed, attempt: int) -> float | None:
        if not failed.retryable or attempt > self.max_retries:
            return None
        return backoff_delay(attempt, failed.retry_after_s)

    def _request_error(self, request: ChatRequest, failed: AttemptFailed, attempts: int) -> AIRequestError:
        status = f", HTTP {failed.status_code}" if failed.status_code is not None else ""
        if failed.retryable:
            what = f"failed after {attempts} attempt(s)"
        else:
            what = "was refused (not retried)"
        return AIRequestError(
            f"{self.provider} chat {request.model} {what}: {failed.error_type}{status}: {failed.message}",
            error_type=failed.error_type,
            status_code=failed.status_code,
            attempts=attempts,
        )
