"""Start -> the console's first frame, as a user sees it: `aiw-otel demo` in a tmux pane, the pane
captured every ~5 ms from the moment the session is created.

Reports the median and worst of: the first frame (its header on screen: the starting frame says
"Plan: -"), and the run's own frame (the plan's name in the header). Keys typed at once ("xyz") must
end up in the command line, not echoed raw. Goal: first frame <= 300 ms. Needs tmux.

The same-run baseline is the least any Python console can do here: a `python -c` that imports
Rich and prints one line, started and watched the same way (the same tmux, the same capture loop,
the same machine load). The ratio says what the console adds to that floor, whatever the machine.

    python benchmarks/bench_first_frame.py [rounds]
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def first_seen(tmux: str, command: str, marks: tuple[str, ...], keys: str = "") -> tuple[dict[str, float], str]:
    """Seconds from creating the pane running `command` to each mark on its screen, and the last screen."""
    directory = tempfile.mkdtemp()
    name = f"ff-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    subprocess.run([tmux, "new-session", "-d", "-s", name, "-x", "120", "-y", "40", "-e", "TERM=xterm-256color",
                    "-e", f"PYTHONPATH={ROOT}", "-c", directory, command.format(directory=directory)], check=True)
    seen: dict[str, float] = {}
    screen = ""
    try:
        if keys:
            subprocess.run([tmux, "send-keys", "-t", name, "-l", keys], check=True)
        while time.monotonic() - started < 15 and marks[-1] not in seen:
            screen = subprocess.run([tmux, "capture-pane", "-p", "-t", name], capture_output=True, text=True).stdout
            for mark in marks:
                if mark in screen:
                    seen.setdefault(mark, time.monotonic() - started)
            time.sleep(0.005)
        time.sleep(0.3)
        screen = subprocess.run([tmux, "capture-pane", "-p", "-t", name], capture_output=True, text=True).stdout
    finally:
        subprocess.run([tmux, "kill-session", "-t", name], capture_output=True)
        shutil.rmtree(directory, ignore_errors=True)
    return seen, screen


def once(tmux: str) -> tuple[float, float, bool, float]:
    """(first frame, run frame, typed keys kept, baseline): seconds, the baseline measured just before."""
    baseline, _ = first_seen(tmux, f"{sys.executable} -c \"from rich.console import Console; "
                                    f"Console().print('[bold]baseline ready[/]')\"; sleep 30", ("baseline ready",))
    command = (f"{sys.executable} -m aiw_otel.cli demo --workspace {{directory}}/ws --log-dir {{directory}}/logs "
               f"--control-socket {{directory}}/c.sock --exit-on-end; sleep 30")
    seen, screen = first_seen(tmux, command, ("Plan:", "Plan: greet-release"), keys="xyz")
    return (seen.get("Plan:", float("inf")), seen.get("Plan: greet-release", float("inf")), "> xyz" in screen,
            baseline.get("baseline ready", float("inf")))


def main() -> None:
    tmux = shutil.which("tmux")
    if tmux is None:
        sys.exit("tmux is needed")
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    results = [once(tmux) for _ in range(rounds)]
    first = [r[0] * 1000 for r in results]
    run = [r[1] * 1000 for r in results]
    floor = [r[3] * 1000 for r in results]
    print(f"   baseline: median {statistics.median(floor):.0f} ms, worst {max(floor):.0f} ms "
          f"(python -c: import Rich, print a line; same tmux, same run)")
    print(f"first frame: median {statistics.median(first):.0f} ms, worst {max(first):.0f} ms (goal: <= 300 ms), "
          f"{statistics.median(first) / statistics.median(floor):.2f}x the baseline")
    print(f"  run frame: median {statistics.median(run):.0f} ms, worst {max(run):.0f} ms (after the AI clients load)")
    print(f" typed keys: {'in the command line' if all(r[2] for r in results) else 'LOST or echoed'} "
          f"({sum(r[2] for r in results)}/{rounds})")


if __name__ == "__main__":
    main()
