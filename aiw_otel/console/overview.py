"""The plan overview: every step with its state, time, tokens and cost, as many as fit.

With more steps than rows, it shows the window that holds the step in focus (the cursor, else the
selected or active one), so the interesting row never scrolls out of view; the cursor's row (moved
with the arrows or j/k) is drawn in reverse. Its width is what its columns need, up to half the
screen (`width_for`): the rest goes to the log panel. Columns are chosen by the width there is: the
step (its name, else its id, shortened when it is a UUID) and state always, then time; from
USAGE_INNER columns (a screen of USAGE_SCREEN) tokens and cost, then the description with what is
left once the step's name fits; the step column gives way to time and usage first. Rows
are laid out as fixed-width text rather than a Rich Table, which measures every cell of every
row on each render (~15 ms for a screenful).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Hashable, NamedTuple, cast

from rich.cells import cell_len, set_cell_size
from rich.console import Console, ConsoleOptions, RenderResult
from rich.panel import Panel
from rich.text import Text

from aiw_otel.console.rows import RowCache, Rows
from aiw_otel.console.style import cost, cut, tokens
from aiw_otel.present import DURATION_WIDTH, duration_between, state_style
from aiw_otel.runview import RunView
from aiw_otel.terminal_text import one_line

#: Rows the panel's border and the header line take.
_CHROME_ROWS = 3
_ID_MAX = 28
#: The step column keeps at least this much when it gives way to the time column.
_ID_MIN = 12
_STATE_WIDTH = len("Completed")
_TIME_WIDTH = DURATION_WIDTH
_TOKENS_WIDTH = len("999.9k")
_COST_WIDTH = len("$0.1234")
_DESCRIPTION_MIN = 8
_HEADINGS = ("Step", "Description", "State", "Time", "Tokens", "Cost")
_USAGE_WIDTH = 2 + _TOKENS_WIDTH + _COST_WIDTH
#: Inside width from which tokens and cost are shown, and the screen width that gives it.
USAGE_INNER = _ID_MIN + 1 + _STATE_WIDTH + 1 + _TIME_WIDTH + _USAGE_WIDTH + 1 + _DESCRIPTION_MIN
USAGE_SCREEN = 120
#: Inside width beyond which a description is not worth more room.
_DESCRIPTION_MAX = 48
_BORDER = 4
OVERVIEW_MIN_WIDTH = 40


class StepRow(NamedTuple):
    #: What the step is shown as: its name, else its (short) id.
    label: str
    description: str
    state: str
    time: str
    tokens: str
    cost: str


class _Columns(NamedTuple):
    id: int
    description: int  # 0: not shown
    time: bool
    usage: bool

    @classmethod
    def fitting(cls, inner: int, id_width: int) -> _Columns:
        if inner >= USAGE_INNER:  # tokens and cost, the whole name if it fits, then the description
            fixed = 1 + _STATE_WIDTH + 1 + _TIME_WIDTH + _USAGE_WIDTH
            id_width = min(id_width, inner - fixed)
            description = inner - id_width - fixed - 1
            return cls(id_width, description if description >= _DESCRIPTION_MIN else 0, True, True)
        if inner - id_width - 1 - _STATE_WIDTH < 1 + _TIME_WIDTH:  # time matters more than a long name's end
            id_width = max(min(id_width, _ID_MIN), inner - 1 - _STATE_WIDTH - 1 - _TIME_WIDTH)
        room = inner - id_width - 1 - _STATE_WIDTH
        time = room >= 1 + _TIME_WIDTH
        room -= 1 + _TIME_WIDTH if time else 0
        description = room - 1
        return cls(id_width, description if description >= _DESCRIPTION_MIN else 0, time, False)


@dataclass(frozen=True)
class Overview:
    rows: tuple[StepRow, ...]
    #: Index of the row to keep in view, if any.
    focus: int | None = None
    cache: RowCache = field(default_factory=RowCache, compare=False, repr=False)
    #: Index of the row under the cursor (navigation), drawn in reverse.
    cursor: int | None = None
    #: The widest label and description (cells), worked out once by `width_for` (the Cached panel
    #: keeps the Overview shown while a new one compares equal, so once per change).
    _widths: list[int] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def of(cls, view: RunView, focus: str | None, now_ns: int, cache: RowCache | None = None,
           cursor: str | None = None) -> Overview:
        shown = view.step_labels()
        rows = tuple(
            StepRow(shown[s.step_id], s.description, s.state, duration_between(s.started_ns, s.ended_ns, now_ns),
                    tokens(s.input_tokens + s.output_tokens) if s.input_tokens or s.output_tokens else "",
                    cost(s.cost_usd))
            for s in view.steps
        )
        cursor_index = next((i for i, s in enumerate(view.steps) if s.step_id == cursor), None)
        index = cursor_index if cursor_index is not None else next(
            (i for i, s in enumerate(view.steps) if s.step_id == focus), None)
        return cls(rows, index, cache or RowCache(), cursor_index)

    def width_for(self, screen: int) -> int:
        """Columns to give the overview on a screen `screen` wide: what its columns need, at most half.

        Below USAGE_SCREEN it stays narrower than USAGE_INNER needs (no tokens and cost); from there,
        at least that wide."""
        if not self._widths:
            self._widths[:] = (max((cell_len(one_line(r.label)) for r in self.rows), default=4),
                               max((cell_len(one_line(r.description)) for r in self.rows), default=0))
        label_width, description_width = self._widths
        need = min(_ID_MAX, max(4, label_width)) + 1 + _STATE_WIDTH + 1 + _TIME_WIDTH
        if description_width:
            need += 1 + min(_DESCRIPTION_MAX, max(_DESCRIPTION_MIN, description_width))
        if screen >= USAGE_SCREEN:
            need += _USAGE_WIDTH
            lowest, highest = USAGE_INNER + _BORDER, screen // 2
        else:
            lowest, highest = OVERVIEW_MIN_WIDTH, min(screen // 2, USAGE_INNER + _BORDER - 1)
        return min(screen, max(lowest, min(need + _BORDER, highest)))

    def window(self, height: int | None) -> tuple[int, int]:
        """The rows [start, end) that fit in `height` lines, the focused one a third of the way down."""
        total = len(self.rows)
        room = total if height is None else max(1, height - _CHROME_ROWS)
        if total <= room:
            return 0, total
        start = 0 if self.focus is None else min(max(0, self.focus - room // 3), total - room)
        return start, start + room

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        start, end = self.window(options.height)
        rows = self.rows[start:end]
        id_width = min(_ID_MAX, max((cell_len(one_line(r.label)) for r in rows), default=4))
        columns = _Columns.fitting(options.max_width - _BORDER, max(id_width, 4))
        cursor = -1 if self.cursor is None else self.cursor - start
        keys = [(columns, None, False), *((columns, row, i == cursor) for i, row in enumerate(rows))]
        title = "[b]Plan Overview[/b]"
        if end - start < len(self.rows):
            title += f" {start + 1}-{end} of {len(self.rows)}"
        # A renderable yielded from here is rendered without the height: pass it on to fill the region.
        yield Panel(Rows(keys, _draw, self.cache), title=title, border_style="blue", height=options.height)


def _draw(key: Hashable, width: int) -> Text:
    """A row as (columns, StepRow, under the cursor), or the headings as (columns, None, False)."""
    columns, row, under_cursor = cast("tuple[_Columns, StepRow | None, bool]", key)  # the keys this module made
    if row is None:
        return _row(columns, StepRow(*_HEADINGS), "bold", "bold")
    body = _row(columns, row, "cyan", state_style(row.state))
    if under_cursor:  # the whole row, its padding too, in a span: Text.render drops the base style of a row without one
        body.truncate(width, pad=True)
        body.stylize("reverse")
    return body


def _row(columns: _Columns, row: StepRow, id_style: str, state_style: str) -> Text:
    body = Text(overflow="ellipsis")
    body.append(_fit(one_line(row.label), columns.id), style=id_style)
    if columns.description:
        body.append(" " + _fit(one_line(row.description), columns.description))
    body.append(" ")
    body.append(row.state.ljust(_STATE_WIDTH), style=state_style)
    if columns.time:
        body.append(" " + row.time.rjust(_TIME_WIDTH))
    if columns.usage:
        body.append(f" {row.tokens.rjust(_TOKENS_WIDTH)} {row.cost.rjust(_COST_WIDTH)}")
    return body


def _fit(text: str, width: int) -> str:
    """Exactly `width` cells: padded, or cut with an ellipsis."""
    return set_cell_size(cut(text, width), width)
