"""The console's first frame, drawn before the run is ready: within ~300 ms of start instead of ~1.5 s.

Loading the telemetry pipeline and the AI clients (the openai package alone takes a second to
import) happens before the console can show the run. Meanwhile the terminal would stay blank, in
its normal mode, and keys typed would be echoed raw into the scrollback. `starting_screen()` takes
the terminal at once instead: keys in cbreak mode with echo off (what is typed waits in the
terminal's buffer and reaches the console's command line when it starts), the alternate screen,
and a frame of the console's own layout saying it is starting. `hand_over()` leaves the alternate
screen to the ConsoleApp (which leaves it when it ends); without it (an error while
loading), leaving the context restores the normal screen. The frame holds no plan text: nothing
is shown before the redactor exists.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Iterator

from rich.console import Console

from aiw_otel.console.prompt import Prompt
from aiw_otel.console.screen import Screen
from aiw_otel.console.terminal import draw, keys_mode, screen_console
from aiw_otel.runview import RunView

STARTING_HINT = "starting… (keys typed now are kept)"


class Starting:
    def __init__(self) -> None:
        self.handed_over = False

    def hand_over(self) -> None:
        """The console takes the alternate screen from here (and leaves it when it ends)."""
        self.handed_over = True


@contextmanager
def starting_screen(console: Console | None = None, input_fd: int | None = None) -> Iterator[Starting]:
    console = console or screen_console()
    starting = Starting()
    with keys_mode(sys.stdin.fileno() if input_fd is None else input_fd):
        console.set_alt_screen(True)
        console.show_cursor(False)
        try:
            screen = Screen()
            screen.update(RunView(state="Starting"), now_ns=time.time_ns(), prompt=Prompt(hint=STARTING_HINT))
            draw(console, screen.frame)  # in place, as the console draws: a print's last line break would scroll it
            console.file.flush()
            yield starting
        finally:
            if not starting.handed_over:
                console.show_cursor(True)
                console.set_alt_screen(False)
