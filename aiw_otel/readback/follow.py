"""`aiw-otel logs --follow`: a line per finished span and per log record, as they reach the files.

Each live file is followed through an open handle, so rotation (the file renamed to `.1`, a new
one created) costs nothing: when the name points at a new file, the old handle is read to its end
first (the writer closed it before renaming, so that end is final), then the new file from its
start. Nothing is read twice and nothing between the two is lost. The live files are shown from
their start, so a run followed from its beginning is shown whole.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import IO, Callable, Iterable, Sequence

from aiw_otel import conventions as sc
from aiw_otel.logdir import GZIP_SUFFIX, SIGNAL_FILES
from aiw_otel.readback.describe import log_line, span_line
from aiw_otel.readback.files import (
    MAX_LINE_BYTES,
    ReadbackError,
    backup_index,
    denied_as_error,
    Warn,
    find_files,
    parse_line,
    warn_on_stderr,
)
from aiw_otel.regular_file import NotRegularFile, open_regular
from aiw_otel.readback.records import LogRecord, Span, decode_or_warn
from aiw_otel.readback.select import Selection
from aiw_otel.readback.stream import known_steps, time_written
from aiw_otel.stepref import StepNotFound, StepRef, resolve

#: How often the files are polled.
POLL_INTERVAL_S = 0.5
FOLLOWED_SIGNALS = ("traces", "logs")


class Tail:
    """The complete lines appended to one live file since the last `read`, across rotations."""

    def __init__(self, path: Path, warn: Warn = warn_on_stderr) -> None:
        self.path = path
        self._warn = warn
        self._file: IO[bytes] | None = None
        self._identity: tuple[int, int] | None = None
        self._pending = b""
        self._line = 0
        self._skipping = False

    def read(self) -> list[tuple[str, bytes]]:
        """(`file:line`, line) pairs, oldest first."""
        if self._file is None and not self._open():
            return []
        lines = self._drain()
        if self._rotated():
            lines += self._drain()
            if self._pending:
                self._warn(f"{self.path} (now rotated):{self._line + 1}: incomplete last line (torn by a crash); skipped")
            self.close()
            if self._open():
                lines += self._drain()
        return lines

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        self._file, self._identity, self._pending, self._line, self._skipping = None, None, b"", 0, False

    def _open(self) -> bool:
        try:
            with denied_as_error(self.path):
                self._file = open_regular(self.path)
        except FileNotFoundError:  # not created yet, or between a rotation and the next write
            return False
        except NotRegularFile as error:  # a FIFO blocks, a link to /dev/zero never ends
            raise ReadbackError(error.strerror or str(error), source=str(self.path)) from None
        status = os.fstat(self._file.fileno())
        self._identity = (status.st_dev, status.st_ino)
        return True

    def _rotated(self) -> bool:
        try:
            status = os.stat(self.path)
        except FileNotFoundError:
            return True
        return (status.st_dev, status.st_ino) != self._identity

    def _drain(self) -> list[tuple[str, bytes]]:
        assert self._file is not None
        lines = []
        while chunk := self._file.read(1 << 20):
            *complete, self._pending = (self._pending + chunk).split(b"\n")
            for raw in complete:
                self._line += 1
                if self._skipping:  # the end of a line too long to keep
                    self._skipping = False
                    continue
                lines.append((f"{self.path}:{self._line}", raw.rstrip(b"\r")))
            if len(self._pending) > MAX_LINE_BYTES:
                if not self._skipping:
                    self._warn(f"{self.path}:{self._line + 1}: line longer than {MAX_LINE_BYTES >> 20} MiB; skipped")
                self._pending, self._skipping = b"", True
        return lines


def live_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The live files to follow: a directory's traces and logs files (created later if absent), or files as given."""
    found: list[Path] = []
    for given in paths:
        path = Path(given)
        with denied_as_error(given):
            if path.is_dir():
                found += [path / SIGNAL_FILES[signal] for signal in FOLLOWED_SIGNALS]
            elif not path.is_file():
                raise ReadbackError("no such file or directory", source=os.fspath(given))
            elif backup_index(path) or path.name.endswith(GZIP_SUFFIX):
                raise ReadbackError("a rotated backup never grows; --follow takes a log directory or a live file",
                                    source=os.fspath(given))
            else:
                found.append(path)
    return found


class FollowedStep:
    """`--step` while following: resolved against the steps in the files when following starts and,
    while no step fits yet (it has not run), against the steps as they appear: their ids with their
    log lines, their names with their spans. Until then the word is taken as the exact id."""

    def __init__(self, typed: str, steps: Sequence[StepRef]) -> None:
        self._typed = typed
        self._steps = {ref.step_id: ref.name for ref in steps}
        self.step_id: str | None = None
        try:
            self.step_id = resolve(typed, steps)
        except StepNotFound as error:
            if error.candidates:  # several steps fit: the user must say which
                raise

    def learn(self, spans: Sequence[Span], logs: Sequence[LogRecord]) -> str:
        """The step id to keep, after taking in the steps of a newly read line."""
        if self.step_id is not None:
            return self.step_id
        before = dict(self._steps)
        for span in spans:
            if span.is_step and span.step_id:
                self._steps[span.step_id] = span.attributes.get(sc.AIW_STEP_NAME) or self._steps.get(span.step_id)
        for record in logs:
            if record.step_id:
                self._steps.setdefault(record.step_id, None)
        if self._steps != before:
            try:
                self.step_id = resolve(self._typed, [StepRef(i, name) for i, name in self._steps.items()])
            except StepNotFound:
                pass  # none fits yet, or several do: wait for more steps
        return self.step_id or self._typed


def follow(
    paths: Sequence[str | os.PathLike[str]],
    emit: Callable[[Span | LogRecord], None],
    selection: Selection = Selection(),
    *,
    stop: threading.Event | None = None,
    interval_s: float = POLL_INTERVAL_S,
    warn: Warn = warn_on_stderr,
) -> None:
    """Poll until `stop` is set (or forever: the CLI stops it with Ctrl-C), emitting records in time order per poll.

    `selection.step` is resolved as in every other mode (StepNotFound when it fits several steps)."""
    tails = [Tail(path, warn) for path in live_files(paths)]
    step = FollowedStep(selection.step, known_steps(find_files(paths, FOLLOWED_SIGNALS), warn)) \
        if selection.step is not None else None
    stop = stop or threading.Event()
    try:
        while True:
            stopping = stop.is_set()  # a last poll after the stop request: what was written before it is shown
            batch: list[Span | LogRecord] = []
            for tail in tails:
                for where, raw in tail.read():
                    document = parse_line(where, raw, warn)
                    if document is not None:
                        spans, logs = decode_or_warn(where, document, warn)
                        if step is not None:
                            selection = selection._replace(step=step.learn(spans, logs))
                        batch += [s for s in spans if selection.keeps_span(s)]
                        batch += [r for r in logs if selection.keeps_log(r)]
            for record in sorted(batch, key=time_written):
                emit(record)
            if stopping:
                return
            stop.wait(interval_s)
    finally:
        for tail in tails:
            tail.close()


def plain_line(record: Span | LogRecord) -> str:
    return span_line(record) if isinstance(record, Span) else log_line(record)
