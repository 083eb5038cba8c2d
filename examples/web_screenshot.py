"""Render the web monitor's live page for a real demo run to docs/web-live.png (the README's picture).

    python examples/web_screenshot.py [OUTPUT.png]

It starts `aiw-otel demo --no-console --web` (replayed AI, real files and commands), opens the printed
address in Debian's chromium (/usr/bin/chromium, driven by Playwright: `pip install -e '.[test]'`),
waits until the second step has done some work, clicks Pause, and takes the picture of the paused
run; then it resumes the run and lets the demo finish.
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

OUTPUT = Path(__file__).resolve().parents[1] / "docs" / "web-live.png"
CHROMIUM = "/usr/bin/chromium"


def main(output: Path = OUTPUT) -> None:
    with tempfile.TemporaryDirectory() as directory:
        demo = subprocess.Popen([sys.executable, "-m", "aiw_otel.cli", "demo", "--no-console", "--web",
                                 "--log-dir", f"{directory}/logs", "--workspace", f"{directory}/ws"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert demo.stdout is not None
        url = next(found.group(0) for line in demo.stdout
                   if (found := re.search(r"http://127\.0\.0\.1:\d+/\?token=[\w-]+", line)))
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


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT)
