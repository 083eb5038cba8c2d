"""Render the live console's frame for a real demo run to docs/console.svg (the README's picture).

    python examples/console_screenshot.py

It runs the bundled demo plan (replayed AI, real files and commands) with the state tracker the
console uses, then draws one frame with Rich's recorder: what the terminal shows when the run has
ended and the console holds ("press q to quit"), the overview's cursor moved to the failed step and
`o` pressed on it: what its command printed (taken through the control relay's `output`, as the
console does), in place of its log lines.

The demo's failing command is `python -m twine upload`, and Python names itself in its error
(`/path/to/bin/python: No module named twine`): run as it is, the picture would show the
checkout's virtualenv. So the script first runs itself again under this same interpreter, with
its same packages, reached through a short neutral path (SHORT_ROOT/bin/python, a symlink; in a
virtualenv, its pyvenv.cfg and lib too), from a temporary directory: what the picture shows is
still what that run printed.
"""

from __future__ import annotations

import os
import shutil
import sys
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
SHORT_ROOT = Path("/tmp/aiw-shot")
SHORT_PYTHON = SHORT_ROOT / "bin" / "python"


def short_interpreter() -> Path:
    """This interpreter (and, in a virtualenv, its packages) at SHORT_PYTHON: a symlink to it, and
    the virtualenv's pyvenv.cfg and lib beside it, so Python finds the same site-packages there."""
    shutil.rmtree(SHORT_ROOT, ignore_errors=True)
    SHORT_PYTHON.parent.mkdir(parents=True)
    SHORT_PYTHON.symlink_to(sys.executable)
    if sys.prefix != sys.base_prefix:
        shutil.copy(Path(sys.prefix) / "pyvenv.cfg", SHORT_ROOT / "pyvenv.cfg")
        for lib in ("lib", "lib64"):
            if (Path(sys.prefix) / lib).is_dir():
                (SHORT_ROOT / lib).symlink_to(Path(sys.prefix) / lib)
    return SHORT_PYTHON


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
    if sys.executable == str(SHORT_PYTHON):
        try:
            main()
        finally:
            shutil.rmtree(SHORT_ROOT, ignore_errors=True)
    else:
        python = short_interpreter()
        os.chdir(tempfile.gettempdir())
        os.execv(python, [str(python), str(Path(__file__).resolve())])
