"""`aiw-otel logs PATH...`: show runs from their telemetry files as a tree, JSON lines, or as they are written."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Sequence

from aiw_otel.cli.output import PATHS_ARGUMENT, error as _error

if TYPE_CHECKING:
    from aiw_otel.readback.files import SignalFile
    from aiw_otel.readback.records import LogRecord, Span
    from aiw_otel.readback.select import Selection

# The readback modules are imported inside the functions: building the parser for any command
# imports this module, and `aiw-otel ctl` must not pay for the OTLP record classes.

if TYPE_CHECKING:
    from aiw_otel.cli.output import Commands

#: Streams `logs` reads: metrics have no place in a run's tree.
LOG_SIGNALS = ("traces", "logs")


def add_parser(commands: Commands) -> None:
    logs = commands.add_parser("logs", help="show a run from its telemetry files: plan, steps, actions, log lines")
    logs.add_argument("paths", **PATHS_ARGUMENT)
    logs.add_argument("--step", help="only this step (and its plan)")
    logs.add_argument("--level", help="lowest severity of the log lines shown (DEBUG, INFO, WARNING, ERROR)")
    logs.add_argument("--component", help="only log lines of this component (ai_service, terminal_interaction...)")
    logs.add_argument("--trace", help="only this trace (hex id, a prefix is enough)")
    logs.add_argument("--follow", "-f", action="store_true", help="print spans and log lines as they are written")
    logs.add_argument("--json", action="store_true", help="one JSON object per span or log record")
    logs.add_argument("--lines", type=int, default=5, help="log lines kept per span, the last ones (0: all; default 5)")
    logs.add_argument("--no-color", action="store_true", help="plain text even on a terminal")
    logs.set_defaults(handler=run_logs)


def json_line(record: Span | LogRecord) -> str:
    return json.dumps(record.as_json(), ensure_ascii=False, default=str)


def selection_of(args: argparse.Namespace) -> Selection:
    """ValueError naming the choices for a level or component that does not exist."""
    from aiw_otel.model import ComponentType
    from aiw_otel.readback.select import Selection, severity_floor

    return Selection(
        trace=args.trace,
        step=args.step,
        min_severity=severity_floor(args.level) if args.level else 0,
        component=ComponentType.parse(args.component).value if args.component else None,
    )


def resolve_step(selection: Selection, spans: Sequence[Span], logs: Sequence[LogRecord]) -> Selection:
    """`--step` as the console takes it: a step's name, id or a unique prefix of one, among the steps
    in the files; StepNotFound (a ValueError) lists the candidates."""
    import dataclasses

    from aiw_otel import conventions as sc
    from aiw_otel.stepref import StepRef, resolve

    names: dict[str, str | None] = {}
    for span in spans:
        if span.is_step and span.step_id:
            names[span.step_id] = span.attributes.get(sc.AIW_STEP_NAME) or names.get(span.step_id)
    for record in logs:
        if record.step_id:
            names.setdefault(record.step_id, None)
    assert selection.step is not None
    step_id = resolve(selection.step, [StepRef(step_id, name) for step_id, name in names.items()])
    return dataclasses.replace(selection, step=step_id)


def run_logs(args: argparse.Namespace) -> int:
    from aiw_otel.readback.files import ReadbackError

    try:
        selection = selection_of(args)
        if args.lines < 0:
            raise ValueError(f"--lines must be 0 (all) or more, got {args.lines}")
    except ValueError as error:
        _error(str(error))
        return 2
    try:
        return _follow(args, selection) if args.follow else _show(args, selection)
    except ReadbackError as error:
        _error(str(error))
        return 1
    except BrokenPipeError:
        return _reader_went_away()


def _reader_went_away() -> int:
    """`aiw-otel logs | head`: the reader stopped reading, which is no error (and must not raise again at exit)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 0


def _show(args: argparse.Namespace, selection: Selection) -> int:
    from aiw_otel.logdir import SIGNAL_FILES
    from aiw_otel.readback.files import find_files
    from aiw_otel.readback.records import load

    files = find_files(args.paths, LOG_SIGNALS)
    if not files:
        names = ", ".join(SIGNAL_FILES[signal] for signal in LOG_SIGNALS)
        _error(f"no telemetry files ({names} or their backups) in {', '.join(args.paths)}")
        return 0
    if args.json:
        return _json(files, selection)
    spans, logs = load(files)
    if selection.step is not None:
        try:
            selection = resolve_step(selection, spans, logs)
        except ValueError as error:
            _error(str(error))
            return 2
    spans, logs = selection.apply(spans, logs)
    from rich.console import Console

    from aiw_otel.readback.render import render_runs
    from aiw_otel.readback.tree import build_runs

    runs = build_runs(spans, logs)
    if not runs:
        _error("no spans or log records match")
    render_runs(runs, Console(no_color=args.no_color or None, highlight=False), args.lines)
    return 0


def _json(files: Sequence[SignalFile], selection: Selection) -> int:
    """One JSON line per record, streamed: memory is a line per stream, whatever the directory holds."""
    from itertools import islice

    from aiw_otel.readback.stream import stream_records

    try:
        records = stream_records(files, selection)
    except ValueError as error:  # --step names no step (or several)
        _error(str(error))
        return 2
    write = sys.stdout.write
    while batch := list(islice(records, 512)):
        write("".join(json_line(record) + "\n" for record in batch))
    sys.stdout.flush()
    return 0


def _follow(args: argparse.Namespace, selection: Selection) -> int:
    from aiw_otel.readback.follow import follow, plain_line

    line = json_line if args.json else plain_line
    try:
        follow(args.paths, lambda record: print(line(record), flush=True), selection)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a follow ends
    return 0
