"""What every subcommand prints the same way: its one-line errors, and the shared PATH arguments."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

    from aiw_otel.errors import FileError

    #: What `add_parser(commands)` is given (argparse's class is generic only to the type checker).
    Commands = argparse._SubParsersAction[argparse.ArgumentParser]

#: `logs` and `ship` read the same things.
PATHS_ARGUMENT: dict[str, Any] = {
    "nargs": "*", "default": ["logs"], "metavar": "PATH",
    "help": "log directory or telemetry files, rotated and .gz backups included (default: ./logs)",
}


def stdout_to_devnull() -> None:
    """The reader of our stdout went away (`aiw-otel ... | head`): that is no error, and later
    output, the interpreter's own flush at exit included, must go nowhere rather than raise again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def error(message: str | FileError, kind: str = "") -> None:
    """One line on stderr, prefixed so it reads as the tool's own words in a pipeline (`kind` says
    what sort of mistake, e.g. "configuration error: ").

    A FileError is shown with its file and its message redacted apart (FileError.shown): redacted
    as one line, `token.txt: permission denied` would read as a secret and lose the reason."""
    from aiw_otel.errors import FileError, shown

    text = message.shown() if isinstance(message, FileError) else shown(message)
    print(f"aiw-otel: {kind}{text}", file=sys.stderr, flush=True)


def port_number(text: str) -> int:
    """An argparse type for a TCP port (0: any free one), refused as config files refuse one."""
    import argparse

    from aiw_otel.ports import parse_port

    try:
        return parse_port(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
