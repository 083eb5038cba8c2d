"""FIFOs, devices and links to /dev/zero where a regular file is expected: refused, never read.

A FIFO blocks open() until a writer comes (no cancel reaches a thread stuck there); /dev/zero never
ends. Each test runs the real thing, so a regression hangs into the guard instead of passing.
"""

from __future__ import annotations

import json
import os
import textwrap
import threading
from pathlib import Path

import pytest

from aiw_otel import State
from aiw_otel.readback.files import ReadbackError, find_files, read_lines
from aiw_otel.readback.follow import Tail
from aiw_otel.regular_file import FileTooLarge, NotRegularFile, read_regular
from aiw_otel.runner.engine import Engine, RunOptions
from aiw_otel.runner.plan_loader import load_plan
from aiw_otel.runner.tools import execute_tool
from aiw_otel.runner.workspace import Workspace
from tests.hostile.cli import aiw, one_line_error

#: Real aiw-otel processes: not in the fast loop (`pytest -m "not slow"`).
pytestmark = pytest.mark.slow


class _Call:
    def __init__(self, name: str, **arguments: str) -> None:
        self.id, self.name, self.arguments = "call_1", name, json.dumps(arguments)


def _tool_output(capture, workspace: Workspace, name: str, **arguments: str) -> str:
    cap = capture()
    engine_done: list[str] = []
    with cap.telemetry.plan_run("p", "p") as run, run.step("s", "t", "d") as step:
        engine_done.append(execute_tool(step, _Call(name, **arguments), workspace, _no_control(), 5.0))
    return engine_done[0]


def _no_control():
    from aiw_otel.runner.control import RunControl

    return RunControl()


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    root = tmp_path / "ws"
    root.mkdir()
    os.mkfifo(root / "pipe")
    return Workspace(root)


def test_read_file_refuses_a_fifo_instead_of_hanging(capture, workspace):
    output = _tool_output(capture, workspace, "read_file", path="pipe")
    assert output == "Error: 'pipe' is not a regular file (a FIFO); refused"


def test_write_file_refuses_a_fifo_with_no_reader(capture, workspace):
    output = _tool_output(capture, workspace, "write_file", path="pipe", content="x")
    assert output == "Error: 'pipe' is not a regular file (a FIFO); refused"


def test_write_file_refuses_a_fifo_with_a_reader(capture, workspace):
    reader = os.open(workspace.root / "pipe", os.O_RDONLY | os.O_NONBLOCK)
    try:
        output = _tool_output(capture, workspace, "write_file", path="pipe", content="x")
    finally:
        os.close(reader)
    assert output == "Error: 'pipe' is not a regular file (a FIFO); refused"


def test_read_file_refuses_a_directory(capture, workspace):
    (workspace.root / "sub").mkdir()
    assert _tool_output(capture, workspace, "read_file", path="sub") == \
        "Error: [Errno 21] Is a directory: '" + str(workspace.root / "sub") + "'"


def test_a_plan_that_makes_a_fifo_and_reads_it_fails_the_step_and_ends(capture, tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(textwrap.dedent("""
        task_id: fifo
        plan:
          - step_id: make
            description: make a FIFO
            agent_spec: {type: t}
            actions: [{run: "mkfifo pipe"}, {read: pipe}]
          - step_id: after
            description: independent
            agent_spec: {type: t}
            actions: [{write: ok.txt, content: ok}]
    """))
    cap = capture()
    engine = Engine(cap.telemetry, load_plan(plan), RunOptions(workspace=tmp_path / "ws"))
    result: list[State] = []
    worker = threading.Thread(target=lambda: result.append(engine.run()), daemon=True)
    worker.start()
    worker.join(60)  # a guard: before the fix this thread never ended
    assert result == [State.FAILED]
    (failed,) = [s for s in cap.spans() if s.attributes.get("aiw.step.state") == "Failed"]
    assert "not a regular file (a FIFO)" in failed.status.description
    assert (tmp_path / "ws" / "ok.txt").read_text() == "ok"


def test_read_regular_refuses_devices_and_bounds_the_size(tmp_path):
    zero = tmp_path / "zero.json"
    zero.symlink_to("/dev/zero")
    with pytest.raises(NotRegularFile, match="a character device"):
        read_regular(zero)
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 101)
    with pytest.raises(FileTooLarge):
        read_regular(big, limit=100)
    assert read_regular(big, limit=101) == b" " * 101


def _overview(tmp_path: Path) -> Path:
    (tmp_path / "overview_x.json").write_text(json.dumps({"task_id": "x", "plan": [
        {"subtask_id": "a", "file_path": "subtask_a.json"}]}))
    return tmp_path / "overview_x.json"


@pytest.mark.parametrize("make", [os.mkfifo, lambda p: p.symlink_to("/dev/zero")], ids=["fifo", "dev-zero"])
def test_check_refuses_a_subtask_file_that_is_not_regular(tmp_path, make):
    overview = _overview(tmp_path)
    make(tmp_path / "subtask_a.json")
    result = aiw("check", str(overview))
    assert result.returncode == 2
    assert "subtask_a.json" in one_line_error(result) and "not a regular file" in result.stderr


@pytest.mark.parametrize("make", [os.mkfifo, lambda p: p.symlink_to("/dev/zero")], ids=["fifo", "dev-zero"])
def test_check_and_run_refuse_a_config_or_plan_that_is_not_regular(tmp_path, make):
    for name in ("config.yaml", "plan.json"):
        make(tmp_path / name)
        result = aiw("check", str(tmp_path / name))
        assert result.returncode == 2
        assert "not a regular file" in one_line_error(result)
    result = aiw("run", str(tmp_path / "plan.json"), "--log-dir", str(tmp_path / "logs"), "--no-console")
    assert result.returncode == 2 and "not a regular file" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("make", [os.mkfifo, lambda p: p.symlink_to("/dev/zero")], ids=["fifo", "dev-zero"])
def test_logs_skips_a_log_file_that_is_not_regular(tmp_path, make):
    logs = tmp_path / "logs"
    logs.mkdir()
    make(logs / "traces.otlp.jsonl")
    warnings: list[str] = []
    (found,) = find_files([logs])
    assert list(read_lines(found.path, warnings.append)) == []
    assert "not a regular file" in warnings[0]
    result = aiw("logs", str(logs))
    assert "Traceback" not in result.stderr and "not a regular file" in result.stderr
    given = aiw("logs", str(logs / "traces.otlp.jsonl"))
    assert given.returncode == 1 and "not a regular file" in one_line_error(given)
    with pytest.raises(ReadbackError, match="not a regular file"):
        Tail(logs / "traces.otlp.jsonl").read()
