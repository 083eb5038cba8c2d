"""The terminal the console owns: the mode it reads keys in (entered and always restored), and a
Rich Console that takes its size from the terminal itself."""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

from rich.console import Console

from aiw_otel.console.screen import Frame

#: Size variables a full-screen console must not take from its environment.
_SIZE_VARIABLES = frozenset({"COLUMNS", "LINES"})


def screen_console() -> Console:
    """A Console sized by the terminal (its window size), never by COLUMNS and LINES.

    Rich prefers those variables to the terminal's size when they are set. Exported once (by a
    script, a test harness, a multiplexer's environment), they pin a full-screen display to a size
    that is not the window's, and it no longer follows a resize: at 120x40 the console would draw
    an 80x24 frame in its corner.
    """
    return Console(_environ={k: v for k, v in os.environ.items() if k not in _SIZE_VARIABLES})


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


@contextmanager
def full_screen(console: Console) -> Iterator[None]:
    """The alternate screen with the cursor hidden while inside; the normal screen and cursor after."""
    console.set_alt_screen(True)
    console.show_cursor(False)
    try:
        yield
    finally:
        console.show_cursor(True)
        console.set_alt_screen(False)


def draw(console: Console, frame: Frame) -> None:
    """Draw `frame` over the whole (alternate) screen, at the console's size.

    The frame's rows are exactly the screen's width already, so they are written as they are. Rich's
    Live would render the frame through its Screen, cutting and splitting every row again: a third
    of a frame's cost for nothing.
    """
    console.update_screen_lines(frame.lines(console, console.options))
