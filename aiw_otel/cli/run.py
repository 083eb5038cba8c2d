"""`aiw-otel run PLAN` and `aiw-otel demo`: a plan executed by the reference engine.

The engine runs on its own thread; the main thread keeps the terminal and the signals, so Ctrl-C
becomes a recorded cancel request (the run ends Cancelled, its process groups gone) rather than a
traceback. The exit code says how the plan ended: 0 Completed, 1 Failed, 3 Cancelled.

Like every front end, this command reads the run and steers it through the control relay only;
it runs the engine, and prints nothing while the live console owns the terminal.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, TypeVar

from aiw_otel.cli.output import port_number
from aiw_otel.errors import ConfigError
from aiw_otel.model import State
from aiw_otel.runner.plan import PROVIDERS

if TYPE_CHECKING:  # imported where used: `aiw-otel --help` must not pay for the engine
    from aiw_otel.cli.output import Commands
    from aiw_otel.config import LoadedConfig
    from aiw_otel.console.starting import Starting
    from aiw_otel.control.relay import ControlRelay
    from aiw_otel.control.socket_server import ControlServer
    from aiw_otel.processors.state_tracker import StateTracker
    from aiw_otel.runner.engine import Engine
    from aiw_otel.runview import RunView
    from aiw_otel.setup import Telemetry

T = TypeVar("T")

#: Process exit codes by final plan state.
EXIT_CODES = {State.COMPLETED: 0, State.FAILED: 1, State.CANCELLED: 3}

#: Package data, so `pip install .` (not only an editable install) has a working `aiw-otel demo`.
DEMO_PLAN = Path(__file__).resolve().parents[1] / "demo"


def add_parser(commands: Commands) -> None:
    run = commands.add_parser("run", help="execute an AIWhisperer plan with full telemetry")
    run.add_argument("plan", help="plan file (overview JSON, single-file JSON or YAML) or a folder with one overview")
    add_run_arguments(run)
    run.set_defaults(handler=run_command)
    demo = commands.add_parser("demo", help="run the bundled example plan (replayed AI, real files and commands)")
    add_run_arguments(demo)
    demo.set_defaults(handler=demo_command)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workspace", help="directory the plan works in (default: a new private one in the "
                                            "system's temporary directory)")
    parser.add_argument("--log-dir", help="where the telemetry files go (default: ./logs, or the config's)")
    parser.add_argument("--config", help="YAML config file (default: $AIW_CONFIG, else built-in defaults)")
    add_ai_arguments(parser)
    parser.add_argument("--model", help="model for every step (overrides the plan)")
    parser.add_argument("--replay", help="recorded conversation for --provider replay (default: replay.json beside the plan)")
    parser.add_argument("--fail-fast", action="store_true", help="skip the remaining steps after a failure")
    parser.add_argument("--no-console", action="store_true",
                        help="no live display: a plain line per finished span and log record (INFO and above)")
    parser.add_argument("--exit-on-end", action="store_true",
                        help="the live console closes when the run ends (default: it holds until q is pressed)")
    parser.add_argument("--prometheus-port", metavar="N", type=port_number,
                        help="serve the run's metrics at http://127.0.0.1:N/metrics (0: any free port; "
                             "the host is the config's or $OTEL_EXPORTER_PROMETHEUS_HOST)")
    parser.add_argument("--prometheus-linger", metavar="SECONDS", type=_linger_seconds,
                        help="after the run, keep serving its final metrics this long, or until Ctrl-C")
    parser.add_argument("--control-socket", metavar="PATH",
                        help="Unix socket for aiw-otel ctl / watch (default: <log dir>/control.sock, "
                             "or <hash>.sock in $XDG_RUNTIME_DIR/aiw-otel or /tmp/aiw-otel-<uid> (0700) when that path is too long)")
    parser.add_argument("--otlp-endpoint", metavar="URL",
                        help="also export traces, logs and metrics over OTLP to this collector, e.g. "
                             "http://localhost:4318 (like OTEL_EXPORTER_OTLP_ENDPOINT; protocol from "
                             "OTEL_EXPORTER_OTLP_PROTOCOL, default http/protobuf)")
    parser.add_argument("--web", action="store_true",
                        help="also serve the web monitor (as aiw-otel web does) while the run lasts; its address is printed")
    parser.add_argument("--web-port", metavar="N", type=port_number, default=0,
                        help="the web monitor's port on 127.0.0.1 (default: any free one)")


def add_ai_arguments(parser: argparse.ArgumentParser) -> None:
    """The options `run` refuses before anything runs, which `check` takes too: it refuses the same."""
    parser.add_argument("--provider", choices=PROVIDERS, help="AI provider for every step (overrides the plan)")
    parser.add_argument("--max-turns", type=_positive_int, default=12,
                        help="AI turns per step before it fails (default 12)")


def _positive_int(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return number


def _linger_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0, got {text!r}")
    return seconds


def run_command(args: argparse.Namespace) -> int:
    return EXIT_CODES.get(_execute(Path(args.plan), args, provider=args.provider), 1)


def demo_command(args: argparse.Namespace) -> int:
    """The demo's plan fails one step on purpose; that is success for the demo (exit 0)."""
    if not DEMO_PLAN.exists():
        print(f"aiw-otel: the demo plan is missing ({DEMO_PLAN}); reinstall aiw-otel", file=sys.stderr)
        return 2
    state = _execute(DEMO_PLAN, args, provider=args.provider or "replay")
    if state is State.FAILED:
        print("aiw-otel demo: 'publish_package' fails and 'announce_release' is skipped on purpose", flush=True)
        return 0
    return EXIT_CODES.get(state, 1)


def _settings(args: argparse.Namespace) -> LoadedConfig:
    """The config file and environment as everywhere else, then this command's own options on top."""
    from aiw_otel.config import SIGNALS
    from aiw_otel.config_yaml import parse_endpoint
    from aiw_otel.settings import load_settings

    loaded = load_settings(args.config, os.environ)
    settings = loaded.telemetry
    sinks = settings.sinks
    if args.log_dir:
        sinks = replace(sinks, file=replace(sinks.file, directory=args.log_dir))
    if args.otlp_endpoint:
        endpoint = _option("--otlp-endpoint", parse_endpoint, args.otlp_endpoint)
        signals = sinks.otlp.signals if sinks.otlp.enabled else frozenset(SIGNALS)
        sinks = replace(sinks, otlp=replace(sinks.otlp, enabled=True, endpoint=endpoint, signals=signals))
    # Plain lines only when there is no live display to show the run instead.
    sinks = replace(sinks, console=replace(sinks.console, enabled=not _live(args)))
    prometheus = sinks.prometheus
    if args.prometheus_port is not None:
        prometheus = replace(prometheus, enabled=True, port=args.prometheus_port)
    if args.prometheus_linger is not None:
        prometheus = replace(prometheus, linger_s=args.prometheus_linger)
    sinks = replace(sinks, prometheus=prometheus)
    return replace(loaded, telemetry=replace(settings, sinks=sinks))


def _option(flag: str, parse: Callable[[str], T], text: str) -> T:
    try:
        return parse(text)
    except ValueError as error:
        raise ConfigError(str(error), source=flag) from None


def _live(args: argparse.Namespace) -> bool:
    from aiw_otel.console import is_interactive

    return not args.no_console and is_interactive()


def _execute(plan_path: Path, args: argparse.Namespace, provider: str | None) -> State:
    with ExitStack() as stack:  # nothing heavy imported before the first frame
        web_url = stack.enter_context(_web_monitor(args)) if args.web else None
        starting = None
        if _live(args):  # the console's first frame now, and no key echoed raw while the rest loads
            from aiw_otel.console.starting import starting_screen

            starting = stack.enter_context(starting_screen())
            stack.enter_context(_deferred_lines())
        return _load_and_run(plan_path, args, provider, starting, web_url)


@contextmanager
def _web_monitor(args: argparse.Namespace) -> Iterator[str]:
    """`--web`: the web monitor on a thread of this process, for this run and its log dir's others;
    its address (token included) is given for the live console's header, since the console's screen
    hides a line printed before it until it ends. The address is printed and shown, never logged:
    whoever has it can steer the run. It serves until the command returns."""
    from aiw_otel.cli.web import DEFAULT_HOST, start

    log_dir = Path(_settings(args).telemetry.sinks.file.directory)
    sockets = [Path(args.control_socket)] if args.control_socket else []
    server = start(log_dir, sockets, DEFAULT_HOST, args.web_port)
    server.start()
    _say(f"aiw-otel: web monitor at {server.url}")
    try:
        yield server.url
    finally:
        server.close()


def _load_and_run(plan_path: Path, args: argparse.Namespace, provider: str | None, starting: Starting | None,
                  web_url: str | None) -> State:
    from aiw_otel.present import step_count
    from aiw_otel.processors.state_tracker import StateTracker
    from aiw_otel.runner.engine import Engine, RunOptions
    from aiw_otel.runner.plan_loader import load_plan
    from aiw_otel.setup import configure

    plan = load_plan(plan_path)
    loaded = _settings(args)
    settings = loaded.telemetry
    log_dir = Path(settings.sinks.file.directory)
    workspace = _workspace(args.workspace)
    replay = args.replay or _beside(plan_path, "replay.json")
    tracker = StateTracker()
    telemetry = configure(loaded, sinks=[tracker.sink()])
    tracker.seed(plan, telemetry.redactor)
    shown_name = _shown(telemetry, plan.name)
    engine = Engine(telemetry, plan, RunOptions(workspace=workspace, provider=provider, model=args.model,
                                                replay_file=replay, fail_fast=args.fail_fast,
                                                max_turns=args.max_turns, environ=os.environ))
    engine.prepare()
    relay, server = _control(engine, tracker, args.control_socket, log_dir)
    _say(f"aiw-otel: running plan '{shown_name}' ({step_count(len(plan.steps))}) in {workspace}")
    _say(f"aiw-otel: control socket {server.path} (aiw-otel ctl pause|resume|cancel|status --socket {server.path})")
    metrics_url = telemetry.endpoints.get("prometheus")
    if metrics_url is not None:
        _say(f"aiw-otel: metrics at {metrics_url}")
    try:
        if starting is not None:
            starting.hand_over()
            state = _run_with_console(engine, tracker, relay, hold=not args.exit_on_end, web_url=web_url)
        else:
            state = _run_until_done(engine, relay)
        if metrics_url is not None:
            _linger(metrics_url, state, settings.sinks.prometheus.linger_s)
        telemetry.shutdown()
    finally:
        server.close()
    for line in failure_summary(tracker.snapshot()):
        _say(line)
    _say(f"aiw-otel: plan '{shown_name}' {state.value}")
    file_sink_off = ("file", "setup") in telemetry.health.snapshot().failures  # a file, unwritable
    if settings.enabled and settings.sinks.file.enabled and not file_sink_off:  # OTEL_SDK_DISABLED: nothing written
        _say(f"aiw-otel: telemetry in {log_dir}/ (read it back: aiw-otel logs {log_dir})")
    return state


def _shown(telemetry: Telemetry, text: str) -> str:
    """Plan text as printed on our own lines: redacted and terminal-safe, like every record."""
    from aiw_otel.terminal_text import safe_line

    return safe_line(telemetry.redactor.redact_text(text) if telemetry.redactor is not None else text)


#: Lines said while the console holds the screen, printed when it lets go (None: print at once).
_DEFERRED: list[str] | None = None


@contextmanager
def _deferred_lines() -> Iterator[None]:
    """While the console (or its starting frame) holds the screen, a line printed would tear it:
    keep the lines, and print them to the scrollback once it has let go."""
    global _DEFERRED
    _DEFERRED = []
    try:
        yield
    finally:
        _say_deferred()


def _say_deferred() -> None:
    """The lines kept while the screen was held, now (once)."""
    global _DEFERRED
    lines, _DEFERRED = _DEFERRED or [], None
    for line in lines:
        _say(line)


def _say(line: str) -> None:
    """A line on stdout; a reader that went away (`aiw-otel run ... | head`) is no error, and the
    run goes on to its end and its exit code. Later output goes nowhere."""
    if _DEFERRED is not None:
        _DEFERRED.append(line)
        return
    try:
        print(line, flush=True)
    except BrokenPipeError:
        from aiw_otel.cli.output import stdout_to_devnull

        stdout_to_devnull()


def _workspace(given: str | None) -> Path:
    """--workspace, made if missing; by default a new 0700 directory in the system's temporary
    directory, not in the log dir: files a model wrote must not travel with logs uploaded as CI
    artifacts, nor be readable by other users. A path that cannot be a workspace is one line, exit 2."""
    if not given:
        import tempfile

        return Path(tempfile.mkdtemp(prefix=f"aiw-otel-workspace-{time.strftime('%Y%m%d-%H%M%S')}-"))
    workspace = Path(given)
    try:
        workspace.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ValueError(f"--workspace {given}: exists and is not a directory") from None
    except OSError as error:
        raise ValueError(f"--workspace {given}: cannot create it ({error.strerror or error})") from None
    if not os.access(workspace, os.W_OK | os.X_OK):
        raise ValueError(f"--workspace {given}: not writable")
    return workspace


def _linger(url: str, state: State, seconds: float) -> None:
    """A run is often over before Prometheus scrapes it: keep its final values up a while."""
    if seconds <= 0:
        return
    print(f"aiw-otel: the run ended {state.value}; its final metrics stay at {url} for {seconds:g} s "
          "(Ctrl-C ends this early)", flush=True)
    try:
        threading.Event().wait(seconds)
    except KeyboardInterrupt:
        pass


def _control(engine: Engine, tracker: StateTracker, path: str | None, log_dir: Path) -> tuple[ControlRelay, ControlServer]:
    """The relay (for in-process front ends) and its socket: every run, console or not, can be
    steered from another process. The caller closes the server."""
    from aiw_otel.control.relay import ControlRelay

    relay = ControlRelay(engine, tracker)
    server = _listen(relay, Path(path) if path else None, log_dir)
    tracker.set_control_socket(str(server.path))
    tracker.set_drop_counter(lambda: engine.telemetry.health.snapshot().total_dropped)
    return relay, server


def _listen(relay: ControlRelay, given: Path | None, log_dir: Path) -> ControlServer:
    """The socket the user gave, else the log dir's default; a run that finds the default held by
    another live run on the same log dir listens beside it, on `control-<pid>.sock`, and sockets
    killed runs left there are removed."""
    from aiw_otel.control.paths import another_runs_socket, default_socket_path, other_runs_sockets
    from aiw_otel.control.socket_server import ControlServer, SocketInUse, remove_stale

    if given is not None:
        return ControlServer(relay, given)
    preferred = default_socket_path(log_dir, create=True)
    remove_stale(other_runs_sockets(preferred))
    try:
        return ControlServer(relay, preferred)
    except SocketInUse:
        return ControlServer(relay, another_runs_socket(preferred))


def _beside(plan_path: Path, name: str) -> str | None:
    candidate = (plan_path if plan_path.is_dir() else plan_path.parent) / name
    return str(candidate) if candidate.exists() else None


class _Worker:
    """The engine on its own thread; `done` is set however it ends, or once a cancelled engine is
    given up on (runner/watchdog.py): then the run ends Cancelled without it."""

    def __init__(self, engine: Engine, before_exit: Callable[[], None] | None = None) -> None:
        self.done = threading.Event()
        self._engine = engine
        self._before_exit = before_exit
        self._outcome: list[State] = []
        self._failure: list[BaseException] = []
        self._given_up: list[str] = []
        self._thread = threading.Thread(target=self._work, args=(engine,), name="aiw-otel-engine", daemon=True)

    def _work(self, engine: Engine) -> None:
        try:
            self._outcome.append(engine.run())
        except BaseException as error:  # re-raised on the main thread by result()
            self._failure.append(error)
        finally:
            self.done.set()

    def start(self) -> None:
        from aiw_otel.runner.watchdog import CancelWatchdog

        self._thread.start()
        CancelWatchdog(self._engine, self._thread, self._give_up, EXIT_CODES[State.CANCELLED],
                       self._before_exit).start()

    def _give_up(self, reason: str) -> None:
        self._given_up.append(reason)
        self.done.set()

    def result(self) -> State:
        if self._given_up:  # the watchdog ended the run: its open spans interrupted, the plan Cancelled
            _say(f"aiw-otel: {self._given_up[0]}")
            return State.CANCELLED
        self._thread.join()
        if self._failure:
            raise self._failure[0]
        return self._outcome[0]


def _run_until_done(engine: Engine, relay: ControlRelay) -> State:
    """Plain mode: Ctrl-C (SIGINT) and SIGTERM turn into one recorded cancel request."""
    worker = _Worker(engine)
    previous = signal.signal(signal.SIGTERM, lambda *_: relay.interrupt("signal"))
    worker.start()
    try:
        while not worker.done.is_set():
            try:
                worker.done.wait(0.2)
            except KeyboardInterrupt:
                relay.interrupt("keyboard")
    finally:
        signal.signal(signal.SIGTERM, previous)
    return worker.result()


def _run_with_console(engine: Engine, tracker: StateTracker, relay: ControlRelay, hold: bool = True,
                      web_url: str | None = None) -> State:
    """Live mode: the console owns the terminal on the main thread (keys, Ctrl-C, resizes); with
    `hold`, it stays after the run until q, so the user can look at what failed.

    While it runs, telemetry's health reports go into the run's view (the console's status bar)
    instead of stderr."""
    from aiw_otel.console import ConsoleApp

    worker = _Worker(engine, before_exit=_terminal_back_to_normal)
    previous = signal.signal(signal.SIGTERM, lambda *_: relay.interrupt("signal"))
    worker.start()
    engine.telemetry.health.set_reporter(tracker.note)
    try:
        ConsoleApp(relay, web_url=web_url).run(worker.done, hold=hold)
    finally:
        _say_deferred()  # the console let go of the screen: what was said before it, first
        engine.telemetry.health.set_reporter(None)
        signal.signal(signal.SIGTERM, previous)
    state = worker.result()
    _print_final_overview(relay.snapshot())
    return state


def _terminal_back_to_normal() -> None:
    """The console's screen and key mode undone by hand, for an exit that skips its own teardown
    (a stuck engine whose ending blocked too, see runner/watchdog.py)."""
    if sys.stdin.isatty():
        import termios

        mode = termios.tcgetattr(sys.stdin.fileno())
        mode[3] |= termios.ECHO | termios.ICANON
        termios.tcsetattr(sys.stdin.fileno(), termios.TCSANOW, mode)
    sys.stdout.write("\x1b[?1049l\x1b[?25h")  # leave the alternate screen, show the cursor
    sys.stdout.flush()


def failure_summary(view: RunView) -> list[str]:
    """The failed steps, each with its error and the last output lines of the command that failed in
    it: what to read first, left in the scrollback whether the console ran or not."""
    from aiw_otel.present import Outcome
    from aiw_otel.runview import STDERR_MARK
    from aiw_otel.terminal_text import safe_line

    labels = view.step_labels()
    lines = []
    for step in view.steps:
        if step.state != State.FAILED.value:
            continue
        lines.append(f"aiw-otel: step '{labels[step.step_id]}' failed: {step.error or 'no error recorded'}")
        for action in step.actions:
            if action.outcome == Outcome.FAILED.value and action.kind == "command":
                lines.append(f"  {action.name}: {action.summary}")
                lines += [f"    | {line.removeprefix(STDERR_MARK)}" for line in action.output]
    return [safe_line(line) for line in lines]


def _print_final_overview(view: RunView) -> None:
    """The full-screen view closes with the run; leave its plan overview in the scrollback."""
    from rich.console import Console

    from aiw_otel.console.overview import Overview

    Console().print(Overview.of(view, None, time.time_ns()), height=len(view.steps) + 3)
