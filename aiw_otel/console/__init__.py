"""The live terminal console (Rich): the run as it happens, and a command line to steer it.

Wiring for `aiw-otel run` / `demo`, when `is_interactive()` (otherwise keep the plain line sink):

    tracker = StateTracker()
    telemetry = configure(settings, sinks=[tracker.sink()])  # with the plain console sink off
    tracker.seed(plan, telemetry.redactor)                    # redacted: the plan is shown before it runs
    relay = ControlRelay(engine, tracker)                     # + its socket, set_control_socket, set_drop_counter
    stop = threading.Event()

    def work() -> None:
        try:
            outcome.append(engine.run())
        finally:
            stop.set()

    worker = threading.Thread(target=work, name="aiw-otel-engine", daemon=True)
    worker.start()
    ConsoleApp(relay).run(stop, hold=True)                    # on the main thread; returns when stop is set
    worker.join()                                             # (with hold: once q is pressed after that)

The CLI takes the terminal before any of this (`starting.starting_screen()`: a first frame within
~300 ms, keys kept, not echoed) and hands it to the ConsoleApp.

On the main thread `run()` takes SIGINT for the duration and turns it into the double press (the
first Ctrl-C asks, a second within 3 s submits `cancel`), redraws at once on SIGWINCH, and
restores both handlers and the terminal mode when it returns. Run on another thread, it cannot
take signals: the main thread must call `app.interrupt()` on KeyboardInterrupt (resizes are then
noticed within 50 ms by polling the size).
"""

from aiw_otel.console.app import ConsoleApp
from aiw_otel.console.plain import is_interactive

__all__ = ["ConsoleApp", "is_interactive"]
