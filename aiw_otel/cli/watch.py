"""`aiw-otel watch`: follow a running `aiw-otel run`'s state, a line per change, until it ends (read-only)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any

from aiw_otel.cli.ctl import NO_RUN, SOCKET_HELP, socket_of
from aiw_otel.control.client import ControlClient, NoRunListening
from aiw_otel.terminal_text import safe_line

if TYPE_CHECKING:
    from aiw_otel.cli.output import Commands


def add_parser(commands: Commands) -> None:
    parser = commands.add_parser("watch", help="follow a running plan's state until it ends (read-only)")
    parser.add_argument("--socket", help=SOCKET_HELP)
    parser.set_defaults(handler=watch_command)


def watch_command(args: argparse.Namespace) -> int:
    """A line per change until the run ends (exit 0), or until the run goes away without saying so (1)."""
    client = ControlClient(socket_of(args))
    try:
        for event in client.watch():
            print(watch_line(event["data"]), flush=True)
            if event.get("event") == "end":
                return 0
    except NoRunListening as error:
        print(f"aiw-otel watch: {error}", file=sys.stderr)
        return NO_RUN
    except OSError as error:
        print(f"aiw-otel watch: the connection to the run broke: {error}", file=sys.stderr)
        return 1
    print("aiw-otel watch: the run went away before it ended", file=sys.stderr)
    return 1


def watch_line(view: dict[str, Any]) -> str:
    """`watch`: plan state, counts by state, the active step and the last message, on one line."""
    counts: dict[str, int] = {}
    for step in view.get("steps", []):
        counts[step["state"]] = counts.get(step["state"], 0) + 1
    from aiw_otel.cli.ctl import step_labels
    from aiw_otel.present import LIVE_STATE_NAMES

    shown = step_labels(view.get("steps", []))
    active = [shown[s["step_id"]] for s in view.get("steps", []) if s["state"] in LIVE_STATE_NAMES]
    parts = [time.strftime("%H:%M:%S"), f"plan {view.get('state', '?')}",
             ", ".join(f"{state} {count}" for state, count in counts.items())]
    if active:
        parts.append(f"active: {active[-1]}")
    if view.get("last_message"):
        parts.append(f"last: {view['last_message']}")
    return safe_line(" | ".join(parts))  # step ids and messages come from the plan and the model
