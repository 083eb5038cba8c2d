"""The command line: what is being typed, where the cursor is, and which keys do what now.

Replies to what was typed go to the reply area (`reply.py`), never into this panel's border.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, RenderResult
from rich.panel import Panel
from rich.text import Text

from aiw_otel.terminal_text import one_line

_PROMPT = "> "


@dataclass(frozen=True)
class Prompt:
    text: str = ""
    cursor: int = 0
    #: A short line under the input: the keys that act now, or "press q to quit" at the end.
    hint: str = ""
    hint_style: str = "dim"

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
        title = "[b]Filter[/b] (Enter keeps, Esc clears)" if self.text.startswith("/") else "[b]Command[/b] (help)"
        hint = Text(one_line(self.hint), style=self.hint_style) if self.hint else None
        yield Panel(line, title=title, title_align="left", subtitle=hint, subtitle_align="left")
