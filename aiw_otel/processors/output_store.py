"""What the commands of a run printed, kept for `output STEP`: bounded, whatever the run prints.

A command's span records its output lines as `command_output` events (already redacted, capped per
stream by the instrumentation). While the command runs, its live span is read on demand, so the
output grows in view; when it ends, its lines are copied here and the span is let go. Only the
last `commands` commands keep their lines (a run of thousands of commands holds no more than
that), and each keeps at most `chars` characters, its newest ones: older output is in the
telemetry files (`aiw-otel logs`).
"""

from __future__ import annotations

import collections
from typing import Any, Iterable, Mapping

from aiw_otel import conventions as sc
from aiw_otel.runview import STDERR_MARK

#: Commands whose output is kept after they end, and characters kept per command.
KEPT_COMMANDS = 32
KEPT_CHARS = 128 * 1024


def output_lines(events: Iterable[tuple[str, Mapping[str, Any]]]) -> list[str]:
    """The lines a command printed, from its span's events (name, attributes); stderr's marked."""
    lines = []
    for name, attributes in events:
        if name == sc.EV_COMMAND_OUTPUT and sc.AIW_COMMAND_OUTPUT_LINE in attributes:
            text = str(attributes[sc.AIW_COMMAND_OUTPUT_LINE])
            lines.append(STDERR_MARK + text if attributes.get(sc.AIW_COMMAND_STREAM) == "stderr" else text)
    return lines


class OutputStore:
    """span id -> the lines its command printed; not thread-safe (the tracker holds its lock)."""

    def __init__(self, commands: int = KEPT_COMMANDS, chars: int = KEPT_CHARS) -> None:
        self._commands = commands
        self._chars = chars
        self._kept: collections.OrderedDict[int, tuple[tuple[str, ...], int]] = collections.OrderedDict()

    def keep(self, span_id: int, lines: list[str], printed: int) -> None:
        """Keep the newest of `lines` that fit in `chars` for `span_id` (`printed`: how many lines the
        command printed in all), letting go of the oldest command kept."""
        total, start = 0, len(lines)
        while start and total + len(lines[start - 1]) <= self._chars:
            start -= 1
            total += len(lines[start])
        self._kept[span_id] = (tuple(lines[start:]), printed)
        while len(self._kept) > self._commands:
            self._kept.popitem(last=False)

    def get(self, span_id: int) -> tuple[tuple[str, ...], int] | None:
        """(the lines kept, how many the command printed), or None: not kept (any more)."""
        return self._kept.get(span_id)
