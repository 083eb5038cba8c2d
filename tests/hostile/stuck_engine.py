"""`aiw-otel` whose engine gets stuck where no cancel reaches it: a test seam, never imported by aiw_otel.

Run as `python tests/hostile/stuck_engine.py run PLAN ...`. Reading a workspace file named `hung`
blocks the way a read from a hung network filesystem does: in a C call (os.read on a pipe whose
write end stays open and silent) that neither RunControl nor a signal handler can interrupt. Just
before it blocks, it creates `hung.reached` beside it, so a test knows when to cancel.
With `--hold-logging-lock` it also holds the logging module's lock meanwhile, as a thread stuck
inside a log handler would: then the front end's own ending blocks too.
"""

from __future__ import annotations

import logging
import os
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from aiw_otel.cli import main
from aiw_otel.runner import workspace

HOLD_LOGGING_LOCK = "--hold-logging-lock"
_regular = workspace._regular


def _stuck_on_hung(target: Path, path: Any, flags: int = os.O_RDONLY) -> Any:
    if target.name != "hung":
        return _regular(target, path, flags)
    silent, _kept_open = os.pipe()
    lock = getattr(logging, "_lock") if HOLD_LOGGING_LOCK in sys.argv else nullcontext()
    with lock:
        target.with_name("hung.reached").touch()
        os.read(silent, 1)  # never returns
    raise AssertionError("unreachable")


if __name__ == "__main__":
    workspace._regular = _stuck_on_hung
    sys.exit(main([arg for arg in sys.argv[1:] if arg != HOLD_LOGGING_LOCK]))
