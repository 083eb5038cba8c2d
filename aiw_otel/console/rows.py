"""One-line rows drawn once and reused while they scroll: a new log line or one changed step costs
one row's layout, not a screenful's.

A panel names its rows by hashable keys (a LogLine, a step's row of values) and says how to draw
a key as a Text at a width; Rows renders the keys through a RowCache, which keeps each key's segments at the
current width. Keys hold everything a row shows, so a key that is found is a row that is right.
"""

from __future__ import annotations

from typing import Callable, Hashable, Sequence

from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.text import Text

Draw = Callable[[Hashable, int], Text]
_NEW_LINE = Segment.line()


class RowCache:
    def __init__(self, limit: int = 1024) -> None:
        self._rows: dict[Hashable, list[Segment]] = {}
        self._width = 0
        self._limit = limit

    def segments(self, console: Console, key: Hashable, width: int, draw: Draw) -> list[Segment]:
        """The row for `key`, exactly `width` cells wide (cut as the Text's overflow says, and padded)."""
        if width != self._width:
            self._rows.clear()
            self._width = width
        row = self._rows.get(key)
        if row is None:
            text = draw(key, width)
            text.truncate(width, pad=True)
            row = self._rows[key] = list(text.render(console))
            if len(self._rows) > self._limit:
                del self._rows[next(iter(self._rows))]
        return row


class Rows:
    """A renderable of one-line rows, for a Panel to frame."""

    def __init__(self, keys: Sequence[Hashable], draw: Draw, cache: RowCache) -> None:
        self._keys = keys
        self._draw = draw
        self._cache = cache

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        segments, draw = self._cache.segments, self._draw
        for key in self._keys:
            yield from segments(console, key, width, draw)
            yield _NEW_LINE
