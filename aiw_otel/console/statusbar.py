"""The status bar: the run in numbers (steps by state, lost telemetry, tokens, cost) and its last word.

Most important first, since a narrow terminal cuts the line's end: the counts, then records the
sinks dropped (a reason to distrust the logs), then usage, then the last message.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, RenderResult
from rich.panel import Panel
from rich.text import Text

from aiw_otel.console.style import cost, tokens
from aiw_otel.model import State
from aiw_otel.present import STATE_ORDER, state_style
from aiw_otel.runview import RunView
from aiw_otel.terminal_text import one_line

#: Below this width the counts use short labels.
_WIDE = 110
_SHORT = {State.PENDING.value: "pend", State.RUNNING.value: "run", State.PAUSED.value: "paused",
          State.COMPLETED.value: "done", State.FAILED.value: "failed", State.CANCELLED.value: "cancel",
          State.SKIPPED.value: "skip"}


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
        return cls(tuple((s.value, counts[s.value]) for s in STATE_ORDER if s.value in counts), view.input_tokens,
                   view.output_tokens, view.cost_usd, view.dropped, view.last_message)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        wide = options.max_width >= _WIDE
        line = Text(no_wrap=True, overflow="ellipsis")
        for index, (state, count) in enumerate(self.counts):
            line.append(" " if index else "")
            line.append(f"{count} {state.lower() if wide else _SHORT[state]}", style=state_style(state))
        if self.dropped:
            line.append(f" | dropped {self.dropped}", style="bold red")
        line.append(f"{' | ' if line else ''}{tokens(self.input_tokens)} in / {tokens(self.output_tokens)} out tokens")
        if self.cost_usd:
            line.append(f" | {cost(self.cost_usd)}")
        if self.last_message:
            line.append(f" | {one_line(self.last_message)}", style="dim")
        yield Panel(line, title="[b]Status[/b]")
