"""Start-up of the commands people type often, against the interpreter's own start-up, in one run.

`aiw-otel ctl status`, `aiw-otel --help`, `aiw-otel logs` and `logs --runs` on a small log
directory, `aiw-otel web --help`, `aiw-otel web DIR` until it prints its URL (the moment a user can
open the page) and `import aiw_otel`, each as a whole new process, interleaved with `python -c pass`
(the floor: nothing can start faster) so that a busy machine slows both sides alike. `ctl` runs
against a live control socket served by this script (the real relay and ControlServer answering a
status request), so the figure includes connecting and printing the reply. Prints the median and
minimum wall time of each, its ratio to the floor and the ratio of the minima (goal for `ctl
status`: <= 3x).

    python benchmarks/bench_startup.py [rounds]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PYTHON = sys.executable


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def timed_until_url(command: list[str]) -> float:
    """Until a server prints its first line (`aiw-otel web`: its URL), then stop it."""
    started = time.perf_counter()
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as server:
        assert server.stdout is not None
        line = server.stdout.readline()
        elapsed = time.perf_counter() - started
        server.terminate()
    if "http://" not in line:
        raise SystemExit(f"{' '.join(command)} printed no URL: {line!r}")
    return elapsed


def control_socket(directory: Path) -> Any:
    """The real relay and socket over a state tracker seeded with the demo plan (no run needed to
    answer `status`: the engine is never asked)."""
    from aiw_otel.cli.run import DEMO_PLAN
    from aiw_otel.control.relay import ControlRelay
    from aiw_otel.control.socket_server import ControlServer
    from aiw_otel.processors.state_tracker import StateTracker
    from aiw_otel.runner.plan_loader import load_plan

    tracker = StateTracker()
    tracker.seed(load_plan(DEMO_PLAN))
    return ControlServer(ControlRelay(None, tracker), directory / "control.sock")


def log_directory(directory: Path) -> Path:
    """A one-step run's telemetry files, written with the public API."""
    import aiw_otel
    from aiw_otel.config import FileSinkConfig, SinksConfig, TelemetryConfig

    logs = directory / "logs"
    telemetry = aiw_otel.configure(TelemetryConfig(sinks=SinksConfig(file=FileSinkConfig(directory=str(logs)))),
                                   environ={}, set_global=False, handle_signals=False)
    with telemetry.plan_run("bench", "bench") as run, run.step("s1", "step"):
        pass
    telemetry.shutdown()
    return logs


def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        server = control_socket(directory)
        logs = log_directory(directory)
        commands = {
            "python -c pass": [PYTHON, "-c", "pass"],
            "import aiw_otel": [PYTHON, "-c", "import aiw_otel"],
            "aiw-otel --help": [PYTHON, "-m", "aiw_otel.cli", "--help"],
            "aiw-otel ctl status": [PYTHON, "-m", "aiw_otel.cli", "ctl", "status", "--socket", str(server.path)],
            "aiw-otel logs (1 step)": [PYTHON, "-m", "aiw_otel.cli", "logs", str(logs), "--no-color"],
            "aiw-otel logs --runs": [PYTHON, "-m", "aiw_otel.cli", "logs", "--runs", str(logs), "--no-color"],
            "aiw-otel web --help": [PYTHON, "-m", "aiw_otel.cli", "web", "--help"],
            "aiw-otel web DIR (URL)": [PYTHON, "-m", "aiw_otel.cli", "web", str(logs)],
        }
        until_url = {"aiw-otel web DIR (URL)"}

        def measure(name: str) -> float:
            return (timed_until_url if name in until_url else timed)(commands[name])

        for name in commands:  # warm the file cache and check each one works
            measure(name)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(rounds):
            for name in commands:
                times[name].append(measure(name))
        server.close()
    floor = statistics.median(times["python -c pass"])
    floor_min = min(times["python -c pass"])
    # Both ratios: on a machine shared with other work the minima are the steadier pair.
    print(f"{rounds} rounds, interleaved; ratio = median / median of python -c pass ({floor * 1000:.1f} ms), "
          f"min ratio = min / its min ({floor_min * 1000:.1f} ms)")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:<24} median {median * 1000:7.1f} ms  min {min(values) * 1000:7.1f} ms  "
              f"ratio {median / floor:5.2f}x  min ratio {min(values) / floor_min:5.2f}x")

if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
