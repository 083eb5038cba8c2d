"""Render the web monitor's pages for a real demo run: the live page to docs/web-live.png and the
finished run's waterfall to docs/web-run.png (the README's pictures).

    python examples/web_screenshot.py [LIVE.png RUN.png]

It starts `aiw-otel demo --no-console --web` (replayed AI, real files and commands), opens the printed
address in Debian's chromium (/usr/bin/chromium, driven by Playwright: `pip install -e '.[test]'`),
waits until the second step has done some work, clicks Pause, and takes the picture of the paused
run; then it resumes the run and lets the demo finish. Then `aiw-otel web` on the demo's log
directory shows the finished run from its files: the run is opened from the list and its waterfall
pictured, the failed command selected as the page opens it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
from playwright.sync_api import expect, sync_playwright  # noqa: E402

DOCS = Path(__file__).resolve().parents[1] / "docs"
OUTPUT = DOCS / "web-live.png"
RUN_OUTPUT = DOCS / "web-run.png"
CHROMIUM = "/usr/bin/chromium"


def start(*args: str) -> tuple[subprocess.Popen[str], str]:
    """`aiw-otel *args` and the monitor address it printed; its stdout is left to be read to its end."""
    process = subprocess.Popen([sys.executable, "-m", "aiw_otel.cli", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    url = next(found.group(0) for line in process.stdout
               if (found := re.search(r"http://127\.0\.0\.1:\d+/\?token=[\w-]+", line)))
    return process, url


def main(output: Path = OUTPUT, run_output: Path = RUN_OUTPUT) -> None:
    with tempfile.TemporaryDirectory() as directory:
        demo, url = start("demo", "--no-console", "--web", "--log-dir", f"{directory}/logs",
                          "--workspace", f"{directory}/ws")
        assert demo.stdout is not None
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM)
                page = browser.new_page(viewport={"width": 1280, "height": 450}, device_scale_factor=1)
                page.goto(url)
                step = page.locator('#overview tr[data-step="generate_code"]')
                expect(step).to_have_attribute("data-state", "Running", timeout=30_000)
                expect(page.locator("#actions li").nth(3)).to_be_visible(timeout=30_000)  # four actions done or going
                page.click("#pause")
                expect(page.locator("#plan-state")).to_have_text("Paused")
                output.parent.mkdir(exist_ok=True)
                page.screenshot(path=str(output))
                page.click("#resume")
                browser.close()
        finally:
            for _ in demo.stdout:  # the demo goes on to its end (it fails one step on purpose, exits 0)
                pass
            demo.wait(120)
        print(f"wrote {output}")
        finished_run(Path(directory) / "logs", run_output)
    print(f"wrote {run_output}")


def finished_run(log_dir: Path, output: Path) -> None:
    """The demo's run as `aiw-otel web` shows it from the files: its waterfall, the failure first."""
    server, url = start("web", str(log_dir))
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM)
            # tall enough for the demo's 33 spans in the waterfall's box (a bigger run scrolls in it)
            page = browser.new_page(viewport={"width": 1280, "height": 1200}, device_scale_factor=1)
            page.goto(url + "#history")
            page.click(".hist-run-row")
            expect(page.locator("#waterfall .span-row.selected")).to_have_count(1)
            page.screenshot(path=str(output), full_page=True)  # every span, down to the failed command
            browser.close()
    finally:
        server.terminate()
        server.communicate(timeout=20)


if __name__ == "__main__":
    main(*(Path(arg) for arg in sys.argv[1:3]))
