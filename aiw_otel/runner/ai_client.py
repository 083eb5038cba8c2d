"""The runner's AI client: a provider chosen by the config, configured by the standard variables.

    openai      OPENAI_BASE_URL (default OpenAI's API; any compatible server: Ollama, vLLM,
                llama.cpp), OPENAI_API_KEY (not needed by a server on this machine or network)
    openrouter  OPENROUTER_API_KEY; OPENROUTER_BASE_URL overrides the endpoint (tests, proxies)
    replay      a recorded conversation (`replay.py`): no key, no network; the offline default

Every provider goes through the same retry loop (`ai_chat.RetryingClient`), so retries, spans,
pause/cancel and pricing behave alike whichever is configured.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Mapping
from urllib.parse import urlsplit

from aiw_otel.runner.ai_chat import (
    AIClient,
    AIConfigError,
    AIRequestError,
    ChatResult,
    RetryingClient,
    ToolCallRequest,
    Transport,
)
from aiw_otel.runner.openai_chat import OpenAITransport
from aiw_otel.runner.plan import PROVIDERS
from aiw_otel.runner.pricing import PriceTable
from aiw_otel.runner.replay import ReplayError, ReplayTransport, load_recording

__all__ = [
    "AIClient",
    "AIConfigError",
    "AIRequestError",
    "ChatResult",
    "PROVIDERS",
    "ReplayError",
    "ToolCallRequest",
    "make_client",
]

OPENAI_BASE_URL = "https://api.openai.com/v1"
OPENROUTER_BASE_URL = "https://openrouter.ai/api/v1"


def make_client(
    provider: str,
    *,
    model: str | None,
    replay_file: str | None,
    price_table: PriceTable | None,
    environ: Mapping[str, str] | None,
    timeout_s: float = 60,
    max_retries: int = 4,
) -> AIClient:
    """A client for `provider`; `model` becomes its `default_model` (a replay's own model otherwise).

    `environ` None reads the process environment. `max_retries` counts retries after the first
    attempt. Raises AIConfigError (naming the variable or the file) for anything that would
    otherwise only fail later, at the first call.
    """
    environ = os.environ if environ is None else environ
    if max_retries < 0:
        raise AIConfigError(f"max_retries must be 0 or more, got {max_retries}")
    transport: Transport
    if provider == "replay":
        if not replay_file:
            raise AIConfigError("provider 'replay' needs a replay file (the recorded conversation to play back)")
        recording = load_recording(replay_file)
        transport = ReplayTransport(recording)
        model = model or recording.model
    elif provider == "openai":
        base_url = _base_url(environ, "OPENAI_BASE_URL", OPENAI_BASE_URL)
        api_key = environ.get("OPENAI_API_KEY") or None
        if api_key is None and not _is_local(base_url):
            raise AIConfigError(
                f"provider 'openai' at {base_url} needs an API key: set OPENAI_API_KEY "
                "(a compatible server on this machine or network, such as Ollama, needs none)"
            )
        transport = OpenAITransport(
            provider="openai", base_url=base_url, api_key=api_key or "not-needed", timeout_s=timeout_s
        )
    elif provider == "openrouter":
        api_key = environ.get("OPENROUTER_API_KEY") or None
        if api_key is None:
            raise AIConfigError("provider 'openrouter' needs an API key: set OPENROUTER_API_KEY")
        base_url = _base_url(environ, "OPENROUTER_BASE_URL", OPENROUTER_BASE_URL)
        transport = OpenAITransport(
            provider="openrouter", base_url=base_url, api_key=api_key, timeout_s=timeout_s, report_cost=True
        )
    else:
        raise AIConfigError(f"unknown AI provider {provider!r} (expected one of {', '.join(PROVIDERS)})")
    return RetryingClient(transport, max_retries=max_retries, price_table=price_table, default_model=model)


def _base_url(environ: Mapping[str, str], variable: str, default: str) -> str:
    base_url = environ.get(variable) or default
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AIConfigError(f"{variable}: expected an http(s) URL such as http://localhost:11434/v1, got {base_url!r}")
    return base_url


def _is_local(base_url: str) -> bool:
    """This machine or a private network (where Ollama, vLLM, llama.cpp usually run without a key)."""
    host = urlsplit(base_url).hostname or ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        # Single-label names are a container or LAN host (`ollama`, `gpu-box`).
        return host == "localhost" or host.endswith((".localhost", ".local")) or "." not in host
    return address.is_loopback or address.is_private or address.is_link_local
