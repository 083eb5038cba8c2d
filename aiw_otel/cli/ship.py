"""`aiw-otel ship PATH... --endpoint URL`: send saved telemetry to an OTLP endpoint, resuming without duplicates."""

from __future__ import annotations

import argparse
from typing import Any

from aiw_otel.cli.output import PATHS_ARGUMENT, error as _error
from aiw_otel.readback.files import ReadbackError


def add_parser(commands: Any) -> None:
    ship = commands.add_parser("ship", help="send saved telemetry to an OTLP endpoint, resuming without duplicates")
    ship.add_argument("paths", **PATHS_ARGUMENT)
    ship.add_argument("--endpoint", required=True, help="OTLP endpoint, e.g. http://localhost:4318 (4317 for grpc)")
    ship.add_argument("--protocol", choices=("http/protobuf", "grpc"), default="http/protobuf")
    ship.add_argument("--headers", help="extra request headers, k=v,k2=v2")
    ship.add_argument("--timeout", type=float, default=10.0, help="seconds per request (default 10)")
    ship.set_defaults(handler=run_ship)


def run_ship(args: argparse.Namespace) -> int:
    from aiw_otel.readback.ship import ShipError, Summary, Target, parse_headers, ship

    try:
        target = Target(args.endpoint, args.protocol, parse_headers(args.headers or ""), args.timeout)
    except ValueError as error:
        _error(str(error))
        return 2
    summary = Summary()
    try:
        ship(args.paths, target, summary)
    except ReadbackError as error:
        _error(str(error))
        return 1
    except ShipError as error:
        _error(f"ship stopped: {error}")
        print(summary.describe(target))
        _error("what was acknowledged is recorded; run the same command again to resume from there")
        return 1
    print(summary.describe(target))
    return 0
