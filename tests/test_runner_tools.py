"""Commands, workspace files and the model's tools, with real processes and files in a real pipeline."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any, Callable

import pytest

from aiw_otel.instrument.command import Command
from aiw_otel.model import RunCancelled
from aiw_otel.runner.ai_chat import ToolCallRequest
from aiw_otel.runner.processes import run_command
from aiw_otel.runner.control import RunControl
from aiw_otel.runner.tools import TOOL_DEFINITIONS, execute_tool
from aiw_otel.runner.workspace import Workspace, WorkspaceError
from tests.recorded_runs import debug_config
from tests.processes import DEADLINE_S, process_state, until

def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def pid_in(path: Path) -> int | None:
    """The pid a script wrote to `path`, once the line is complete."""
    text = path.read_text() if path.exists() else ""
    return int(text) if text.endswith("\n") else None


class InThread:
    """Run `target` on a thread, keeping its result or exception for the test to check."""

    def __init__(self, target: Callable[[], Any]) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self._target = target
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.result = self._target()
        except BaseException as error:  # noqa: BLE001 - handed to the test
            self.error = error

    def join(self) -> None:
        self._thread.join(DEADLINE_S)
        assert not self._thread.is_alive(), "the command did not finish"


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    return root


def run_in_step(cap: Any, command: Any, cwd: Path, **options: Any) -> Any:
    with cap.telemetry.plan_run("p", "plan") as run, run.step("s1", "validation") as step:
        return run_command(step, command, cwd=cwd, **{"control": RunControl(), "timeout_s": None, **options})


# -- commands ---------------------------------------------------------------------------------


def test_output_is_streamed_into_events_and_debug_logs_with_exact_counts(capture: Any, ws: Path) -> None:
    cap = capture(debug_config())
    result = run_in_step(cap, "printf 'one\\ntwo\\n'; echo oops >&2; printf tail", ws)

    assert (result.exit_code, result.stdout_tail, result.stderr_tail, result.timed_out) == (
        0, "one\ntwo\ntail", "oops\n", False)
    span = cap.span("sh")
    assert span.attributes["process.command_args"] == ("/bin/sh", "-c", "printf 'one\\ntwo\\n'; echo oops >&2; printf tail")
    assert span.attributes["process.exit.code"] == 0
    assert (span.attributes["aiw.command.stdout.bytes"], span.attributes["aiw.command.stdout.lines"]) == (12, 3)
    assert (span.attributes["aiw.command.stderr.bytes"], span.attributes["aiw.command.stderr.lines"]) == (5, 1)
    lines = [(e.attributes["aiw.command.stream"], e.attributes["aiw.command.output_line"]) for e in span.events
             if e.name == "command_output"]
    assert sorted(lines) == [("stderr", "oops"), ("stdout", "one"), ("stdout", "tail"), ("stdout", "two")]
    assert sorted(r.body for r in cap.logs_with("command_output")) == ["one", "oops", "tail", "two"]
    assert all(r.span_id == span.context.span_id for r in cap.logs_with("command_output"))


def test_huge_output_keeps_exact_counts_a_bounded_tail_and_bounded_memory(capture: Any, ws: Path) -> None:
    cap = capture(debug_config())
    script = "import sys\nfor i in range(200000): sys.stdout.write(f'{i:099d}\\n')"
    tracemalloc.start()
    try:
        result = run_in_step(cap, [sys.executable, "-c", script], ws, max_output_for_model=4096)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 8 * 1024 * 1024, f"peak {peak} bytes for 20 MB of output"
    span = cap.span(Path(sys.executable).name)
    assert span.attributes["aiw.command.stdout.lines"] == 200_000
    assert span.attributes["aiw.command.stdout.bytes"] == 20_000_000
    assert span.attributes["aiw.command.output_events_dropped"] == 200_000 - 50
    assert len([e for e in span.events if e.name == "command_output"]) == 50
    assert len(cap.logs_with("command_output")) == 1000
    marker, tail = result.stdout_tail.split("\n", 1)
    assert marker == f"[... {20_000_000 - 4096} earlier bytes omitted ...]"
    assert len(tail) == 4096 and tail.endswith(f"{199999:099d}\n")


def test_non_utf8_output_is_counted_in_bytes_and_decoded_with_replacement(capture: Any, ws: Path) -> None:
    cap = capture(debug_config())
    result = run_in_step(cap, "printf '\\377\\376ok\\n'; printf '\\200' >&2", ws)

    assert result.stdout_tail == "\ufffd\ufffdok\n" and result.stderr_tail == "\ufffd"
    span = cap.span("sh")
    assert (span.attributes["aiw.command.stdout.bytes"], span.attributes["aiw.command.stderr.bytes"]) == (5, 1)
    assert sorted(r.body for r in cap.logs_with("command_output")) == ["\ufffd", "\ufffd\ufffdok"]


@pytest.mark.parametrize("code", [0, 3])
def test_exit_codes_set_error_type_only_when_not_zero(capture: Any, ws: Path, code: int) -> None:
    cap = capture(debug_config())
    assert run_in_step(cap, f"exit {code}", ws).exit_code == code

    span = cap.span("sh")
    assert span.attributes["process.exit.code"] == code
    assert span.attributes.get("error.type") == (str(code) if code else None)
    assert len(cap.logs_with("command_execution_failed" if code else "command_execution_completed")) == 1


def test_traceparent_handed_to_the_child_continues_the_command_span(capture: Any, ws: Path) -> None:
    cap = capture(debug_config())
    result = run_in_step(cap, 'echo "$TRACEPARENT"', ws, env={"PATH": os.environ["PATH"]})

    context = cap.span("sh").context
    assert result.stdout_tail == f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}\n"


def test_timeout_ends_the_whole_process_group(capture: Any, ws: Path) -> None:
    cap = capture(debug_config())
    started = time.monotonic()
    result = run_in_step(cap, "sleep 100 & echo $! > bg.pid; sleep 100", ws, timeout_s=0.3, grace_s=1.0)

    assert time.monotonic() - started < 30  # the commands would sleep 100 s
    assert result.timed_out and result.exit_code == -15
    span = cap.span("sh")
    assert span.attributes["error.type"] == "timeout"
    assert group_gone(span.attributes["process.pid"])
    assert process_state(until(lambda: pid_in(ws / "bg.pid"), "the background pid")) is None
    [record] = cap.logs_with("command_timed_out")
    assert list(record.attributes["aiw.signals"]) == ["SIGTERM"]


def test_processes_left_behind_by_a_finished_command_are_ended(capture: Any, ws: Path) -> None:
    cap = capture(debug_config())
    result = run_in_step(cap, "sleep 100 & echo $! > bg.pid; echo started", ws, grace_s=1.0)

    assert (result.exit_code, result.stdout_tail, result.timed_out) == (0, "started\n", False)
    assert group_gone(cap.span("sh").attributes["process.pid"])
    assert process_state(until(lambda: pid_in(ws / "bg.pid"), "the background pid")) is None
    assert len(cap.logs_with("command_leftovers_ended")) == 1


def test_an_error_while_reading_output_still_ends_the_group(
    capture: Any, ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cap = capture(debug_config())

    def broken(self: Command, stream: str, data: bytes) -> None:
        raise OSError("telemetry broke")

    monkeypatch.setattr(Command, "output", broken)
    with pytest.raises(OSError, match="telemetry broke"):
        run_in_step(cap, "echo $$ > leader.pid; echo hi; sleep 100", ws)
    assert group_gone(until(lambda: pid_in(ws / "leader.pid"), "the leader's pid"))


PAUSE_SCRIPT = """\
"$1" -c 'import os, time
while not os.path.exists("go"): time.sleep(0.01)' &
echo $! > child.pid
echo $$ > leader.pid
wait
echo finished
"""


def test_pause_stops_the_process_group_and_resume_continues_it(capture: Any, ws: Path) -> None:
    cap = capture(debug_config())
    (ws / "pause.sh").write_text(PAUSE_SCRIPT)
    control = RunControl()
    timeout_s = 2.0
    with cap.telemetry.plan_run("p", "plan") as run:
        step = run.step("s1", "validation")

        def work() -> Any:
            with step:
                return run_command(step, ["sh", "pause.sh", sys.executable], cwd=ws, control=control,
                                   timeout_s=timeout_s)

        worker = InThread(work)
        leader = until(lambda: pid_in(ws / "leader.pid"), "the leader's pid")
        child = until(lambda: pid_in(ws / "child.pid"), "the child's pid")
        run.pause(source="test")
        control.pause()
        until(lambda: process_state(leader) == "T" and process_state(child) == "T", "both processes stopped")
        paused_until = time.monotonic() + timeout_s + 0.5
        while time.monotonic() < paused_until:  # longer than the timeout: paused time must not count
            assert (process_state(leader), process_state(child)) == ("T", "T")
            time.sleep(0.05)
        run.resume(source="test")
        control.resume()
        until(lambda: process_state(leader) not in ("T", None) and process_state(child) not in ("T", None),
              "both processes running again")
        (ws / "go").touch()
        worker.join()

    assert worker.error is None
    assert (worker.result.exit_code, worker.result.stdout_tail, worker.result.timed_out) == (0, "finished\n", False)
    assert group_gone(leader)


def test_cancel_terminates_then_kills_the_group_and_raises_run_cancelled(capture: Any, ws: Path) -> None:
    cap = capture(debug_config())
    control = RunControl()
    script = 'trap "" TERM; sleep 100 & echo $! > child.pid; echo $$ > leader.pid; wait'
    with cap.telemetry.plan_run("p", "plan") as run:
        step = run.step("s1", "validation")

        def work() -> Any:
            with step:
                return run_command(step, script, cwd=ws, control=control, timeout_s=None, grace_s=0.5)

        worker = InThread(work)
        leader = until(lambda: pid_in(ws / "leader.pid"), "the leader's pid")
        child = until(lambda: pid_in(ws / "child.pid"), "the child's pid")
        cancelled_at = time.monotonic()
        run.cancel(source="test")
        control.cancel()
        worker.join()

    assert isinstance(worker.error, RunCancelled)
    assert time.monotonic() - cancelled_at >= 0.5  # SIGTERM was ignored: SIGKILL came after the grace period
    assert group_gone(leader) and process_state(child) is None
    span = cap.span("sh")
    # The exit code says which signal ended it; error.type says why (a cancel, not a crash).
    assert (span.attributes["process.exit.code"], span.attributes["error.type"]) == (-9, "cancelled")
    [record] = cap.logs_with("command_cancelled")
    assert list(record.attributes["aiw.signals"]) == ["SIGTERM", "SIGKILL"]
    assert cap.span("validation").attributes["aiw.step.state"] == "Cancelled"


def test_a_cancelled_run_starts_no_command(capture: Any, ws: Path) -> None:
    cap = capture(debug_config())
    control = RunControl()
    control.cancel()
    with pytest.raises(RunCancelled):
        run_in_step(cap, "touch ran", ws, control=control)
    assert not (ws / "ran").exists()
    assert "sh" not in [s.name for s in cap.spans()]


# -- workspace --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["../x", "/etc/passwd", "link/x", "link"])
@pytest.mark.parametrize("operation, recorded", [("read", "read"), ("write", "create"), ("delete", "delete")])
def test_paths_outside_the_workspace_are_refused_and_recorded(
    capture: Any, tmp_path: Path, ws: Path, path: str, operation: str, recorded: str
) -> None:
    cap = capture(debug_config())
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x").write_text("keep")
    (ws / "link").symlink_to(outside / ("x" if path == "link" else ""))
    workspace = Workspace(ws)
    arguments = ("changed",) if operation == "write" else ()

    with cap.telemetry.plan_run("p", "plan") as run, run.step("s1", "file_operations") as step:
        with pytest.raises(WorkspaceError) as refused:
            getattr(workspace, operation)(step, path, *arguments)

    assert f"'{path}'" in str(refused.value) and str(ws) in str(refused.value)
    assert (outside / "x").read_text() == "keep"
    span = cap.span(f"file {recorded}")
    assert span.attributes["error.type"] == "aiw_otel.runner.workspace.WorkspaceError"
    assert span.attributes["aiw.file.relative_path"] == path
    assert span.attributes["file.path"] == os.path.normpath(ws.resolve() / path)  # where the path leads
    [record] = cap.logs_with(f"file_{recorded}_failed")
    assert record.attributes["aiw.error_message"] == str(refused.value)


def test_files_read_written_and_deleted_with_sizes(capture: Any, ws: Path) -> None:
    cap = capture(debug_config())
    workspace = Workspace(ws, max_read_bytes=1024)
    (ws / "big.bin").write_bytes(b"\xff" + b"a" * 2999)
    with cap.telemetry.plan_run("p", "plan") as run, run.step("s1", "file_operations") as step:
        assert workspace.write(step, "src/a.txt", "hello\n") == 6
        assert workspace.write(step, "src/a.txt", b"hello again\n") == 12
        assert workspace.read(step, "src/a.txt") == "hello again\n"
        big = workspace.read(step, "big.bin")
        assert workspace.list(step) == ("big.bin", "src/")
        workspace.delete(step, "src/a.txt")

    assert big == "\ufffd" + "a" * 1023 + "\n[... truncated: showing the first 1024 of 3000 bytes ...]"
    assert not (ws / "src" / "a.txt").exists()
    create, write, delete = cap.span("file create"), cap.span("file write"), cap.span("file delete")
    assert (create.attributes["aiw.file.bytes_written"], write.attributes["aiw.file.bytes_written"]) == (6, 12)
    assert delete.attributes["file.size"] == 12
    reads = {s.attributes["aiw.file.relative_path"]: s.attributes for s in cap.spans() if s.name == "file read"}
    assert (reads["big.bin"]["aiw.file.bytes_read"], reads["big.bin"]["file.size"]) == (1024, 3000)
    # file.path is the full path (file registry); the path as the step gave it is ours.
    assert {s.attributes["file.path"] for s in cap.spans() if s.name.startswith("file ")} == {
        str(ws.resolve() / "src" / "a.txt"), str(ws.resolve() / "big.bin"), str(ws.resolve())}
    [written] = cap.logs_with("file_written")
    assert written.attributes["file.path"] == str(ws.resolve() / "src" / "a.txt")
    assert written.body == "File write succeeded: 'src/a.txt'."
    assert [len(cap.logs_with(a)) for a in ("file_created", "file_written", "file_read", "file_deleted")] == [1, 1, 3, 1]


# -- tools ------------------------------------------------------------------------------------


def call_tools(cap: Any, ws: Path, calls: list[tuple[str, dict[str, Any] | str]], timeout_s: float = 10.0) -> list[str]:
    workspace, control = Workspace(ws), RunControl()
    with cap.telemetry.plan_run("p", "plan") as run, run.step("s1", "code_generation") as step:
        return [
            execute_tool(step, ToolCallRequest(f"call_{i}", name, args if isinstance(args, str) else json.dumps(args)),
                         workspace, control, timeout_s)
            for i, (name, args) in enumerate(calls)
        ]


def test_tool_definitions_are_openai_functions() -> None:
    names = [t["function"]["name"] for t in TOOL_DEFINITIONS]
    assert names == ["read_file", "write_file", "list_files", "delete_file", "execute_command"]
    for tool in TOOL_DEFINITIONS:
        assert tool["type"] == "function" and tool["function"]["parameters"]["type"] == "object"
        assert set(tool["function"]["parameters"]["required"]) <= set(tool["function"]["parameters"]["properties"])


def test_the_five_tools_end_to_end_with_their_span_tree(capture: Any, ws: Path) -> None:
    cap = capture(debug_config())
    outputs = call_tools(cap, ws, [
        ("write_file", {"path": "src/a.txt", "content": "hello\n"}),
        ("read_file", {"path": "src/a.txt"}),
        ("list_files", {}),
        ("list_files", {"path": "src"}),
        ("execute_command", {"command": "cat src/a.txt && ls src | wc -l"}),
        ("delete_file", {"path": "src/a.txt"}),
    ])

    assert outputs[:4] == ["Wrote 6 bytes to src/a.txt.", "hello\n", "src/", "src/a.txt"]
    assert json.loads(outputs[4]) == {"exit_code": 0, "timed_out": False, "stdout": "hello\n1\n", "stderr": ""}
    assert outputs[5] == "Deleted src/a.txt." and not (ws / "src" / "a.txt").exists()
    spans = cap.spans()
    by_id = {s.context.span_id: s for s in spans}
    tree = sorted((by_id[s.parent.span_id].name, s.name) for s in spans if s.parent and s.parent.span_id in by_id
                  and by_id[s.parent.span_id].name.startswith("execute_tool"))
    assert tree == [
        ("execute_tool delete_file", "file delete"),
        ("execute_tool execute_command", "sh"),
        ("execute_tool list_files", "file read"),
        ("execute_tool list_files", "file read"),
        ("execute_tool read_file", "file read"),
        ("execute_tool write_file", "file create"),
    ]
    assert all("error.type" not in s.attributes for s in spans)


@pytest.mark.parametrize("name, arguments, error_type, says", [
    ("read_file", "{not json", "aiw_otel.runner.tools.ToolError", "Error: the arguments are not valid JSON"),
    ("summon", "{}", "aiw_otel.runner.tools.ToolError", "Error: unknown tool 'summon'"),
    ("write_file", '{"path": "a.txt"}', "aiw_otel.runner.tools.ToolError", "Error: missing argument 'content'"),
    ("read_file", '{"path": 7}', "aiw_otel.runner.tools.ToolError", "Error: argument 'path' must be a string"),
    ("read_file", '{"path": "../secret"}', "aiw_otel.runner.workspace.WorkspaceError", "Error: path '../secret' leads"),
    ("read_file", '{"path": "missing.txt"}', "FileNotFoundError", "Error: [Errno 2] No such file or directory"),
    ("delete_file", '{"path": "."}', "IsADirectoryError", "Error: [Errno 21] Is a directory"),
    ("execute_command", '{"command": "echo no >&2; exit 4"}', "4", '{"exit_code": 4, "timed_out": false'),
    ("execute_command", '{"command": "sleep 5", "timeout_s": 100}', "timeout", '{"exit_code": -15, "timed_out": true'),
])
def test_tool_errors_go_back_to_the_model_as_text(
    capture: Any, ws: Path, name: str, arguments: str, error_type: str, says: str
) -> None:
    cap = capture(debug_config())
    [output] = call_tools(cap, ws, [(name, arguments)], timeout_s=0.3)

    assert output.startswith(says)
    span = cap.span(f"execute_tool {name}")
    assert span.attributes["error.type"] == error_type
    assert cap.span("code_generation").attributes["aiw.step.state"] == "Completed"


def test_a_cancel_is_not_a_tool_error(capture: Any, ws: Path) -> None:
    cap = capture(debug_config())
    control = RunControl()

    def cancel_once_started() -> None:
        until(lambda: cap.logs_with("command_execution_started"), "the command to start")
        control.cancel()

    canceller = InThread(cancel_once_started)
    with cap.telemetry.plan_run("p", "plan") as run, pytest.raises(RunCancelled):
        with run.step("s1", "code_generation") as step:
            call = ToolCallRequest("call_1", "execute_command", json.dumps({"command": "sleep 100"}))
            execute_tool(step, call, Workspace(ws), control, None)
    canceller.join()

    assert "error.type" not in cap.span("execute_tool execute_command").attributes
    assert cap.span("code_generation").attributes["aiw.step.state"] == "Cancelled"
