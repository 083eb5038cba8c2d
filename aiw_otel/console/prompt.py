"""The command line: what is being typed, where the cursor is, and the answer to the last command."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, RenderResult
from rich.panel import Panel
from rich.text import Text

from aiw_otel.console.style import one_line

#: Tones of a notice (a command's reply, a Ctrl-C warning) and their colours.
TONES = {"ok": "green", "error": "red", "warn": "yellow", "info": "dim"}
_PROMPT = "> "


@dataclass(frozen=True)
class Prompt:
    text: str = ""
    cursor: int = 0
    notice: str = ""
    tone: str = "info"

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        # Borders and padding take 4 columns, the prompt 2, the cursor may sit after the last char.
        room = max(1, options.max_width - 4 - len(_PROMPT) - 1)
        start = max(0, self.cursor - room)
        shown = self.text[start:start + room + 1]
        at = self.cursor - start
        line = Text(no_wrap=True, overflow="crop")
        line.append(_PROMPT, style="bold")
        line.append(shown[:at])
        line.append(shown[at:at + 1] or " ", style="reverse")
        line.append(shown[at + 1:])
        notice = Text(one_line(self.notice.split("\n", 1)[0]), style=TONES.get(self.tone, "")) if self.notice else None
        yield Panel(line, title="[b]Command[/b] (help)", title_align="left", subtitle=notice, subtitle_align="left")
