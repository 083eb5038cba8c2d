"""Steering a run: the relay against a real engine, the control socket, and `aiw-otel ctl` / `watch`
as a user runs them against a real `aiw-otel run`."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from aiw_otel import LogLevel, State
from aiw_otel.control.client import ControlClient, NoRunListening
from aiw_otel.control.paths import (
    MAX_SOCKET_PATH_BYTES,
    another_runs_socket,
    control_sockets,
    default_socket_path,
    find_socket,
    other_runs_sockets,
    private_socket_dir,
)
from aiw_otel.control.relay import COMMAND_NAMES, ControlRelay, Reply
from aiw_otel.control.socket_server import UPDATE_INTERVAL_S, ControlServer, ControlSocketError, SocketInUse
from aiw_otel.processors.output_store import OutputStore
from aiw_otel.processors.state_tracker import StateTracker
from aiw_otel.runner.engine import Engine, RunOptions
from aiw_otel.runner.plan_loader import load_plan
from tests.cli_process import AIW, aiw
from tests.fake_openai import FakeOpenAI, completion
from tests.otlp_files import attrs, spans_in
from tests.processes import pid_of, process_state, until
from tests.recorded_runs import debug_config, plan_file


def sleeper(seconds: float = 600) -> tuple[str, str]:
    """A long command and the unique marker `pid_of` finds it by (not a leftover of another run)."""
    return _python(f"import time; time.sleep({seconds})")


def go_waiter() -> tuple[str, str]:
    """A command that ends once a file `go` exists in the workspace: the test decides when."""
    return _python("import os, time; [time.sleep(0.05) for _ in iter(lambda: os.path.exists('go'), True)]")


def _python(code: str) -> tuple[str, str]:
    marker = uuid.uuid4().hex
    return f'python -c "{code}" {marker}', marker


def long_then_ai(command: str) -> str:
    """A plan whose first step runs `command` (long enough to steer), then asks the model."""
    return f"""
task_id: t
natural_language_goal: steer me
plan:
  - step_id: long
    description: a long command
    agent_spec: {{type: analysis}}
    actions: [{{run: {json.dumps(command)}}}]
  - step_id: ask
    description: ask the model
    depends_on: [long]
    agent_spec: {{type: ai_interaction, instructions: [say something]}}
"""


WAIT_FOR_GO = """
task_id: t
natural_language_goal: wait
plan:
  - step_id: wait
    description: wait for a go file
    agent_spec: {type: analysis}
    actions: [{run: "while [ ! -f go ]; do sleep 0.02; done"}]
  - step_id: note
    description: write a note
    depends_on: [wait]
    agent_spec: {type: file_operations}
    actions: [{write: note.txt, content: done}]
"""


@dataclass
class Steered:
    """A real engine on a plan, its state tracker and relay; `start()` runs it on a thread."""

    cap: Any
    engine: Engine
    tracker: StateTracker
    relay: ControlRelay
    workspace: Path
    result: list[State] = field(default_factory=list)
    worker: threading.Thread | None = None

    def start(self) -> None:
        self.worker = threading.Thread(target=lambda: self.result.append(self.engine.run()))
        self.worker.start()
        assert self.engine.wait_until_started(10)

    def finish(self, timeout_s: float = 20.0) -> State:
        assert self.worker is not None
        self.worker.join(timeout_s)
        assert not self.worker.is_alive()
        return self.result[0]

    def logs(self, action: str) -> list[Any]:
        return self.cap.logs_with(action)


@pytest.fixture
def steered(capture, tmp_path, fake_openai: FakeOpenAI):
    """Factory: steered(plan_yaml) -> Steered; a plan still running at the end is cancelled."""
    made: list[Steered] = []

    def make(body: str) -> Steered:
        plan = load_plan(plan_file(tmp_path, body))
        tracker = StateTracker()
        tracker.seed(plan)
        cap = capture(debug_config(), sinks=(tracker.sink(),))
        workspace = tmp_path / "ws"
        engine = Engine(cap.telemetry, plan, RunOptions(workspace=workspace, provider="openai", model="m",
                                                        environ={"OPENAI_BASE_URL": fake_openai.base_url}))
        made.append(Steered(cap, engine, tracker, ControlRelay(engine, tracker), workspace))
        return made[-1]

    yield make
    for run in made:
        if run.worker is not None and run.worker.is_alive():
            run.engine.control.cancel()
            run.worker.join(20)


# -- the relay ---------------------------------------------------------------------------------

def test_every_command_valid_and_invalid_through_the_relay(steered):
    command, marker = sleeper()
    run = steered(long_then_ai(command))
    relay = run.relay
    assert relay.submit("pause", "test") == Reply(False, "the run has not started yet")
    run.start()
    pid = pid_of(marker)

    assert relay.submit("resume", "test") == Reply(False, "cannot resume: the run is not paused (it is Running)")
    assert relay.submit("pause", "test") == Reply(True, "paused: the running command is suspended and the next AI "
                                                        "call held")
    until(lambda: process_state(pid) == "T", "the command stopped (state T)")
    assert relay.submit("pause", "test") == Reply(False, "cannot pause: the run is already paused")
    assert relay.submit("pause now", "test") == Reply(False, "'pause' takes no argument")
    assert relay.submit("  RESUME ", "test").ok
    until(lambda: process_state(pid) in ("S", "R"), "the command running again")

    assert relay.submit("context", "test") == Reply(False, "context needs text: context <text>")
    assert relay.submit("context   focus on the API section ", "test").ok
    assert run.engine.run_record.take_context() == ["focus on the API section"]

    assert relay.submit("details long", "test") == Reply(True, "showing step 'long'", {"select_step": "long"})
    assert relay.submit("details ask", "test").data == {"select_step": "ask"}  # not started yet: still fine
    assert relay.submit("details nope", "test") == Reply(False, "no step 'nope' (steps: long, ask)")
    assert relay.submit("details", "test") == Reply(False, "details needs a step: details <name, id or a prefix of one>")

    assert relay.submit("frobnicate now", "test") == Reply(
        False, "unknown command 'frobnicate'; commands: pause, resume, cancel, context, details, output, status, help")
    helped = relay.submit("help", "test")
    assert helped.ok and all(name in helped.message for name in COMMAND_NAMES)
    status = relay.submit("status", "test")
    assert status.ok and status.message == "plan 'plan' Running"
    assert status.data["state"] == "Running"
    assert [(s["step_id"], s["state"]) for s in status.data["steps"]] == [("long", "Running"), ("ask", "Pending")]
    json.dumps(status.data)  # goes over the socket as is

    assert relay.submit("cancel", "test") == Reply(True, "cancelled: the running command is being terminated")
    assert run.finish() is State.CANCELLED
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert relay.submit("cancel", "test") == Reply(False, "cannot cancel: the run has already ended (Cancelled)")
    assert relay.submit("resume", "test") == Reply(False, "cannot resume: the run has already ended (Cancelled)")
    assert relay.submit("context too late", "test") == Reply(
        False, "cannot add context: the run has already ended (Cancelled)")

    interactions = [s for s in run.cap.spans() if s.name.startswith("user_interaction")]
    assert [(s.name, s.attributes["aiw.state_before"], s.attributes["aiw.state_after"]) for s in interactions] == [
        ("user_interaction pause", "Running", "Paused"), ("user_interaction resume", "Paused", "Running"),
        ("user_interaction context", "Running", "Running"), ("user_interaction cancel", "Running", "Cancelled")]
    assert all(s.attributes["aiw.interaction.source"] == "test" for s in interactions)
    refused = {action: len(run.logs(action)) for action in (
        "execution_resume_rejected", "execution_pause_rejected", "execution_cancel_rejected", "context_rejected",
        "details_rejected", "unknown_command_rejected")}
    assert refused == {"execution_resume_rejected": 2, "execution_pause_rejected": 1, "execution_cancel_rejected": 1,
                       "context_rejected": 1, "details_rejected": 1, "unknown_command_rejected": 1}
    (unknown,) = run.logs("unknown_command_rejected")
    assert unknown.severity_text == "WARN"
    assert unknown.attributes["aiw.component"] == "user_interaction"
    assert unknown.attributes["aiw.requested_command"] == "frobnicate"
    assert unknown.attributes["aiw.interaction.source"] == "test"
    details = run.logs("details_requested")
    assert [(r.severity_text, r.attributes["aiw.component"], r.attributes["aiw.requested_step"]) for r in details] == [
        ("INFO", "user_interaction", "long"), ("INFO", "user_interaction", "ask")]
    assert details[0].trace_id == interactions[0].context.trace_id  # on the run's trace


def test_commands_before_the_run_starts_are_answered_and_recorded(steered):
    run = steered(long_then_ai(sleeper()[0]))
    for line in ("pause", "resume", "cancel", "context hello"):
        assert run.relay.submit(line, "test") == Reply(False, "the run has not started yet")
    assert not run.relay.submit("jump", "test").ok
    assert run.relay.submit("status", "test").data["steps"][0]["state"] == "Pending"
    (unknown,) = run.logs("unknown_command_rejected")
    assert unknown.attributes["aiw.requested_command"] == "jump"
    assert run.engine.run_record is None and not run.engine.control.cancelled


def test_concurrent_commands_leave_the_run_and_its_control_agreeing(steered):
    command, marker = sleeper()
    run = steered(long_then_ai(command))
    run.start()
    pid_of(marker)
    replies: list[Reply] = []

    def hammer(command: str) -> None:
        for _ in range(25):
            replies.append(run.relay.submit(command, "test"))

    threads = [threading.Thread(target=hammer, args=(c,)) for c in ("pause", "resume") * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(replies) == 200 and any(r.ok for r in replies) and any(not r.ok for r in replies)
    assert run.engine.control.paused == (run.engine.run_record.state is State.PAUSED)
    assert run.relay.submit("cancel", "test").ok
    assert run.finish() is State.CANCELLED


def test_a_failing_subscriber_goes_to_the_health_report_never_to_stderr_under_a_live_console(steered, capsys):
    run = steered(WAIT_FOR_GO)
    reports: list[str] = []
    run.engine.telemetry.health.set_reporter(reports.append)  # what `run` does while the console is up

    def broken() -> None:
        raise RuntimeError("front end bug")

    run.relay.subscribe(broken)
    run.start()
    until(lambda: reports, "the health report")
    (run.workspace / "go").write_text("")
    assert run.finish() is State.COMPLETED
    assert len(reports) == 1
    assert "a state subscriber failed and was dropped: RuntimeError('front end bug')" in reports[0]
    assert "front end bug" not in capsys.readouterr().err


def test_an_interrupt_cancels_the_run_before_or_after_its_start_and_only_once(steered):
    early = steered(WAIT_FOR_GO)
    early.relay.interrupt("signal")  # before the start: it stops at its first checkpoint
    assert early.engine.control.cancelled and early.engine.run_record is None
    early.start()
    assert early.finish() is State.CANCELLED
    late = steered(WAIT_FOR_GO)
    late.start()
    until(lambda: late.relay.snapshot().steps[0].state == "Running", "the step running")
    late.relay.interrupt("keyboard")
    late.relay.interrupt("keyboard")  # a second Ctrl-C: no second request, no refusal recorded
    assert late.finish() is State.CANCELLED
    (requested,) = late.logs("execution_cancel_requested")
    assert requested.attributes["aiw.interaction.source"] == "keyboard"
    assert late.logs("execution_cancel_rejected") == []
    late.relay.interrupt("signal")  # after the end: nothing
    assert late.logs("execution_cancel_rejected") == []


def test_changes_fan_out_to_every_subscriber_and_a_failing_one_is_dropped(steered, capsys):
    run = steered(WAIT_FOR_GO)
    seen = {"a": 0, "b": 0, "left": 0, "broken": 0}

    def count(name: str):
        def callback() -> None:
            seen[name] += 1
        return callback

    def broken() -> None:
        seen["broken"] += 1
        raise RuntimeError("front end bug")

    run.relay.subscribe(count("a"))
    run.relay.subscribe(broken)
    run.relay.subscribe(count("b"))
    leave = run.relay.subscribe(count("left"))
    run.start()
    until(lambda: seen["left"] > 0, "a first change")
    leave()
    left_at = seen["left"]
    (run.workspace / "go").write_text("")
    assert run.finish() is State.COMPLETED
    assert seen["a"] == seen["b"] > left_at > 0
    assert seen["left"] == left_at and seen["broken"] == 1
    assert "a state subscriber failed and was dropped: RuntimeError('front end bug')" in capsys.readouterr().err
    assert run.relay.snapshot().state == "Completed"


OUTPUT_PLAN = """
task_id: t
natural_language_goal: print things
plan:
  - step_id: chatty
    name: talk
    description: prints, one secret among the lines, then fails
    agent_spec: {type: analysis}
    actions:
      - run: "echo first; echo OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD; echo why >&2; exit 2"
  - step_id: wait
    description: prints, then waits for a go file
    agent_spec: {type: analysis}
    actions: [{run: "echo early-line; while [ ! -f go ]; do sleep 0.02; done; echo late-line"}]
"""


def test_output_shows_what_a_steps_commands_printed_redacted_live_then_kept(steered):
    run = steered(OUTPUT_PLAN)
    run.start()
    live = until(lambda: (reply := run.relay.submit("output wait")).data["commands"]
                 and reply.data["commands"][0]["lines"] and reply, "the running command's first line")
    (running,) = live.data["commands"]
    assert list(running["lines"]) == ["early-line"] and running["outcome"] == ""  # read from the live span
    assert "$ echo early-line; while" in live.message and "running" in live.message.splitlines()[1]
    (run.workspace / "go").write_text("")
    assert run.finish() is State.FAILED
    reply = run.relay.submit("output ta")  # a prefix of the step's name, as `details` takes
    assert reply.ok and reply.data["select_step"] == "chatty"
    (command,) = reply.data["commands"]
    assert list(command["lines"]) == ["first", "OPENAI_API_KEY=[REDACTED:api_key]", "stderr: why"]
    assert command["outcome"] == "failed" and command["printed"] == 3 and command["summary"] == "exit 2"
    assert "sk-proj" not in reply.message and "\n  stderr: why" in reply.message
    assert list(run.relay.submit("output wait").data["commands"][0]["lines"]) == ["early-line", "late-line"]
    refused = run.relay.submit("output nowhere")
    assert not refused.ok and "nowhere" in refused.message
    asked = [r.attributes["aiw.requested_step"] for r in run.logs("output_requested")]
    assert asked[-2:] == ["chatty", "wait"] and set(asked[:-2]) == {"wait"}  # recorded, polls included
    assert len(run.logs("output_rejected")) == 1


def test_what_commands_printed_is_kept_for_the_last_commands_only_and_cut_to_the_newest_lines():
    store = OutputStore(commands=2, chars=10)
    store.keep(1, ["a"], 1)
    store.keep(2, ["0123", "4567", "89ab"], 3)
    store.keep(3, [], 0)
    assert store.get(1) is None  # let go of: only the last two commands are held
    assert store.get(2) == (("4567", "89ab"), 3)  # the newest lines within 10 characters
    assert store.get(3) == ((), 0)


# -- the socket --------------------------------------------------------------------------------

def _exchange(path: Path, payload: bytes, replies: int) -> list[dict[str, Any]]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn, conn.makefile("rb") as lines:
        conn.settimeout(10)
        conn.connect(str(path))
        conn.sendall(payload)
        conn.shutdown(socket.SHUT_WR)  # a last line without its newline is still answered
        return [json.loads(lines.readline()) for _ in range(replies)]


def test_the_socket_is_private_and_speaks_json_lines(steered, tmp_path):
    run = steered(long_then_ai(sleeper()[0]))
    path = tmp_path / "ctl.sock"
    with ControlServer(run.relay, path) as server:
        assert server.path == path
        mode = path.stat().st_mode
        assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
        requests = b"".join([b'{"command": "status"}\n', b"not json\n", b'{"command": 3}\n', b"[1, 2]\n",
                             b'{"command": "context", "text": 7}\n', b'{"command": "pause"}\n',
                             b'{"command": "details", "step": "ask"}\n', b'{"command": "dance"}'])
        status, bad, no_name, not_object, bad_text, pause, details, dance = _exchange(path, requests, 8)
        assert status["ok"] and status["data"]["plan_name"] == "plan" and status["data"]["state"] == "Pending"
        assert status["data"]["control_socket"] is None  # the CLI sets it; this test builds the server alone
        assert not bad["ok"] and bad["message"].startswith("bad request: Expecting value")
        assert no_name == not_object == {"ok": False, "data": None,
                                         "message": 'bad request: expected an object such as {"command": "status"}'}
        assert bad_text == {"ok": False, "message": "bad request: 'text' must be a string", "data": None}
        assert pause == {"ok": False, "message": "the run has not started yet", "data": None}
        assert details == {"ok": True, "message": "showing step 'ask'", "data": {"select_step": "ask"}}
        assert not dance["ok"] and dance["message"].startswith("unknown command 'dance'")
    assert not path.exists()
    (recorded,) = run.logs("unknown_command_rejected")
    assert recorded.attributes["aiw.interaction.source"] == "socket"


def test_watch_streams_coalesced_updates_then_end(steered, tmp_path):
    run = steered(WAIT_FOR_GO)
    with ControlServer(run.relay, tmp_path / "ctl.sock") as server:
        run.start()
        events: list[tuple[float, dict[str, Any]]] = []
        watcher = threading.Thread(
            target=lambda: events.extend((time.monotonic(), e) for e in ControlClient(server.path).watch()))
        watcher.start()
        until(lambda: events, "a first event")
        (run.workspace / "go").write_text("")
        assert run.finish() is State.COMPLETED
        watcher.join(10)
        assert not watcher.is_alive()
    kinds = [event["event"] for _, event in events]
    assert kinds[0] == "update" and kinds[-1] == "end" and kinds.count("end") == 1
    assert events[0][1]["data"]["state"] == "Running"
    final = events[-1][1]["data"]
    assert final["state"] == "Completed" and {s["state"] for s in final["steps"]} == {"Completed"}
    updates = [at for at, event in events if event["event"] == "update"]
    span = updates[-1] - updates[0]
    assert len(updates) - 1 <= (span + 0.2) / UPDATE_INTERVAL_S, (len(updates), span)  # at most ~4 a second
    versions = [event["data"]["version"] for _, event in events[:-1]]
    assert versions == sorted(set(versions))


def test_a_watcher_that_does_not_read_holds_up_neither_the_run_nor_the_shutdown(steered, tmp_path):
    run = steered(WAIT_FOR_GO)
    server = ControlServer(run.relay, tmp_path / "ctl.sock")
    stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    stuck.connect(str(server.path))
    stuck.sendall(b'{"command": "watch"}\n')
    run.start()
    for index in range(300):  # many changes, each a whole view the watcher never reads
        run.engine.run_record.log(LogLevel.INFO, "filler", f"line {index} " + "x" * 200)
    (run.workspace / "go").write_text("")
    started = time.monotonic()
    assert run.finish(10) is State.COMPLETED
    assert time.monotonic() - started < 10
    started = time.monotonic()
    server.close(timeout_s=1.0)
    assert time.monotonic() - started < 8 and not server.path.exists()  # the stuck watcher never reads
    stuck.close()


def test_a_stale_socket_is_replaced_and_a_live_or_foreign_path_refused(steered, tmp_path):
    run = steered(long_then_ai(sleeper()[0]))
    path = tmp_path / "ctl.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))
    dead.close()  # what a killed run leaves behind
    with ControlServer(run.relay, path):
        assert ControlClient(path).request("status")["ok"]
        with pytest.raises(ControlSocketError, match="another run is listening on .*ctl.sock; give this one its own"):
            ControlServer(run.relay, path)
        assert ControlClient(path).request("status")["ok"]  # the refusal did not disturb the live one
    with ControlServer(run.relay, path):  # free again after close()
        pass
    plain = tmp_path / "notes.txt"
    plain.write_text("keep me")
    with pytest.raises(ControlSocketError, match="exists and is not a socket"):
        ControlServer(run.relay, plain)
    assert plain.read_text() == "keep me"
    deep = tmp_path / ("d" * 120) / "ctl.sock"
    with pytest.raises(ControlSocketError, match=f"at most {MAX_SOCKET_PATH_BYTES} are possible"):
        ControlServer(run.relay, deep)


def test_default_socket_paths_fit_and_ctl_finds_the_newest(tmp_path):
    assert default_socket_path(tmp_path / "logs") == tmp_path / "logs" / "control.sock"
    deep = tmp_path / ("d" * 150)
    fallback = default_socket_path(deep)
    assert fallback.parent == private_socket_dir()  # never directly in /tmp: see tests/hostile
    assert len(os.fsencode(fallback)) <= MAX_SOCKET_PATH_BYTES
    assert default_socket_path(deep) == fallback != default_socket_path(tmp_path / ("e" * 150))

    logs = tmp_path / "logs"
    assert find_socket(logs) == logs.absolute() / "control.sock"  # nothing there yet: the default
    older, newer = logs / "control.sock", logs / "run2" / "control.sock"
    beside = logs / "control-4242.sock"  # a second run on the same log dir
    for index, path in enumerate((older, newer, beside)):
        path.parent.mkdir(parents=True, exist_ok=True)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as bound:
            bound.bind(str(path))
        os.utime(path, (1_000_000 + index, 1_000_000 + index))
    (logs / "run3").mkdir()
    (logs / "run3" / "control.sock").write_text("not a socket")
    assert control_sockets(logs) == [beside.absolute(), newer.absolute(), older.absolute()]
    assert find_socket(logs) == beside.absolute()


def test_a_second_run_on_a_log_dir_listens_beside_the_first(steered, tmp_path):
    """What `aiw-otel run` does when control.sock is held: its own `control-<pid>.sock`, found by ctl."""
    run = steered(long_then_ai(sleeper()[0]))
    preferred = tmp_path / "control.sock"
    with ControlServer(run.relay, preferred):
        with pytest.raises(SocketInUse):
            ControlServer(run.relay, preferred)
        with ControlServer(run.relay, another_runs_socket(preferred)) as second:
            assert second.path == tmp_path / f"control-{os.getpid()}.sock"
            assert ControlClient(second.path).request("status")["ok"]
            assert other_runs_sockets(preferred) == [second.path] and second.path in control_sockets(tmp_path)
        assert ControlClient(preferred).request("status")["ok"]
        assert [p.name for p in tmp_path.iterdir() if p.name.endswith((".s", ".sock"))] == ["control.sock"]  # nothing staged left


# -- aiw-otel ctl / watch against a real aiw-otel run ------------------------------------------

@pytest.mark.slow
def test_ctl_and_watch_without_a_run_say_so(tmp_path):
    path = tmp_path / "nobody.sock"
    for command in (("ctl", "status"), ("watch",)):
        result = aiw(*command, "--socket", str(path))
        assert result.returncode == 2
        assert f"no run listens at {path}" in result.stderr and "Traceback" not in result.stderr
    with pytest.raises(NoRunListening):
        ControlClient(path).request("status")


@pytest.mark.slow
def test_the_whole_sequence_through_aiw_otel_ctl(tmp_path, fake_openai: FakeOpenAI):
    long_check, check_marker = sleeper()
    fake_openai.script(completion("checking", tool_calls=[("execute_command", {"command": long_check})]))
    wait, wait_marker = go_waiter()
    plan = tmp_path / "plan.yaml"
    plan.write_text(long_then_ai(wait))
    sock, logs, workspace = tmp_path / "ctl.sock", tmp_path / "logs", tmp_path / "ws"
    runner = subprocess.Popen(
        [*AIW, "run", str(plan), "--provider", "openai", "--model", "m",
         "--no-console", "--log-dir", str(logs), "--workspace", str(workspace), "--control-socket", str(sock)],
        cwd=tmp_path, env={**os.environ, "OPENAI_BASE_URL": fake_openai.base_url},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watch: subprocess.Popen | None = None
    try:
        until(sock.exists, "the control socket", 30)

        def ctl(*args: str) -> subprocess.CompletedProcess:
            return aiw("ctl", *args, "--socket", str(sock))

        watch = subprocess.Popen([*AIW, "watch", "--socket", str(sock)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        waiter = pid_of(wait_marker, 30)
        paused = ctl("pause")
        assert paused.returncode == 0 and paused.stdout.startswith("paused"), paused.stderr
        until(lambda: process_state(waiter) == "T", "the command stopped (state T)")
        again = ctl("pause")
        assert again.returncode == 1 and again.stdout.strip() == "cannot pause: the run is already paused"
        extra = ctl("pause", "harder")
        assert extra.returncode == 1 and extra.stdout.strip() == "'pause' takes no argument"
        helped = ctl("help")  # the run's list of commands, one a line as in the console's reply area
        assert helped.returncode == 0 and "⏎" not in helped.stdout
        assert [line.split()[0] for line in helped.stdout.splitlines()[1:]] == list(COMMAND_NAMES)
        status = ctl("status")
        assert status.returncode == 0
        assert status.stdout.startswith("plan 'plan' Paused (run ")
        assert "Paused     long" in status.stdout and "Pending    ask" in status.stdout
        raw = json.loads(ctl("status", "--json").stdout)
        assert raw["ok"] and raw["data"]["control_socket"] == str(sock)
        assert ctl("resume").returncode == 0
        until(lambda: process_state(waiter) in ("S", "R"), "the command running again")
        assert ctl("context", "prefer", "the", "staging", "server").returncode == 0
        (workspace / "go").write_text("")

        (request,) = fake_openai.wait_for_requests(1, 30)
        assert request.body["messages"][-1]["content"].endswith("prefer the staging server")
        group = os.getpgid(pid_of(check_marker, 30))
        shown = ctl("details", "long")
        assert shown.returncode == 0 and shown.stdout.strip() == "showing step 'long'"
        printed = ctl("output", "lo")  # the step's commands and what they printed, line by line
        assert printed.returncode == 0, printed.stdout
        assert printed.stdout.splitlines()[:2] == ["output of step 'long': 1 command(s)", f"$ {wait}  exit 0"]
        unknown = ctl("dance")
        assert unknown.returncode == 1 and "unknown command 'dance'" in unknown.stdout
        cancelled = ctl("cancel")
        assert cancelled.returncode == 0 and cancelled.stdout.startswith("cancelled")

        assert runner.wait(30) == 3
        with pytest.raises(ProcessLookupError):
            os.killpg(group, 0)
        watched, _ = watch.communicate(timeout=10)
        assert watch.returncode == 0 and "plan Cancelled" in watched.splitlines()[-1]
        assert not sock.exists()
        gone = ctl("status")
        assert gone.returncode == 2 and str(sock) in gone.stderr
    finally:
        for process in (runner, watch):  # SIGTERM first: the run then ends its commands' process groups
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
    out = runner.stdout.read()
    assert f"control socket {sock}" in out and "plan 'plan' Cancelled" in out

    spans = spans_in(logs)
    (root,) = [s for s in spans if s["name"] == "invoke_workflow plan"]
    assert attrs(root)["aiw.plan.state"] == "Cancelled"
    steps = {attrs(s)["aiw.step.id"]: attrs(s)["aiw.step.state"] for s in spans if "aiw.step.state" in attrs(s)}
    assert steps == {"long": "Completed", "ask": "Cancelled"}
    requests = [(attrs(s)["aiw.interaction.kind"], attrs(s)["aiw.interaction.source"]) for s in spans
                if s["name"].startswith("user_interaction")]
    assert requests == [("pause", "socket"), ("resume", "socket"), ("context", "socket"), ("cancel", "socket")]
