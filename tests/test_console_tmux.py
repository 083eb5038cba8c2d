"""The live console in a real terminal (tmux): type commands while the display redraws.

This is the part AIWhisperer built and removed as unstable, so it is tested the way a user meets
it: `aiw-otel run` in a tmux pane, keys sent with send-keys, the screen read with capture-pane,
the processes checked in /proc.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import uuid

import pytest

from tests.cli_process import ROOT
from tests.fake_openai import FakeOpenAI, completion
from tests.otlp_files import attrs, spans_in
from tests.processes import process_state, process_with, until

pytestmark = pytest.mark.slow


def ensure_tmux() -> str:
    """tmux from the PATH, installed from Debian's packages if missing (the test setup may do that)."""
    found = shutil.which("tmux")
    if found is None and shutil.which("apt-get") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for step in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "tmux"]):
            subprocess.run(step, capture_output=True, timeout=600, env=env)
        found = shutil.which("tmux")
    if found is None:
        pytest.fail("tmux is needed for the real-terminal console test: install it (apt-get install tmux)")
    return found


class Pane:
    def __init__(self, tmux: str, name: str) -> None:
        self.tmux = tmux
        self.name = name

    def keys(self, *keys: str) -> None:
        subprocess.run([self.tmux, "send-keys", "-t", self.name, *keys], check=True)

    def type(self, line: str) -> None:
        self.keys("-l", line)
        self.keys("Enter")

    def screen(self) -> str:
        return subprocess.run([self.tmux, "capture-pane", "-p", "-t", self.name], capture_output=True,
                              text=True).stdout

    def styled_screen(self) -> str:
        """The screen with its colours and attributes, as escape sequences (capture-pane -e)."""
        return subprocess.run([self.tmux, "capture-pane", "-e", "-p", "-t", self.name], capture_output=True,
                              text=True).stdout

    def wait_for(self, text: str, deadline_s: float = 30.0) -> str:
        return until(lambda: text in (screen := self.screen()) and screen, f"{text!r} on screen:\n{self.screen()}",
                     deadline_s)


_SGR = re.compile(r"\x1b\[([0-9;]*)m|([^\x1b]+)")


def in_reverse(styled_line: str) -> str:
    """The characters of a captured line that the terminal shows in reverse video (SGR 7 until 27 or a reset)."""
    shown, reverse = [], False
    for match in _SGR.finditer(styled_line):
        if match.group(2) is not None:
            shown.append(match.group(2) if reverse else "")
            continue
        codes = (match.group(1) or "0").split(";")
        while codes:
            code = codes.pop(0)
            if code in ("38", "48", "58"):  # a colour's own numbers follow: 5;N or 2;R;G;B
                del codes[:2 if codes[:1] == ["5"] else 4]
            reverse = True if code == "7" else False if code in ("", "0", "27") else reverse
    return "".join(shown)


PLAN = textwrap.dedent("""
    task_id: tmux-test
    name: tmux-test
    natural_language_goal: steer a run from the keyboard
    plan:
      - step_id: wait
        description: wait for the go file
        agent_spec: {type: analysis}
        actions: [{run: "while [ ! -f go ]; do sleep 0.05; done; echo marker-wait-4711"}]
      - step_id: ask
        description: ask the model
        depends_on: [wait]
        agent_spec: {type: ai_interaction, instructions: [answer briefly]}
      - step_id: long
        description: a long command to cancel
        depends_on: [ask]
        agent_spec: {type: analysis}
        actions: [{run: "sleep 41.75"}]
""")


def test_typing_commands_while_the_console_redraws(tmp_path, fake_openai: FakeOpenAI):
    tmux = ensure_tmux()
    fake_openai.script(completion("noted"))
    (tmp_path / "plan.yaml").write_text(PLAN)
    workspace, logs = tmp_path / "ws", tmp_path / "logs"
    name = f"aiw-{uuid.uuid4().hex[:8]}"
    command = (f"{sys.executable} -m aiw_otel.cli run {tmp_path / 'plan.yaml'} --provider openai --model m "
               f"--workspace {workspace} --log-dir {logs} --control-socket {tmp_path / 'ctl.sock'}; "
               f"echo EXIT=$?; sleep 600")
    subprocess.run([tmux, "new-session", "-d", "-s", name, "-x", "120", "-y", "40",
                    "-e", f"OPENAI_BASE_URL={fake_openai.base_url}", "-e", "TERM=xterm-256color",
                    "-e", f"PYTHONPATH={ROOT}", "-c", str(tmp_path), command], check=True)
    pane = Pane(tmux, name)
    try:
        pane.wait_for("Plan: tmux-test")
        shell = until(lambda: process_with("marker-wait-4711"), "the waiting command", 30)  # not another run's

        pane.type("pause")
        pane.wait_for("Paused")
        until(lambda: process_state(shell) == "T", f"the command stopped (state T)\n{pane.screen()}")
        pane.type("resume")
        until(lambda: process_state(shell) in ("S", "R"), f"the command running again\n{pane.screen()}")

        pane.type("context use British spelling")
        # The console takes the line when its thread next runs: on a busy machine the run could reach
        # the AI call first if the go file came before the run had the context. Its reply says it has.
        pane.wait_for("context added")
        (workspace / "go").write_text("")
        (request,) = fake_openai.wait_for_requests(1, timeout=30)
        assert request.body["messages"][-1]["content"].endswith("use British spelling")

        sleeper = until(lambda: process_with("sleep 41.75"), "the long command", 30)
        pane.type("details wait")
        pane.wait_for("Logs for Step: wait")
        pane.type("resume")  # invalid now: a clear message, no crash
        pane.wait_for("not paused")

        pane.type("help")  # a long reply, whole in the reply area (not cut in a border)
        screen = pane.wait_for("Ctrl-C twice: cancel")
        assert "suspend the running command and hold the next AI call" in screen
        pane.keys("Escape")
        until(lambda: "Ctrl-C twice: cancel" not in pane.screen(), "Esc closed the reply")

        pane.type("cancel")
        pane.wait_for("run Cancelled — press q to quit", 60)  # the console holds at the end
        assert "EXIT=" not in pane.screen()
        pane.keys("q")
        pane.wait_for("EXIT=3", 60)
        assert process_state(sleeper) is None
        with pytest.raises(ProcessLookupError):
            os.killpg(sleeper, 0)
    finally:
        subprocess.run([tmux, "kill-session", "-t", name], capture_output=True)
    spans = spans_in(logs)
    interactions = [s["name"] for s in spans if s["name"].startswith("user_interaction")]
    assert interactions == ["user_interaction pause", "user_interaction resume", "user_interaction context",
                            "user_interaction cancel"]
    (root,) = [s for s in spans if s["name"] == "invoke_workflow tmux-test"]
    assert attrs(root)["aiw.plan.state"] == "Cancelled"


UUID_PLAN = textwrap.dedent("""
    task_id: tmux-names
    name: tmux-names
    natural_language_goal: a plan whose steps have UUID ids and readable names
    plan:
      - step_id: a1f0c2d4-0001-4000-8000-000000000001
        name: write_module
        description: a quick command
        agent_spec: {type: analysis}
        actions: [{run: "sleep 0.3"}]
      - step_id: a1f0c2d4-0001-4000-8000-000000000002
        name: wait_here
        description: wait for the go file
        depends_on: [a1f0c2d4-0001-4000-8000-000000000001]
        agent_spec: {type: analysis}
        actions: [{run: "while [ ! -f go ]; do sleep 0.05; done"}]
      - step_id: a1f0c2d4-0001-4000-8000-000000000003
        description: fails with a reason on stderr
        depends_on: [a1f0c2d4-0001-4000-8000-000000000002]
        agent_spec: {type: deployment}
        actions: [{run: "python -c \\"import sys; sys.exit('No module named twine')\\""}]
""")


@pytest.mark.parametrize("width, height", [(80, 24), (120, 40), (200, 60)])
def test_steps_by_name_details_by_prefix_durations_and_a_failed_commands_output(tmp_path, width, height):
    tmux = ensure_tmux()
    (tmp_path / "plan.yaml").write_text(UUID_PLAN)
    workspace, logs = tmp_path / "ws", tmp_path / "logs"
    name = f"aiw-{uuid.uuid4().hex[:8]}"
    command = (f"{sys.executable} -m aiw_otel.cli run {tmp_path / 'plan.yaml'} --workspace {workspace} "
               f"--log-dir {logs} --control-socket {tmp_path / 'ctl.sock'}; echo EXIT=$?; sleep 600")
    # COLUMNS and LINES exported with another size: the console goes by the window's, not by them
    subprocess.run([tmux, "new-session", "-d", "-s", name, "-x", str(width), "-y", str(height),
                    "-e", "TERM=xterm-256color", "-e", f"PYTHONPATH={ROOT}", "-e", "COLUMNS=100", "-e", "LINES=30",
                    "-c", str(tmp_path), command], check=True)
    pane = Pane(tmux, name)
    try:
        def done_row() -> str | None:
            return next((line for line in pane.screen().splitlines() if "write_module" in line and "Completed" in line),
                        None)

        row = until(done_row, "write_module Completed in the overview", 30)
        assert " ms" in row and " 0s" not in row  # the 0.3 s step: a sub-second duration, never 0s
        screen = pane.wait_for("wait_here")
        assert [len(line) for line in screen.splitlines()[:3]] == [width] * 3  # the whole window, no corner of it
        assert "write_module" in screen and "…0003" in screen
        overview = "\n".join(line.split("││")[0] for line in screen.splitlines())
        assert "a1f0c2d4-0001-400" not in overview  # no row of look-alike UUIDs
        pane.keys("-l", "details write_m")
        pane.keys("Tab")
        pane.wait_for("> details write_module")  # Tab completed the name
        pane.keys("Enter")
        pane.wait_for("Logs for Step: write_module")
        pane.wait_for("✔ sleep 0.3")
        pane.keys("Escape")  # follow the active step again
        # the waiting command runs: its time grows in whole seconds, never a false `0.0 ms`
        seconds = re.compile(r"▶ while .*  \d+\.\d s")  # a long line is cut (…) at 80 columns, never its time
        running = until(lambda: next((line for line in pane.screen().splitlines() if seconds.search(line)), None),
                        f"the running command's time\n{pane.screen()}")
        assert " ms" not in running.split("▶ while")[1]
        (workspace / "go").write_text("")
        pane.wait_for("run Failed — press q to quit", 60)  # the console holds: look at what failed

        # the arrows move a cursor in the overview (the line is empty), Enter shows that step
        pane.keys("Up")
        pane.keys("Up")
        # the cursor's row is really drawn in reverse video, all of it: name, state, time
        highlighted = until(lambda: next((in_reverse(line) for line in pane.styled_screen().splitlines()
                                          if "write_module" in in_reverse(line)), None),
                            f"write_module's row in reverse\n{pane.styled_screen()!r}")
        assert highlighted.startswith("write_module") and "Completed" in highlighted and " ms" in highlighted
        assert [line for line in pane.styled_screen().splitlines() if in_reverse(line).strip()] == [
            line for line in pane.styled_screen().splitlines() if "write_module" in in_reverse(line)]  # that row only
        pane.keys("Enter")
        pane.wait_for("Logs for Step: write_module")
        pane.keys("Down", "Down", "Enter")  # the failed step: its command's output in its panel
        screen = pane.wait_for("Logs for Step: …0003")
        assert "No module named twine" in screen
        assert "a1f0c2d4" not in screen  # its log lines name it as the console does, not by its UUID
        assert width < 120 or "Starting execution of step '…0003'." in screen
        assert "✖ python -c" in screen  # the shell's line by the line the plan wrote, not `sh`
        # `o`: what the step's command printed, in place of its log lines; Esc goes back to them
        pane.keys("o")
        screen = pane.wait_for("Output of Step: …0003")
        assert "$ python -c" in screen and "stderr: No module named twine" in screen
        assert "Starting execution of step" not in screen  # the log lines gave way to the output
        pane.keys("Escape")
        screen = pane.wait_for("Logs for Step: …0003")
        assert "Output of Step" not in screen
        # `/` filters the log lines as typed; Esc clears the filter
        pane.keys("-l", "/starting")
        pane.wait_for("/starting (1)")
        until(lambda: "Filter" in pane.screen(), f"the filter's panel title\n{pane.screen()}")  # a capture can fall mid-frame
        pane.keys("Enter")
        pane.keys("Escape")
        until(lambda: "/starting" not in pane.screen(), "Esc cleared the filter")
        pane.keys("-l", "/@term")  # a component's lines, by a prefix of its name (terminal_interaction)
        screen = pane.wait_for("/@term (")
        assert "Executing command" in screen and "Starting execution" not in screen
        pane.keys("Escape")
        until(lambda: "/@term" not in pane.screen(), "Esc cleared the filter")
        pane.keys("q")
        screen = pane.wait_for("EXIT=1", 60)
        assert "No module named twine" in screen  # the final summary says why the step failed
    finally:
        subprocess.run([tmux, "kill-session", "-t", name], capture_output=True)
