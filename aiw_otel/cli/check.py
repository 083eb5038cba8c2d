"""`aiw-otel check FILE`: validate a plan or a config file without running anything."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiw_otel.cli.output import Commands
    from aiw_otel.runner.plan import Plan


def add_parser(commands: Commands) -> None:
    check = commands.add_parser("check", help="validate a plan or a config file without running anything")
    check.add_argument("config", help="a plan (JSON, YAML or folder), or a YAML config "
                                      "(seed logging_config.yaml format plus a telemetry: section)")
    from aiw_otel.cli.run import add_ai_arguments

    add_ai_arguments(check)  # check a plan with the options it will run with
    check.set_defaults(handler=check_command)


def check_command(args: argparse.Namespace) -> int:
    """A plan (JSON, a folder, or YAML with a `plan:` list) or a config (YAML with telemetry or
    logging keys); a YAML file is read and parsed once, then checked as what it turned out to be."""
    from aiw_otel.runner.plan_loader import load_plan, plan_from_document

    path = args.config
    if os.path.isdir(path) or path.endswith(".json"):
        return _plan_ok(path, load_plan(path))
    document = _yaml_document(path)
    if isinstance(document, dict) and "plan" in document:
        return _plan_ok(path, plan_from_document(document, path))
    from aiw_otel.config_yaml import config_from_document
    from aiw_otel.settings import load_settings

    loaded = load_settings(config_from_document(document, path), os.environ)
    settings = loaded.telemetry
    for warning in loaded.warnings:
        print(f"aiw-otel: warning: {warning}", file=sys.stderr)
    sinks = [name for name in ("file", "console", "otlp", "prometheus") if getattr(settings.sinks, name).enabled]
    print(f"{path}: OK (service {settings.service_name!r}, sinks: {', '.join(sinks) or 'none'}, "
          f"stdlib logging section: {'yes' if loaded.logging_dict else 'no'})")
    return 0


def _plan_ok(path: str, plan: Plan) -> int:
    from aiw_otel.present import step_count

    print(f"{path}: OK (plan {plan.name!r}, {step_count(len(plan.steps))}: {', '.join(s.step_id for s in plan.steps)})")
    return 0


def _yaml_document(path: str) -> Any:
    """The file parsed with its lines. Until it is parsed it is neither a plan nor a config, so a
    file that cannot be read is named as a file; one that is not YAML is reported by the config
    reader's rules (file and line), as a config is what a non-plan YAML file is taken for."""
    from aiw_otel.errors import ConfigError, FileError
    from aiw_otel.hand_edited import decode_text, parse_yaml
    from aiw_otel.regular_file import read_regular

    try:
        data = read_regular(path)
    except OSError as error:
        raise FileError(f"cannot read it: {error.strerror or error}", source=path) from None
    return parse_yaml(decode_text(data, path, ConfigError), path, ConfigError)
