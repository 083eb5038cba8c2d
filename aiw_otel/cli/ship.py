"""`aiw-otel ship PATH...`: send saved telemetry to an OTLP endpoint, resuming without duplicates.

The destination defaults to the OTEL_EXPORTER_OTLP_* variables a user already exports for live
runs, read by the runner's own resolver (config_env), so shipping a run done offline needs nothing
more than the paths and goes where the live run would have sent it.
"""

from __future__ import annotations

import argparse
import functools
import os
from typing import TYPE_CHECKING, Callable, TypeVar

from aiw_otel.cli.output import PATHS_ARGUMENT, error as _error

if TYPE_CHECKING:
    from aiw_otel.cli.output import Commands
    from aiw_otel.readback.ship import Progress, Summary, Target

T = TypeVar("T")

SIGNAL_NAMES = ("traces", "logs", "metrics")


def add_parser(commands: Commands) -> None:
    ship = commands.add_parser("ship", help="send saved telemetry to an OTLP endpoint, resuming without duplicates")
    ship.add_argument("paths", **PATHS_ARGUMENT)
    ship.add_argument("--endpoint", help="OTLP endpoint for every signal, e.g. http://localhost:4318 (4317 for "
                                         "grpc; /v1/<signal> is appended for http); default: each signal's "
                                         "$OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT (used as is), else "
                                         "$OTEL_EXPORTER_OTLP_ENDPOINT")
    ship.add_argument("--protocol", help="http/protobuf, http/json or grpc, for every signal (default: each "
                                         "signal's $OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL, else "
                                         "$OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf); http/json sends the "
                                         "lines as written, unconverted: the fastest")
    ship.add_argument("--compression", help="gzip, deflate or none, for every signal (default: each signal's "
                                            "$OTEL_EXPORTER_OTLP_<SIGNAL>_COMPRESSION, else "
                                            "$OTEL_EXPORTER_OTLP_COMPRESSION, else none)")
    ship.add_argument("--headers", help="request headers k=v,k2=v2, percent-encoded, for every signal (default: "
                                        "$OTEL_EXPORTER_OTLP_<SIGNAL>_HEADERS, else $OTEL_EXPORTER_OTLP_HEADERS)")
    for flag, variable, what in (("--certificate", "CERTIFICATE", "PEM file of the CA to trust over https"),
                                 ("--client-key", "CLIENT_KEY", "PEM file of the client's private key (mutual TLS)"),
                                 ("--client-certificate", "CLIENT_CERTIFICATE",
                                  "PEM file of the client's certificate (mutual TLS)")):
        ship.add_argument(flag, metavar="FILE", help=f"{what}, for every signal (default: "
                                                     f"$OTEL_EXPORTER_OTLP_<SIGNAL>_{variable}, else "
                                                     f"$OTEL_EXPORTER_OTLP_{variable})")
    ship.add_argument("--signals", help="which streams to send, e.g. traces for a traces-only backend (default: "
                                        "traces,logs,metrics; only those with an endpoint variable of their own "
                                        "when there is no generic one)")
    ship.add_argument("--timeout", type=float, help="seconds per request, for every signal (default: "
                                                    "$OTEL_EXPORTER_OTLP_<SIGNAL>_TIMEOUT, else "
                                                    "$OTEL_EXPORTER_OTLP_TIMEOUT, in milliseconds; else 10 s)")
    ship.add_argument("--batch-size", type=int, default=4096, metavar="KIB",
                      help="KiB of lines merged into one request at most (default 4096; a longer line goes alone)")
    ship.add_argument("--workers", type=int, metavar="N",
                      help="processes decoding and encoding lines while this one sends (default: one per "
                           "CPU but one, up to 4, for protobuf when there are megabytes to ship; 1: none)")
    ship.set_defaults(handler=run_ship)


def run_ship(args: argparse.Namespace) -> int:
    """Exit 2, as `logs` does, when no file given holds a line of telemetry; bad lines are named 3 a file."""
    from aiw_otel.readback.bad_lines import BadLines
    from aiw_otel.readback.files import ReadbackError, find_files
    from aiw_otel.readback.ship import ShipError, Summary, ship

    try:
        routes = _routes(args)
    except ValueError as error:  # a ConfigError too: the environment variable it names
        _error(str(error))
        return 2
    import gc

    # Every line is parsed into objects freed by reference counting as soon as it is batched; the
    # cycle collector would only walk the loaded modules' objects again and again (a third of ship).
    gc.disable()
    progress = _progress_on_terminal()
    bad_lines = BadLines()
    for target, signals in routes:  # one destination at a time, each with a summary line and resume state
        summary = Summary()
        try:
            ship(args.paths, target, summary, signals=signals, batch_bytes=args.batch_size * 1024,
                 progress=progress, workers=args.workers, warn=bad_lines)
        except ReadbackError as error:
            _error(error)
            return 1
        except (ShipError, KeyboardInterrupt) as error:
            _end_progress(progress)
            bad_lines.finish()
            _error(f"ship stopped: {error}" if isinstance(error, ShipError) else "ship interrupted")
            print(summary.describe(target))
            _error("what was acknowledged is recorded; run the same command again to resume from there")
            return 1 if isinstance(error, ShipError) else 130
        _end_progress(progress)
        print(summary.describe(target))
    bad_lines.finish()
    return 2 if bad_lines.none_readable(find_files(args.paths)) else 0


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


def _routes(args: argparse.Namespace) -> list[tuple[Target, tuple[str, ...]]]:
    """Each destination with the signals sent there: the OTLP variables resolved as the runner
    resolves them (a signal's own variable wins over the generic one; its own endpoint is used as
    is), the options laid over every signal; ValueError naming a wrong value."""
    from dataclasses import astuple

    from aiw_otel.config_env import read_otlp_environment
    from aiw_otel.otlp_values import TlsFiles, one_of
    from aiw_otel.readback.ship import COMPRESSIONS, PROTOCOLS, Target, header_names_lowercased

    options = _Options(args, PROTOCOLS, COMPRESSIONS)
    otlp = read_otlp_environment(os.environ, functools.partial(one_of, PROTOCOLS),
                                 functools.partial(one_of, COMPRESSIONS))
    if args.signals is not None:
        signals = _signals(args.signals)
    else:  # as for the runner, a signal's own endpoint alone sends that signal alone
        signals = tuple(name for name in SIGNAL_NAMES if args.endpoint or not otlp.enabled or name in otlp.signals)
    routes: list[tuple[Target, tuple[str, ...]]] = []
    for signal in signals:
        resolved = otlp.target(signal)
        protocol = options.protocol or resolved.protocol
        endpoint, as_is = options.endpoint, False
        if endpoint is None and "endpoint" in otlp.per_signal.get(signal, {}):
            endpoint, as_is = _own_endpoint(resolved.url, signal, protocol)
        endpoint = endpoint or otlp.endpoint
        if endpoint is None:
            raise ValueError(f"no endpoint for {signal}: give --endpoint URL or set OTEL_EXPORTER_OTLP_ENDPOINT "
                             f"(or OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT)")
        headers = options.headers if options.headers is not None else header_names_lowercased(resolved.headers)
        tls = TlsFiles(*(given or resolved_file for given, resolved_file in zip(options.tls, astuple(resolved.tls))))
        target = Target(endpoint, protocol, headers, options.timeout_s or resolved.timeout_s,
                        options.compression or resolved.compression or "none", as_is, tls)
        known = next((i for i, (other, _) in enumerate(routes) if other == target), None)
        if known is None:
            routes.append((target, (signal,)))
        else:
            routes[known] = (target, (*routes[known][1], signal))
    return routes


def _own_endpoint(url: str, signal: str, protocol: str) -> tuple[str, bool]:
    """A signal's own endpoint and whether it is used as is (over http). One that is a base's
    `/v1/<signal>` URL is that base's: it ships, and resumes, with the signals sent to the same base."""
    if protocol == "grpc":
        return url, False  # an address: no path is appended to it
    base = url.removesuffix(f"/v1/{signal}")
    if base != url and not base.endswith("/"):
        return base, False
    return url, True


class _Options:
    """The command line's choices, checked before anything is read or sent; None: not given."""

    def __init__(self, args: argparse.Namespace, protocols: tuple[str, ...], compressions: tuple[str, ...]) -> None:
        from aiw_otel.otlp_values import check_readable, one_of, parse_endpoint
        from aiw_otel.readback.ship import parse_headers

        self.endpoint: str | None = _option("--endpoint", parse_endpoint, args.endpoint)
        self.protocol: str | None = _option("--protocol", functools.partial(one_of, protocols), args.protocol)
        self.compression: str | None = _option("--compression", functools.partial(one_of, compressions),
                                               args.compression)
        self.headers: dict[str, str] | None = _option("--headers", parse_headers, args.headers)
        #: (CA, client key, client certificate) files, in TlsFiles' order.
        self.tls: tuple[str | None, ...] = (_option("--certificate", check_readable, args.certificate),
                                            _option("--client-key", check_readable, args.client_key),
                                            _option("--client-certificate", check_readable, args.client_certificate))
        if args.timeout is not None and not args.timeout > 0:
            raise ValueError(f"--timeout: expected seconds > 0, got {args.timeout}")
        self.timeout_s: float | None = args.timeout
        if args.batch_size <= 0:
            raise ValueError(f"--batch-size: expected KiB > 0, got {args.batch_size}")
        if args.workers is not None and args.workers <= 0:
            raise ValueError(f"--workers: expected a number of processes > 0, got {args.workers}")


def _option(flag: str, parse: Callable[[str], T], text: str | None) -> T | None:
    try:
        return None if text is None else parse(text)
    except ValueError as error:
        raise ValueError(f"{flag}: {error}") from None


def _signals(text: str) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [name for name in chosen if name not in SIGNAL_NAMES]
    if unknown or not chosen:
        raise ValueError(f"--signals: expected some of {', '.join(SIGNAL_NAMES)}, got {text!r}")
    return chosen
