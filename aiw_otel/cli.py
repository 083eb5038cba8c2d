"""The `aiw-otel` command: `demo` shows the pipeline, `check` validates a config without running."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from aiw_otel.config import ConfigError


def _check(args: argparse.Namespace) -> int:
    from aiw_otel.config_env import apply_environment
    from aiw_otel.config_yaml import load_config_file

    loaded = load_config_file(args.config)
    settings = apply_environment(loaded.telemetry, os.environ)
    sinks = [name for name in ("console", "otlp") if getattr(settings.sinks, name).enabled]
    print(f"{args.config}: OK (service {settings.service_name!r}, sinks: {', '.join(sinks) or 'none'}, "
          f"stdlib logging section: {'yes' if loaded.logging_dict else 'no'})")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from pathlib import Path

    from aiw_otel.config_env import apply_environment, config_path_from_environment
    from aiw_otel.config_yaml import load_config_file
    from aiw_otel.demo import run_demo

    path = args.config or config_path_from_environment(os.environ)
    settings = apply_environment(load_config_file(path).telemetry, os.environ) if path else None
    return run_demo(settings, Path(args.workspace) if args.workspace else None)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aiw-otel", description="Logging and monitoring for the AIWhisperer Runner.")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="validate a config file without running anything")
    check.add_argument("config", help="YAML config (seed logging_config.yaml format plus a telemetry: section)")
    check.set_defaults(handler=_check)
    demo = commands.add_parser("demo", help="run a scripted plan through the whole pipeline")
    demo.add_argument("--config", help="YAML config file (default: $AIW_CONFIG, else built-in defaults)")
    demo.add_argument("--workspace", help="directory for the demo's files (default: a new temporary one)")
    demo.set_defaults(handler=_demo)
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
