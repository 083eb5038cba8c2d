"""The `aiw-otel` command: one module per subcommand, this one only wires them together.

Each command module offers `add_parser(commands)`, which declares its arguments and its handler.
Command modules import what they run only inside their handlers, so `aiw-otel --help`, `ctl` and
`logs` do not pay for the runner, the OpenAI client or the console.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from aiw_otel.cli import output
from aiw_otel.errors import ConfigError, FileError

#: Each command's module, in the order `aiw-otel --help` lists them (`run` declares `demo` too).
COMMANDS = {
    "check": "aiw_otel.cli.check",
    "run": "aiw_otel.cli.run",
    "demo": "aiw_otel.cli.run",
    "logs": "aiw_otel.cli.logs",
    "ship": "aiw_otel.cli.ship",
    "ctl": "aiw_otel.cli.ctl",
    "watch": "aiw_otel.cli.watch",
    "web": "aiw_otel.cli.web",
}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for `argv`: with a command named, only that command's module is imported (a
    typed `aiw-otel ctl status` does not load the runner's settings); otherwise all of them."""
    parser = argparse.ArgumentParser(prog="aiw-otel", description="Logging and monitoring for the AIWhisperer Runner.")
    commands = parser.add_subparsers(dest="command", required=True)
    first = next((arg for arg in (argv or ()) if not arg.startswith("-")), None)
    chosen = [COMMANDS[first]] if first in COMMANDS else COMMANDS.values()
    for name in dict.fromkeys(chosen):
        importlib.import_module(name).add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args, extra = parser.parse_known_args(argv)
    words = getattr(args, "trailing_words", None)  # `ctl context --socket PATH some text`
    if extra and words and not any(word.startswith("-") for word in extra):
        getattr(args, words).extend(extra)
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return int(args.handler(args))
    except ValueError as error:  # ConfigError, PlanError, replay and AI client configuration errors
        kind = "configuration error: " if isinstance(error, ConfigError) else ""
        # A file's check goes on after a mistake: each one it found, a line each.
        for problem in error.every if isinstance(error, FileError) else (str(error),):
            output.error(problem, kind)
        return 2
