"""The web monitor on a big finished run: what opening it costs the server, the wire and the browser.

The run is bench_readback's big directory (one run of STEPS steps, 5,000 by default: 10,001 spans,
rotated and gzipped), served by a real `aiw-otel web` process and opened in Debian's chromium
through Playwright. Printed, each the best of REPEAT:

- readback's own load of the run (load + build_runs, in this process): the floor any reader pays,
  and the baseline of the ratios;
- the run's JSON from the server: cold (the files read: a file touched before each request) and
  warm (the same files again), its size, and one span's details (`/spans/ID`, what a click asks);
- the browser: from showRun() to the waterfall's rows drawn (time to first paint), cold and warm,
  and how many rows the document holds.

    python benchmarks/bench_web.py [--steps N] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_readback import directory_of, size_mb  # noqa: E402  (the same cached big run)

CHROMIUM = "/usr/bin/chromium"
OPEN_RUN = """async (trace) => {
  const started = performance.now();
  await AiwHistory.showRun(trace);
  while (!document.querySelector('#waterfall .span-row')) await new Promise((done) => setTimeout(done, 5));
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  return [performance.now() - started, document.querySelectorAll('#waterfall .span-row').length];
}"""


def best_of(repeat: int, measure: Callable[[], Any]) -> tuple[float, Any]:
    """The least seconds of `repeat` calls, and the last call's result."""
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = measure()
        times.append(time.perf_counter() - started)
    return min(times), result


def readback_load(directory: Path, trace_id: str) -> int:
    from aiw_otel.readback.files import find_files
    from aiw_otel.readback.records import load
    from aiw_otel.readback.stream import trace_line_filter
    from aiw_otel.readback.tree import build_runs

    files = find_files([directory], ("traces", "logs"))
    runs = build_runs(*load(files, keep_line=trace_line_filter(trace_id)))
    return sum(1 for run in runs for _ in run.nodes())


def touch(directory: Path) -> None:
    """A new mtime on the traces file: the server must read the files again (its cache is keyed on them)."""
    path = directory / "traces.otlp.jsonl"
    os.utime(path, ns=(time.time_ns(), time.time_ns()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    directory = directory_of("big", 1, args.steps)
    print(f"big: {size_mb(directory)}")

    server = subprocess.Popen([sys.executable, "-m", "aiw_otel.cli", "web", str(directory)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        assert server.stdout is not None
        url = next(found.group(0) for line in server.stdout
                   if (found := re.search(r"http://127\.0\.0\.1:\d+/\?token=[\w-]+", line)))
        origin, token = url.split("/?token=")

        def get(path: str) -> bytes:
            request = urllib.request.Request(origin + path, headers={"X-AIW-Token": token})
            with urllib.request.urlopen(request, timeout=120) as response:
                return bytes(response.read())

        trace_id = json.loads(get("/api/runs"))["runs"][0]["trace_id"]
        floor_s, spans = best_of(args.repeat, lambda: readback_load(directory, trace_id))
        print(f"\n{'readback load + build_runs (floor)':<40} {floor_s:7.2f} s   {spans} spans")

        def cold() -> bytes:
            touch(directory)
            return get(f"/api/runs/{trace_id}")

        cold_s, body = best_of(args.repeat, cold)
        warm_s, _ = best_of(args.repeat, lambda: get(f"/api/runs/{trace_id}"))
        run = json.loads(body)
        last = run["spans"][-1][0] if "fields" in run else run["spans"][-1]["span_id"]
        print(f"{'/api/runs/TRACE, files read (cold)':<40} {cold_s:7.2f} s   {cold_s / floor_s:5.2f}x the floor  "
              f"{len(body) / 1e6:.2f} MB ({len(body) / len(run['spans']):.0f} bytes a span)")
        print(f"{'/api/runs/TRACE again (warm)':<40} {warm_s:7.2f} s   {warm_s / floor_s:5.2f}x")
        if "fields" in run:
            span_s, _ = best_of(args.repeat, lambda: get(f"/api/runs/{trace_id}/spans/{last}"))
            print(f"{'/api/runs/TRACE/spans/ID (a click)':<40} {span_s:7.3f} s   {span_s / floor_s:5.3f}x")
        browser_figures(url, directory, trace_id, args.repeat, floor_s)
    finally:
        server.terminate()
        server.communicate(timeout=20)


def browser_figures(url: str, directory: Path, trace_id: str, repeat: int, floor_s: float) -> None:
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(url + "#history")
        page.wait_for_selector(".hist-run-row")
        for name, prepare in (("cold", lambda: touch(directory)), ("warm", lambda: None)):
            figures = []
            for _ in range(repeat):
                prepare()
                figures.append(page.evaluate(OPEN_RUN, trace_id))
            paint_ms, rows = min(figures)
            print(f"{f'chromium: showRun to rows drawn ({name})':<40} {paint_ms / 1000:7.2f} s   "
                  f"{paint_ms / 1000 / floor_s:5.2f}x the floor  {rows} rows in the document")
        browser.close()


if __name__ == "__main__":
    main()
