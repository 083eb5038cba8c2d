"""The output panel: what a step's commands printed, in place of its log lines until Esc.

Opened with `o` (the step under the cursor, else the one shown) or `output STEP`; the lines come
from the relay's `output` command (so the request is recorded, and the same text reaches `aiw-otel
ctl output`), as they stood when it was opened: `o` again takes them anew. Each command is a
heading (`$ python test_greet.py  exit 1`) over its lines, stderr's in red; Up/Down or j/k, PgUp/PgDn
and Home/End scroll (`scroll`: rows up from the last line, as in the log panel).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Hashable, NamedTuple, cast

from rich.console import Console, ConsoleOptions, RenderResult
from rich.panel import Panel
from rich.text import Text

from aiw_otel.console.rows import RowCache, Rows
from aiw_otel.console.style import cut_before
from aiw_otel.control.relay import output_heading_parts
from aiw_otel.present import OUTCOME_STYLES, Outcome
from aiw_otel.runview import STDERR_MARK, CommandOutput
from aiw_otel.terminal_text import one_line

#: Rows of the panel's border.
_CHROME_ROWS = 2


class _Heading(NamedTuple):
    text: str
    style: str
    #: What follows the text and must stay in view (how the command went): the text is cut first.
    after: str = ""


class _Printed(NamedTuple):
    """One line a command printed (its row number keeps equal lines apart in the row cache)."""

    row: int
    line: str


def _rows(commands: tuple[CommandOutput, ...]) -> tuple[Hashable, ...]:
    rows: list[Hashable] = []
    for command in commands:
        outcome = next((o for o in Outcome if o.value == command.outcome), None)
        style = "bold " + (OUTCOME_STYLES[outcome] if outcome is not None else "yellow")
        line, after = output_heading_parts(command)
        rows.append(_Heading(line, style.strip(), after))
        rows += [_Printed(len(rows) + index, line) for index, line in enumerate(command.lines)]
        if not command.lines and command.kept:
            rows.append(_Heading("  (nothing printed)", "dim"))
    return tuple(rows) or (_Heading("no command ran in this step", "dim"),)


@dataclass(frozen=True)
class OutputView:
    #: What the step is shown as, and when its output was taken (HH:MM:SS).
    label: str
    taken_at: str
    rows: tuple[Hashable, ...]
    scroll: int = 0
    cache: RowCache = field(default_factory=RowCache, compare=False, repr=False)

    @classmethod
    def of(cls, label: str, commands: tuple[CommandOutput, ...], taken_at: str) -> OutputView:
        return cls(label, taken_at, _rows(commands))

    def clamped(self, scroll: int, height: int) -> int:
        """`scroll` kept between the last line and the first (the panel is `height` rows tall)."""
        return min(max(0, scroll), max(0, len(self.rows) - max(1, height - _CHROME_ROWS)))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        room = max(0, (options.height or len(self.rows) + _CHROME_ROWS) - _CHROME_ROWS)
        end = len(self.rows) - min(self.scroll, max(0, len(self.rows) - room))
        start = max(0, end - room)
        above, below = start, len(self.rows) - end
        subtitle = Text(f"as of {self.taken_at} · o: again · Esc: back", style="dim")
        if above:
            subtitle.append(f" · ↑{above} more")
        if below:
            subtitle.append(f" · ↓{below} more", style="bold")
        title = Text.assemble(("Output of Step: ", "bold"), (one_line(self.label), "bold cyan"))
        yield Panel(Rows(self.rows[start:end], _draw, self.cache), title=title, subtitle=subtitle, title_align="left",
                    subtitle_align="left", border_style="magenta", height=options.height)


def _draw(key: Hashable, width: int) -> Text:
    if isinstance(key, _Heading):
        after = one_line(key.after)
        return Text.assemble((cut_before(one_line(key.text), after, width) + after, key.style),
                             overflow="ellipsis")  # a span: rows render no base style
    line = cast(_Printed, key).line  # the only other row this module makes
    stderr = line.startswith(STDERR_MARK)
    return Text.assemble(("  ", ""), (one_line(line), "red" if stderr else ""), overflow="ellipsis")
