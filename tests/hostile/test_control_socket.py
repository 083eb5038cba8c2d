"""The control socket against clients that flood it: bounded clients, requests and pending context."""

from __future__ import annotations

import json
import socket
import textwrap
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from aiw_otel.control.relay import ControlRelay
from aiw_otel.control.socket_server import MAX_CLIENTS, ControlServer
from aiw_otel.instrument.plan import MAX_PENDING_CONTEXT, MAX_PENDING_CONTEXT_BYTES
from aiw_otel.processors.state_tracker import StateTracker
from aiw_otel.runner.engine import Engine, RunOptions
from aiw_otel.runner.plan_loader import load_plan
from tests.recorded_runs import debug_config
from tests.processes import until


@pytest.fixture
def served(capture, tmp_path: Path) -> Iterator[tuple[Path, Engine, Any]]:
    """A real run held in its first step until `go` exists, and its control socket."""
    plan_path = tmp_path / "plan.yaml"
    plan_path.write_text(textwrap.dedent("""
        task_id: t
        plan:
          - step_id: wait
            description: wait for a go file
            agent_spec: {type: t}
            actions: [{run: "while [ ! -f go ]; do sleep 0.02; done"}]
    """))
    plan = load_plan(plan_path)
    tracker = StateTracker()
    tracker.seed(plan)
    cap = capture(debug_config(), sinks=(tracker.sink(),))
    workspace = tmp_path / "ws"
    engine = Engine(cap.telemetry, plan, RunOptions(workspace=workspace))
    worker = threading.Thread(target=engine.run)
    worker.start()
    assert engine.wait_until_started(10)
    with ControlServer(ControlRelay(engine, tracker), tmp_path / "ctl.sock") as server:
        yield server.path, engine, cap
    (workspace / "go").write_text("")
    worker.join(20)


def _connect(path: Path) -> socket.socket:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(10)
    conn.connect(str(path))
    return conn


def _ask(conn: socket.socket, message: Any) -> dict[str, Any]:
    payload = message if isinstance(message, bytes) else json.dumps(message).encode() + b"\n"
    conn.sendall(payload)
    reply = b""
    while not reply.endswith(b"\n"):
        chunk = conn.recv(65536)
        assert chunk, "the server hung up without a reply"
        reply += chunk
    return json.loads(reply)


def test_clients_beyond_the_limit_get_an_error_reply_not_a_thread(served):
    path, _, _ = served
    idle: list[socket.socket] = []
    try:
        for _ in range(MAX_CLIENTS):  # one at a time, each served before the next (the backlog is small)
            idle.append(_connect(path))
            assert _ask(idle[-1], {"command": "status"})["ok"]
        for _ in range(5):
            with _connect(path) as extra, extra.makefile("rb") as replies:
                reply = json.loads(replies.readline())
                assert reply == {"ok": False, "data": None,
                                 "message": f"too many clients (at most {MAX_CLIENTS}); try again later"}
                assert replies.readline() == b""  # and hung up
        idle.pop().close()

        def served_again() -> bool:
            with _connect(path) as conn:
                try:
                    return bool(_ask(conn, {"command": "status"})["ok"])
                except (AssertionError, OSError):
                    return False

        until(served_again, "a place to free up once a client left")
    finally:
        for conn in idle:
            conn.close()


@pytest.mark.parametrize("payload", [b"[" * 100_000 + b"\n", b'{"command": ' + b"[" * 5000 + b"\n",
                                     b'{"command": "status", "x": ' + b'{"a":' * 3000 + b"1" + b"}" * 3000 + b"}\n"])
def test_deeply_nested_json_gets_an_error_reply_and_the_connection_goes_on(served, payload):
    path, _, _ = served
    with _connect(path) as conn:
        reply = _ask(conn, payload)
        assert not reply["ok"] and reply["message"].startswith("bad request")
        assert _ask(conn, {"command": "status"})["ok"]


def test_pending_context_is_bounded_in_items_and_bytes(served):
    path, engine, cap = served
    with _connect(path) as conn:
        small = [_ask(conn, {"command": "context", "text": f"note {i}"}) for i in range(MAX_PENDING_CONTEXT + 5)]
        assert [r["ok"] for r in small] == [True] * MAX_PENDING_CONTEXT + [False] * 5
        assert "at most 32 items" in small[-1]["message"]
        assert engine.run_record is not None and len(engine.run_record.take_context()) == MAX_PENDING_CONTEXT
        big = "x" * (MAX_PENDING_CONTEXT_BYTES // 2 + 1)
        replies = [_ask(conn, {"command": "context", "text": big}) for _ in range(20)]
        assert [r["ok"] for r in replies] == [True] + [False] * 19
    assert len(cap.logs_with("context_rejected")) == 24
