"""`aiw-otel logs PATH...`: show runs from their telemetry files as a tree, JSON lines, or as they are written."""

from __future__ import annotations

import argparse
import io
import sys
from typing import TYPE_CHECKING, Sequence

from aiw_otel.cli.output import PATHS_ARGUMENT, stdout_to_devnull
from aiw_otel.cli.output import error as _error

if TYPE_CHECKING:
    from aiw_otel.readback.bad_lines import BadLines
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
    logs.add_argument("--runs", action="store_true",
                      help="list the runs, newest first: start, plan, outcome, duration, tokens, cost, trace id")
    logs.add_argument("--last", action="store_true", help="only the newest run")
    logs.add_argument("--since", metavar="TIME",
                      help="only runs started at or after TIME (2024-05-01T12:00, or ago: 30m, 2h, 1d)")
    logs.add_argument("--follow", "-f", action="store_true", help="print spans and log lines as they are written")
    logs.add_argument("--json", action="store_true", help="one JSON object per span or log record")
    logs.add_argument("--lines", type=int, default=5, help="log lines kept per span, the last ones (0: all; default 5)")
    logs.add_argument("--no-color", action="store_true", help="plain text even on a terminal")
    logs.set_defaults(handler=run_logs)


def selection_of(args: argparse.Namespace) -> Selection:
    """ValueError naming the choices for a level or component that does not exist."""
    from aiw_otel.readback.select import Selection, severity_floor

    component = None
    if args.component:  # the model (enums, dataclasses) is imported only by who names a component
        from aiw_otel.model import ComponentType

        component = ComponentType.parse(args.component).value
    return Selection(
        trace=args.trace,
        step=args.step,
        min_severity=severity_floor(args.level) if args.level else 0,
        component=component,
    )


def run_logs(args: argparse.Namespace) -> int:
    """Exit 2 when no file given holds a line of telemetry (the wrong PATH: `logs /etc/passwd`), after
    a few of its lines are named; a directory with some readable files is shown, exit 0."""
    from aiw_otel.readback.bad_lines import BadLines
    from aiw_otel.readback.files import ReadbackError

    try:
        selection = selection_of(args)
        _since(args.since)
        if args.lines < 0:
            raise ValueError(f"--lines must be 0 (all) or more, got {args.lines}")
    except ValueError as error:
        _error(str(error))
        return 2
    bad_lines = BadLines()
    try:
        return _follow(args, selection, bad_lines) if args.follow else _show(args, selection, bad_lines)
    except ReadbackError as error:
        _error(error)
        return 1
    except BrokenPipeError:
        return _reader_went_away()


def _reader_went_away() -> int:
    """`aiw-otel logs | head`: the reader stopped reading, which is no error (and must not raise again at exit)."""
    stdout_to_devnull()
    return 0


def _show(args: argparse.Namespace, selection: Selection, bad_lines: BadLines) -> int:
    import gc

    # Decoded OTLP holds no reference cycles, so reference counting frees every record; the cycle
    # collector would only walk the run held in memory again and again (a third of the time).
    gc.disable()
    from aiw_otel.logdir import SIGNAL_FILES
    from aiw_otel.readback.files import find_files
    from aiw_otel.readback.records import load

    files = find_files(args.paths, LOG_SIGNALS)
    if not files:
        names = ", ".join(SIGNAL_FILES[signal] for signal in LOG_SIGNALS)
        _error(f"no telemetry files ({names} or their backups) in {', '.join(args.paths)}")
        return 0
    code = _shown(files, selection, args, bad_lines)
    bad_lines.finish()
    return 2 if code == 0 and bad_lines.none_readable(files) else code


def _shown(files: Sequence[SignalFile], selection: Selection, args: argparse.Namespace, bad_lines: BadLines) -> int:
    """The mode asked for, each reader warning through `bad_lines`: their counts are said once all are done."""
    if args.runs:
        return _list_runs(files, _since(args.since), bad_lines)
    if args.last or args.since:
        chosen, selection = _choose_runs(files, selection, args.last, _since(args.since), bad_lines)
        if not chosen:
            _error("no run matches")
            return 0
        files = chosen
    if args.json:
        return _json(files, selection, bad_lines)
    return _tree(files, selection, args, bad_lines)


def _tree(files: Sequence[SignalFile], selection: Selection, args: argparse.Namespace, bad_lines: BadLines) -> int:
    """The runs drawn one at a time as the stream of records reaches the end of each."""
    import os

    from aiw_otel.readback.render import PlainWriter, RichWriter, Writer, render_runs
    from aiw_otel.readback.stream import stream_records
    from aiw_otel.readback.tree import runs_as_they_end

    try:
        records = stream_records(files, selection, bad_lines)
    except ValueError as error:  # --step names no step (or several)
        _error(str(error))
        return 2
    writer: Writer
    if args.no_color or os.environ.get("NO_COLOR") or not sys.stdout.isatty():
        writer = PlainWriter(sys.stdout)  # to a pipe, lines are as long as they are: ids stay whole for grep
    else:
        from rich.console import Console

        writer = RichWriter(Console(highlight=False))
    if not render_runs(runs_as_they_end(records), writer, args.lines):
        _error("no spans or log records match")
    sys.stdout.flush()
    return 0


def _since(text: str | None) -> int:
    """--since as ns since the epoch (0: none); ValueError for what is neither a time nor `30m`/`2h`/`1d`."""
    if not text:
        return 0
    import re
    import time
    from datetime import datetime, timezone

    ago = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", text.strip())
    if ago:
        seconds = float(ago.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[ago.group(2)]
        return int((time.time() - seconds) * 1e9)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--since {text!r}: not a time (2024-05-01T12:00, UTC unless it says) "
                         "nor a time ago (30m, 2h, 1d)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1e9)


def _choose_runs(files: Sequence[SignalFile], selection: Selection, last: bool,
                 since_ns: int, bad_lines: BadLines) -> tuple[list[SignalFile], Selection]:
    """The files holding the chosen runs, and the selection narrowed to them (by a full trace id for one run)."""
    from aiw_otel.readback.runs import files_holding, newest_run, summaries

    if last and not since_ns:  # read from the end of the files, as far back as the newest run goes
        newest = newest_run(files, selection.keeps_trace, bad_lines)
        if newest is not None:
            trace_id, narrowed = newest
            return narrowed, selection._replace(trace=trace_id)
        # No run at the end of the files: read forward, which names the lines that are not telemetry.
    runs = [run for run in summaries(files, usage=False, warn=bad_lines) if selection.keeps_trace(run.trace_id)]
    if since_ns:
        runs = [run for run in runs if run.started_ns == 0 or run.started_ns >= since_ns]
    if last:
        runs = runs[:1]
    chosen = {run.trace_id for run in runs}
    if not chosen:
        return [], selection
    if len(chosen) == 1:
        selection = selection._replace(trace=next(iter(chosen)))
    else:
        selection = selection._replace(traces=frozenset(chosen))
    return files_holding(files, chosen, bad_lines), selection


def _list_runs(files: Sequence[SignalFile], since_ns: int, bad_lines: BadLines) -> int:
    from aiw_otel.timestamps import iso_ms
    from aiw_otel.present import duration
    from aiw_otel.readback.describe import usage_text
    from aiw_otel.readback.runs import INTERRUPTED, summaries
    from aiw_otel.terminal_text import safe_line

    runs = [run for run in summaries(files, warn=bad_lines) if not since_ns or run.started_ns == 0 or run.started_ns >= since_ns]
    lines = []
    for run in runs:
        interrupted = run.outcome == INTERRUPTED
        start = iso_ms(run.started_ns) if run.start_ns or interrupted else "(running)"
        outcome = f"{run.outcome} (no end recorded, last seen {iso_ms(run.last_ns)})" if interrupted else run.outcome
        took = duration(run.duration_ms) if run.duration_ms is not None else "-"
        lines.append("  ".join([start, safe_line(run.plan or "-"), outcome, took,
                                usage_text(run.usage) or "-", f"trace {run.trace_id}"]))
    if not lines:
        _error("no runs in the traces files")
    sys.stdout.write("".join(line + "\n" for line in lines))
    return 0


def _json(files: Sequence[SignalFile], selection: Selection, bad_lines: BadLines) -> int:
    """One JSON line per record, streamed: memory is a line per stream, whatever the directory holds."""
    from operator import itemgetter

    from aiw_otel.readback.json_line import timed_lines
    from aiw_otel.readback.stream import stream_converted

    text_of = itemgetter(1)  # a (time written, JSON line) pair's line

    try:
        batches = stream_converted(files, timed_lines, selection, bad_lines)
    except ValueError as error:  # --step names no step (or several)
        _error(str(error))
        return 2
    if isinstance(sys.stdout, io.TextIOWrapper):
        # A lone surrogate (JSON's "\ud800", which a file may hold) cannot be written as UTF-8: written
        # back as that escape, the line stays JSON of the same value instead of ending the output.
        sys.stdout.reconfigure(errors="backslashreplace")
    write = sys.stdout.write
    for batch in batches:  # one write per batch (an export request's records): stdout is line-buffered on a terminal
        write("\n".join(map(text_of, batch)) + "\n")
    sys.stdout.flush()
    return 0


def _follow(args: argparse.Namespace, selection: Selection, bad_lines: BadLines) -> int:
    from aiw_otel.readback.files import ReadbackError
    from aiw_otel.readback.follow import follow, plain_line
    from aiw_otel.readback.json_line import json_line

    line = json_line if args.json else plain_line
    try:
        follow(args.paths, lambda record: print(line(record), flush=True), selection, warn=bad_lines)
    except KeyboardInterrupt:
        bad_lines.finish()  # Ctrl-C is how a follow ends: then how many lines were passed over is said
    except ReadbackError:
        raise  # a ValueError too, but a PATH it cannot read: run_logs reports it (exit 1, not 2)
    except ValueError as error:  # --step fits several steps
        _error(str(error))
        return 2
    return 0
