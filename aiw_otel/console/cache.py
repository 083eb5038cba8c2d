"""A panel's rendered lines, kept while its content and its size stay the same.

Rich renders every renderable on every refresh, and laying a panel out again costs milliseconds.
The panels are frozen dataclasses holding exactly what they show, so `==` between the new one and
the one shown tells whether its lines could differ: an unchanged panel costs nothing per frame,
and only the changed ones are laid out again.
"""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment

Lines = list[list[Segment]]


class Cached:
    def __init__(self, renderable: RenderableType = "") -> None:
        self.renderable = renderable
        self._lines: Lines | None = None
        self._size: tuple[int, int | None] = (0, None)
        #: How many times the content was laid out (tests and the benchmark read it).
        self.renders = 0

    def update(self, renderable: RenderableType) -> bool:
        """Show `renderable` from now on; True if it differs from what is shown."""
        if renderable == self.renderable:
            return False
        self.renderable = renderable
        self._lines = None
        return True

    def lines(self, console: Console, options: ConsoleOptions) -> Lines:
        """Exactly `options.max_width` by `options.height` lines of segments."""
        size = (options.max_width, options.height)
        if self._lines is None or size != self._size:
            self._lines = console.render_lines(self.renderable, options, pad=True)
            self._size = size
            self.renders += 1
        return self._lines
