"""The current step's panel: its sub-actions as they run and finish, then its latest log lines.

The step is the one chosen with `details STEP` (or Enter on the overview's cursor), else the active
one, else the last that started; before any step starts it shows the run's general log. `/TEXT`
keeps the log lines holding TEXT (case-blind, in the level, component or message), `/@NAME` those
of a component (`/@ai`, `/@term exit`: see `filtered`), PgUp/PgDn scroll them (`scroll`: rows up from the newest). Every line is one screen row, cut with an ellipsis: the full
text is in the log files, one row per record is what lets the newest ones always fit, and rows
that only scroll are not drawn again (RowCache).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Hashable, NamedTuple, cast

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.panel import Panel
from rich.text import Text

from aiw_otel.console.rows import RowCache, Rows
from aiw_otel.console.style import cost, cut_before, tokens
from aiw_otel.present import LEVEL_STYLES, LIVE_STATE_NAMES, OUTCOME_STYLES, Outcome, duration, state_style
from aiw_otel.runview import STDERR_MARK, ActionLine, LogLine, RunView, StepView
from aiw_otel.terminal_text import one_line

_RUNNING = ("▶", "yellow")
#: Glyph and colour of a finished action by its outcome: a retried attempt is no failure, a
#: cancelled one is the user's doing.
_ENDED = {
    Outcome.OK.value: ("✔", "green"),
    Outcome.FAILED.value: ("✖", OUTCOME_STYLES[Outcome.FAILED]),
    Outcome.RETRIED.value: ("↻", OUTCOME_STYLES[Outcome.RETRIED]),
    Outcome.CANCELLED.value: ("■", OUTCOME_STYLES[Outcome.CANCELLED]),
}
#: The row between the actions and the log lines.
_RULE = "─" * 512
#: Below this width a log row is its time and message, the level shown by colour alone.
_NARROW = 70


@dataclass(frozen=True)
class StepLog:
    step: StepView | None
    general: tuple[LogLine, ...] = ()
    #: What the step is shown as (its name, else its id).
    label: str = ""
    pinned: bool = False
    #: Only the log lines holding this text (case-blind).
    filter: str = ""
    #: Rows up from the newest log line (clamped to the oldest).
    scroll: int = 0
    #: (span id, whole seconds it has run) of each running action: all that moves here with time,
    #: so the panel is drawn again once a second while an action runs, and not otherwise.
    elapsed_s: tuple[tuple[int, int], ...] = ()
    cache: RowCache = field(default_factory=RowCache, compare=False, repr=False)

    @classmethod
    def of(cls, view: RunView, step: StepView | None, *, pinned: bool, now_ns: int, cache: RowCache | None = None,
           filter: str = "", scroll: int = 0) -> StepLog:
        cache = cache or RowCache()
        if step is None:
            return cls(None, view.general_logs, cache=cache, filter=filter, scroll=scroll)
        elapsed = tuple((a.span_id, max(0, now_ns - a.started_ns) // 1_000_000_000) for a in step.actions
                        if a.ended_ns is None)
        return cls(step, label=view.step_labels().get(step.step_id, step.step_id), pinned=pinned,
                   elapsed_s=elapsed, cache=cache, filter=filter, scroll=scroll)

    def lines(self) -> tuple[LogLine, ...]:
        """The log lines shown, oldest first: the step's (or the general ones), filtered."""
        return filtered(self.general if self.step is None else self.step.logs, self.filter)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        # A renderable yielded from here is rendered without the height: the Panel gets it passed on.
        keys, above, below = self._keys(options.height)
        yield Panel(Rows(keys, _draw, self.cache), title=self._title(), subtitle=self._subtitle(above, below),
                    title_align="left", subtitle_align="left", border_style="green", height=options.height)

    def _subtitle(self, above: int, below: int) -> Text | None:
        parts = []
        if self.pinned:
            parts.append(("pinned", "cyan"))
        if self.filter:
            parts.append((f"/{one_line(self.filter)} ({len(self.lines())})", "bold yellow"))
        if above:
            parts.append((f"↑{above} older", ""))
        if below:
            parts.append((f"↓{below} newer", "bold"))
        if not parts:
            return None
        subtitle = Text()
        for index, (part, style) in enumerate(parts):
            subtitle.append(" · " if index else "", style="dim")
            subtitle.append(part, style=style)
        return subtitle

    def _keys(self, height: int | None) -> tuple[list[Hashable], int, int]:
        """Rows that fit: the latest actions (up to a third), a rule, then the latest log lines (or
        older ones, `scroll` rows up), and how many log lines are above and below those shown."""
        room = None if height is None else max(0, height - 2)
        step = self.step
        keys: list[Hashable] = []
        if step is not None and step.actions:
            shown = step.actions if room is None else step.actions[-max(1, room // 3):]
            elapsed = dict(self.elapsed_s)
            for action in shown:
                keys.append((action, elapsed.get(action.span_id, 0)))
                keys += [_Output(line) for line in action.output]
            keys.append(_RULE)
        logs = self.lines()
        if room is None:
            return keys + list(logs), 0, 0
        room -= len(keys)
        if room <= 0:  # a panel too short even for its actions
            return keys[:len(keys) + room], len(logs), 0
        end = len(logs) - min(self.scroll, max(0, len(logs) - room))
        start = max(0, end - room)
        return keys + list(logs[start:end]), start, len(logs) - end

    def _title(self) -> Text:
        step = self.step
        if step is None:
            return Text("General Logs", style="bold")
        title = Text.assemble(("Logs for Step: ", "bold"), (one_line(self.label or step.step_id), "bold cyan"), " ",
                              (step.state, state_style(step.state)))
        if step.input_tokens or step.output_tokens:
            title.append(f" {tokens(step.input_tokens)} in / {tokens(step.output_tokens)} out")
        if step.cost_usd:
            title.append(f" {cost(step.cost_usd)}")
        if step.error and step.state not in LIVE_STATE_NAMES:
            title.append(f" {one_line(step.error)}", style="red")
        return title


def filtered(lines: tuple[LogLine, ...], text: str) -> tuple[LogLine, ...]:
    """The lines a filter keeps, case-blind: `@NAME` words keep the lines of a component whose name
    starts with NAME (`@ai` is ai_service; several: any of them), the rest of the text (if any) keeps
    the lines holding it in their component or message, or at that level (`error`)."""
    if not text:
        return lines
    words = text.casefold().split(" ")
    components = tuple(word[1:] for word in words if word.startswith("@") and len(word) > 1)
    folded = " ".join(word for word in words if not word.startswith("@")).strip()
    return tuple(line for line in lines
                 if (not components or line.component.casefold().startswith(components))
                 and (not folded or folded in line.message.casefold() or folded in line.component.casefold()
                      or folded == line.level.casefold()))


def _draw(key: Hashable, width: int) -> Text:
    """A LogLine, a reply line (str), the rule, or (ActionLine, whole seconds it has run while it runs)."""
    if isinstance(key, LogLine):
        return _log_line(key, width)
    if key is _RULE:
        return Text(_RULE, style="dim", overflow="crop")
    if isinstance(key, _Output):
        line = key.line
        stderr = line.startswith(STDERR_MARK)
        return Text.assemble(("  │ ", "dim"), (one_line(line.removeprefix(STDERR_MARK)), "red" if stderr else ""),
                             overflow="ellipsis")
    if isinstance(key, str):
        return Text(one_line(key), overflow="ellipsis")
    action, elapsed_s = cast("tuple[ActionLine, int]", key)  # the only other key this module makes
    return _action(action, elapsed_s, width)


class _Output(NamedTuple):
    """A line a failed command printed, shown under it (stderr's in red)."""

    line: str


def _action(action: ActionLine, elapsed_s: int, width: int) -> Text:
    """Glyph, name, duration and summary. A running action's duration is the whole seconds it has run,
    growing (none in its first second): never a time that is not true, such as `0.0 ms`.

    A long name (a command line) is cut to leave room for the time and the summary (`exit 1`), which
    say how it went: the whole line is in `output` and the log files.
    """
    if action.ended_ns is None:
        glyph, style = _RUNNING
    else:  # an ActionLine made without an outcome: by its status alone
        glyph, style = _ENDED.get(action.outcome or (Outcome.FAILED if action.failed else Outcome.OK).value,
                                  _ENDED[Outcome.OK.value])
    if action.ended_ns is not None:
        took = f"  {duration((action.ended_ns - action.started_ns) / 1e6)}"
    else:
        took = f"  {duration(elapsed_s * 1000)}" if elapsed_s else ""
    summary = f"  {one_line(action.summary)}" if action.summary else ""
    row = Text(overflow="ellipsis")
    row.append(f"{glyph} ", style=style)
    row.append(cut_before(one_line(action.name), took + summary, width - cell_len(row.plain)))
    row.append(took, style="dim")
    row.append(summary, style=style if action.failed else "")
    return row


def _log_line(line: LogLine, width: int) -> Text:
    row = Text(overflow="ellipsis")
    row.append(time.strftime("%H:%M:%S ", time.localtime(line.time_ns / 1e9)), style="dim")
    level = LEVEL_STYLES.get(line.level, "")
    if width < _NARROW:
        row.append(one_line(line.message), style=level)
        return row
    row.append(f"{line.level:<5} ", style=level)
    row.append(f"{line.component}: ", style="dim")
    row.append(one_line(line.message))
    return row
