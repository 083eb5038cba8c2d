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
again. So the relay needs no way back into the console. A reply of several lines (help) takes
over the log panel until Esc or the next command.

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
from typing import Any, Callable, Iterator

from rich.console import Console
from rich.live import Live

from aiw_otel.console.editor import LineEditor
from aiw_otel.console.keys import Key, KeyDecoder, Keystroke
from aiw_otel.console.prompt import Prompt
from aiw_otel.console.screen import Screen
from aiw_otel.console.style import LIVE_STATES
from aiw_otel.console.terminal import keys_mode
from aiw_otel.control.relay import COMMAND_NAMES, FrontDoor, Reply
from aiw_otel.runview import RunView
from aiw_otel.stepref import StepNotFound, StepRef, completions, resolve

#: Redraws for run updates are at least this far apart (keys redraw at once).
FRAME_INTERVAL_S = 0.25
#: How long select() waits for a key before looking at the run again.
POLL_S = 0.05
#: A second Ctrl-C within this many seconds cancels the run.
CONFIRM_S = 3.0
CONFIRM_MESSAGE = "Press Ctrl-C again (or type cancel) to cancel the run"
SOURCE = "console"


class ConsoleApp:
    def __init__(self, relay: FrontDoor, *, console: Console | None = None, input_fd: int | None = None) -> None:
        self._relay = relay
        self._console = console or Console()
        self._input_fd = sys.stdin.fileno() if input_fd is None else input_fd
        self._screen = Screen()
        self._editor = LineEditor()
        self._keys = KeyDecoder()
        self._notice = ("", "info")
        self._overlay: tuple[str, ...] = ()
        self._selected: str | None = None
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
        return self._notice[0]

    @property
    def selected(self) -> str | None:
        return self._selected

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
    def run(self, stop: threading.Event) -> None:
        """Draw and read keys until `stop` is set; the terminal is restored however this ends."""
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
                live = stack.enter_context(Live(self._screen.frame, console=self._console, screen=True,
                                                auto_refresh=False, redirect_stdout=False, redirect_stderr=False))
                self._loop(live, stop, wake_read)
        finally:
            unsubscribe()
            self._wake_fd = None
            os.close(wake_write)
            os.close(wake_read)

    def _loop(self, live: Live, stop: threading.Event, wake_read: int) -> None:
        watched = [wake_read, self._input_fd]
        size = self._console.size
        last_frame = time.monotonic()
        second = int(last_frame)
        while not stop.is_set():
            readable = select.select(watched, [], [], POLL_S)[0]
            if wake_read in readable:
                os.read(wake_read, 512)
            if self._input_fd in readable:
                self._read_keys(watched)
            elif self._keys.pending:
                self._on_keys(self._keys.flush())
            now = time.monotonic()
            self._take_presses(now)
            running = self._view.ended_ns is None and self._view.state in LIVE_STATES
            due = self._run_changed.is_set() or (running and int(now) != second)
            resized = self._console.size != size
            if self._dirty or resized or (due and now - last_frame >= FRAME_INTERVAL_S):
                size, last_frame, second = self._console.size, now, int(now)
                if self._update_screen() or resized:
                    live.refresh()

    def _update_screen(self) -> bool:
        self._dirty = False
        self._run_changed.clear()
        self._view = self._relay.snapshot()
        prompt = Prompt(self._editor.text, self._editor.cursor, *self._notice)
        return self._screen.update(self._view, now_ns=time.time_ns(), selected=self._selected,
                                   overlay=self._overlay, prompt=prompt)

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
            Key.ENTER: self._enter, Key.ESCAPE: self._escape, Key.INTERRUPT: self.interrupt, Key.TAB: self._complete,
        }
        for key in keys:
            if isinstance(key, str):
                editor.insert(key)
            else:
                edits[key]()
        self._dirty = True

    def _enter(self) -> None:
        line = self._editor.submit().strip()
        if not line:
            return
        self._overlay = ()
        word, _, argument = line.partition(" ")
        if word.lower() == "details":
            self._details(argument.strip(), line)
        else:
            self._send(line)

    def _escape(self) -> None:
        if self._overlay:
            self._overlay = ()
        elif self._selected is not None:
            self.select_step(None)
            self._show("following the active step", "info")

    def _details(self, typed: str, line: str) -> None:
        """`details STEP`: the step's name, id, what the overview shows, or a unique prefix of one."""
        if not typed:
            self.select_step(None)
            self._show("following the active step", "info")
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
        self.select_step(chosen)
        self._show(f"showing step '{view.step_labels().get(chosen, chosen)}' (Esc: follow the active step)", "ok")

    def _complete(self) -> None:
        """Tab: complete a command name, or the step after `details`; several candidates are listed."""
        editor = self._editor
        if editor.cursor != len(editor.text):
            return
        word, space, argument = editor.text.partition(" ")
        if not space:
            found = [name for name in COMMAND_NAMES if name.startswith(word.lower())]
            prefix = ""
        elif word.lower() == "details":
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
            self._show(reply.message, "ok" if reply.ok else "error", overlay=True)

    def _call(self, line: str) -> Reply | None:
        """Submit, turning a failure of the relay itself into a message (None: it failed)."""
        try:
            return self._relay.submit(line, SOURCE)
        except Exception as error:
            self._show(f"{line.split(' ', 1)[0]} failed: {error}", "error")
            return None

    def _show(self, message: str, tone: str, overlay: bool = False) -> None:
        self._notice = (message, tone)
        lines = tuple(message.splitlines())
        self._overlay = lines if overlay and len(lines) > 1 else ()
        self._dirty = True

    def _take_presses(self, now: float) -> None:
        while self._presses:
            pressed = self._presses.popleft()
            if pressed <= self._armed_until:
                self._armed_until = 0.0
                self._send("cancel")
            else:
                self._armed_until = pressed + CONFIRM_S
                self._show(CONFIRM_MESSAGE, "warn")
        if self._armed_until and now > self._armed_until:
            self._armed_until = 0.0
            if self._notice[0] == CONFIRM_MESSAGE:
                self._show("", "info")


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
