"""The `aiw-otel` command: run / demo a plan, check a plan or config, read runs back (logs), ship them,
steer a running plan (ctl) or follow it (watch)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from aiw_otel.config import ConfigError


def _check(args: argparse.Namespace) -> int:
    from aiw_otel.config_env import apply_environment
    from aiw_otel.config_yaml import load_config_file

    if _is_plan(args.config):
        from aiw_otel.runner.plan_loader import load_plan

        plan = load_plan(args.config)
        print(f"{args.config}: OK (plan {plan.name!r}, {len(plan.steps)} steps: "
              f"{', '.join(s.step_id for s in plan.steps)})")
        return 0
    loaded = load_config_file(args.config)
    settings = apply_environment(loaded.telemetry, os.environ)
    sinks = [name for name in ("file", "console", "otlp") if getattr(settings.sinks, name).enabled]
    print(f"{args.config}: OK (service {settings.service_name!r}, sinks: {', '.join(sinks) or 'none'}, "
          f"stdlib logging section: {'yes' if loaded.logging_dict else 'no'})")
    return 0


def _is_plan(path: str) -> bool:
    """Plans are JSON, folders, or YAML with a `plan:` list; configs are YAML with telemetry/logging keys."""
    import yaml

    if os.path.isdir(path) or path.endswith(".json"):
        return True
    try:
        with open(path, encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError):
        return False  # let the config reader report it with file and line
    return isinstance(document, dict) and "plan" in document


def _run(args: argparse.Namespace) -> int:
    from aiw_otel.runner.cli_run import run_command

    return run_command(args)


def _demo(args: argparse.Namespace) -> int:
    from aiw_otel.runner.cli_run import demo_command

    return demo_command(args)


def _logs(args: argparse.Namespace) -> int:
    from aiw_otel.readback.commands import run_logs

    return run_logs(args)


def _ship(args: argparse.Namespace) -> int:
    from aiw_otel.readback.commands import run_ship

    return run_ship(args)


def _ctl(args: argparse.Namespace) -> int:
    from aiw_otel.control.commands import ctl_command

    return ctl_command(args)


def _watch(args: argparse.Namespace) -> int:
    from aiw_otel.control.commands import watch_command

    return watch_command(args)


def _add_control_commands(commands: argparse._SubParsersAction) -> None:
    from aiw_otel.control.commands import add_ctl_arguments, add_watch_arguments

    ctl = commands.add_parser("ctl", help="steer a running plan: pause, resume, cancel, status, context TEXT, details STEP")
    add_ctl_arguments(ctl)
    ctl.set_defaults(handler=_ctl)
    watch = commands.add_parser("watch", help="follow a running plan's state until it ends (read-only)")
    add_watch_arguments(watch)
    watch.set_defaults(handler=_watch)


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
    from aiw_otel.runner.cli_run import add_run_arguments

    run = commands.add_parser("run", help="execute an AIWhisperer plan with full telemetry")
    run.add_argument("plan", help="plan file (overview JSON, single-file JSON or YAML) or a folder with one overview")
    add_run_arguments(run)
    run.set_defaults(handler=_run)
    demo = commands.add_parser("demo", help="run the bundled example plan (replayed AI, real files and commands)")
    add_run_arguments(demo)
    demo.set_defaults(handler=_demo)
    _add_readback_commands(commands)
    _add_control_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except ConfigError as error:
        print(f"aiw-otel: configuration error: {error}", file=sys.stderr)
        return 2
    except ValueError as error:  # PlanError, replay and AI client configuration errors
        print(f"aiw-otel: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
