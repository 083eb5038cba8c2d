"""The reply area: the answer to the last typed command (help, a refusal, a confirmation), shown whole.

It sits across the full width above the status bar, as tall as the reply wrapped at that width
(up to the rows the screen can give), and is not there when there is nothing to say: a reply is
never cut to fit a border. Esc closes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, RenderResult
from rich.panel import Panel
from rich.text import Text

from aiw_otel.terminal_text import safe_lines

#: Tones of a reply (a command's answer, a Ctrl-C warning) and their colours.
TONES = {"ok": "green", "error": "red", "warn": "yellow", "info": "dim"}
#: Border and padding columns of the panel.
_CHROME_COLUMNS = 4
_CHROME_ROWS = 2


@dataclass(frozen=True)
class Reply:
    message: str = ""
    tone: str = "info"

    def __bool__(self) -> bool:
        return bool(self.message)

    def _text(self) -> Text:
        return Text(safe_lines(self.message.expandtabs()), style=TONES.get(self.tone, ""))

    def height_for(self, console: Console, width: int) -> int:
        """Rows the whole reply takes at `width` columns, its border included (0: nothing to show)."""
        if not self.message:
            return 0
        room = max(1, width - _CHROME_COLUMNS)
        wrapped = self._text().wrap(console, room)
        return len(wrapped) + _CHROME_ROWS

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Panel(self._text(), title="[b]Reply[/b]", title_align="left", subtitle="Esc to close",
                    subtitle_align="right", border_style=TONES.get(self.tone, "") or "white",
                    height=options.height)

