"""The header: which plan, how it stands, for how long, and where to steer it from (the control
socket, and the web monitor's address when `--web` serves one: shown here, on the user's own screen,
because the console hides whatever was printed before it)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, RenderResult
from rich.panel import Panel
from rich.text import Text

from aiw_otel.console.style import state_text
from aiw_otel.present import duration_between
from aiw_otel.runview import RunView
from aiw_otel.terminal_text import one_line


@dataclass(frozen=True)
class Header:
    plan_name: str
    state: str
    elapsed: str = ""
    control_socket: str | None = None
    web_url: str | None = None

    @classmethod
    def of(cls, view: RunView, now_ns: int, web_url: str | None = None) -> Header:
        return cls(view.plan_name, view.state, duration_between(view.started_ns, view.ended_ns, now_ns), view.control_socket,
                   web_url)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        line = Text.assemble("Plan: ", (one_line(self.plan_name) or "-", "bold"), " | Status: ", state_text(self.state),
                             justify="center", no_wrap=True, overflow="ellipsis")
        if self.elapsed:
            line.append(f" | Elapsed: {self.elapsed}")
        if self.control_socket:
            line.append(f" | Control: {self.control_socket}", style="dim")
        web = Text.assemble(("web: ", "dim"), self.web_url) if self.web_url else None
        yield Panel(line, title="[b]AIWhisperer Runner[/b]", subtitle=web, subtitle_align="right")
