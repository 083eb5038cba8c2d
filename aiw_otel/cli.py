"""The `aiw-otel` command: `demo` shows the pipeline, `check` validates a config without running."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from typing import Sequence

from aiw_otel.config import ConfigError, TelemetryConfig


def _check(args: argparse.Namespace) -> int:
    from aiw_otel.config_env import apply_environment
    from aiw_otel.config_yaml import load_config_file

    loaded = load_config_file(args.config)
    settings = apply_environment(loaded.telemetry, os.environ)
    sinks = [name for name in ("file", "console", "otlp") if getattr(settings.sinks, name).enabled]
    print(f"{args.config}: OK (service {settings.service_name!r}, sinks: {', '.join(sinks) or 'none'}, "
          f"stdlib logging section: {'yes' if loaded.logging_dict else 'no'})")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from pathlib import Path

    from aiw_otel.config_env import apply_environment, config_path_from_environment
    from aiw_otel.config_yaml import load_config_file
    from aiw_otel.demo import run_demo

    path = args.config or config_path_from_environment(os.environ)
    loaded = load_config_file(path).telemetry if path else TelemetryConfig()
    settings = apply_environment(loaded, os.environ)
    if args.log_dir:
        settings = replace(settings, sinks=replace(settings.sinks, file=replace(settings.sinks.file, directory=args.log_dir)))
    return run_demo(settings, Path(args.workspace) if args.workspace else None)


def _logs(args: argparse.Namespace) -> int:
    from aiw_otel.readback.commands import run_logs

    return run_logs(args)


def _ship(args: argparse.Namespace) -> int:
    from aiw_otel.readback.commands import run_ship

    return run_ship(args)


def _add_readback_commands(commands: argparse._SubParsersAction) -> None:
    paths = {"nargs": "*", "default": ["logs"], "metavar": "PATH",
             "help": "log directory or telemetry files, rotated and .gz backups included (default: ./logs)"}
    logs = commands.add_parser("logs", help="show a run from its telemetry files: plan, steps, actions, log lines")
    logs.add_argument("paths", **paths)
    logs.add_argument("--step", help="only this step (and its plan)")
    logs.add_argument("--level", help="lowest severity of the log lines shown (DEBUG, INFO, WARNING, ERROR)")
    logs.add_argument("--component", help="only log lines of this component (ai_service, terminal_interaction...)")
    logs.add_argument("--trace", help="only this trace (hex id, a prefix is enough)")
    logs.add_argument("--follow", "-f", action="store_true", help="print spans and log lines as they are written")
    logs.add_argument("--json", action="store_true", help="one JSON object per span or log record")
    logs.add_argument("--lines", type=int, default=5, help="log lines kept per span, the last ones (0: all; default 5)")
    logs.add_argument("--no-color", action="store_true", help="plain text even on a terminal")
    logs.set_defaults(handler=_logs)
    ship = commands.add_parser("ship", help="send saved telemetry to an OTLP endpoint, resuming without duplicates")
    ship.add_argument("paths", **paths)
    ship.add_argument("--endpoint", required=True, help="OTLP endpoint, e.g. http://localhost:4318 (4317 for grpc)")
    ship.add_argument("--protocol", choices=("http/protobuf", "grpc"), default="http/protobuf")
    ship.add_argument("--headers", help="extra request headers, k=v,k2=v2")
    ship.add_argument("--timeout", type=float, default=10.0, help="seconds per request (default 10)")
    ship.set_defaults(handler=_ship)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aiw-otel", description="Logging and monitoring for the AIWhisperer Runner.")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="validate a config file without running anything")
    check.add_argument("config", help="YAML config (seed logging_config.yaml format plus a telemetry: section)")
    check.set_defaults(handler=_check)
    demo = commands.add_parser("demo", help="run a scripted plan through the whole pipeline")
    demo.add_argument("--config", help="YAML config file (default: $AIW_CONFIG, else built-in defaults)")
    demo.add_argument("--workspace", help="directory for the demo's files (default: a new temporary one)")
    demo.add_argument("--log-dir", help="where the telemetry files go (default: ./logs, or the config's)")
    demo.set_defaults(handler=_demo)
    _add_readback_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except ConfigError as error:
        print(f"aiw-otel: configuration error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
