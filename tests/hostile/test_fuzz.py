"""Property-based fuzzing of everything that reads untrusted input: only the project's own errors
come out (PlanError, ConfigError, a warning per bad log line, an error reply on the socket).

Example counts are bounded so the suite stays fast; a failure prints the smallest input found.
"""

from __future__ import annotations

import json
import socket
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiw_otel.config_yaml import config_from_text
from aiw_otel.control.protocol import command_line
from aiw_otel.control.relay import Reply
from aiw_otel.control.socket_server import ControlServer
from aiw_otel.errors import ConfigError
from aiw_otel.readback.files import SignalFile
from aiw_otel.readback.records import load
from aiw_otel.readback.tree import build_runs
from aiw_otel.runner.plan import Plan, PlanError
from aiw_otel.runner.plan_loader import load_plan
from aiw_otel.runview import RunView

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20)
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=30)

_step_keys = st.sampled_from(["step_id", "description", "depends_on", "agent_spec", "actions", "name",
                              "subtask_id", "file_path", "type"])
_agent_keys = st.sampled_from(["type", "instructions", "input_artifacts", "output_artifacts", "constraints",
                               "validation_criteria", "model_preference"])
_action = st.dictionaries(st.sampled_from(["run", "write", "read", "delete", "content", "timeout_s"]), _json,
                          max_size=3)
_step = st.fixed_dictionaries(
    {"step_id": st.text(max_size=6) | _json, "description": st.text(max_size=10) | _json},
    optional={"agent_spec": st.dictionaries(_agent_keys, _json, max_size=4), "actions": st.lists(_action, max_size=3),
              "depends_on": st.lists(st.sampled_from(["a", "b", "c", ""]), max_size=3) | _json})
_plan_doc = st.fixed_dictionaries({"task_id": st.text(max_size=6) | _json},
                                  optional={"plan": st.lists(_step | st.dictionaries(_step_keys, _json), max_size=4),
                                            "natural_language_goal": _json, "name": _json})


def _with_file(suffix: str, data: bytes, read: Callable[[Path], Any]) -> Any:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{suffix}"
        path.write_bytes(data)
        return read(path)


def _plan_or_error(path: Path) -> None:
    try:
        assert isinstance(load_plan(path), Plan)
    except PlanError as error:
        assert str(error).startswith(str(path))  # names the file


@FUZZ
@given(_plan_doc | _json)
def test_plan_loader_on_plan_shaped_json(document: Any) -> None:
    _with_file(".json", json.dumps(document).encode(), _plan_or_error)


@FUZZ
@given(_plan_doc | _json)
def test_plan_loader_on_plan_shaped_yaml(document: Any) -> None:
    _with_file(".yaml", yaml.safe_dump(document).encode(), _plan_or_error)


@FUZZ
@given(st.binary(max_size=300) | st.text(alphabet="{}[]:,-&*!|>'\"\n abc#%@`", max_size=200).map(str.encode))
def test_plan_loader_on_arbitrary_bytes(data: bytes) -> None:
    for suffix in (".json", ".yaml"):
        _with_file(suffix, data, _plan_or_error)


@FUZZ
@given(st.text(alphabet="{}[]:,-&*!|>'\"\n abc#%@`", max_size=200)
       | _json.map(lambda d: yaml.safe_dump({"telemetry": d}))
       | _json.map(lambda d: yaml.safe_dump({"version": 1, "handlers": d})))
def test_config_loader(text: str) -> None:
    try:
        config_from_text(text, "fuzz.yaml")
    except ConfigError:
        pass


_any_value = st.recursive(
    st.fixed_dictionaries({"stringValue": _json}) | st.fixed_dictionaries({"intValue": _json})
    | st.fixed_dictionaries({"doubleValue": _json}) | st.fixed_dictionaries({"boolValue": _json}) | _json,
    lambda inner: st.fixed_dictionaries({"arrayValue": st.fixed_dictionaries({"values": st.lists(inner, max_size=3)})})
    | st.fixed_dictionaries({"kvlistValue": st.fixed_dictionaries(
        {"values": st.lists(st.fixed_dictionaries({"key": _json, "value": inner}), max_size=3)})}),
    max_leaves=10)
_otlp_span = st.fixed_dictionaries({}, optional={
    "traceId": _json, "spanId": _json, "parentSpanId": _json, "name": _json, "kind": _json,
    "startTimeUnixNano": _json | st.sampled_from(["1e400", "-1", "18446744073709551616"]), "endTimeUnixNano": _json,
    "attributes": st.lists(st.fixed_dictionaries({"key": _json, "value": _any_value}), max_size=3) | _json,
    "events": _json, "status": _json})
_otlp_line = st.one_of(
    st.fixed_dictionaries({"resourceSpans": st.lists(st.fixed_dictionaries(
        {"resource": _json, "scopeSpans": st.lists(st.fixed_dictionaries(
            {"spans": st.lists(_otlp_span, max_size=3)}), max_size=2)}), max_size=2)}),
    st.fixed_dictionaries({"resourceLogs": _json}), _json).map(lambda d: json.dumps(d).encode())


@FUZZ
@given(st.lists(_otlp_line | st.binary(max_size=80), max_size=6), st.booleans())
def test_log_reader(lines: list[bytes], torn: bool) -> None:
    data = b"\n".join(lines) + (b"" if torn else b"\n")
    warnings: list[str] = []

    def read(path: Path) -> None:
        spans, logs = load([SignalFile(path, "traces")], warnings.append)
        for run in build_runs(spans, logs):
            list(run.nodes())

    _with_file(".jsonl", data, read)
    assert all(isinstance(w, str) for w in warnings)


@FUZZ
@given(_json)
def test_protocol_request_decoding(message: Any) -> None:
    try:
        assert isinstance(command_line(message), str)
    except ValueError:
        pass


class _Door:
    """A front door that answers everything: the socket's parsing and framing are under test."""

    def snapshot(self) -> RunView:
        return RunView(state="Completed")

    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        return lambda: None

    def submit(self, line: str, source: str = "api") -> Reply:
        return Reply(True, line[:50])


def test_socket_server_answers_every_line_with_json(tmp_path: Path, monkeypatch: Any) -> None:
    died: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda hook: died.append(hook.exc_value))
    with ControlServer(_Door(), tmp_path / "fuzz.sock") as server:

        @FUZZ
        @given(st.lists(_json.map(lambda d: json.dumps(d).encode()) | st.binary(max_size=60).map(
            lambda b: b.replace(b"\n", b"")) | st.just(b"[" * 5000), max_size=5))
        def exchange(requests: list[bytes]) -> None:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn, conn.makefile("rb") as replies:
                conn.settimeout(10)
                conn.connect(str(server.path))
                conn.sendall(b"".join(r + b"\n" for r in requests))
                conn.shutdown(socket.SHUT_WR)
                for line in replies:
                    assert isinstance(json.loads(line), dict)

        exchange()
    assert died == []
