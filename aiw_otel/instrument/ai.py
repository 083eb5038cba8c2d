"""AI call and tool call spans (GenAI conventions, v1.41.1 shape) with the seed's 4b records.

Sampling-relevant attributes are set at span start. Prompt and completion text is recorded only
when content capture is on, as JSON strings on the span and/or structured on the
`gen_ai.client.inference.operation.details` log event.
"""

from __future__ import annotations

import json
import time
from typing import Any, Iterable, Mapping, Sequence

from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.trace import SpanKind

from aiw_otel import conventions as sc
from aiw_otel.present import duration
from aiw_otel.instrument.base import Instruments, Operation
from aiw_otel.logs import detail_attribute
from aiw_otel.model import ComponentType, LogLevel


def semconv_messages(messages: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI-style chat messages in the GenAI `ChatMessage` / `OutputMessage` shape (role + typed parts).

    The schemas differ from OpenAI's wire format in two ways that matter to backends: a tool
    call's `arguments` is the object itself, not the JSON text of it, and `finish_reason` is one
    of the schema's own values (`tool_call`, not OpenAI's `tool_calls`).
    """
    converted = []
    for message in messages:
        parts: list[dict[str, Any]] = []
        content = message.get("content")
        if isinstance(content, str) and content:
            kind = "tool_call_response" if message.get("role") == "tool" else "text"
            if kind == "text":
                parts.append({"type": "text", "content": content})
            else:
                parts.append({"type": kind, "id": message.get("tool_call_id"), "response": content})
        elif isinstance(content, list):
            parts.extend({"type": "text", "content": p.get("text", "")} for p in content if isinstance(p, Mapping))
        for call in message.get("tool_calls") or ():
            function = call.get("function", {})
            parts.append(
                {"type": "tool_call", "id": call.get("id"), "name": function.get("name"),
                 "arguments": tool_call_arguments(function.get("arguments"))}
            )
        entry: dict[str, Any] = {"role": message.get("role", "user"), "parts": parts}
        if message.get("finish_reason"):
            entry["finish_reason"] = semconv_finish_reason(message["finish_reason"])
        converted.append(entry)
    return converted


def tool_call_arguments(raw: Any) -> Any:
    """The arguments as the object the model meant; a provider's text that is not a JSON object stays
    text, since the schema wants an object and inventing one would misreport what the model sent."""
    if not isinstance(raw, str):
        return raw
    try:
        parsed = json.loads(raw)
    except ValueError:
        return raw
    return parsed if isinstance(parsed, dict) else raw


def semconv_finish_reason(reason: str) -> str:
    """The output-message schema's value for a provider's finish reason; others pass unchanged
    (the schema allows any string beside its enum)."""
    return sc.FINISH_REASONS.get(reason, reason)


class AICall(Operation):
    """One chat completion attempt: `chat {model}`, CLIENT. Retries are separate calls."""

    component = ComponentType.AI_SERVICE

    def __init__(
        self,
        instruments: Instruments,
        parent: Operation,
        *,
        provider: str,
        model: str,
        server_address: str | None = None,
        server_port: int | None = None,
        attempt: int = 1,
        event_id: str | None = None,
        request: Mapping[str, Any] | None = None,
        conversation_id: str | None = None,
    ) -> None:
        attributes: dict[str, Any] = {
            sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT,
            sc.GEN_AI_PROVIDER_NAME: provider,
            sc.GEN_AI_REQUEST_MODEL: model,
        }
        if conversation_id:
            attributes[sc.GEN_AI_CONVERSATION_ID] = conversation_id
        if server_address:
            if server_port is None:  # conditionally required with the address (GenAI inference span)
                raise ValueError(f"server_port is required with server_address {server_address!r}")
            attributes[sc.SERVER_ADDRESS] = server_address
            attributes[sc.SERVER_PORT] = server_port
        if attempt != 1:
            attributes[sc.AIW_AI_ATTEMPT] = attempt
        for key, value in (request or {}).items():
            attributes[f"gen_ai.request.{key}"] = value
        super().__init__(instruments, f"{sc.OP_CHAT} {model}", kind=SpanKind.CLIENT, attributes=attributes, parent=parent)
        self.provider = provider
        self.model = model
        self.event_id = event_id
        self._input_messages: list[dict[str, Any]] | None = None
        self._output_messages: list[dict[str, Any]] | None = None
        self._sent_ns = 0

    def request_sent(self, messages: Sequence[Mapping[str, Any]] | None = None, **summary: Any) -> None:
        """The request left: event + DEBUG record; `summary` is a small payload summary (seed 4b)."""
        self._sent_ns = time.time_ns()
        capture = self._instruments.content_capture
        if messages is not None and (capture.on_span or capture.on_event):
            self._input_messages = semconv_messages(messages)
            if capture.on_span:
                self.set_attribute(sc.GEN_AI_INPUT_MESSAGES, json.dumps(self._input_messages, ensure_ascii=False))
        self.span.add_event(
            sc.EV_API_REQUEST_SENT, {detail_attribute(k): v for k, v in summary.items() if _is_attribute_value(v)}
        )
        self.log(
            LogLevel.DEBUG,
            sc.EV_API_REQUEST_SENT,
            f"Sent request to {self.provider} model {self.model}.",
            event_id=f"{self.event_id}_req" if self.event_id else None,
            details={"api_provider": self.provider, "model_used": self.model, "request_payload_summary": summary},
        )

    def response_received(
        self,
        *,
        response_model: str | None = None,
        finish_reasons: Sequence[str] = (),
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        response_id: str | None = None,
        cost_usd: float | None = None,
        output_messages: Sequence[Mapping[str, Any]] | None = None,
        status_code: int = 200,
    ) -> None:
        attributes: dict[str, Any] = {}
        if response_model:
            attributes[sc.GEN_AI_RESPONSE_MODEL] = response_model
        if finish_reasons:
            attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] = list(finish_reasons)
        if input_tokens is not None:
            attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] = input_tokens
        if output_tokens is not None:
            attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] = output_tokens
        if response_id:
            attributes[sc.GEN_AI_RESPONSE_ID] = response_id
        if cost_usd is not None:
            attributes[sc.AIW_AI_COST] = cost_usd
        self.span.set_attributes(attributes)
        capture = self._instruments.content_capture
        if output_messages is not None and (capture.on_span or capture.on_event):
            self._output_messages = semconv_messages(output_messages)
            if capture.on_span:
                self.set_attribute(sc.GEN_AI_OUTPUT_MESSAGES, json.dumps(self._output_messages, ensure_ascii=False))
        self.add_event(sc.EV_API_RESPONSE_RECEIVED, {sc.HTTP_RESPONSE_STATUS_CODE: status_code})
        usage = {"completion_tokens": output_tokens, "prompt_tokens": input_tokens}
        if input_tokens is not None and output_tokens is not None:
            usage["total_tokens"] = input_tokens + output_tokens
        self.log(
            LogLevel.DEBUG,
            sc.EV_API_RESPONSE_RECEIVED,
            f"Received successful response from {self.provider}.",
            event_id=f"{self.event_id}_resp" if self.event_id else None,
            duration_ms=self._since_sent_ms(),
            details={"api_provider": self.provider, "status_code": status_code, "response_payload_summary": usage},
        )

    def response_failed(
        self, *, error_type: str, message: str, status_code: int | None = None, retry_after_s: float | None = None
    ) -> None:
        """The provider refused (429, 5xx) or the transport failed; the span ends in error."""
        event: dict[str, Any] = {sc.ERROR_TYPE: error_type}
        details: dict[str, Any] = {"api_provider": self.provider, "error_type": error_type, "error_message": message}
        if status_code is not None:
            event[sc.HTTP_RESPONSE_STATUS_CODE] = status_code
            details["status_code"] = status_code
        if retry_after_s is not None:
            event[sc.AIW_AI_RETRY_AFTER_S] = retry_after_s
            details["retry_after_s"] = retry_after_s
        self.add_event(sc.EV_API_RESPONSE_FAILED, event)
        self.set_error(error_type, message)
        self.log(
            LogLevel.WARNING,
            sc.EV_API_RESPONSE_FAILED,
            f"Failed API call to {self.provider}: {message}"
            + (f" (retrying in {duration(retry_after_s * 1000)})" if retry_after_s is not None else ""),
            event_id=f"{self.event_id}_resp" if self.event_id else None,
            duration_ms=self._since_sent_ms(),
            details=details,
        )

    def _since_sent_ms(self) -> float:
        return (time.time_ns() - self._sent_ns) / 1e6 if self._sent_ns else self.elapsed_ms

    def _on_exit(self, error: BaseException | None) -> None:
        if self._input_messages is None and self._output_messages is None:
            return  # first: the usual case (no content captured) then costs no property call
        if not self._instruments.content_capture.on_event:
            return
        attributes: dict[str, Any] = {
            sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT,
            sc.GEN_AI_PROVIDER_NAME: self.provider,
            sc.GEN_AI_REQUEST_MODEL: self.model,
        }
        if self._input_messages is not None:
            attributes[sc.GEN_AI_INPUT_MESSAGES] = self._input_messages
        if self._output_messages is not None:
            attributes[sc.GEN_AI_OUTPUT_MESSAGES] = self._output_messages
        self._instruments.emitter.emit_event(
            sc.EVENT_INFERENCE_DETAILS,
            attributes,
            context=trace.set_span_in_context(self.span),
            severity=SeverityNumber.INFO,
        )


def _is_attribute_value(value: Any) -> bool:
    return isinstance(value, (str, bool, int, float)) or (
        isinstance(value, (list, tuple)) and all(isinstance(v, (str, bool, int, float)) for v in value)
    )
