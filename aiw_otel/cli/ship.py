"""`aiw-otel ship PATH...`: send saved telemetry to an OTLP endpoint, resuming without duplicates.

The endpoint, protocol and headers default to the OTEL_EXPORTER_OTLP_* variables a user already
exports for live runs, so shipping a run done offline needs nothing more than the paths.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

from aiw_otel.cli.output import PATHS_ARGUMENT, error as _error

if TYPE_CHECKING:
    from aiw_otel.cli.output import Commands
    from aiw_otel.readback.ship import Progress, Summary

SIGNAL_NAMES = ("traces", "logs", "metrics")


def add_parser(commands: Commands) -> None:
    ship = commands.add_parser("ship", help="send saved telemetry to an OTLP endpoint, resuming without duplicates")
    ship.add_argument("paths", **PATHS_ARGUMENT)
    ship.add_argument("--endpoint", help="OTLP endpoint, e.g. http://localhost:4318 (4317 for grpc); "
                                         "default: $OTEL_EXPORTER_OTLP_ENDPOINT")
    ship.add_argument("--protocol", help="http/protobuf, http/json or grpc, for every signal (default: each "
                                         "signal's $OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL, else "
                                         "$OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf); http/json sends the "
                                         "lines as written, unconverted: the fastest")
    ship.add_argument("--compression", help="gzip or none, for every signal (default: each signal's "
                                            "$OTEL_EXPORTER_OTLP_<SIGNAL>_COMPRESSION, else "
                                            "$OTEL_EXPORTER_OTLP_COMPRESSION, else none)")
    ship.add_argument("--headers", help="request headers k=v,k2=v2, percent-encoded like "
                                        "OTEL_EXPORTER_OTLP_HEADERS (default: that variable)")
    ship.add_argument("--signals", default=",".join(SIGNAL_NAMES),
                      help="which streams to send, e.g. traces for a traces-only backend (default: traces,logs,metrics)")
    ship.add_argument("--timeout", type=float, default=10.0, help="seconds per request (default 10)")
    ship.add_argument("--batch-size", type=int, default=4096, metavar="KIB",
                      help="KiB of lines merged into one request at most (default 4096; a longer line goes alone)")
    ship.add_argument("--workers", type=int, metavar="N",
                      help="processes decoding and encoding lines while this one sends (default: one per "
                           "CPU but one, up to 4, for protobuf when there are megabytes to ship; 1: none)")
    ship.set_defaults(handler=run_ship)


def run_ship(args: argparse.Namespace) -> int:
    from aiw_otel.readback.files import ReadbackError
    from aiw_otel.readback.ship import ShipError, Summary, ship

    try:
        routes = [(_target(args, protocol, compression), signals)
                  for (protocol, compression), signals in _routes(args, _signals(args.signals)).items()]
    except ValueError as error:
        _error(str(error))
        return 2
    import gc

    # Every line is parsed into objects freed by reference counting as soon as it is batched; the
    # cycle collector would only walk the loaded modules' objects again and again (a third of ship).
    gc.disable()
    progress = _progress_on_terminal()
    for target, signals in routes:  # one protocol (and compression) at a time, each with a summary line
        summary = Summary()
        try:
            ship(args.paths, target, summary, signals=signals, batch_bytes=args.batch_size * 1024,
                 progress=progress, workers=args.workers)
        except ReadbackError as error:
            _error(error)
            return 1
        except (ShipError, KeyboardInterrupt) as error:
            _end_progress(progress)
            _error(f"ship stopped: {error}" if isinstance(error, ShipError) else "ship interrupted")
            print(summary.describe(target))
            _error("what was acknowledged is recorded; run the same command again to resume from there")
            return 1 if isinstance(error, ShipError) else 130
        _end_progress(progress)
        print(summary.describe(target))
    return 0


def _progress_on_terminal() -> Progress | None:
    """A line on stderr rewritten as requests are acknowledged, only when stderr is a terminal
    (a CI log or a pipe gets the summary alone)."""
    import sys
    import time

    if not sys.stderr.isatty():
        return None
    started = time.monotonic()
    shown = [0.0]

    def show(summary: Summary) -> None:
        now = time.monotonic()
        if now - shown[0] < 0.2:
            return
        shown[0] = now
        rate = summary.sent_bytes / max(now - started, 1e-6) / 1e6
        sys.stderr.write(f"\rshipping: {summary.lines} lines ({summary.sent_bytes / 1e6:.1f} MB) in "
                         f"{summary.requests} requests, {rate:.1f} MB/s\x1b[K")
        sys.stderr.flush()

    return show


def _end_progress(progress: Progress | None) -> None:
    import sys

    if progress is not None:
        sys.stderr.write("\r\x1b[K")
        sys.stderr.flush()


def _routes(args: argparse.Namespace, signals: tuple[str, ...]) -> dict[tuple[str, str], tuple[str, ...]]:
    """Each (protocol, compression) with the signals sent so."""
    from aiw_otel.readback.ship import COMPRESSIONS, PROTOCOLS

    groups: dict[tuple[str, str], tuple[str, ...]] = {}
    for signal in signals:
        route = (_setting(args.protocol, "--protocol", signal, "PROTOCOL", "http/protobuf", PROTOCOLS),
                 _setting(args.compression, "--compression", signal, "COMPRESSION", "none", COMPRESSIONS))
        groups[route] = (*groups.get(route, ()), signal)
    return groups


def _setting(option: str | None, flag: str, signal: str, variable: str, default: str, choices: tuple[str, ...]) -> str:
    """The option for every signal, else, as the specification orders the variables, the signal's
    own (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL...), then OTEL_EXPORTER_OTLP_PROTOCOL, then the
    default; ValueError naming a wrong one."""
    value, given = option, flag
    for name in (f"OTEL_EXPORTER_OTLP_{signal.upper()}_{variable}", f"OTEL_EXPORTER_OTLP_{variable}"):
        if value is None and os.environ.get(name, "").strip():
            value, given = os.environ[name].strip(), name
    value = value or default
    if value not in choices:
        raise ValueError(f"{given}: expected one of {', '.join(choices)}, got {value!r}")
    return value


def _target(args: argparse.Namespace, protocol: str, compression: str) -> Any:
    """The destination from the options, else the environment; ValueError saying which value is wrong."""
    from aiw_otel.otlp_values import parse_endpoint
    from aiw_otel.readback.ship import Target, parse_headers

    endpoint, where = args.endpoint, "--endpoint"
    if endpoint is None:
        endpoint, where = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip(), "OTEL_EXPORTER_OTLP_ENDPOINT"
        if not endpoint:
            raise ValueError("no endpoint: give --endpoint URL or set OTEL_EXPORTER_OTLP_ENDPOINT")
    headers_text, headers_from = args.headers, "--headers"
    if headers_text is None:
        headers_text, headers_from = os.environ.get("OTEL_EXPORTER_OTLP_HEADERS", ""), "OTEL_EXPORTER_OTLP_HEADERS"
    try:
        endpoint = parse_endpoint(endpoint)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None
    try:
        headers = parse_headers(headers_text)
    except ValueError as error:
        raise ValueError(f"{headers_from}: {error}") from None
    if args.timeout <= 0:
        raise ValueError(f"--timeout: expected seconds > 0, got {args.timeout}")
    if args.batch_size <= 0:
        raise ValueError(f"--batch-size: expected KiB > 0, got {args.batch_size}")
    if args.workers is not None and args.workers <= 0:
        raise ValueError(f"--workers: expected a number of processes > 0, got {args.workers}")
    return Target(endpoint, protocol, headers, args.timeout, compression)


def _signals(text: str) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [name for name in chosen if name not in SIGNAL_NAMES]
    if unknown or not chosen:
        raise ValueError(f"--signals: expected some of {', '.join(SIGNAL_NAMES)}, got {text!r}")
    return chosen
