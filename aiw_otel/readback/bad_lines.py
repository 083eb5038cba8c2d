"""Warnings about bad lines, bounded per file: a file that is not telemetry costs a few lines, not one per line.

`aiw-otel logs /etc/passwd`, or a directory holding a corrupt backup, used to print a warning for
every line (megabytes in a CI log, a flooded terminal). Every reader still reports each bad line
(`path:line: why`) to its `Warn`; a front end hands them a `BadLines`, which names the first
SHOWN_PER_FILE of each file, counts the rest, and at the end (`finish`) says in one line per file
how many more there were, or that none of its lines could be read: then it is not ours at all.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path
from typing import Iterable

from aiw_otel.readback.files import SignalFile, Warn, open_binary, warn_on_stderr

#: Bad lines named per file; three show what is wrong, a fourth would only repeat it.
SHOWN_PER_FILE = 3

#: Bad line numbers remembered per file (to count a line read twice once); past them a file's bad
#: lines are counted as they come in order (a forward read), so memory stays bounded whatever the file.
REMEMBERED_PER_FILE = 10_000

#: `path:line: why` (a line) or `path: why` (the whole file): a warning's file and line.
_WHERE = re.compile(r"(?P<file>.+?)(?::(?P<line>\d+))?: ")


class BadLines:
    """A `Warn` bounding what reaches `show`: per file, the first bad lines and a count of the rest.

    A line reported twice (a command may read a file twice: `logs --since` chooses runs, then shows
    them) counts and shows once; a warning about a whole file (permission denied, a broken gzip
    stream) is shown once, whatever the count."""

    def __init__(self, show: Warn = warn_on_stderr) -> None:
        self._show = show
        self._bad: dict[str, set[int]] = {}
        #: file -> (bad lines past the remembered ones, the highest of their numbers).
        self._beyond: dict[str, tuple[int, int]] = {}
        self._said: set[str] = set()
        self._unreadable: set[str] = set()

    def __call__(self, message: str) -> None:
        where = _WHERE.match(message)
        if where is None or where.group("line") is None:
            if where is not None:
                self._bad.setdefault(where.group("file"), set())
            if message not in self._said:
                self._said.add(message)
                self._show(message)
            return
        lines = self._bad.setdefault(where.group("file"), set())
        number = int(where.group("line"))
        if len(lines) >= REMEMBERED_PER_FILE and number not in lines:
            count, highest = self._beyond.get(where.group("file"), (0, 0))
            if number > highest:  # not seen before: past the remembered ones, lines come in order
                self._beyond[where.group("file")] = (count + 1, number)
        elif number not in lines:
            lines.add(number)
            if len(lines) <= SHOWN_PER_FILE:
                self._show(message)

    def finish(self) -> None:
        """One line per file with more bad lines than were named, or with no line readable at all.

        The file's lines are counted now, only for a file that had a bad one; a torn last line
        (a live file being written) is not counted against it."""
        for file, bad in self._bad.items():
            total = _complete_lines(Path(file))
            if total is None:  # it could not be opened: its own warning said why
                self._unreadable.add(file)
                continue
            beyond, highest = self._beyond.get(file, (0, 0))
            bad_complete = sum(1 for number in bad if number <= total) + beyond - (highest > total)
            if total and bad_complete >= total:
                self._unreadable.add(file)
                self._show(f"{file}: not an OTLP JSON Lines file (0 of {total} lines readable); skipped")
            elif len(bad) + beyond > SHOWN_PER_FILE:
                self._show(f"{file}: {len(bad) + beyond - SHOWN_PER_FILE} more bad lines skipped")  # of those read:
                # `logs --last` reads the end of a file, a follow stopped by Ctrl-C as far as it got
        self._bad.clear()
        self._beyond.clear()

    def none_readable(self, files: Iterable[SignalFile]) -> bool:
        """After `finish`: whether every one of `files` was unreadable or foreign (the user named the wrong PATH)."""
        paths = [str(file.path) for file in files]
        return bool(paths) and all(path in self._unreadable for path in paths)


def _complete_lines(path: Path) -> int | None:
    """The newline-ended lines of `path` (up to where a broken gzip stream ends), None when it cannot be opened."""
    lines = 0
    try:
        with open_binary(path) as stream:
            while chunk := stream.read(1 << 20):
                lines += chunk.count(b"\n")
    except (OSError, EOFError, zlib.error):
        return lines or None
    return lines
