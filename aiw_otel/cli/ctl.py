"""`aiw-otel ctl COMMAND`: steer a running `aiw-otel run` from another terminal.

Exit codes let scripts tell a refused command (1: resume when not paused) from no run at all (2).
Views arrive as the RunView's JSON form and are printed from it as is.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiw_otel.control.client import ControlClient
from aiw_otel.control.paths import find_socket
from aiw_otel.control.protocol import ARGUMENT_KEYS
from aiw_otel.terminal_text import safe_line, safe_lines

if TYPE_CHECKING:
    from aiw_otel.cli.output import Commands

SOCKET_HELP = ("the run's control socket (default: the newest control.sock or control-<pid>.sock in "
               "$AIW_LOG_DIR or ./logs, or one folder below it)")
NO_RUN = 2


def add_parser(commands: Commands) -> None:
    parser = commands.add_parser("ctl", help="steer a running plan: pause, resume, cancel, status, context TEXT, details STEP, output STEP")
    # Not argparse choices: the run decides what it understands, and records what it refused.
    parser.add_argument("command", help="pause, resume, cancel, status, context TEXT, details STEP, output STEP or help")
    parser.add_argument("argument", nargs="*", help="context: the text; details, output: the step (name, id or a prefix)")
    parser.add_argument("--socket", help=SOCKET_HELP)
    parser.add_argument("--json", action="store_true", help="print the reply as JSON")
    # Words after an option (`ctl context --socket PATH some text`) are the argument's too.
    parser.set_defaults(handler=ctl_command, trailing_words="argument")


def ctl_command(args: argparse.Namespace) -> int:
    client = ControlClient(socket_of(args))
    try:
        if args.command in ARGUMENT_KEYS:
            reply = client.request(args.command, " ".join(args.argument))
        else:  # the run refuses an argument it does not take, and records an unknown command
            reply = client.request(" ".join([args.command, *args.argument]))
    except OSError as error:  # NoRunListening, or a run that went away mid-request
        print(f"aiw-otel ctl: {error}", file=sys.stderr)
        return NO_RUN
    if args.json:
        print(json.dumps(reply, indent=2))
    elif args.command == "status" and reply.get("ok"):
        print(summary(reply["data"]))
    elif args.command in ("output", "help") and reply.get("ok"):  # several lines: the commands' output, the list
        print(safe_lines(str(reply.get("message", ""))))
    else:
        print(safe_line(str(reply.get("message", ""))))
    return 0 if reply.get("ok") else 1


def socket_of(args: argparse.Namespace) -> Path:
    return Path(args.socket) if args.socket else find_socket(os.environ.get("AIW_LOG_DIR") or "logs")


def step_labels(steps: list[dict[str, Any]]) -> dict[str, str]:
    """step id -> what it is shown as (its name, else its id, shortened when long), as the console does."""
    from aiw_otel.stepref import StepRef, labels

    return labels(StepRef(str(s["step_id"]), s.get("name") or None) for s in steps)


def summary(view: dict[str, Any], now_ns: int | None = None) -> str:
    """`ctl status`: the plan, then a line per step with its state, time, tokens and cost, and the
    last output lines of a command that failed."""
    from aiw_otel.model import State
    from aiw_otel.present import LIVE_STATE_NAMES, duration_between

    now_ns = time.time_ns() if now_ns is None else now_ns
    steps = view.get("steps", [])
    done = sum(1 for s in steps if s["state"] not in LIVE_STATE_NAMES | {State.PENDING.value})
    lines = [f"plan '{view.get('plan_name', '')}' {view.get('state', '?')} (run {str(view.get('run_id', ''))[:8]}): "
             f"{done} of {len(steps)} steps done, {_usage(steps)}"]
    shown = step_labels(steps)
    width = min(40, max((len(label) for label in shown.values()), default=0))
    for step in steps:
        took = duration_between(step.get("started_ns"), step.get("ended_ns"), now_ns)
        line = f"  {step['state']:<10} {shown[step['step_id']]:<{width}}  {took:>9}"
        if step.get("input_tokens") or step.get("output_tokens") or step.get("cost_usd"):
            line += f"  {_usage([step])}"
        if step.get("error"):
            line += f"  error: {step['error']}"
        lines.append(line.rstrip())
        for action in step.get("actions", []):
            if action.get("output"):
                lines.append(f"      {action.get('name', '')}: {action.get('summary', '')}")
                lines += [f"      │ {output}" for output in action["output"]]
    if view.get("last_message"):
        lines.append(f"last: {view['last_message']}")
    return "\n".join(safe_line(line) for line in lines)  # ids and messages come from the plan and the model


def _usage(steps: list[dict[str, Any]]) -> str:
    tokens_in = sum(s.get("input_tokens", 0) for s in steps)
    tokens_out = sum(s.get("output_tokens", 0) for s in steps)
    cost = sum(s.get("cost_usd", 0.0) for s in steps)
    return f"in {tokens_in} / out {tokens_out} tokens, ${cost:.4f}"
