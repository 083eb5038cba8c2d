"""A real `aiw-otel run --web` (or `aiw-otel web`) process and the monitor address it prints, and
Debian's chromium driven by Playwright: what the web monitor's tests use."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.cli_process import AIW, ROOT
from tests.processes import until

#: Debian's chromium: Playwright drives it, no browser of its own is downloaded.
CHROMIUM = "/usr/bin/chromium"
_ADDRESS = re.compile(r"(http://127\.0\.0\.1:\d+/\?token=[\w-]+)")


class WebProcess:
    """`aiw-otel *args` started with stdout read until it printed the monitor's address; the rest of
    its output is kept (in `lines`) so the pipe never fills."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT, timeout_s: float = 60) -> None:
        environ = {**os.environ, **(env or {}), "COLUMNS": "120"}
        self.process = subprocess.Popen([*AIW, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        cwd=cwd, env=environ, stdin=subprocess.DEVNULL)
        assert self.process.stdout is not None
        self.lines: list[str] = []
        self.url = ""
        timer = threading.Timer(timeout_s, self.process.kill)  # a process that never prints the address
        timer.start()
        try:
            for line in self.process.stdout:
                self.lines.append(line)
                found = _ADDRESS.search(line)
                if found:
                    self.url = found.group(1)
                    break
        finally:
            timer.cancel()
        assert self.url, f"no monitor address printed:\n{self.output}"
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    @property
    def origin(self) -> str:
        return self.url.split("/?", 1)[0]

    @property
    def token(self) -> str:
        return self.url.rsplit("=", 1)[1]

    def wait(self, timeout_s: float = 60) -> int:
        code = self.process.wait(timeout_s)
        self._reader.join(5)
        return code

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


WAITING_PLAN = """
task_id: waiting-1
name: waiting
plan:
  - step_id: wait
    description: wait for a go file
    agent_spec: {type: analysis}
    actions: [{run: "while [ ! -f go ]; do sleep 0.02; done"}]
"""


@contextmanager
def waiting_run(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """`aiw-otel run --no-console` of the plan `waiting`, whose step waits for a `go` file in its
    workspace, once its start record is in its log dir (`tmp_path/logs`): the runner and that dir.
    Its plan span is not written until it ends. At the end the runner is killed if it is still up,
    and `go` written, so that a command which outlived it ends."""
    logs, workspace = tmp_path / "logs", tmp_path / "ws"
    plan = tmp_path / "waiting.yaml"
    plan.write_text(WAITING_PLAN)
    runner = subprocess.Popen([*AIW, "run", str(plan), "--no-console", "--log-dir", str(logs), "--workspace", str(workspace)],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        records = logs / "logs.otlp.jsonl"
        until(lambda: records.exists() and b"plan_execution_started" in records.read_bytes(), "the start record", 30)
        yield runner, logs
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
        workspace.mkdir(exist_ok=True)
        (workspace / "go").write_text("")


def ensure_chromium() -> str:
    """Debian's chromium, installed from Debian's packages if missing and we may (as .ci/run does)."""
    if not Path(CHROMIUM).exists() and shutil.which("apt-get") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for step in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium"]):
            subprocess.run(step, capture_output=True, timeout=900, env=env)
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"the web monitor's browser tests need Debian's chromium at {CHROMIUM} "
                           "(apt-get install chromium)")
    return CHROMIUM


def launched_chromium() -> Iterator[object]:
    """A headless chromium (Playwright's Browser) until the generator is closed."""
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=ensure_chromium())
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One chromium per test module (import this fixture into the module)."""
    chromium = launched_chromium()
    yield next(chromium)
    chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page in its own context; the test fails if the page's scripts threw."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], f"the page's scripts failed: {errors}"

