"""The seed's layout (5.2) over the five panels, composed from their cached lines.

    header (3 lines)
    plan overview (what its columns need, up to 1/2) | current step's logs, or its commands' output (the rest)
    reply (full width, as tall as the reply wrapped; only when there is one; below NARROW_WIDTH a
           reply taller than the panels' rows takes the status bar's too)
    status (3/4) | command (1/4, at least 60 columns)     below NARROW_WIDTH: status over command

Not Rich's Layout: it renders every region and splits its lines again on every refresh, which for
a full screen costs more than the panels that changed. The Frame takes each panel's lines as they
are (already cut to the region) and only lays them side by side.
"""

from __future__ import annotations

from typing import Union

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.segment import Segment

from aiw_otel.console.cache import Cached, Lines
from aiw_otel.console.header import Header
from aiw_otel.console.outputview import OutputView
from aiw_otel.console.overview import OVERVIEW_MIN_WIDTH, Overview
from aiw_otel.console.prompt import Prompt
from aiw_otel.console.reply import Reply
from aiw_otel.console.rows import RowCache
from aiw_otel.console.statusbar import StatusBar
from aiw_otel.console.steplog import StepLog
from aiw_otel.present import LIVE_STATE_NAMES
from aiw_otel.runview import RunView, StepView

#: Below this many columns the command panel gets the whole width under the status bar: beside
#: it, it would be too narrow for a command and its reply.
NARROW_WIDTH = 140
PROMPT_MIN_WIDTH = 60
HEADER_ROWS = 3
FOOTER_ROWS = 3
_NEW_LINE = Segment.line()
#: A panel of the frame: a Cached one (its lines kept; not itself a Rich renderable) or any renderable.
PanelSource = Union[Cached, RenderableType]


class Frame:
    """The whole screen from five panels, each a Cached one or any renderable (drawn afresh)."""

    def __init__(self, header: PanelSource, overview: PanelSource, logs: PanelSource,
                 status: PanelSource, prompt: PanelSource, reply: PanelSource = "") -> None:
        self.panels = (header, overview, logs, status, prompt, reply)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in self.lines(console, options):
            yield from line
            yield _NEW_LINE

    def lines(self, console: Console, options: ConsoleOptions) -> Lines:
        """The screen's rows, each exactly `options.max_width` cells (what `console.update_screen_lines`
        draws as they are: nothing cut or split again)."""
        width, height = options.max_width, options.height or console.height
        header, overview, logs, status, prompt, reply = self.panels
        narrow = width < NARROW_WIDTH
        footer = 2 * FOOTER_ROWS if narrow else FOOTER_ROWS
        main = max(0, height - HEADER_ROWS - footer)
        answer = _content(reply)  # whole before the panels: they get the rows it leaves
        needed = answer.height_for(console, width) if isinstance(answer, Reply) else 0
        show_status = not (narrow and needed > main)  # a long reply (help at 80x24) takes the status bar's rows too
        main += 0 if show_status else FOOTER_ROWS
        reply_rows = min(needed, main)
        main -= reply_rows
        plan = _content(overview)
        left = plan.width_for(width) if isinstance(plan, Overview) else min(width, max(OVERVIEW_MIN_WIDTH, width // 3))
        rows = [_lines(header, console, options, width, HEADER_ROWS)]
        if main:
            rows.append(_beside(_lines(overview, console, options, left, main),
                                _lines(logs, console, options, width - left, main)))
        if reply_rows:
            rows.append(_lines(reply, console, options, width, reply_rows))
        if narrow:
            if show_status:
                rows.append(_lines(status, console, options, width, FOOTER_ROWS))
            rows.append(_lines(prompt, console, options, width, FOOTER_ROWS))
        else:
            right = max(PROMPT_MIN_WIDTH, width // 4)
            rows.append(_beside(_lines(status, console, options, width - right, FOOTER_ROWS),
                                _lines(prompt, console, options, right, FOOTER_ROWS)))
        return [line for block in rows for line in block]


def _lines(panel: PanelSource, console: Console, options: ConsoleOptions, width: int, height: int) -> Lines:
    region = options.update_dimensions(width, height)
    if isinstance(panel, Cached):
        return panel.lines(console, region)
    return console.render_lines(panel, region, pad=True)


def _content(panel: PanelSource) -> object:
    return panel.renderable if isinstance(panel, Cached) else panel


def _beside(left: Lines, right: Lines) -> Lines:
    return [a + b for a, b in zip(left, right)]


def shown_step(view: RunView, selected: str | None) -> StepView | None:
    """The step the log panel follows: the selected one, else the active one, else the last started."""
    if selected is not None:
        step = view.step(selected)
        if step is not None:
            return step
    active = next((s for s in reversed(view.steps) if s.state in LIVE_STATE_NAMES), None)
    if active is not None:
        return active
    started = [s for s in view.steps if s.started_ns is not None]
    return max(started, key=lambda s: s.started_ns or 0) if started else None


class Screen:
    """The cached panels in a Frame: `update()` with the latest data, then draw `frame`."""

    def __init__(self, web_url: str | None = None) -> None:
        self._web_url = web_url
        self.header = Cached()
        self.overview = Cached()
        self.logs = Cached()
        self.status = Cached()
        self.prompt = Cached()
        self.reply = Cached(Reply())
        self._step_rows = RowCache()
        self._log_rows = RowCache()
        self.frame = Frame(self.header, self.overview, self.logs, self.status, self.prompt, self.reply)

    def update(self, view: RunView, *, now_ns: int, selected: str | None = None, prompt: Prompt = Prompt(),
               reply: Reply = Reply(), cursor: str | None = None, filter: str = "", scroll: int = 0,
               output: OutputView | None = None) -> bool:
        """Give each panel its new content (`output`: shown in place of the log lines); True if any changed."""
        step = shown_step(view, selected)
        changed = self.header.update(Header.of(view, now_ns, self._web_url))
        changed |= self.overview.update(Overview.of(view, step.step_id if step else None, now_ns, self._step_rows,
                                                    cursor=cursor))
        pinned = step is not None and step.step_id == selected
        changed |= self.logs.update(output if output is not None else StepLog.of(
            view, step, pinned=pinned, now_ns=now_ns, cache=self._log_rows, filter=filter, scroll=scroll))
        changed |= self.status.update(StatusBar.of(view))
        changed |= self.prompt.update(prompt)
        changed |= self.reply.update(reply)
        return changed
