"""The web monitor in a real browser (Debian's chromium, driven by Playwright) against a real run:
steps change state on the page, Pause stops the running command's process (state T), context reaches
the next AI request, a refusal reads as the console's, a reload gets the whole state back, and
Cancel asks first, then ends the run Cancelled (exit 3)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
from playwright.sync_api import expect

from aiw_otel.console.style import cost, tokens
from aiw_otel.present import duration
from aiw_otel.web.live import LiveRuns
from aiw_otel.web.server import WebServer
from tests.cli_process import ROOT
from tests.fake_openai import FakeOpenAI, completion
from tests.otlp_files import attrs, spans_in
from tests.processes import process_state, process_with, until
from tests.web_process import WebProcess, browser, page  # noqa: F401  (browser, page: fixtures)

pytestmark = pytest.mark.slow
#: The machine may be busy (the tests share two cores with others): a run takes seconds to start.
expect.set_options(timeout=20_000)



def plan(marker: str, seconds: str) -> str:
    return textwrap.dedent(f"""
        task_id: web-test
        name: web-test
        natural_language_goal: steer a run from a browser
        plan:
          - step_id: wait
            description: wait for the go file
            agent_spec: {{type: analysis}}
            actions: [{{run: "while [ ! -f go ]; do sleep 0.05; done; echo {marker}"}}]
          - step_id: ask
            description: ask the model
            depends_on: [wait]
            agent_spec: {{type: ai_interaction, instructions: [answer briefly]}}
          - step_id: long
            description: a long command to cancel
            depends_on: [ask]
            agent_spec: {{type: analysis}}
            actions: [{{run: "sleep {seconds}"}}]
    """)


def row(page: Any, step: str) -> Any:
    return page.locator(f'#overview tr[data-step="{step}"]')


def test_a_live_run_seen_and_steered_from_the_browser(tmp_path: Path, page: Any, fake_openai: FakeOpenAI):
    fake_openai.script(completion("noted"))
    marker, seconds = f"marker-web-{uuid.uuid4().hex[:8]}", "42.25"
    (tmp_path / "plan.yaml").write_text(plan(marker, seconds))
    workspace, logs = tmp_path / "ws", tmp_path / "logs"
    run = WebProcess("run", str(tmp_path / "plan.yaml"), "--provider", "openai", "--model", "m", "--no-console",
                     "--web", "--workspace", str(workspace), "--log-dir", str(logs),
                     env={"OPENAI_BASE_URL": fake_openai.base_url})
    try:
        page.goto(run.url)
        assert "token" not in page.url  # dropped from the address bar (and the history)
        expect(page.locator("#plan-name")).to_have_text("web-test")
        expect(row(page, "wait")).to_have_attribute("data-state", "Running")
        expect(row(page, "ask")).to_have_attribute("data-state", "Pending")
        shell = until(lambda: process_with(marker), "the waiting command", 30)

        page.click("#resume")  # not paused: refused, in the console's words
        expect(page.locator("#reply")).to_have_text("cannot resume: the run is not paused (it is Running)")
        expect(page.locator("#reply")).to_have_class("reply refused")

        page.click("#pause")
        expect(page.locator("#reply")).to_have_text(
            "paused: the running command is suspended and the next AI call held")
        expect(page.locator("#plan-state")).to_have_text("Paused")
        until(lambda: process_state(shell) == "T", "the command stopped (state T)")

        page.click("#context-form button")  # no text: the run says what it needs
        expect(page.locator("#reply")).to_have_text("context needs text: context <text>")
        page.fill("#context-text", "use British spelling")
        page.click("#context-form button")
        expect(page.locator("#reply")).to_have_text("context added: it goes into the next AI call")
        expect(page.locator("#context-text")).to_have_value("")

        page.click("#resume")
        expect(page.locator("#plan-state")).to_have_text("Running")
        until(lambda: process_state(shell) in ("S", "R"), "the command running again")

        page.reload()  # a page that reconnects is given the whole current state
        expect(row(page, "wait")).to_have_attribute("data-state", "Running")
        expect(page.locator("#overview tbody tr")).to_have_count(3)

        (workspace / "go").write_text("")
        expect(row(page, "wait")).to_have_attribute("data-state", "Completed")
        (request,) = fake_openai.wait_for_requests(1, timeout=30)
        assert request.body["messages"][-1]["content"].endswith("use British spelling")
        expect(row(page, "ask")).to_have_attribute("data-state", "Completed")
        expect(row(page, "long")).to_have_attribute("data-state", "Running")
        sleeper = until(lambda: process_with(f"sleep {seconds}"), "the long command", 30)
        expect(page.locator("#detail-title")).to_have_text("Step: long")  # following the active step
        expect(page.locator("#actions")).to_contain_text(f"sleep {seconds}")

        row(page, "wait").click()  # pinned: its actions and log lines
        expect(page.locator("#detail-title")).to_have_text("Step: wait")
        expect(page.locator("#logs")).to_contain_text("Starting execution of step 'wait'.")
        expect(page.locator("#actions")).to_contain_text("✔")
        expect(page.locator("#reply")).to_have_text("showing step 'wait'")

        dialogs: list[str] = []
        page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.click("#cancel")  # dismissed: nothing happens
        expect(page.locator("#plan-state")).to_have_text("Running")
        assert process_state(sleeper) in ("S", "R")
        page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
        page.click("#cancel")
        expect(page.locator("#plan-state")).to_have_text("Cancelled")
        expect(page.locator("#connection")).to_have_text("the run has ended")
        expect(row(page, "long")).to_have_attribute("data-state", "Cancelled")
        assert dialogs == ["Cancel the run? The running command is terminated and the plan ends Cancelled."] * 2
        assert run.wait() == 3, run.output
        assert process_state(sleeper) is None
    finally:
        run.stop()
    interactions = [(s["name"], attrs(s)["aiw.interaction.source"]) for s in spans_in(logs)
                    if s["name"].startswith("user_interaction")]
    assert interactions == [("user_interaction pause", "web"), ("user_interaction context", "web"),
                            ("user_interaction resume", "web"), ("user_interaction cancel", "web")]
    (root,) = [s for s in spans_in(logs) if s["name"] == "invoke_workflow web-test"]
    assert attrs(root)["aiw.plan.state"] == "Cancelled"


def test_the_pages_durations_tokens_and_costs_read_as_the_consoles(tmp_path: Path, page: Any):
    """The page mirrors present.duration and the console's token and cost formats: the same values
    must read the same."""
    server = WebServer(LiveRuns(tmp_path))
    server.start()
    try:
        page.goto(server.url)
        expect(page.locator("#live-empty")).to_contain_text("No live run")
        # Exact halves (0.25, 12.5, 1250 ...) are where JavaScript's rounding and Python's differ.
        milliseconds = [0, 0.04, 0.25, 0.35, 0.75, 0.949, 0.95, 1, 12.5, 13.5, 801, 999.4, 999.5, 999.7, 1049, 1250,
                        1650, 59_949, 59_950, 60_000, 125_000, 3_599_499, 3_599_500, 3_720_000, 359_999_000]
        assert page.evaluate("(values) => values.map(AiwLive.duration)", milliseconds) == [
            duration(ms) for ms in milliseconds]
        counts = [0, 7, 999, 1000, 1049, 1050, 1250, 1350, 999_949, 1_000_000, 1_250_000, 12_345_678]
        assert page.evaluate("(values) => values.map(AiwLive.tokens)", counts) == [tokens(n) for n in counts]
        dollars = [0, 0.00001, 0.0012345, 0.03125, 0.99999, 1, 1.125, 12.345]
        assert page.evaluate("(values) => values.map(AiwLive.cost)", dollars) == [cost(usd) for usd in dollars]
    finally:
        server.close()


def test_nothing_from_a_run_becomes_markup(tmp_path: Path, page: Any):
    """A plan's names and the model's words are text on the page: a step named like a script tag shows
    its characters and runs nothing."""
    hostile = '<img src=x onerror="window.injected=1">'
    (tmp_path / "plan.yaml").write_text(textwrap.dedent(f"""
        task_id: web-markup
        name: '{hostile}'
        natural_language_goal: x
        plan:
          - step_id: s1
            name: '{hostile}'
            description: wait
            agent_spec: {{type: analysis}}
            actions: [{{run: "while [ ! -f go ]; do sleep 0.05; done"}}]
    """))
    run = WebProcess("run", str(tmp_path / "plan.yaml"), "--no-console", "--web", "--workspace",
                     str(tmp_path / "ws"), "--log-dir", str(tmp_path / "logs"))
    try:
        page.goto(run.url)
        expect(page.locator("#plan-name")).to_have_text(hostile)
        expect(row(page, "s1").locator("td").first).to_have_text(hostile)
        assert page.locator("#live img").count() == 0
        assert page.evaluate("window.injected") is None
        (tmp_path / "ws" / "go").write_text("")
        assert run.wait() == 0, run.output
    finally:
        run.stop()


def test_the_readme_pictures_are_made_from_a_real_run(tmp_path: Path):
    """examples/web_screenshot.py (docs/web-live.png, docs/web-run.png) still drives the pages it pictures."""
    pictures = [tmp_path / "web-live.png", tmp_path / "web-run.png"]
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "web_screenshot.py"), *map(str, pictures)],
                            cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "".join(f"wrote {picture}\n" for picture in pictures)
    for picture in pictures:
        assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and picture.stat().st_size > 20_000
