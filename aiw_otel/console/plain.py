"""Whether the live console can run here; where it cannot, the plain line-per-record sink is used."""

from __future__ import annotations

import os
import sys
from typing import Mapping, TextIO


def is_interactive(stream: TextIO | None = None, *, stdin: TextIO | None = None,
                   environ: Mapping[str, str] | None = None) -> bool:
    """A terminal on both ends (keys in, frames out) that can position the cursor.

    Into a pipe or a file Rich would write every frame as text; without a terminal on stdin there is
    no one to type commands. Windows consoles lack the select()-able stdin the key loop needs.
    """
    stream = sys.stdout if stream is None else stream
    stdin = sys.stdin if stdin is None else stdin
    environ = os.environ if environ is None else environ
    return (os.name == "posix" and _isatty(stream) and _isatty(stdin)
            and environ.get("TERM") != "dumb")


def _isatty(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (ValueError, OSError):  # closed or detached
        return False
