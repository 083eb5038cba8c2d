"""Render the live console's frame for a real demo run to docs/console.svg (the README's picture).

    python examples/console_screenshot.py

It runs the bundled demo plan (replayed AI, real files and commands) with the state tracker the
console uses, then draws one frame with Rich's recorder: what the terminal shows when the run has
ended and the console holds ("press q to quit"), the overview's cursor moved to the failed step and
`o` pressed on it: what its command printed (taken through the control relay's `output`, as the
console does), in place of its log lines.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from rich.console import Console

import aiw_otel
from aiw_otel.config import FileSinkConfig, SinksConfig, TelemetryConfig
from aiw_otel.cli.run import DEMO_PLAN
from aiw_otel.console.app import HINT_OUTPUT
from aiw_otel.console.outputview import OutputView
from aiw_otel.console.prompt import Prompt
from aiw_otel.console.screen import Screen
from aiw_otel.control.relay import ControlRelay
from aiw_otel.processors.state_tracker import StateTracker
from aiw_otel.runview import CommandOutput
from aiw_otel.runner.engine import Engine, RunOptions
from aiw_otel.runner.plan_loader import load_plan

OUTPUT = Path(__file__).resolve().parents[1] / "docs" / "console.svg"


def main() -> None:
    plan = load_plan(DEMO_PLAN)
    tracker = StateTracker()
    tracker.seed(plan)
    with tempfile.TemporaryDirectory() as directory:
        settings = TelemetryConfig(sinks=SinksConfig(file=FileSinkConfig(directory=directory)))
        telemetry = aiw_otel.configure(settings, sinks=[tracker.sink()], environ={}, set_global=False,
                                       handle_signals=False)
        engine = Engine(telemetry, plan, RunOptions(workspace=Path(directory) / "ws", provider="replay",
                                                    replay_file=str(DEMO_PLAN / "replay.json")))
        engine.run()
        reply = ControlRelay(engine, tracker).submit("output publish_package", "console")
        telemetry.shutdown()
    console = Console(record=True, width=160, height=36, file=open("/dev/null", "w"), force_terminal=True)
    screen = Screen()
    view = tracker.snapshot()
    commands = tuple(CommandOutput(**{**c, "lines": tuple(c["lines"])}) for c in (reply.data or {})["commands"])
    output = OutputView.of(view.step_labels()["publish_package"], commands, time.strftime("%H:%M:%S"))
    screen.update(view, now_ns=time.time_ns(), selected="publish_package", cursor="publish_package",
                  prompt=Prompt(hint=HINT_OUTPUT), output=output)
    console.print(screen.frame, height=36)
    OUTPUT.parent.mkdir(exist_ok=True)
    console.save_svg(str(OUTPUT), title="aiw-otel demo")
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
