"""A console frame with 200 steps and 1,000 log lines: cached panels against a naive re-render, same run.

The RunView comes from the real StateTracker, fed by a real pipeline: a plan of 200 steps, 120 of
them done with their log lines and AI calls, the 121st running with a full log. Typical frames
alternate: the running step logs a line, then the run is paused or resumed (a state change of
the plan and the step). A frame is what the console's loop does: snapshot the tracker, update the
panels, draw them on a 160x50 terminal (a StringIO).

- cached: the console's Screen (each panel re-laid-out only when its content changed), its rows
  written as they are (`terminal.draw`), as the console does.
- uncached: the same panels built and laid out from scratch every frame, through `Live(screen=True)`.
- naive: seed 5.2's functions (a Table of every step, every log line of the step), every frame,
  through `Live(screen=True)`.

Also: what the tracker adds to each log record in the runner's thread.

    python benchmarks/bench_console.py [frames]
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import time
from typing import Any, Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rich.console import Console, RenderableType  # noqa: E402
from rich.live import Live  # noqa: E402
from rich.panel import Panel  # noqa: E402
from rich.table import Table  # noqa: E402
from rich.text import Text  # noqa: E402

import aiw_otel  # noqa: E402
from aiw_otel import LogLevel  # noqa: E402
from aiw_otel.config import TelemetryConfig  # noqa: E402
from aiw_otel.console.header import Header  # noqa: E402
from aiw_otel.console.overview import Overview  # noqa: E402
from aiw_otel.console.prompt import Prompt  # noqa: E402
from aiw_otel.console.screen import Frame, Screen, shown_step  # noqa: E402
from aiw_otel.console.statusbar import StatusBar  # noqa: E402
from aiw_otel.console.steplog import StepLog  # noqa: E402
from aiw_otel.console.terminal import draw  # noqa: E402
from aiw_otel.processors.state_tracker import StateTracker  # noqa: E402
from aiw_otel.runner.plan import Plan, StepSpec  # noqa: E402
from aiw_otel.runview import RunView  # noqa: E402

STEPS = 200
DONE = 120
LINES_PER_DONE_STEP = 5
WIDTH, HEIGHT = 160, 50
ENVIRON = {"AIW_FILE": "off", "AIW_CONSOLE": "off"}


def telemetry_with(sinks: list[Any]) -> aiw_otel.Telemetry:
    return aiw_otel.configure(TelemetryConfig(), sinks=sinks, environ=ENVIRON, set_global=False, handle_signals=False)


def fill(run: Any) -> Any:
    """120 finished steps (an AI call and 5 lines each, plus their state lines), then a running one."""
    for index in range(DONE):
        with run.step(f"step_{index:03d}", "code_generation", f"Step {index}: write and check module {index}") as step:
            with step.ai_call(provider="openai", model="gpt-4o-mini") as call:
                call.response_received(input_tokens=1200, output_tokens=300, cost_usd=0.00036)
            for line in range(LINES_PER_DONE_STEP):
                step.log(LogLevel.INFO, "progress", f"step {index}: line {line} of the work, with some detail")
    step = run.step(f"step_{DONE:03d}", "code_generation", "The step that is running now")
    step.__enter__()
    for line in range(250):
        step.log(LogLevel.INFO, "progress", f"running step: line {line}, something happened here")
    return step


def naive_layout(view: RunView, now_ns: int) -> RenderableType:
    """Seed 5.2 as written, on a RunView: every panel and the full table rebuilt each frame."""
    header = Panel(Text(f"Plan: {view.plan_name} | Status: {view.state}", justify="center"),
                   title="[b]AIWhisperer Runner[/b]")
    table = Table(title="Plan Execution")
    for name in ("ID", "Description", "Status", "Tokens", "Cost"):
        table.add_column(name)
    for step in view.steps:
        style = {"Failed": "red", "Running": "yellow", "Paused": "dark_orange"}.get(step.state, "green")
        table.add_row(step.step_id, step.description, Text(step.state, style=style),
                      str(step.input_tokens + step.output_tokens), f"{step.cost_usd:.4f}")
    step = shown_step(view, None)
    logs = step.logs if step else view.general_logs
    text = Text("\n").join(Text(f"[{line.level.lower()}]{line.time_ns} {line.component}: {line.message}")
                           for line in logs)
    counts = ", ".join(f"{state}: {count}" for state, count in view.counts().items())
    return Frame(
        header, Panel(table, title="[b]Plan Overview[/b]", border_style="blue"),
        Panel(text, title=f"[b]Logs for Step: {step.step_id if step else '-'}[/b]", border_style="green"),
        Panel(Text(f"{counts} | tokens {view.input_tokens + view.output_tokens} | ${view.cost_usd:.4f}"),
              title="[b]Status[/b]"),
        Panel(Text("> "), title="Command"),
    )


def uncached_layout(view: RunView, now_ns: int) -> RenderableType:
    step = shown_step(view, None)
    return Frame(Header.of(view, now_ns), Overview.of(view, step.step_id if step else None, now_ns),
                         StepLog.of(view, step, pinned=False, now_ns=now_ns), StatusBar.of(view), Prompt())


def cached_frames() -> Callable[[RunView, int], Frame]:
    screen = Screen()

    def frame(view: RunView, now_ns: int) -> Frame:
        screen.update(view, now_ns=now_ns)
        return screen.frame

    return frame


class _Direct:
    """The console's way to the terminal, in Live's shape: the frame's rows written as they are."""

    def __init__(self, console: Console) -> None:
        self._console = console

    def __enter__(self) -> _Direct:
        self._console.set_alt_screen(True)
        return self

    def __exit__(self, *_: object) -> None:
        self._console.set_alt_screen(False)

    def update(self, frame: Frame, refresh: bool = True) -> None:
        draw(self._console, frame)


def measure(name: str, frame: Callable[[RunView, int], Any], frames: int, direct: bool = False) -> float:
    tracker = StateTracker()
    telemetry = telemetry_with([tracker.sink()])
    tracker.seed(Plan("bench", "bench-plan", "measure frames",
                      tuple(StepSpec(f"step_{i:03d}", f"Step {i}: write and check module {i}") for i in range(STEPS))))
    output = io.StringIO()
    console = Console(file=output, width=WIDTH, height=HEIGHT, force_terminal=True, color_system="truecolor")
    times = []
    with telemetry.plan_run("bench", "bench-plan") as run:
        step = fill(run)
        view = tracker.snapshot()
        lines = sum(len(s.logs) for s in view.steps) + len(view.general_logs)
        shown = _Direct(console) if direct else Live(frame(view, time.time_ns()), console=console, screen=True,
                                                      auto_refresh=False)
        with shown as live:
            for index in range(frames):
                if index % 2:
                    (run.resume if index % 4 == 3 else run.pause)()
                else:
                    step.log(LogLevel.INFO, "progress", f"frame {index}: one more line in the running step")
                output.seek(0)
                output.truncate()
                started = time.perf_counter()
                live.update(frame(tracker.snapshot(), time.time_ns()), refresh=True)
                times.append(time.perf_counter() - started)
        step.__exit__(None, None, None)
    telemetry.shutdown(2.0)
    mean = statistics.fmean(times) * 1000
    print(f"{name:>9}: {mean:7.2f} ms per frame (median {statistics.median(times) * 1000:.2f}, "
          f"{len(view.steps)} steps, {lines} log lines held)")
    return mean


def tracker_cost(records: int = 20000) -> None:
    """µs a log record costs in the runner's thread, with and without the tracker as a sink."""
    costs = []
    for sinks in ([], [StateTracker().sink()]):
        telemetry = telemetry_with(sinks)
        with telemetry.plan_run("cost", "cost") as run, run.step("s1", "analysis") as step:
            started = time.perf_counter()
            for index in range(records):
                step.log(LogLevel.INFO, "progress", f"line {index}")
            costs.append((time.perf_counter() - started) / records * 1e6)
        telemetry.shutdown(2.0)
    print(f"  tracker: +{costs[1] - costs[0]:.1f} µs per log record ({costs[0]:.1f} µs without, {costs[1]:.1f} with)")


def main() -> None:
    frames = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    naive = measure("naive", naive_layout, frames)
    uncached = measure("uncached", uncached_layout, frames)
    cached = measure("cached", cached_frames(), frames, direct=True)
    print(f"    ratio: naive / cached = {naive / cached:.1f}x, uncached / cached = {uncached / cached:.1f}x "
          f"(goal: <= 5 ms per frame, ~10x)")
    tracker_cost()


if __name__ == "__main__":
    main()
