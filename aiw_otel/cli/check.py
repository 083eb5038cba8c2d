"""`aiw-otel check FILE`: validate a plan or a config file without running anything."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiw_otel.cli.output import Commands


def add_parser(commands: Commands) -> None:
    check = commands.add_parser("check", help="validate a plan or a config file without running anything")
    check.add_argument("config", help="a plan (JSON, YAML or folder), or a YAML config "
                                      "(seed logging_config.yaml format plus a telemetry: section)")
    from aiw_otel.cli.run import add_ai_arguments

    add_ai_arguments(check)  # check a plan with the options it will run with
    check.set_defaults(handler=check_command)


def check_command(args: argparse.Namespace) -> int:
    if _is_plan(args.config):
        from aiw_otel.runner.plan_loader import load_plan

        plan = load_plan(args.config)
        print(f"{args.config}: OK (plan {plan.name!r}, {len(plan.steps)} steps: "
              f"{', '.join(s.step_id for s in plan.steps)})")
        return 0
    from aiw_otel.settings import load_settings

    loaded = load_settings(args.config, os.environ)
    settings = loaded.telemetry
    for warning in loaded.warnings:
        print(f"aiw-otel: warning: {warning}", file=sys.stderr)
    sinks = [name for name in ("file", "console", "otlp") if getattr(settings.sinks, name).enabled]
    print(f"{args.config}: OK (service {settings.service_name!r}, sinks: {', '.join(sinks) or 'none'}, "
          f"stdlib logging section: {'yes' if loaded.logging_dict else 'no'})")
    return 0


def _is_plan(path: str) -> bool:
    """Plans are JSON, folders, or YAML with a `plan:` list; configs are YAML with telemetry/logging keys."""
    from aiw_otel.errors import ConfigError
    from aiw_otel.hand_edited import parse_yaml
    from aiw_otel.regular_file import read_regular

    if os.path.isdir(path) or path.endswith(".json"):
        return True
    try:
        document = parse_yaml(read_regular(path).decode("utf-8"), path, ConfigError)
    except (OSError, UnicodeError, ConfigError):
        return False  # let the config reader report it with file and line
    return isinstance(document, dict) and "plan" in document
