"""Command spans: the semconv CLI client span, output accounting, and TRACEPARENT for the child.

Output counts are always exact; what is *recorded* of the output (span events and DEBUG records,
one per line) is capped per stream so a command printing a gigabyte costs a bounded amount of
telemetry. Bytes that are not UTF-8 are decoded with replacement characters, never raised on.

Each line is redacted *before* it is cut to `max_output_line`, so no prefix of a secret survives
across the cut. A private key spans many lines, and its body lines mean nothing alone: from a line
that opens one (`-----BEGIN ... PRIVATE KEY`) to the line that closes it, lines are held back and
redacted as one text, then recorded. A key's body can also come without its BEGIN line (`tail` of
a key file): a run of lines that look like a key body (base64 only, the first at least 40
characters) is held too, and redacted as a key if an END line closes it, else recorded line by
line as usual. Nothing else is delayed, and what is held is bounded (`_HOLD_LINES`, `_HOLD_CHARS`):
past that, a key is cut off and redacted as it stands, and its remaining lines are redacted as the
rest of a key (a run of body-like lines without END is recorded line by line).
"""

from __future__ import annotations

import os
import re
import shlex
import signal
from typing import Mapping, Sequence

from opentelemetry import propagate, trace
from opentelemetry.propagators._envcarrier import EnvironmentSetter
from opentelemetry.trace import SpanKind

from aiw_otel import conventions as sc
from aiw_otel.instrument.base import Instruments, Operation
from aiw_otel.model import ComponentType, LogLevel

STREAMS = ("stdout", "stderr")
#: Where a private key block opens or closes, as the redaction rule's PEM shape sees it.
_KEY_EDGE = re.compile(r"-----(BEGIN|END)[A-Z0-9 ]* PRIVATE KEY")
#: The most of an open key block held back per stream before it is redacted as it stands.
_HOLD_LINES = 200
_HOLD_CHARS = 64 * 1024
#: What a held-back remainder is redacted after: the rest of a key whose start was already released.
_KEY_RESUMED = "-----BEGIN PRIVATE KEY-----\n"
#: A line that may be a private key's body: base64 only (the first of a run at least 40 characters).
_KEY_BODY_START = re.compile(r"[ \t]*[A-Za-z0-9+/]{40,}={0,2}[ \t]*")
_KEY_BODY_MORE = re.compile(r"[ \t]*[A-Za-z0-9+/]+={0,2}[ \t]*")
_KEY_END = re.compile(r"[ \t]*-----END[A-Z0-9 ]* PRIVATE KEY")


def _opens_key(text: str, open_already: bool) -> bool:
    """Whether a key block is open at the end of `text` (open_already: it was before `text`)."""
    edges = _KEY_EDGE.findall(text)
    return edges[-1] == "BEGIN" if edges else open_already


def split_command(command: str | Sequence[str]) -> list[str]:
    if isinstance(command, str):
        try:
            return shlex.split(command)
        except ValueError:  # unbalanced quotes: still name the executable
            return command.split()
    return [str(part) for part in command]


def exit_error_type(code: int) -> str:
    """Exit code as a string (like an HTTP status); a negative code is the signal that killed it."""
    if code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return str(code)
    return str(code)


class _StreamCount:
    __slots__ = ("bytes", "lines", "recorded", "pending", "pending_cut", "held", "held_chars", "resumed",
                 "bodylike")

    def __init__(self) -> None:
        self.bytes = 0
        self.lines = 0
        self.recorded = 0  # lines recorded as a DEBUG record (the first of them also as span events)
        self.pending = b""
        self.pending_cut = False  # the pending line was longer than what is kept of it
        self.held: list[str] = []  # lines of an open private key block, not recorded yet
        self.held_chars = 0
        self.resumed = False  # the held lines continue a key block already released (past the hold limit)
        self.bodylike = False  # the held lines look like a key body, no BEGIN seen: a key only if END follows


class Command(Operation):
    """`with host.command(argv) as cmd: Popen(argv, env=cmd.child_env()); cmd.started(pid); ...; cmd.exited(rc)`."""

    component = ComponentType.TERMINAL_INTERACTION

    def __init__(
        self,
        instruments: Instruments,
        parent: Operation,
        command: str | Sequence[str],
        cwd: str | None = None,
        shown_as: str | None = None,
    ) -> None:
        self.argv = split_command(command)
        self.command_line = shown_as or (command if isinstance(command, str) else shlex.join(self.argv))
        self.cwd = cwd
        executable = os.path.basename(self.argv[0]) if self.argv else "command"
        attributes: dict[str, object] = {
            sc.PROCESS_EXECUTABLE_NAME: executable,
            sc.PROCESS_COMMAND_ARGS: self.argv,
            sc.AIW_COMMAND_LINE: self.command_line,
        }
        if cwd is not None:
            attributes[sc.PROCESS_WORKING_DIRECTORY] = str(cwd)
        super().__init__(instruments, executable, kind=SpanKind.CLIENT, attributes=attributes, parent=parent)
        self._streams = {name: _StreamCount() for name in STREAMS}
        self.exit_code: int | None = None

    def child_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """A copy of the environment with TRACEPARENT/TRACESTATE set to this span (env-carrier spec)."""
        env = dict(os.environ if base is None else base)
        propagate.inject(env, context=trace.set_span_in_context(self.span), setter=EnvironmentSetter())
        return env

    def started(self, pid: int) -> None:
        self.set_attribute(sc.PROCESS_PID, pid)

    def output(self, stream: str, data: bytes | str) -> None:
        """Account for a chunk of output (any size, any encoding); record complete lines up to the cap."""
        counts = self._streams[stream]
        chunk = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
        counts.bytes += len(chunk)
        counts.lines += chunk.count(b"\n")
        if counts.recorded >= self._instruments.max_output_log_lines:
            return
        lines = (counts.pending + chunk).split(b"\n")
        cap = self._instruments.max_output_line * 4
        last = lines.pop()
        counts.pending = last[:cap]
        counts.pending_cut = counts.pending_cut or len(last) > cap
        for line in lines:
            self._record_line(stream, counts, line)

    def exited(self, code: int) -> None:
        self.exit_code = code
        self.set_attribute(sc.PROCESS_EXIT_CODE, code)
        if code != 0:
            self.set_error(exit_error_type(code), f"command exited with {exit_error_type(code)}")

    def _record_line(self, stream: str, counts: _StreamCount, raw: bytes) -> None:
        """Decode a complete line and record it redacted, or hold it while a key block is open."""
        instruments = self._instruments
        if counts.recorded >= instruments.max_output_log_lines:
            return
        cap = instruments.max_output_line * 4
        cut, counts.pending_cut = counts.pending_cut or len(raw) > cap, False
        text = raw[:cap].decode("utf-8", "replace").rstrip("\r")
        if cut:  # the end of what is kept may be the start of a secret cut in two: drop that token
            space = text.rfind(" ", max(0, len(text) - 256))
            text = text[:space] if space != -1 else text[: max(0, len(text) - 256)]
        redactor = instruments.redactor
        if redactor is None:
            self._emit_line(stream, counts, text)
            return
        if counts.bodylike:
            if _KEY_END.match(text):  # a key whose BEGIN line was not in this output: redacted as one
                counts.bodylike, counts.resumed = False, True
                counts.held.append(text)
                self._release(stream, counts)
                return
            if (_KEY_BODY_MORE.fullmatch(text) and len(counts.held) < _HOLD_LINES
                    and counts.held_chars < _HOLD_CHARS):
                counts.held.append(text)
                counts.held_chars += len(text)
                return
            self._release_lines(stream, counts)  # not a key after all: each line as it would have been
        if not counts.held and not counts.resumed and not _opens_key(text, False):
            if _KEY_BODY_START.fullmatch(text):
                counts.bodylike = True
                counts.held.append(text)
                counts.held_chars += len(text)
                return
            self._emit_line(stream, counts, redactor.redact_text(text))
            return
        counts.held.append(text)
        counts.held_chars += len(text)
        if not _opens_key(text, True):
            self._release(stream, counts)
        elif len(counts.held) >= _HOLD_LINES or counts.held_chars >= _HOLD_CHARS:
            self._release(stream, counts)
            counts.resumed = True  # what follows, up to its END line, is the rest of this key

    def _release_lines(self, stream: str, counts: _StreamCount) -> None:
        """Record held body-like lines that no END line closed, each redacted on its own."""
        redactor = self._instruments.redactor
        assert redactor is not None
        held, counts.held, counts.held_chars, counts.bodylike = counts.held, [], 0, False
        for line in held:
            self._emit_line(stream, counts, redactor.redact_text(line))

    def _release(self, stream: str, counts: _StreamCount) -> None:
        """Redact the held lines as one text and record what is left of them, line by line."""
        if counts.bodylike:
            self._release_lines(stream, counts)
            return
        if not counts.held:
            return
        assert self._instruments.redactor is not None
        joined = "\n".join(counts.held)
        if counts.resumed:
            joined = self._instruments.redactor.redact_text(_KEY_RESUMED + joined)
        else:
            joined = self._instruments.redactor.redact_text(joined)
        counts.held, counts.held_chars, counts.resumed = [], 0, False
        for line in joined.split("\n"):
            self._emit_line(stream, counts, line)

    def _emit_line(self, stream: str, counts: _StreamCount, text: str) -> None:
        instruments = self._instruments
        if counts.recorded >= instruments.max_output_log_lines:
            return
        counts.recorded += 1
        text = text[: instruments.max_output_line]
        if counts.recorded <= instruments.max_output_events:
            self.add_event(sc.EV_COMMAND_OUTPUT, {sc.AIW_COMMAND_STREAM: stream, sc.AIW_COMMAND_OUTPUT_LINE: text})
        self.log(LogLevel.DEBUG, "command_output", text, details={"stream": stream})

    def _on_start(self) -> None:
        details: dict[str, object] = {"command": self.command_line}
        if self.cwd is not None:
            details["working_directory"] = str(self.cwd)
        self.log(LogLevel.INFO, "command_execution_started", f"Executing command: '{self.command_line}'.", details=details)

    def _on_exit(self, error: BaseException | None) -> None:
        details: dict[str, object] = {"command": self.command_line, "exit_code": self.exit_code}
        for name, counts in self._streams.items():
            if counts.pending:
                counts.lines += 1  # a last line without a newline is still a line
                self._record_line(name, counts, counts.pending)
                counts.pending = b""
            self._release(name, counts)  # a key block never closed: redacted to its end
            self.set_attribute(sc.AIW_OUTPUT_BYTES.format(stream=name), counts.bytes)
            self.set_attribute(sc.AIW_OUTPUT_LINES.format(stream=name), counts.lines)
            details[f"{name}_bytes"] = counts.bytes
            details[f"{name}_lines"] = counts.lines
        cap = self._instruments.max_output_events
        dropped = sum(max(c.lines - min(c.recorded, cap), 0) for c in self._streams.values())
        if dropped:
            self.set_attribute(sc.AIW_OUTPUT_EVENTS_DROPPED, dropped)
        failed = error is not None or (self.exit_code is not None and self.exit_code != 0)
        self.log(
            LogLevel.WARNING if failed else LogLevel.INFO,
            "command_execution_failed" if failed else "command_execution_completed",
            f"Command '{self.command_line}' {'failed' if failed else 'completed'}"
            + (f" with exit code {self.exit_code}." if self.exit_code is not None else "."),
            duration_ms=self.elapsed_ms,
            details=details,
        )
