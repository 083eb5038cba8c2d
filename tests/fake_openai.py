"""A local OpenAI-compatible server for tests: the real chat-completions wire format over HTTP.

Each test scripts its answers (completions with tool calls and usage, errors such as a 429 with
Retry-After, slow replies) and reads back every request the server received, with its arrival
time, so that retries and waits are asserted from the server's side rather than with sleeps.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator, Mapping, Sequence

import pytest

CHAT_PATH = "/v1/chat/completions"


@dataclass(frozen=True)
class Reply:
    status: int
    #: The JSON body; a completion whose "model" is None echoes the requested model.
    body: dict[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)
    #: Seconds before answering (slow provider: timeouts, cancel); cut short when the server stops.
    delay_s: float = 0.0


@dataclass(frozen=True)
class Received:
    body: dict[str, Any]
    #: Lower-cased names.
    headers: Mapping[str, str]
    #: time.monotonic() when the request had been read.
    at: float


def completion(
    content: str | None = None,
    *,
    tool_calls: Sequence[tuple[str, Mapping[str, Any]]] = (),
    finish_reason: str | None = None,
    model: str | None = None,
    prompt_tokens: int = 12,
    completion_tokens: int = 5,
    cost: float | None = None,
    delay_s: float = 0.0,
) -> Reply:
    """A `chat.completion` with one choice; `tool_calls` are (name, arguments) pairs."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = [
            {"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
            for i, (name, args) in enumerate(tool_calls)
        ]
    usage: dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    if cost is not None:
        usage["cost"] = cost
    body = {
        "object": "chat.completion",
        "model": model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": finish_reason or ("tool_calls" if tool_calls else "stop")}
        ],
        "usage": usage,
    }
    return Reply(200, body, delay_s=delay_s)


def error(status: int, message: str, *, headers: Mapping[str, str] | None = None, code: str | None = None) -> Reply:
    """An OpenAI-style error body (`{"error": {"message", "type", "param", "code"}}`)."""
    kind = "requests" if status == 429 else ("server_error" if status >= 500 else "invalid_request_error")
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return Reply(status, body, headers=dict(headers or {}))


class FakeOpenAI:
    """The server; answers scripted replies in order, and a 500 saying so when the script runs out."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._replies: deque[Reply] = deque()
        self._received: list[Received] = []
        self._ids = itertools.count(1)
        self.stopping = threading.Event()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-openai", daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._replies.extend(replies)

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[Received]:
        """Block until `count` requests arrived; fail the test at the deadline."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._received) >= count, timeout):
                raise AssertionError(f"expected {count} request(s) within {timeout}s, got {len(self._received)}")
            return list(self._received)

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def answer(self, path: str, body: dict[str, Any], headers: Mapping[str, str]) -> Reply:
        """Record the request and take the next scripted reply."""
        if path != CHAT_PATH:
            return error(404, f"no route {path}")
        with self._lock:
            self._received.append(Received(body, headers, time.monotonic()))
            self._lock.notify_all()
            reply = self._replies.popleft() if self._replies else error(500, "fake server: script exhausted")
        if reply.status == 200 and "choices" in reply.body:
            filled = {
                "id": f"chatcmpl-{next(self._ids)}",
                "created": int(time.time()),
                **reply.body,
                "model": reply.body.get("model") or body.get("model"),
            }
            reply = Reply(reply.status, filled, reply.headers, reply.delay_s)
        return reply


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeOpenAI) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real providers do
    server: _Server

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length", 0)))
        fake = self.server.fake
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = fake.answer(self.path, json.loads(raw or b"{}"), headers)
        if reply.delay_s and fake.stopping.wait(reply.delay_s):
            self.close_connection = True
            return
        payload = json.dumps(reply.body).encode()
        try:
            self.send_response(reply.status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client gave up (timeout, cancel): nothing to answer
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests assert on recorded requests, not on the access log."""


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A started FakeOpenAI, stopped after the test (slow replies are cut short)."""
    with FakeOpenAI() as server:
        yield server
