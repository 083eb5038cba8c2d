"""The live console: the state tracker on a real pipeline, each panel on a recording console, and the
key loop driven through a pipe (and a real SIGINT) with a fake relay."""

from __future__ import annotations

import io
import logging
import os
import signal
import threading
from dataclasses import dataclass, replace
from typing import Any, Iterator

import pytest
from rich.console import Console, RenderableType
from rich.segment import Segment

from aiw_otel import LogLevel
from aiw_otel.console import app as app_module
from aiw_otel.console.app import CONFIRM_MESSAGE, ConsoleApp
from aiw_otel.console.header import Header
from aiw_otel.console.keys import Key, KeyDecoder
from aiw_otel.console.overview import Overview
from aiw_otel.console.plain import is_interactive
from aiw_otel.console.prompt import Prompt
from aiw_otel.console.screen import Screen
from aiw_otel.console.statusbar import StatusBar
from aiw_otel.console.outputview import OutputView
from aiw_otel.console.steplog import StepLog, filtered
from aiw_otel.processors.state_tracker import StateTracker
from aiw_otel.runner.plan import Plan, StepSpec
from aiw_otel.runview import ActionLine, CommandOutput, LogLine, RunView, StepView
from tests.processes import until

NOW = 1_800_000_000 * 10**9
SECOND = 10**9
MILLISECOND = 10**6


def render(renderable: RenderableType, width: int = 100, height: int | None = None) -> tuple[str, list[list[Segment]]]:
    """The renderable's text (as a recording console exports it) and its lines of segments."""
    console = Console(record=True, width=width, file=io.StringIO(), color_system="truecolor")
    console.print(renderable, height=height)
    lines = console.render_lines(renderable, console.options.update(width=width, height=height), pad=False)
    return console.export_text(), lines


def style_of(lines: list[list[Segment]], word: str) -> str:
    """The style of the first segment that holds `word`."""
    for line in lines:
        for segment in line:
            if word in segment.text:
                return str(segment.style or "")
    raise AssertionError(f"{word!r} not rendered")


def plan_of(*step_ids: str) -> Plan:
    return Plan("p1", "demo plan", "goal", tuple(StepSpec(s, f"Description of {s}", type="code_generation")
                                                 for s in step_ids))


def step(step_id: str, state: str = "Pending", **fields: Any) -> StepView:
    started = fields.pop("started_ns", NOW - 12 * SECOND if state != "Pending" else None)
    return StepView(step_id, fields.pop("description", f"Description of {step_id}"), "code_generation", state,
                    started, **fields)


# -- panels -----------------------------------------------------------------------------------
def test_the_header_shows_plan_state_elapsed_time_and_the_control_socket():
    view = RunView("greet-release", "p1", "r1", "Running", NOW - 75 * SECOND, control_socket="/tmp/aiw.sock")
    text, lines = render(Header.of(view, NOW))
    assert "Plan: greet-release | Status: Running | Elapsed: 1 m 15 s | Control: /tmp/aiw.sock" in text
    assert "AIWhisperer Runner" in text
    assert style_of(lines, "Running") == "yellow"


STATES = {"a": "Completed", "b": "Failed", "c": "Running", "d": "Paused", "e": "Cancelled", "f": "Skipped",
          "g": "Pending"}


def test_the_overview_colours_each_state_as_the_seed_says():
    view = RunView(steps=tuple(step(f"step_{k}", state) for k, state in STATES.items()))
    text, lines = render(Overview.of(view, None, NOW), width=120)
    for state in STATES.values():
        assert state in text
    assert style_of(lines, "Completed") == "green"
    assert style_of(lines, "Failed") == "red"
    assert style_of(lines, "Running") == "yellow"
    assert style_of(lines, "Paused") == "dark_orange"
    assert style_of(lines, "Cancelled") == "dim"
    assert style_of(lines, "Skipped") == "dim"


def test_the_overview_shows_description_duration_tokens_and_cost_when_wide():
    view = RunView(steps=(step("write_code", "Completed", ended_ns=NOW - 2 * SECOND, input_tokens=1200,
                               output_tokens=345, cost_usd=0.0123),))
    text, _ = render(Overview.of(view, None, NOW), width=120)
    row = next(line for line in text.splitlines() if "write_code" in line)
    assert "Description of write_code" in row and "10.0 s" in row and "1.5k" in row and "$0.0123" in row
    assert "Tokens" in text and "Cost" in text


def test_at_80_columns_overview_cells_are_cut_with_an_ellipsis_and_no_line_overflows():
    view = RunView(steps=(step("a_rather_long_step_identifier_indeed", "Running",
                               description="A description far too long to fit in forty columns at all"),))
    text, _ = render(Overview.of(view, None, NOW), width=40)
    assert all(len(line) <= 40 for line in text.splitlines())
    row = next(line for line in text.splitlines() if "a_rather" in line)
    assert "…" in row and "Running" in row
    assert "Tokens" not in text  # no room: the status bar has the totals


def test_a_running_action_shows_the_seconds_it_has_run_never_a_false_zero():
    fresh = ActionLine(1, "python slow.py", "command", NOW - 300 * MILLISECOND)
    older = ActionLine(2, "make test", "command", NOW - 2600 * MILLISECOND)
    for action, expected in ((fresh, "▶ python slow.py"), (older, "▶ make test  2.0 s")):
        shown = step("s1", "Running", actions=(action,))
        text, _ = render(StepLog.of(RunView(steps=(shown,)), shown, pinned=False, now_ns=NOW), width=80, height=8)
        row = next(line for line in text.splitlines() if "▶" in line)
        assert expected in row and " ms" not in row, row
    later = StepLog.of(RunView(steps=(shown,)), shown, pinned=False, now_ns=NOW + SECOND)
    assert later != StepLog.of(RunView(steps=(shown,)), shown, pinned=False, now_ns=NOW)  # drawn again as it grows
    assert "▶ make test  3.0 s" in render(later, width=80, height=8)[0]


@pytest.mark.parametrize("width", [40, 80])
def test_a_long_command_line_is_cut_so_its_time_and_outcome_always_show(width):
    """In the step's panel and in its output: the line gives way, not how the command went."""
    line = "while [ ! -f go ]; do sleep 0.05; echo " + "a-rather-long-command-line " * 6 + "; done"
    running = ActionLine(1, line, "command", NOW - 3200 * MILLISECOND)
    failed = ActionLine(2, "python -m twine upload " + "dist/greet-0.1.0.tar.gz " * 6, "command",
                        NOW - 2 * SECOND, NOW - 400 * MILLISECOND, failed=True, summary="exit 1", outcome="failed")
    shown = step("s1", "Running", actions=(failed, running))
    text, _ = render(StepLog.of(RunView(steps=(shown,)), shown, pinned=False, now_ns=NOW), width=width, height=8)
    rows = text.splitlines()
    assert all(len(row) == width for row in rows)
    assert next(row for row in rows if "▶" in row).rstrip(" │").endswith("…  3.0 s")
    assert next(row for row in rows if "✖" in row).rstrip(" │").endswith("…  1.6 s  exit 1")
    output = OutputView.of("publish", (CommandOutput(failed.name, "exit 1", "failed", ("uploading",), 40),), "12:00:00")
    text, _ = render(output, width=width, height=6)
    assert "…  exit 1" in next(row for row in text.splitlines() if "$ python" in row)


def test_the_output_panel_heads_each_command_by_its_line_and_scrolls_from_the_last_line():
    commands = (CommandOutput("make build", "exit 0", "ok", ("same", "same"), 2),
                CommandOutput("python -m twine upload dist/*", "exit 1", "failed",
                              ("uploading", "stderr: No module named twine"), 40),
                CommandOutput("sleep 30"))
    output = OutputView.of("publish", commands, "12:00:00")
    text, lines = render(output, width=80, height=12)
    assert "Output of Step: publish" in text and "as of 12:00:00" in text
    assert text.count("  same") == 2  # equal lines are two rows, not one cached twice
    assert "$ python -m twine upload dist/*  exit 1  (2 of 40 lines)" in text  # what was not kept, said
    assert style_of(lines, "$ python -m twine") == "bold red" and style_of(lines, "No module named") == "red"
    assert "$ sleep 30  running" in text and style_of(lines, "$ sleep 30") == "bold yellow"
    assert len(output.rows) == 8 and output.clamped(99, 6) == 4 and output.clamped(-5, 6) == 0  # 4 rows shown
    short, _ = render(replace(output, scroll=output.clamped(99, 6)), width=80, height=6)  # Home: the first rows
    assert "$ make build" in short and "$ sleep 30" not in short and "↓4 more" in short and "↑" not in short


def test_with_more_steps_than_rows_the_overview_keeps_the_focused_step_in_view():
    view = RunView(steps=tuple(step(f"step_{i:03d}", "Completed" if i < 150 else "Pending") for i in range(200)))
    text, _ = render(Overview.of(view, "step_150", NOW), height=20)
    assert "step_150" in text and "of 200" in text
    assert "step_000" not in text and "step_199" not in text
    assert len(text.splitlines()) == 20


def test_the_step_panel_lists_actions_as_they_run_and_finish_then_the_latest_logs():
    actions = (
        ActionLine(1, "chat gpt-4o-mini", "ai", NOW - 5 * SECOND, NOW - 3 * SECOND, False, "in 120 / out 40 tokens"),
        ActionLine(2, "python -m pytest", "command", NOW - 3 * SECOND, NOW - SECOND, True, "exit 1"),
        ActionLine(3, "file write greet.py", "file", NOW - 2 * SECOND),
    )
    logs = tuple(LogLine(NOW, "INFO", "execution_engine", f"line {i}", "s1") for i in range(50))
    warning = LogLine(NOW, "WARN", "ai_service", "rate limited \x1b[31mred\x1b[0m\nsecond line", "s1")
    shown = step("s1", "Running", actions=actions, logs=(*logs, warning), input_tokens=120, output_tokens=40,
                 cost_usd=0.002)
    text, lines = render(StepLog.of(RunView(steps=(shown,)), shown, pinned=False, now_ns=NOW),
                         width=100, height=20)
    assert "Logs for Step: s1 Running 120 in / 40 out $0.0020" in text
    assert "✔ chat gpt-4o-mini  2.0 s  in 120 / out 40 tokens" in text
    assert "✖ python -m pytest  2.0 s  exit 1" in text
    assert "▶ file write greet.py  2.0 s" in text
    assert "rate limited red second line" in text  # escapes dropped, one row per record
    assert "line 49" in text and "line 30" not in text  # the newest that fit
    assert style_of(lines, "✖") == "red" and style_of(lines, "▶") == "yellow"
    assert len(text.splitlines()) == 20


def test_the_step_panel_shows_general_logs_before_any_step():
    view = RunView(general_logs=(LogLine(NOW, "INFO", "runner", "Plan 'demo' has 2 steps."),))
    text, _ = render(StepLog.of(view, None, pinned=False, now_ns=NOW), height=8)
    assert "General Logs" in text and "Plan 'demo' has 2 steps." in text


def test_the_status_bar_counts_states_and_sums_tokens_cost_and_drops():
    view = RunView(steps=(step("a", "Completed", input_tokens=1000, output_tokens=200, cost_usd=0.5),
                          step("b", "Completed", input_tokens=500, output_tokens=100, cost_usd=0.25),
                          step("c", "Running"), step("d")),
                   dropped=7, last_message="Step 'c' started.")
    text, lines = render(StatusBar.of(view), width=160)
    assert "1 pending 1 running 2 completed | dropped 7 | 1.5k in / 300 out tokens | $0.7500 | Step 'c' started." \
        in text
    assert style_of(lines, "2 completed") == "green"
    narrow, _ = render(StatusBar.of(view), width=80)
    assert "1 pend 1 run 2 done | dropped 7" in narrow
    assert all(len(line) <= 80 for line in narrow.splitlines())


def test_the_prompt_shows_the_typed_line_its_cursor_and_the_keys_that_act():
    text, lines = render(Prompt("pause", 2, "↑↓/jk select", "dim"), width=60)
    assert "> pause" in text and "↑↓/jk select" in text
    assert style_of(lines, "u") == "reverse"  # the character under the cursor
    assert style_of(lines, "jk select") == "dim"
    text, _ = render(Prompt("/twine", 6), width=60)
    assert "Filter" in text and "> /twine" in text
    long_line = "context " + "x" * 100 + "END"
    text, _ = render(Prompt(long_line, len(long_line)), width=40)
    assert "END" in text and "context" not in text  # scrolled to keep the cursor in view


@pytest.mark.parametrize("width,height", [(80, 24), (160, 50)])
def test_the_whole_screen_fills_the_terminal_exactly(width, height):
    view = RunView("demo", state="Running", started_ns=NOW - SECOND,
                   steps=tuple(step(f"step_{i:03d}", "Running" if i == 3 else "Completed") for i in range(200)))
    screen = Screen()
    screen.update(view, now_ns=NOW, prompt=Prompt("pau", 3))
    text, lines = render(screen.frame, width=width, height=height)
    rows = text.splitlines()
    assert len(rows) == height and all(len(row) == width for row in rows)
    assert "> pau" in text and "step_003" in text
    status_row = next(i for i, row in enumerate(rows) if " Status " in row and "Plan:" not in row)
    prompt_row = next(i for i, row in enumerate(rows) if "Command" in row)
    assert (prompt_row > status_row) if width < 140 else (prompt_row == status_row)


def test_a_frame_lays_out_again_only_the_panels_whose_content_changed():
    line = LogLine(NOW, "INFO", "execution_engine", "first", "s1")
    view = RunView("demo", state="Running", started_ns=NOW, steps=(step("s1", "Running", logs=(line,)),))
    screen = Screen()
    screen.update(view, now_ns=NOW)
    render(screen.frame, width=120, height=30)
    panels = (screen.header, screen.overview, screen.logs, screen.status, screen.prompt)
    before = [p.renders for p in panels]
    assert not screen.update(view, now_ns=NOW + 100)  # same second, same data: nothing to draw
    render(screen.frame, width=120, height=30)
    assert [p.renders for p in panels] == before
    more = RunView("demo", state="Running", started_ns=NOW,
                   steps=(step("s1", "Running", logs=(line, LogLine(NOW, "INFO", "x", "second", "s1"))),))
    assert screen.update(more, now_ns=NOW + 100)
    render(screen.frame, width=120, height=30)
    assert [p.renders - b for p, b in zip(panels, before)] == [0, 0, 1, 0, 0]


# -- the state tracker on a real pipeline -------------------------------------------------------
@pytest.fixture
def tracked(capture: Any) -> Iterator[tuple[StateTracker, Any]]:
    tracker = StateTracker(step_log_limit=20, general_log_limit=10)
    cap = capture(sinks=(tracker.sink(),))
    tracker.seed(plan_of("s1", "s2", "s3"))
    yield tracker, cap


def test_seeded_steps_are_pending_before_the_run_starts(tracked):
    tracker, _ = tracked
    view = tracker.snapshot()
    assert [(s.step_id, s.state, s.description) for s in view.steps] == [
        ("s1", "Pending", "Description of s1"), ("s2", "Pending", "Description of s2"),
        ("s3", "Pending", "Description of s3")]
    assert view.plan_name == "demo plan" and view.state == "Pending"


def test_states_change_at_once_from_the_state_change_records_not_at_span_end(tracked):
    tracker, cap = tracked
    with cap.telemetry.plan_run("p1", "demo plan") as run:
        view = tracker.snapshot()
        assert view.state == "Running" and view.run_id == run.run_id and view.started_ns
        with run.step("s1", "code_generation", "Write it"):
            assert tracker.snapshot().step("s1").state == "Running"
            run.pause(source="console")
            view = tracker.snapshot()
            assert (view.state, view.step("s1").state) == ("Paused", "Paused")
            run.resume()
            assert tracker.snapshot().step("s1").state == "Running"
        assert tracker.snapshot().step("s1").ended_ns is not None
        run.skip_step("s2", "dependency did not complete")
        with pytest.raises(RuntimeError), run.step("s3", "analysis"):
            raise RuntimeError("boom")
    view = tracker.snapshot()
    assert [s.state for s in view.steps] == ["Completed", "Skipped", "Failed"]
    assert view.step("s3").error == "boom"
    assert view.state == "Failed" and view.ended_ns is not None
    assert view.counts() == {"Completed": 1, "Skipped": 1, "Failed": 1}


def test_sub_actions_are_listed_when_they_start_and_summarised_when_they_end(tracked, tmp_path):
    tracker, cap = tracked
    with cap.telemetry.plan_run("p1", "demo plan") as run, run.step("s1", "code_generation") as step_:
        for tokens_in, tokens_out, cost in ((100, 20, 0.001), (300, 50, 0.002)):
            with step_.ai_call(provider="openai", model="gpt-4o-mini") as call:
                (running,) = [a for a in tracker.snapshot().step("s1").actions if a.ended_ns is None]
                assert (running.kind, running.name) == ("ai", "chat gpt-4o-mini")
                call.response_received(input_tokens=tokens_in, output_tokens=tokens_out, cost_usd=cost)
        with step_.tool_call("write_file", call_id="c1") as tool, tool.file_operation("write", "greet.py") as op:
            op.done(bytes_written=2048)
        with step_.command(["python", "-m", "pytest"]) as command:
            command.exited(1)
        view = tracker.snapshot().step("s1")
    assert (view.input_tokens, view.output_tokens) == (400, 70)
    assert view.cost_usd == pytest.approx(0.003)
    assert [(a.kind, a.name, a.summary, a.failed) for a in view.actions] == [
        ("ai", "chat gpt-4o-mini", "in 100 / out 20 tokens, $0.0010", False),
        ("ai", "chat gpt-4o-mini", "in 300 / out 50 tokens, $0.0020", False),
        ("tool", "execute_tool write_file", "", False),
        ("file", "file write greet.py", "2.0 KB written", False),
        ("command", "python -m pytest", "exit 1", True),
    ]
    assert all(a.ended_ns is not None for a in view.actions)


def test_log_lines_go_to_their_step_or_the_general_log_and_stay_bounded(tracked):
    tracker, cap = tracked
    with cap.telemetry.plan_run("p1", "demo plan") as run:
        for index in range(30):
            run.log(LogLevel.INFO, "note", f"plan line {index}")
        with run.step("s1", "analysis") as step_:
            for index in range(100):
                step_.log(LogLevel.INFO, "progress", f"step line {index}")
            logging.getLogger("some.library").warning("a stdlib record inside the step")
    view = tracker.snapshot()
    s1 = view.step("s1")
    assert len(s1.logs) == 20 and s1.logs[-1].message.startswith("Step 's1' succeeded")
    assert s1.logs[-2].message == "a stdlib record inside the step"  # found its step through its span
    assert len(view.general_logs) == 10
    assert view.last_message == "Plan 'demo plan' succeeded."


def test_the_tracker_sees_only_redacted_text(tracked):
    tracker, cap = tracked
    secret = "sk-proj-" + "A1b2C3d4" * 5
    with cap.telemetry.plan_run("p1", "demo plan") as run, run.step("s1", "analysis") as step_:
        step_.log(LogLevel.INFO, "leak", f"using key {secret}")
    (line,) = [line for line in tracker.snapshot().step("s1").logs if line.message.startswith("using key")]
    assert secret not in line.message


def test_snapshots_are_cheap_copies_sharing_what_did_not_change(tracked):
    tracker, cap = tracked
    first = tracker.snapshot()
    assert tracker.snapshot() is first  # nothing changed: the same object
    woken = threading.Event()
    unsubscribe = tracker.subscribe(woken.set)
    with cap.telemetry.plan_run("p1", "demo plan") as run, run.step("s1", "analysis"):
        pass
    assert woken.is_set()
    second = tracker.snapshot()
    assert second.version > first.version
    assert second.step("s2") is first.step("s2") and second.step("s1") is not first.step("s1")
    unsubscribe()
    woken.clear()
    tracker.set_control_socket("/tmp/x.sock")
    assert not woken.is_set() and tracker.snapshot().control_socket == "/tmp/x.sock"
    drops = [0]
    tracker.set_drop_counter(lambda: drops[0])
    drops[0] = 3
    assert tracker.snapshot().dropped == 3


def test_each_log_line_and_action_is_built_once_and_shared_by_later_snapshots(tracked):
    """The tracker keeps lines and actions as plain tuples until a snapshot; the frozen objects a
    snapshot builds are the ones every later snapshot shows (a front end can compare with `is`)."""
    tracker, cap = tracked
    with cap.telemetry.plan_run("p1", "demo plan") as run, run.step("s1", "analysis") as step:
        step.log(LogLevel.INFO, "one", "first line")
        with step.ai_call(provider="openai", model="m", server_address="api.example", server_port=443):
            running = tracker.snapshot().step("s1")
            (action,) = running.actions
            assert action.name == "chat m" and action.kind == "ai" and action.ended_ns is None
        step.log(LogLevel.INFO, "two", "second line")
        later = tracker.snapshot().step("s1")
        assert [line.message for line in later.logs][-2:] == ["first line", "second line"]
        assert later.logs[0] is running.logs[0]  # built once, shared
        (ended,) = later.actions
        assert ended.name == "chat m" and ended.ended_ns is not None and ended.outcome == "ok"
        step.log(LogLevel.INFO, "three", "third line")
        last = tracker.snapshot().step("s1")
        assert last.actions[0] is ended and last.logs[1] is later.logs[1]
    run.log(LogLevel.INFO, "after", "outside any step")
    general = tracker.snapshot().general_logs
    assert general[-1].message == "outside any step" and tracker.snapshot().general_logs[-1] is general[-1]


# -- keys and the app ------------------------------------------------------------------------------
def test_the_key_decoder_splits_text_named_keys_and_swallows_unknown_sequences():
    decoder = KeyDecoder()
    assert decoder.feed(b"ab\x1b[Ac\x7f\r") == ["ab", Key.UP, "c", Key.BACKSPACE, Key.ENTER]
    assert decoder.feed(b"\x1b[15~\x1b[1;5C\x1bOP\x1bxz") == ["z"]  # F5, Ctrl-Right, F1, Alt-x
    assert decoder.feed(b"\x1b[") == [] and decoder.pending
    assert decoder.feed(b"B") == [Key.DOWN]
    assert decoder.feed(b"\x1b") == [] and decoder.flush() == [Key.ESCAPE]
    assert decoder.feed("é".encode()[:1]) == [] and decoder.feed("é".encode()[1:]) == ["é"]


@dataclass(frozen=True)
class FakeReply:
    ok: bool
    message: str
    data: dict[str, Any] | None = None


class FakeRelay:
    """The relay's front door over a real tracker: the run's state out, recorded commands in."""

    def __init__(self, tracker: StateTracker) -> None:
        self.calls: list[tuple[str, str]] = []
        self.replies: dict[str, FakeReply] = {}
        self.snapshot = tracker.snapshot
        self.subscribe = tracker.subscribe

    def submit(self, line: str, source: str) -> FakeReply:
        self.calls.append((line, source))
        word = line.split()[0]
        if word == "explode":
            raise RuntimeError("boom")
        return self.replies.get(word, FakeReply(True, f"done: {line}"))


class Running:
    """A ConsoleApp on its own thread, reading a pipe, drawing on a recording console."""

    def __init__(self, app: ConsoleApp, write_fd: int, console: Console) -> None:
        self.app, self._write_fd, self.console = app, write_fd, console

    def type(self, data: bytes | str) -> None:
        os.write(self._write_fd, data.encode() if isinstance(data, str) else data)


@pytest.fixture
def running_app() -> Iterator[tuple[Running, FakeRelay]]:
    tracker = StateTracker()
    tracker.seed(plan_of("s1", "s2"))
    relay = FakeRelay(tracker)
    read_fd, write_fd = os.pipe()
    console = Console(file=io.StringIO(), force_terminal=True, width=100, height=30, record=True)
    app = ConsoleApp(relay, console=console, input_fd=read_fd)
    stop = threading.Event()
    thread = threading.Thread(target=app.run, args=(stop,), daemon=True)
    thread.start()
    yield Running(app, write_fd, console), relay
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    os.close(write_fd)
    os.close(read_fd)


def test_typing_editing_and_enter_submit_the_line_and_show_the_reply(running_app):
    running, relay = running_app
    running.type("pausx")
    until(lambda: running.app.typed == "pausx", "the typed text")
    running.type(b"\x7f\x08se\x1b[D\x1b[C")
    until(lambda: running.app.typed == "pause", "the edited text")
    until(lambda: "> pause" in running.console.export_text(clear=False), "the typed line drawn")
    running.type("\r")
    until(lambda: relay.calls == [("pause", "console")], "pause submitted")
    until(lambda: running.app.notice == "done: pause", "the reply shown")
    assert running.app.typed == ""


def test_up_and_down_walk_the_history_back_to_the_draft(running_app):
    running, relay = running_app
    running.type("pause\rresume\rcon")
    until(lambda: len(relay.calls) == 2 and running.app.typed == "con", "two commands and a draft")
    for key, expected in ((b"\x1b[A", "resume"), (b"\x1b[A", "pause"), (b"\x1b[A", "pause"),
                          (b"\x1b[B", "resume"), (b"\x1b[B", "con")):
        running.type(key)
        until(lambda expected=expected: running.app.typed == expected, f"history entry {expected!r}")


def test_unknown_escape_sequences_are_ignored_cleanly(running_app):
    running, relay = running_app
    running.type(b"st\x1b[15~a\x1b[1;5Ct\x1bOPu\x1bxs\x1b[")
    running.type(b"3~\r")
    until(lambda: relay.calls == [("status", "console")], "status submitted")


def test_a_failing_relay_and_a_long_reply_are_shown_not_raised(running_app):
    running, relay = running_app
    running.type("explode now\r")
    until(lambda: running.app.notice == "explode failed: boom", "the failure shown")
    relay.replies["help"] = FakeReply(True, "commands:\n  pause   hold the run\n  resume  go on")
    running.type("help\r")
    until(lambda: "pause   hold the run" in running.console.export_text(clear=False), "the long reply drawn")
    assert "Esc to close" in running.console.export_text()


def test_details_selects_a_known_step_refuses_an_unknown_one_and_esc_follows_again(running_app):
    running, relay = running_app
    running.type("details nope\r")
    until(lambda: running.app.notice.startswith("no step 'nope' (steps: s1, s2)"), "the unknown step refused")
    assert running.app.selected is None
    running.type("details s2\r")
    until(lambda: running.app.selected == "s2", "s2 selected")
    assert relay.calls[-1] == ("details s2", "console")
    until(lambda: "Logs for Step: s2" in running.console.export_text(), "s2's logs drawn")
    running.type(b"\x1b")
    until(lambda: running.app.selected is None, "following again")
    relay.replies["details"] = FakeReply(False, "no step 's1' in the plan")
    running.type("details s1\r")
    until(lambda: running.app.notice == "no step 's1' in the plan", "the relay's refusal shown")
    assert running.app.selected is None


def test_ctrl_c_twice_cancels_and_once_only_warns(running_app, monkeypatch):
    running, relay = running_app
    running.app.interrupt()
    until(lambda: running.app.notice == CONFIRM_MESSAGE, "the confirmation asked")
    assert relay.calls == []
    running.app.interrupt()
    until(lambda: relay.calls == [("cancel", "console")], "cancel submitted")
    running.type(b"\x03\x03")  # the byte, where the terminal does not turn it into SIGINT
    until(lambda: relay.calls == [("cancel", "console")] * 2, "cancel submitted again")
    monkeypatch.setattr(app_module, "CONFIRM_S", 0.05)
    running.app.interrupt()
    until(lambda: running.app.notice == "", "the warning gone once the window closed")
    running.app.interrupt()
    until(lambda: running.app.notice == CONFIRM_MESSAGE, "the confirmation asked")
    assert len(relay.calls) == 2


def test_on_the_main_thread_a_real_sigint_goes_through_the_double_press_logic():
    tracker = StateTracker()
    relay = FakeRelay(tracker)
    read_fd, write_fd = os.pipe()
    console = Console(file=io.StringIO(), force_terminal=True, width=100, height=30)
    app = ConsoleApp(relay, console=console, input_fd=read_fd)
    stop = threading.Event()
    previous = signal.getsignal(signal.SIGINT)

    def press_twice() -> None:
        try:
            until(lambda: signal.getsignal(signal.SIGINT) is not previous, "the app's SIGINT handler")
            os.kill(os.getpid(), signal.SIGINT)
            until(lambda: app.notice == CONFIRM_MESSAGE, "the confirmation asked")
            os.kill(os.getpid(), signal.SIGINT)
            until(lambda: relay.calls == [("cancel", "console")], "cancel submitted")
        finally:
            stop.set()

    presser = threading.Thread(target=press_twice)
    presser.start()
    try:
        app.run(stop)
    finally:
        presser.join(5)
        os.close(write_fd)
        os.close(read_fd)
    assert relay.calls == [("cancel", "console")]
    assert signal.getsignal(signal.SIGINT) is previous


def test_interactive_only_with_a_terminal_on_both_ends_that_is_not_dumb():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, pipe = Tty(), io.StringIO()
    assert is_interactive(tty, stdin=tty, environ={"TERM": "xterm-256color"})
    assert not is_interactive(pipe, stdin=tty, environ={"TERM": "xterm"})
    assert not is_interactive(tty, stdin=pipe, environ={"TERM": "xterm"})
    assert not is_interactive(tty, stdin=tty, environ={"TERM": "dumb"})


def test_a_note_reaches_the_status_bar_and_wakes_subscribers():
    tracker = StateTracker()
    woken: list[int] = []
    tracker.subscribe(lambda: woken.append(1))
    before = tracker.snapshot().version
    tracker.note("telemetry: sink 'file' is off")
    view = tracker.snapshot()
    assert view.last_message == "telemetry: sink 'file' is off" and view.version > before and woken


# -- issue 11: real plans' names, a failed command's output, retries and cancels ------------------
UUID_IDS = [f"a1f0c2d4-0001-4000-8000-00000000000{i}" for i in range(1, 4)]


def named_view() -> RunView:
    return RunView("real", steps=(step(UUID_IDS[0], "Completed", name="write_module", started_ns=NOW - 801_000_000,
                                       ended_ns=NOW, description="Write the module"),
                                  step(UUID_IDS[1], "Running", name="write_tests", started_ns=NOW - 125 * SECOND,
                                       description="Write its tests"),
                                  step(UUID_IDS[2], description="Run them")))


def test_the_overview_shows_names_and_a_short_unique_uuid_and_sub_second_durations():
    text, _ = render(Overview.of(named_view(), None, NOW), width=100)
    assert "Step" in text and "a1f0c2d4-0001-400" not in text
    assert "write_module" in text and "write_tests" in text and "…0003" in text
    assert "801 ms" in text and "2 m 05 s" in text and "0s" not in text


@pytest.mark.parametrize("width, height", [(80, 24), (120, 40)])
def test_at_80_and_120_columns_the_time_column_stays_beside_long_names(width, height):
    view = RunView("real", steps=(step("s1", "Completed", name="Publish greet to the package registry",
                                       started_ns=NOW - 1_600_000_000, ended_ns=NOW),))
    screen = Screen()
    screen.update(view, now_ns=NOW)
    text, _ = render(screen.frame, width=width, height=height)
    row = next(line for line in text.splitlines() if line.startswith("│ Publish"))
    assert "1.6 s" in row


def test_a_failed_commands_last_output_lines_are_shown_under_it_and_a_retry_is_yellow():
    actions = (
        ActionLine(1, "chat gpt-4o-mini", "ai", NOW - 5 * SECOND, NOW - 4 * SECOND, True, "retried after RateLimitError",
                   "retried"),
        ActionLine(2, "python -m twine upload dist/*", "command", NOW - 3 * SECOND, NOW - 2_975_000_000, True,
                   "exit 1", "failed", ("stderr: /usr/bin/python: No module named twine",)),
        ActionLine(3, "chat gpt-4o-mini", "ai", NOW - 2 * SECOND, NOW - SECOND, True, "cancelled", "cancelled"),
    )
    shown = step("publish", "Failed", actions=actions, name="Publish greet", error="output artifact(s) not produced")
    text, lines = render(StepLog.of(RunView(steps=(shown,)), shown, pinned=False, now_ns=NOW),
                         width=100, height=20)
    assert "Logs for Step: Publish greet Failed" in text
    assert "↻ chat gpt-4o-mini  1.0 s  retried after RateLimitError" in text
    assert "✖ python -m twine upload dist/*  25 ms  exit 1" in text
    assert "│ /usr/bin/python: No module named twine" in text
    assert "■ chat gpt-4o-mini" in text
    assert style_of(lines, "↻") == "yellow" and style_of(lines, "✖") == "red" and style_of(lines, "■") == "dim"
    assert style_of(lines, "No module named twine") == "red"


def test_the_tracker_carries_names_failed_output_retries_cancels_and_context_text(tracked):
    tracker, cap = tracked
    with cap.telemetry.plan_run("p1", "demo plan") as run:
        run.add_context("use British spelling")
        with run.step("s1", "deployment", name="Publish it") as step_:
            with step_.ai_call(provider="openai", model="m") as call:
                call.response_failed(error_type="RateLimitError", message="slow down", status_code=429,
                                     retry_after_s=0.2)
            with step_.command(["python", "-m", "twine"]) as command:
                command.output("stdout", b"building\n")
                command.output("stderr", b"No module named twine\n")
                command.exited(1)
            with step_.ai_call(provider="openai", model="m") as call:
                call.response_failed(error_type="cancelled", message="request aborted")
    view = tracker.snapshot()
    s1 = view.step("s1")
    assert s1.name == "Publish it" and view.step_labels()["s1"] == "Publish it"
    retried, failed, cancelled = s1.actions
    assert (retried.outcome, retried.summary) == ("retried", "retried after RateLimitError")
    assert (failed.outcome, failed.summary, failed.output) == ("failed", "exit 1",
                                                               ("building", "stderr: No module named twine"))
    assert (cancelled.outcome, cancelled.summary) == ("cancelled", "cancelled")
    assert any(line.message == "User added context: 'use British spelling'." for line in view.general_logs)


# -- issue 11: the reply area, navigation, holding at the end, width by need ------------------------
from aiw_otel.console.app import KEYS_HELP  # noqa: E402
from aiw_otel.console.overview import USAGE_SCREEN  # noqa: E402
from aiw_otel.console.reply import Reply  # noqa: E402

SIZES = [(80, 24), (120, 40), (200, 60)]
REFUSAL = ("cannot resume: the run is not paused (it is Running); resume only continues a run that pause or the "
           "socket's pause stopped, so there is nothing to resume right now — END")


def nav_view(state: str = "Running") -> RunView:
    logs = tuple(LogLine(NOW, "ERROR" if i % 10 == 7 else "INFO", "execution_engine", f"s2 line {i:02d}", "s2")
                 for i in range(60))
    return RunView("nav", state=state, started_ns=NOW - SECOND,
                   steps=(step("s1", "Completed", ended_ns=NOW, logs=(LogLine(NOW, "INFO", "x", "s1 only line", "s1"),)),
                          step("s2", "Running" if state == "Running" else state, logs=logs),
                          step("s3")))


def screen_text(screen: Screen, width: int, height: int) -> tuple[str, list[list[Segment]]]:
    text, lines = render(screen.frame, width=width, height=height)
    rows = text.splitlines()
    assert len(rows) == height and all(len(row) == width for row in rows)  # nothing overflows, nothing missing
    return text, lines


@pytest.mark.parametrize("width,height", SIZES)
def test_a_reply_is_shown_whole_in_its_own_area_at_every_size(width, height):
    screen = Screen()
    screen.update(nav_view(), now_ns=NOW, reply=Reply(REFUSAL, "error"))
    text, lines = screen_text(screen, width, height)
    words = " ".join(text.replace("│", " ").split())
    assert REFUSAL in words  # every word, in order: wrapped, never cut at a border
    assert "Reply" in text and "Esc to close" in text
    assert style_of(lines, "cannot resume") == "red"
    from aiw_otel.control.relay import COMMANDS

    help_text = "commands:\n" + "\n".join(f"  {u:<18} {m}" for u, m in COMMANDS.items()) + "\n" + KEYS_HELP  # as `help`
    screen.update(nav_view(), now_ns=NOW, reply=Reply(help_text, "ok"))
    text, _ = screen_text(screen, width, height)
    for line in help_text.splitlines():
        assert " ".join(line.split()) in " ".join(text.replace("│", " ").split())
    screen.update(nav_view(), now_ns=NOW)  # no reply: no area, the panels get the rows back
    text, _ = screen_text(screen, width, height)
    assert "Reply" not in text


@pytest.mark.parametrize("width,height", SIZES)
def test_the_cursor_row_the_filter_and_the_scroll_are_drawn_at_every_size(width, height):
    screen = Screen()
    screen.update(nav_view(), now_ns=NOW, cursor="s1", selected="s2", filter="line 4", scroll=0)
    text, lines = screen_text(screen, width, height)
    assert "reverse" in style_of(lines, "s1 ")  # the cursor's row
    assert "s2 line 49" in text and "s2 line 39" not in text and "s2 line 50" not in text
    assert "/line 4 (10)" in text and "pinned" in text
    screen.update(nav_view(), now_ns=NOW, selected="s2", scroll=10)
    text, _ = screen_text(screen, width, height)
    assert "s2 line 49" in text and "s2 line 59" not in text  # up from the newest (at most to the oldest)
    assert "newer" in text and ("↓10 newer" in text) == (height < 60) and ("older" in text) == (height < 60)


def test_a_filter_by_level_keeps_only_that_levels_lines():
    shown = nav_view().steps[1]
    text, _ = render(StepLog.of(nav_view(), shown, pinned=False, now_ns=NOW, filter="error"), width=100, height=12)
    assert "s2 line 07" in text and "s2 line 57" in text and "s2 line 08" not in text


def test_a_filter_by_component_keeps_that_components_lines_and_combines_with_text():
    lines = (LogLine(NOW, "INFO", "ai_service", "chat request sent"),
             LogLine(NOW, "WARN", "ai_service", "rate limited, retrying"),
             LogLine(NOW, "INFO", "terminal_interaction", "Command 'make' exited with 2"),
             LogLine(NOW, "INFO", "execution_engine", "rate of progress: fine"),
             LogLine(NOW, "ERROR", "file_operations", "cannot write out.txt"))

    def kept(text: str) -> list[str]:
        return [line.message for line in filtered(lines, text)]

    assert kept("@ai") == ["chat request sent", "rate limited, retrying"]  # a prefix of the name
    assert kept("@AI rate") == ["rate limited, retrying"]  # and holding the text (the engine's rate line is not)
    assert kept("rate") == ["rate limited, retrying", "rate of progress: fine"]
    assert kept("@term @file") == ["Command 'make' exited with 2", "cannot write out.txt"]  # any of them
    assert kept("@file error") == ["cannot write out.txt"] and kept("@ai error") == []
    assert kept("@nothing") == [] and kept("@") == kept("")  == [line.message for line in lines]
    shown = step("s1", "Running", logs=lines)
    text, _ = render(StepLog.of(RunView(steps=(shown,)), shown, pinned=False, now_ns=NOW, filter="@ai rate"),
                     width=100, height=12)
    assert "rate limited" in text and "chat request" not in text and "/@ai rate (1)" in text


@pytest.mark.parametrize("width", [80, 100, 119, 120, 160, 200])
def test_the_overview_takes_what_its_columns_need_and_tokens_show_from_120_columns(width):
    screen = Screen()
    steps = tuple(step(f"step_{i}", "Completed", ended_ns=NOW, input_tokens=1000, output_tokens=500,
                       cost_usd=0.01, description=f"Step {i} writes a module and checks it compiles")
                  for i in range(3))
    screen.update(RunView("w", state="Running", steps=steps), now_ns=NOW)
    text, _ = screen_text(screen, width, 24)
    assert ("Tokens" in text and "$0.0100" in text) == (width >= USAGE_SCREEN)
    overview_width = text.splitlines()[3].index("╮") + 1
    assert overview_width <= max(40, width // 2)
    if width >= 200:  # room for the whole description, and not more: the rest is the logs'
        assert "Step 2 writes a module and checks it compiles" in text
        assert overview_width < width // 2


def test_the_key_decoder_knows_paging_home_end_and_history_keys():
    decoder = KeyDecoder()
    assert decoder.feed(b"\x1b[5~\x1b[6~\x1b[1~\x1b[4~\x1b[H\x1b[F\x10\x0e") == [
        Key.PAGE_UP, Key.PAGE_DOWN, Key.HOME, Key.END, Key.HOME, Key.END, Key.HISTORY_PREVIOUS, Key.HISTORY_NEXT]


class ViewRelay(FakeRelay):
    """A relay whose run is a fixed view (set `view` to change it)."""

    def __init__(self, view: RunView) -> None:
        super().__init__(StateTracker())
        self.view = view
        self.snapshot = lambda: self.view


@pytest.fixture
def nav_app() -> Iterator[tuple[Running, ViewRelay, threading.Event]]:
    relay = ViewRelay(nav_view())
    read_fd, write_fd = os.pipe()
    console = Console(file=io.StringIO(), force_terminal=True, width=120, height=30, record=True)
    app = ConsoleApp(relay, console=console, input_fd=read_fd)
    stop = threading.Event()
    thread = threading.Thread(target=app.run, args=(stop,), kwargs={"hold": True}, daemon=True)
    thread.start()
    yield Running(app, write_fd, console), relay, stop
    stop.set()
    until(lambda: app._ended or not thread.is_alive(), "the console holding")
    app.interrupt()  # Ctrl-C leaves a held console
    thread.join(5)
    assert not thread.is_alive()
    os.close(write_fd)
    os.close(read_fd)


def test_arrows_and_jk_move_the_cursor_and_enter_shows_that_step(nav_app):
    running, relay, _ = nav_app
    running.type("k")  # from the step shown (the running s2) up to s1
    until(lambda: running.app.cursor == "s1", "the cursor on s1")
    running.type(b"\x1b[B\x1b[B\x1b[B")  # down past the end stays on the last step
    until(lambda: running.app.cursor == "s3", "the cursor on s3")
    running.type(b"\x1b[Aj" + b"k")
    until(lambda: running.app.cursor == "s2", "the cursor back on s2")
    running.type(b"k\r")
    until(lambda: running.app.selected == "s1", "Enter showed s1")
    assert relay.calls == [("details s1", "console")]  # recorded like a typed `details`
    until(lambda: "s1 only line" in running.console.export_text(clear=False), "s1's log drawn")
    running.type(b"\x1b")
    until(lambda: running.app.selected is None and running.app.cursor is None, "Esc follows the active step")


def test_keys_typed_into_a_command_are_not_taken_for_navigation(nav_app):
    running, relay, _ = nav_app
    running.type("details jk\x1b[A")  # j, k and Up edit or walk the history while a line is typed
    until(lambda: running.app.typed == "details jk", "typed as text")
    assert running.app.cursor is None
    running.type(b"\x15pause\r")
    until(lambda: relay.calls == [("pause", "console")], "pause sent")
    running.type(b"\x10")  # Ctrl-P on an empty line: the history
    until(lambda: running.app.typed == "pause", "history recalled")
    running.type(b"\x15\x1b[A")  # Up on an empty line: the cursor
    until(lambda: running.app.cursor == "s1", "Up moved the cursor")
    running.type("q")
    until(lambda: "q quits once the run has ended" in running.app.notice, "q refused while the run goes on")


def test_page_keys_scroll_the_log_panel_and_home_end_go_to_the_ends(nav_app):
    running, _, _ = nav_app
    running.type(b"\x1b[5~")
    until(lambda: running.app.scroll > 0, "scrolled up")
    until(lambda: "newer" in running.console.export_text(clear=False), "the scroll shown")
    running.type(b"\x1b[6~\x1b[6~")
    until(lambda: running.app.scroll == 0, "back at the newest")
    running.type(b"\x1b[1~")
    until(lambda: "s2 line 00" in running.console.export_text(clear=False), "Home: the oldest line")
    running.type(b"\x1b[4~")
    until(lambda: running.app.scroll == 0, "End: the newest")


def test_slash_filters_the_log_lines_as_typed_enter_keeps_it_esc_clears_it(nav_app):
    running, relay, _ = nav_app
    running.type("/line 3")
    until(lambda: running.app.filter == "line 3", "filtering as typed")
    until(lambda: "/line 3 (10)" in running.console.export_text(clear=False), "the filter drawn")
    running.type("\r")
    until(lambda: running.app.typed == "" and running.app.filter == "line 3", "Enter keeps the filter")
    assert relay.calls == []  # a filter is no command
    running.type(b"\x1b")
    until(lambda: running.app.filter == "", "Esc cleared it")
    running.type(b"/xyz\x7f\x7f\x7f\x7f")  # erasing the / leaves the filter
    until(lambda: running.app.typed == "" and running.app.filter == "", "no filter left")


def test_at_the_end_the_console_holds_until_q(nav_app):
    running, relay, stop = nav_app
    relay.view = nav_view("Failed")
    stop.set()
    until(lambda: running.app.notice == "run Failed — press q to quit", "the end said")
    until(lambda: "press q to quit" in running.console.export_text(clear=False), "drawn")
    running.type("j")  # navigation still works
    until(lambda: running.app.cursor is not None, "the cursor moved after the end")
    chosen = running.app.cursor
    running.type("\r")
    until(lambda: running.app.selected == chosen, "a step looked at after the end")
    running.type("q")
    until(lambda: running.app._quit, "q quits")


def test_without_hold_the_console_returns_when_the_run_ends():
    relay = ViewRelay(nav_view("Completed"))
    read_fd, write_fd = os.pipe()
    app = ConsoleApp(relay, console=Console(file=io.StringIO(), force_terminal=True, width=80, height=24),
                     input_fd=read_fd)
    stop = threading.Event()
    stop.set()
    try:
        app.run(stop)  # --exit-on-end: returns at once
    finally:
        os.close(write_fd)
        os.close(read_fd)
    assert app.notice == ""


def test_the_starting_frame_takes_the_screen_at_once_and_hands_it_over():
    from aiw_otel.console.starting import starting_screen

    output = io.StringIO()
    console = Console(file=output, force_terminal=True, width=80, height=24)
    read_fd, write_fd = os.pipe()
    try:
        with starting_screen(console, input_fd=read_fd) as starting:
            drawn = output.getvalue()
            assert "\x1b[?1049h" in drawn and "Starting" in drawn and "keys typed now are kept" in drawn
            starting.hand_over()
        assert "\x1b[?1049l" not in output.getvalue()  # the console leaves the alternate screen itself
        with pytest.raises(RuntimeError), starting_screen(console, input_fd=read_fd):
            raise RuntimeError("a plan that does not load")
        assert "\x1b[?1049l" in output.getvalue()  # an error while loading: the normal screen back
    finally:
        os.close(write_fd)
        os.close(read_fd)


def test_a_scrolled_log_panel_stays_in_place_while_new_lines_arrive(nav_app):
    running, relay, _ = nav_app
    running.type(b"\x1b[5~")
    until(lambda: running.app.scroll > 0, "scrolled up")
    before = running.app.scroll
    view = nav_view()
    more = tuple(LogLine(NOW, "INFO", "x", f"s2 new {i}", "s2") for i in range(5))
    s2 = view.steps[1]
    relay.view = RunView("nav", state="Running", started_ns=view.started_ns,
                         steps=(view.steps[0], StepView(**{**s2.__dict__, "logs": s2.logs + more}), view.steps[2]))
    running.app._run_changed.set()
    running.app.select_step(None)  # a wake-up: the loop looks at the run again
    until(lambda: running.app.scroll == before + 5, "the scroll moved with the new lines")
    running.type(b"\x1b[4~")
    until(lambda: running.app.scroll == 0, "End: following the newest again")


def test_run_and_demo_take_exit_on_end():
    from aiw_otel.cli import build_parser

    parser = build_parser(["demo"])
    assert parser.parse_args(["demo", "--exit-on-end"]).exit_on_end
    assert not parser.parse_args(["run", "plan.yaml"]).exit_on_end
