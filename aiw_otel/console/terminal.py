"""The terminal mode the console reads keys in, entered and always restored."""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def keys_mode(fd: int) -> Iterator[None]:
    """cbreak with echo off while inside; the previous mode after, whatever happened.

    cbreak, not raw: keys arrive one by one, but Ctrl-C still raises SIGINT and output line endings
    stay as they are for anything else that writes to the terminal. Echo off, or every key would
    appear wherever the cursor is. Not a terminal (a pipe in tests): nothing to do.
    """
    if not os.isatty(fd):
        yield
        return
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd, termios.TCSANOW)
        mode = termios.tcgetattr(fd)
        mode[3] &= ~termios.ECHO
        termios.tcsetattr(fd, termios.TCSANOW, mode)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
