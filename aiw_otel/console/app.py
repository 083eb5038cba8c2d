"""The live console: one thread that owns the terminal, drawing the run and reading commands.

Nothing else may write to the terminal while it runs, and nothing here blocks on the run: the
state tracker only sets an Event, and the loop waits on stdin with a short timeout, redraws when
the run changed (at most FRAME_INTERVAL_S apart, plus a tick a second for the clocks) or at once
when a key changed the command line. It reads the run and sends commands through the control relay
(its `FrontDoor`: `snapshot`, `subscribe`, `submit`), which validates and records them; it never
touches the engine or the state tracker, and prints nothing (a print would tear the screen).

`details STEP` is submitted like every command (so it is recorded, and the relay may refuse it),
and then handled here: the console checks the step against what it shows (an unknown one gets a
clear answer) and switches its log panel to it; `details` alone, or Esc, follows the active step
again. So the relay needs no way back into the console. Every reply (help, a refusal, a
confirmation) goes to the reply area, whole, until Esc or the next command.

Navigation, as in k9s and lazygit, acts when the command line is empty (no command starts with
j, k, q or /, so typing a command is never taken for navigation): Up/Down or j/k move a cursor in
the overview, Enter shows the cursor's step (as `details` does), PgUp/PgDn and Home/End scroll
its log lines, `/` starts a filter typed on the command line (live; Enter keeps it), `o` shows
what the commands of the cursor's step (else the shown one) printed, as `output STEP` does, in
place of the log lines (the arrows, j/k and the page keys scroll it then), and Esc steps back one
level: the reply, then the output, then the filter, then the pinned step (following the active one
again). While a line is typed, the keys edit it (Up/Down walk the history; Ctrl-P/Ctrl-N always do).

When the run ends the loop holds (`run(stop, hold=True)`) with "run Completed — press q to quit"
and the same keys, so a failed step can be looked at; q (or Ctrl-C, or the end of input) leaves.

Ctrl-C: in cbreak mode the terminal still sends SIGINT. Run on the main thread, `run()` installs a
handler that only calls `interrupt()`, so no KeyboardInterrupt tears a frame; run elsewhere, the
main thread must call `interrupt()` itself on KeyboardInterrupt. The first press asks for
confirmation, a second within CONFIRM_S submits `cancel`.
"""

from __future__ import annotations

import collections
import os
import select
import signal
import sys
import threading
import time
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from typing import Any, Callable, Iterator

from rich.console import Console

from aiw_otel.console.editor import LineEditor
from aiw_otel.console.keys import Key, KeyDecoder, Keystroke
from aiw_otel.console.outputview import OutputView
from aiw_otel.console.prompt import Prompt
from aiw_otel.console.reply import Reply as ReplyArea
from aiw_otel.console.screen import FOOTER_ROWS, HEADER_ROWS, Screen, shown_step
from aiw_otel.console.steplog import filtered
from aiw_otel.console.terminal import draw, full_screen, keys_mode, screen_console
from aiw_otel.control.relay import COMMAND_NAMES, FrontDoor, Reply
from aiw_otel.present import LIVE_STATE_NAMES
from aiw_otel.runview import CommandOutput, LogLine, RunView
from aiw_otel.stepref import StepNotFound, StepRef, completions, resolve

#: Redraws for run updates are at least this far apart (keys redraw at once).
FRAME_INTERVAL_S = 0.25
#: How long select() waits for a key before looking at the run again.
POLL_S = 0.05
#: A second Ctrl-C within this many seconds cancels the run.
CONFIRM_S = 3.0
CONFIRM_MESSAGE = "Press Ctrl-C again (or type cancel) to cancel the run"
SOURCE = "console"
#: What `help` adds to the relay's list of commands: the keys of this console.
KEYS_HELP = """keys, with the command line empty:
  j/k or Up/Down  move the cursor    Enter  its logs    o  what it printed
  PgUp/PgDn Home/End  scroll them    /TEXT @COMP  keep lines (/error @ai)
  Esc  back (reply, output, filter, step)    q  quit once the run has ended
typing: Tab completes, Up/Down or Ctrl-P/N: history, Ctrl-C twice: cancel"""
#: The keys that act now, under the command line.
HINT_KEYS = "↑↓/jk select · Enter details · o output · PgUp/PgDn scroll · / filter · help"
HINT_OUTPUT = "↑↓/jk PgUp/PgDn scroll · o again · Esc back to the logs"
HINT_FILTER = "filtering the log lines as you type · Enter keeps it · Esc clears it"
_END_TONES = {"Completed": "ok", "Failed": "error"}


class ConsoleApp:
    def __init__(self, relay: FrontDoor, *, console: Console | None = None, input_fd: int | None = None,
                 web_url: str | None = None) -> None:
        self._relay = relay
        self._console = console or screen_console()
        self._input_fd = sys.stdin.fileno() if input_fd is None else input_fd
        self._screen = Screen(web_url)  # the header shows it
        self._editor = LineEditor()
        self._keys = KeyDecoder()
        self._reply = ReplyArea()
        self._selected: str | None = None
        #: The overview's cursor (a step id), moved with the arrows or j/k.
        self._cursor: str | None = None
        #: Log lines shown: those holding this text; `_filtering` while it is being typed.
        self._filter = ""
        self._filtering = False
        #: Rows the log panel is scrolled up from its newest line, and the step it was scrolled in.
        self._scroll = 0
        self._scrolled_step: str | None = None
        #: The newest log line of the panel at the last frame (to keep a scrolled view in place).
        self._newest: LogLine | None = None
        #: What a step's commands printed, shown in place of its log lines (None: the log lines), and its step.
        self._output: OutputView | None = None
        self._output_step = ""
        #: The run ended and the console holds until q.
        self._ended = False
        self._quit = False
        self._view = RunView()
        #: Ctrl-C presses (monotonic times), appended from a signal handler or another thread.
        self._presses: collections.deque[float] = collections.deque()
        self._armed_until = 0.0
        self._run_changed = threading.Event()
        self._dirty = True
        self._wake_fd: int | None = None

    # -- what tests and callers may look at -------------------------------------------------
    @property
    def typed(self) -> str:
        return self._editor.text

    @property
    def notice(self) -> str:
        """The reply shown (empty: none)."""
        return self._reply.message

    @property
    def selected(self) -> str | None:
        return self._selected

    @property
    def cursor(self) -> str | None:
        return self._cursor

    @property
    def filter(self) -> str:
        return self._filter

    @property
    def scroll(self) -> int:
        return self._scroll

    # -- any thread ---------------------------------------------------------------------------
    def interrupt(self) -> None:
        """The Ctrl-C hook: safe in a signal handler and from any thread; the UI thread acts on it."""
        self._presses.append(time.monotonic())
        self._wake()

    def select_step(self, step_id: str | None) -> None:
        """Show `step_id`'s logs (None: follow the active step)."""
        self._selected = step_id
        self._dirty = True
        self._wake()

    # -- the UI thread --------------------------------------------------------------------
    def run(self, stop: threading.Event, hold: bool = False) -> None:
        """Draw and read keys until `stop` is set (with `hold`, until q after that); the terminal is
        restored however this ends."""
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_write, False)
        self._wake_fd = wake_write
        unsubscribe = self._relay.subscribe(self._run_changed.set)
        try:
            with ExitStack() as stack:
                stack.enter_context(keys_mode(self._input_fd))
                if threading.current_thread() is threading.main_thread():
                    stack.enter_context(_handlers({signal.SIGINT: self.interrupt,
                                                   getattr(signal, "SIGWINCH", None): self._wake}))
                self._update_screen()
                stack.enter_context(full_screen(self._console))
                draw(self._console, self._screen.frame)
                self._loop(stop, wake_read, hold)
        finally:
            unsubscribe()
            self._wake_fd = None
            os.close(wake_write)
            os.close(wake_read)

    def _loop(self, stop: threading.Event, wake_read: int, hold: bool) -> None:
        watched = [wake_read, self._input_fd]
        size = self._console.size
        last_frame = time.monotonic()
        second = int(last_frame)
        while not self._quit:
            if stop.is_set() and not self._ended:
                if not hold or self._input_fd not in watched:
                    return
                self._hold()
            elif self._ended and self._input_fd not in watched:
                return
            readable = select.select(watched, [], [], POLL_S)[0]
            if wake_read in readable:
                os.read(wake_read, 512)
            if self._input_fd in readable:
                self._read_keys(watched)
            elif self._keys.pending:
                self._on_keys(self._keys.flush())
            now = time.monotonic()
            self._take_presses(now)
            running = self._view.ended_ns is None and self._view.state in LIVE_STATE_NAMES
            due = self._run_changed.is_set() or (running and int(now) != second)
            resized = self._console.size != size
            if self._dirty or resized or (due and now - last_frame >= FRAME_INTERVAL_S):
                size, last_frame, second = self._console.size, now, int(now)
                if self._update_screen() or resized:
                    draw(self._console, self._screen.frame)

    def _hold(self) -> None:
        """The run is over: say so, and keep the screen until q."""
        self._ended = True
        state = self._relay.snapshot().state
        self._show(f"run {state} — press q to quit", _END_TONES.get(state, "warn"))

    def _update_screen(self) -> bool:
        self._dirty = False
        self._run_changed.clear()
        view = self._view = self._relay.snapshot()
        shown = shown_step(view, self._selected)
        lines = filtered(shown.logs if shown is not None else view.general_logs, self._filter)
        if shown is None or shown.step_id != self._scrolled_step:  # another step: from its newest line
            self._scroll = 0
            self._scrolled_step = shown.step_id if shown else None
        elif self._scroll and self._newest is not None:  # scrolled up: the lines read stay where they are
            self._scroll += _newer_than(lines, self._newest)
        self._newest = lines[-1] if lines else None
        return self._screen.update(view, now_ns=time.time_ns(), selected=self._selected, prompt=self._prompt(view),
                                   reply=self._reply, cursor=self._cursor, filter=self._filter, scroll=self._scroll,
                                   output=self._output)

    def _prompt(self, view: RunView) -> Prompt:
        editor = self._editor
        if self._ended:
            hint, style = f"run {view.state} — press q to quit", "bold " + ("green" if view.state == "Completed" else "red")
        elif self._filtering:
            hint, style = HINT_FILTER, "yellow"
        elif not editor.text:
            hint, style = (HINT_KEYS if self._output is None else HINT_OUTPUT), "dim"
        else:
            hint, style = "", "dim"
        return Prompt(editor.text, editor.cursor, hint, style)

    def _wake(self) -> None:
        fd = self._wake_fd
        if fd is not None:
            try:
                os.write(fd, b"\0")
            except OSError:  # full (a wake-up is pending anyway) or closed (the loop is over)
                pass

    # -- keys and commands ------------------------------------------------------------------
    def _read_keys(self, watched: list[int]) -> None:
        try:
            data = os.read(self._input_fd, 1024)
        except OSError:
            data = b""
        if not data:  # end of input (the terminal went away): keep drawing, stop reading
            watched.remove(self._input_fd)
            return
        self._on_keys(self._keys.feed(data))

    def _on_keys(self, keys: list[Keystroke]) -> None:
        editor = self._editor
        edits: dict[Key, Callable[[], None]] = {
            Key.BACKSPACE: editor.backspace, Key.LEFT: editor.left, Key.RIGHT: editor.right, Key.HOME: editor.home,
            Key.END: editor.end, Key.UP: editor.previous, Key.DOWN: editor.next, Key.CLEAR_LINE: editor.clear,
            Key.HISTORY_PREVIOUS: editor.previous, Key.HISTORY_NEXT: editor.next,
            Key.ENTER: self._enter, Key.ESCAPE: self._escape, Key.INTERRUPT: self.interrupt, Key.TAB: self._complete,
            Key.PAGE_UP: lambda: self._scroll_by(self._page()), Key.PAGE_DOWN: lambda: self._scroll_by(-self._page()),
        }
        #: With the command line empty, these keys navigate instead.
        navigation: dict[Key, Callable[[], None]] = {
            Key.UP: lambda: self._move(-1), Key.DOWN: lambda: self._move(1), Key.ENTER: self._open,
            Key.HOME: lambda: self._scroll_by(1 << 30), Key.END: lambda: self._scroll_by(-(1 << 30)),
        }
        #: With the command line empty and the output shown, these keys scroll it.
        output: dict[Key, Callable[[], None]] = {
            Key.UP: lambda: self._scroll_output(1), Key.DOWN: lambda: self._scroll_output(-1),
            Key.PAGE_UP: lambda: self._scroll_output(self._page()), Key.PAGE_DOWN: lambda: self._scroll_output(-self._page()),
            Key.HOME: lambda: self._scroll_output(1 << 30), Key.END: lambda: self._scroll_output(-(1 << 30)),
        }
        for key in keys:
            if isinstance(key, str):
                self._type(key)
            elif key in output and not editor.text and self._output is not None:
                output[key]()
            elif key in navigation and not editor.text and not (key is Key.ENTER and self._cursor is None):
                navigation[key]()
            else:
                edits[key]()
            self._follow_filter()
        self._dirty = True

    def _type(self, text: str) -> None:
        """Typed text: into the command line, but a navigation key when the line is empty."""
        editor = self._editor
        for index, char in enumerate(text):
            if editor.text:
                editor.insert(text[index:])
                return
            if char in "jk" and self._output is not None:
                self._scroll_output(-1 if char == "j" else 1)
            elif char in "jk":
                self._move(1 if char == "j" else -1)
            elif char == "o":  # again on the output shown: the same step's, taken anew
                self._open_output(self._output_step if self._output is not None else self._cursor or self._shown_id())
            elif char == "q":
                self._q()
            else:
                editor.insert(char)

    def _follow_filter(self) -> None:
        """While `/TEXT` is typed the log lines are filtered by TEXT as it stands."""
        text = self._editor.text
        if text.startswith("/"):
            if text[1:] != self._filter:
                self._scroll = 0
            self._filter, self._filtering = text[1:], True
        elif self._filtering:  # the `/` was erased
            self._filter, self._filtering = "", False

    def _q(self) -> None:
        if self._ended:
            self._quit = True
        else:
            self._show("q quits once the run has ended: to end it now, type cancel (or press Ctrl-C twice)", "info")

    def _move(self, delta: int) -> None:
        """Move the overview's cursor; the first move starts from the step the log panel shows."""
        steps = self._view.steps
        if not steps:
            return
        ids = [s.step_id for s in steps]
        if self._cursor in ids:
            index = ids.index(self._cursor) + delta
        else:
            shown = shown_step(self._view, self._selected)
            index = ids.index(shown.step_id) + delta if shown is not None else (0 if delta > 0 else len(ids) - 1)
        self._cursor = ids[min(max(0, index), len(ids) - 1)]

    def _open(self) -> None:
        """Enter on the overview: show the cursor's step, as `details` does."""
        if self._cursor is not None:
            self._output = None
            self._details(self._cursor, f"details {self._cursor}")

    def _shown_id(self) -> str:
        shown = shown_step(self._view, self._selected)
        return shown.step_id if shown is not None else ""

    def _open_output(self, typed: str, line: str | None = None) -> None:
        """`o` or `output STEP`: what the step's commands printed, through the relay (which records the
        request and resolves the step), in place of the log lines."""
        if not typed:
            self._show("no step has started yet: output <step> names one", "info")
            return
        reply = self._call(line or f"output {typed}")
        if reply is None:
            return
        data = reply.data or {}
        if not reply.ok or not isinstance(data.get("select_step"), str):
            self._show(reply.message, "error")
            return
        step_id = data["select_step"]
        commands = tuple(CommandOutput(**{**c, "lines": tuple(c["lines"])}) for c in data.get("commands", ()))
        label = self._view.step_labels().get(step_id, step_id)
        self._output = OutputView.of(label, commands, time.strftime("%H:%M:%S"))
        self._output_step = step_id
        self._reply = ReplyArea()  # as any command's does, its answer replaces the last reply

    def _scroll_output(self, rows: int) -> None:
        output = self._output
        if output is not None:
            self._output = replace(output, scroll=output.clamped(output.scroll + rows, self._console.size.height
                                                                  - HEADER_ROWS - FOOTER_ROWS))

    def _page(self) -> int:
        return max(1, self._console.size.height // 2 - 3)

    def _scroll_by(self, rows: int) -> None:
        """Scroll the log panel `rows` up (negative: down), between the newest line and about the oldest."""
        step = shown_step(self._view, self._selected)
        lines = filtered(step.logs if step is not None else self._view.general_logs, self._filter)
        self._scroll = min(max(0, self._scroll + rows), max(0, len(lines) - self._page()))

    def _enter(self) -> None:
        if self._filtering:
            self._filtering = False  # the filter stays; like a command, it takes the last reply away
            self._editor.clear()
            self._reply = ReplyArea()
            return
        line = self._editor.submit().strip()
        if not line:
            return
        self._reply = ReplyArea()
        word, _, argument = line.partition(" ")
        if word.lower() == "details":
            self._output = None
            self._details(argument.strip(), line)
        elif word.lower() == "output":
            self._open_output(argument.strip() or self._shown_id(), line if argument.strip() else None)
        else:
            self._send(line)

    def _escape(self) -> None:
        """One level back: the filter being typed, else the reply, else the filter, else the pinned step."""
        if self._filtering:
            self._editor.clear()
            self._filter, self._filtering, self._scroll = "", False, 0
        elif self._reply:
            self._reply = ReplyArea()
        elif self._output is not None:
            self._output = None
        elif self._filter:
            self._filter, self._scroll = "", 0
        else:
            self._cursor, self._scroll = None, 0
            self.select_step(None)

    def _details(self, typed: str, line: str) -> None:
        """`details STEP`: the step's name, id, what the overview shows, or a unique prefix of one."""
        if not typed:
            self._cursor = None
            self.select_step(None)
            return
        reply = self._call(line)  # first, so the request is recorded whatever comes of it
        if reply is not None and not reply.ok:
            self._show(reply.message, "error")
            return
        view = self._relay.snapshot()
        chosen = reply.data.get("select_step") if reply is not None and reply.data else None
        if not isinstance(chosen, str) or view.step(chosen) is None:  # the relay resolves against the plan
            try:
                chosen = resolve(typed, _refs(view))
            except StepNotFound as refused:
                self._show(str(refused), "error")
                return
        self._cursor, self._scroll = chosen, 0
        self.select_step(chosen)  # the log panel's title says which step, and that it is pinned

    def _complete(self) -> None:
        """Tab: complete a command name, or the step after `details`; several candidates are listed."""
        editor = self._editor
        if editor.cursor != len(editor.text):
            return
        word, space, argument = editor.text.partition(" ")
        if not space:
            found = [name for name in COMMAND_NAMES if name.startswith(word.lower())]
            prefix = ""
        elif word.lower() in ("details", "output"):
            found = completions(argument.lstrip(), _refs(self._relay.snapshot()))
            prefix = word + " "
        else:
            return
        if not found:
            self._show("nothing to complete", "info")
            return
        if len(found) == 1:
            editor.replace(prefix + found[0] + ("" if prefix else " "))
            return
        common = os.path.commonprefix([f.casefold() for f in found])
        typed = argument.lstrip() if prefix else word
        if len(common) > len(typed):
            editor.replace(prefix + found[0][:len(common)])
        shown = ", ".join(found[:8]) + (", ..." if len(found) > 8 else "")
        self._show(f"Tab: {shown}", "info")

    def _send(self, line: str) -> None:
        reply = self._call(line)
        if reply is not None:
            message = reply.message
            if reply.ok and line.split()[0].lower() == "help":
                message += "\n" + KEYS_HELP
            self._show(message, "ok" if reply.ok else "error")

    def _call(self, line: str) -> Reply | None:
        """Submit, turning a failure of the relay itself into a message (None: it failed)."""
        try:
            return self._relay.submit(line, SOURCE)
        except Exception as error:
            self._show(f"{line.split(' ', 1)[0]} failed: {error}", "error")
            return None

    def _show(self, message: str, tone: str) -> None:
        self._reply = ReplyArea(message, tone)
        self._dirty = True

    def _take_presses(self, now: float) -> None:
        while self._presses:
            pressed = self._presses.popleft()
            if self._ended:  # nothing left to cancel: Ctrl-C leaves
                self._quit = True
            elif pressed <= self._armed_until:
                self._armed_until = 0.0
                self._send("cancel")
            else:
                self._armed_until = pressed + CONFIRM_S
                self._show(CONFIRM_MESSAGE, "warn")
        if self._armed_until and now > self._armed_until:
            self._armed_until = 0.0
            if self._reply.message == CONFIRM_MESSAGE:
                self._show("", "info")


def _newer_than(lines: tuple[LogLine, ...], newest: LogLine) -> int:
    """How many of `lines` came after `newest` (0 if it is not among the last ones any more)."""
    for back, line in enumerate(reversed(lines[-256:])):
        if line == newest:
            return back
    return 0


def _refs(view: RunView) -> list[StepRef]:
    return [StepRef(step.step_id, step.name or None) for step in view.steps]


@contextmanager
def _handlers(handlers: dict[Any, Callable[[], None]]) -> Iterator[None]:
    """Signal handlers that call `handlers[signum]()` while inside; the previous ones after."""
    previous = {}
    try:
        for signum, action in handlers.items():
            if signum is not None:
                previous[signum] = signal.signal(signum, lambda *_, act=action: act())
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
