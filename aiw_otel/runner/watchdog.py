"""The last resort of a cancel: the run ends within its grace period even if the engine never comes back.

A cancel reaches the engine's work through RunControl: a command's process group is signalled, an
AI request's sockets are shut down, the next checkpoint raises. A thread stuck where none of that
reaches (a read from a hung network filesystem, a C call that ignores signals) would keep the
process alive forever, deaf to the user's cancel and to SIGTERM alike. So after a cancel the
engine gets CANCEL_GRACE_S to end the run; then the watchdog gives up on it: it records why on the
run, ends the run without it (telemetry's bounded shutdown ends the open spans as interrupted and
the plan Cancelled, so a live console shows the end too) and hands over to the front end, which
ends as it does after any run. If that does not end the process in time (the stuck thread may
hold a lock the ending needs), the watchdog ends it itself: what telemetry can still flush, the
front end's last words (`before_exit`: a terminal given back), then `os._exit`.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from aiw_otel.model import LogLevel

if TYPE_CHECKING:
    from aiw_otel.runner.engine import Engine
    from aiw_otel.setup import Telemetry

#: How long a cancelled engine may take to end its run. A command's group gets SIGTERM, then
#: SIGKILL 3 s later (processes.run_command's grace), so a working engine is done well before.
CANCEL_GRACE_S = 10.0
#: What the front end gets to end the process by itself once the run is given up, beyond two
#: shutdown budgets (the watchdog's own shutdown, and whatever the front end still flushes).
EXIT_MARGIN_S = 2.0
#: How often the watchdog looks whether the run ended without a cancel (then it has nothing to do).
_POLL_S = 0.5


@dataclass(frozen=True)
class CancelWatchdog:
    """Watches one engine thread; `give_up(reason)` is the front end's cue that the run ended without it."""

    engine: Engine
    worker: threading.Thread
    give_up: Callable[[str], None]
    exit_code: int
    before_exit: Callable[[], None] | None = None
    grace_s: float = CANCEL_GRACE_S

    def start(self) -> None:
        threading.Thread(target=self._watch, name="aiw-otel-cancel-watchdog", daemon=True).start()

    def _watch(self) -> None:
        while not self.engine.cancel_requested.wait(_POLL_S):
            if not self.worker.is_alive():
                return
        self.worker.join(self.grace_s)
        if not self.worker.is_alive():
            return
        reason = (f"the engine did not stop within {self.grace_s:g} s of the cancel ({self._stuck_at()}); "
                  "the run ends without it")
        telemetry = self.engine.telemetry
        # Armed before anything that might block on what the engine holds.
        backstop = threading.Timer(2 * telemetry.config.shutdown_timeout_s + EXIT_MARGIN_S,
                                   self._end_process, args=(reason,))
        backstop.daemon = True
        backstop.start()
        run = self.engine.run_record
        if run is not None:
            run.log(LogLevel.ERROR, "engine_unresponsive", reason.capitalize() + ".",
                    details={"grace_s": self.grace_s})
        telemetry.shutdown()
        self.give_up(reason)

    def _stuck_at(self) -> str:
        """Where the engine thread is: the innermost Python frame (a C call shows as its caller)."""
        frame = sys._current_frames().get(self.worker.ident or -1)
        if frame is None:
            return "stuck"
        return f"stuck in {frame.f_code.co_name} at {os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"

    def _end_process(self, reason: str) -> None:
        """The front end could not end the process: flush what telemetry can in its budget, then exit."""
        telemetry = self.engine.telemetry
        flush = threading.Thread(target=_flush_and_shut_down, args=(telemetry,), name="aiw-otel-cancel-shutdown",
                                 daemon=True)
        flush.start()
        flush.join(telemetry.config.shutdown_timeout_s)
        try:
            if self.before_exit is not None:
                self.before_exit()
            print(f"aiw-otel: {reason}; the process is ended", file=sys.stderr, flush=True)
            sys.stdout.flush()
        except Exception:  # a closed stream, a terminal gone: nothing must stop the exit
            pass
        os._exit(self.exit_code)


def _flush_and_shut_down(telemetry: Telemetry) -> None:
    """The bounded shutdown; if one began and got stuck (it ended the open spans first), their
    records are still handed to the sinks."""
    budget = telemetry.config.shutdown_timeout_s
    telemetry.shutdown(budget / 2)
    telemetry.force_flush(budget / 2)
