"""The `aiw-otel` command: one module per subcommand, this one only wires them together.

Each command module offers `add_parser(commands)`, which declares its arguments and its handler.
Command modules import what they run only inside their handlers, so `aiw-otel --help`, `ctl` and
`logs` do not pay for the runner, the OpenAI client or the console.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from aiw_otel.cli import check, ctl, logs, run, ship, watch
from aiw_otel.config import ConfigError

#: In the order `aiw-otel --help` lists them.
COMMANDS = (check, run, logs, ship, ctl, watch)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aiw-otel", description="Logging and monitoring for the AIWhisperer Runner.")
    commands = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except ConfigError as error:
        print(f"aiw-otel: configuration error: {error}", file=sys.stderr)
        return 2
    except ValueError as error:  # PlanError, replay and AI client configuration errors
        print(f"aiw-otel: {error}", file=sys.stderr)
        return 2
