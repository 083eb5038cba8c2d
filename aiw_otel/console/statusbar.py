"""The status bar: the run in numbers (steps by state, lost telemetry, tokens, cost) and its last word.

Most important first, since a narrow terminal cuts the line's end: the counts, then records the
sinks dropped (a reason to distrust the logs), then usage, then the last message.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, RenderResult
from rich.panel import Panel
from rich.text import Text

from aiw_otel.console.style import STATE_ORDER, STATE_STYLES, cost, one_line, tokens
from aiw_otel.runview import RunView

#: Below this width the counts use short labels.
_WIDE = 110
_SHORT = {"Pending": "pend", "Running": "run", "Paused": "paused", "Completed": "done", "Failed": "failed",
          "Cancelled": "cancel", "Skipped": "skip"}


@dataclass(frozen=True)
class StatusBar:
    counts: tuple[tuple[str, int], ...]
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    dropped: int = 0
    last_message: str = ""

    @classmethod
    def of(cls, view: RunView) -> StatusBar:
        counts = view.counts()
        return cls(tuple((state, counts[state]) for state in STATE_ORDER if state in counts), view.input_tokens,
                   view.output_tokens, view.cost_usd, view.dropped, view.last_message)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        wide = options.max_width >= _WIDE
        line = Text(no_wrap=True, overflow="ellipsis")
        for index, (state, count) in enumerate(self.counts):
            line.append(" " if index else "")
            line.append(f"{count} {state.lower() if wide else _SHORT[state]}", style=STATE_STYLES[state])
        if self.dropped:
            line.append(f" | dropped {self.dropped}", style="bold red")
        line.append(f" | {tokens(self.input_tokens)} in / {tokens(self.output_tokens)} out tokens")
        if self.cost_usd:
            line.append(f" | {cost(self.cost_usd)}")
        if self.last_message:
            line.append(f" | {one_line(self.last_message)}", style="dim")
        yield Panel(line, title="[b]Status[/b]")
