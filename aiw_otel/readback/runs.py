"""Choosing runs without decoding them all: `logs --runs`, `--last`, `--since`.

The trace ids of a line are found with a regex over its raw bytes; only the lines that hold a plan
span (and, for `--runs`, the AI calls' tokens and cost) are decoded. Nothing is cached beside the
files, so nothing can disagree with them.

A run whose plan span is not written is either still going or was killed (SIGKILL, a lost machine:
nothing ends its plan span). It is named by its start record (identity.py), found in the logs
files by a substring search, and reads as running while its files or its control socket say it may
be: its last record is recent, or a run answers on its log directory's control socket. Otherwise it
is `interrupted?` (no end recorded), listed by its first record's time with its last one's.

`--last` reads from the end: a stream is written oldest line first and a run's plan span is its
last span (it ends last), so the newest run is at the end of the newest files. Each stream is read
backwards until its lines are older than that run's start (nothing before can belong to it, or to
a run started later), then forward from the run's first line like any `--trace`: the cost is the
newest run's, not the directory's. A run that has written no span yet is found by its start record,
read from the end of the logs files as far back as the newest run of the traces.
"""

from __future__ import annotations

import dataclasses
import re
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from aiw_otel import conventions as sc
from aiw_otel.readback.files import (
    SignalFile,
    Warn,
    lines_from_end,
    parse_line,
    read_lines,
    warn_on_stderr,
    warn_unless_request,
)
from aiw_otel.readback.identity import START_MARK, RunIdentity, is_start_record, of_plan_span, of_start_record
from aiw_otel.readback.records import LogRecord, Span, decode_or_warn, records_by_line
from aiw_otel.readback.stream import streams, time_written
from aiw_otel.readback.tree import Usage

_TRACE_IDS = re.compile(rb'"traceId"\s*:\s*"([0-9a-fA-F]{32})"')
#: When a traces line's spans ended, a logs line's records were written: what tells old lines from new.
_TIMES = {"traces": re.compile(rb'"endTimeUnixNano"\s*:\s*"?(\d+)'),
          "logs": re.compile(rb'"timeUnixNano"\s*:\s*"?(\d+)')}
_STARTS = re.compile(rb'"startTimeUnixNano"\s*:\s*"?(\d+)')
_SPANS = b'"resourceSpans"'
_PLAN = sc.AIW_PLAN_STATE.encode()
_USAGE = b"gen_ai.usage."
RUNNING = "running"
#: The outcome of a run that stopped writing without ending its plan span, and answers on no socket.
INTERRUPTED = "interrupted?"
#: How long a run without its plan span may be silent and still read as running with no live control
#: socket to tell (a run without one: `--no-control`): its batches are flushed every few seconds, and
#: a command or model call quiet for longer is the doubt the `?` of INTERRUPTED stands for.
QUIET_NS = 120 * 1_000_000_000
#: How long connecting to a control socket may take before it counts as no run listening.
PROBE_TIMEOUT_S = 1.0


@dataclass
class RunSummary:
    """One trace as the run list shows it; `start_ns` 0 while its plan span is not written (running,
    or INTERRUPTED), and then `first_ns` / `last_ns` are its first and last records' times."""

    trace_id: str
    seen: int  # order of first appearance in the traces files (then the logs files), oldest first
    start_ns: int = 0
    duration_ms: float | None = None
    plan: str = ""  # the plan's name: from its plan span, else its start record ("": neither is written)
    run_id: str = ""
    outcome: str = RUNNING
    usage: Usage = field(default_factory=Usage)
    first_ns: int = 0
    last_ns: int = 0
    directory: Path | None = None  # of the traces file it was first seen in: where its control socket is

    @property
    def started_ns(self) -> int:
        """The plan's start, else the first record's time (0: none known)."""
        return self.start_ns or self.first_ns


def trace_ids(raw: bytes) -> set[str]:
    return {match.decode().lower() for match in _TRACE_IDS.findall(raw)}


def summaries(files: Sequence[SignalFile], usage: bool = True, warn: Warn = warn_on_stderr,
              now_ns: int | None = None) -> list[RunSummary]:
    """The runs in the files, newest first: those still going (no plan span) first, then by start.

    Only lines holding a plan span are decoded (and, with `usage`, lines with AI calls' token counts),
    the logs lines holding a start record, and the lines of runs without a plan span; `now_ns`
    (default: the clock) is when they are judged."""
    runs: dict[str, RunSummary] = {}
    for file in files:
        if file.signal not in ("traces", None):
            continue
        for number, raw in read_lines(file.path, warn, file.start):
            for trace_id in trace_ids(raw):
                if trace_id not in runs:
                    runs[trace_id] = RunSummary(trace_id, len(runs), directory=file.path.parent)
            if _PLAN not in raw and not (usage and _USAGE in raw):
                if raw[:1] != b"{":  # tested here: this loop runs for every line of a traces file
                    warn_unless_request(file.path, number, raw, warn)
                continue
            where = f"{file.path}:{number}"
            document = parse_line(where, raw, warn)
            for span in decode_or_warn(where, document, warn)[0] if document is not None else ():
                run = runs.setdefault(span.trace_id, RunSummary(span.trace_id, len(runs)))
                if usage and span.attributes.get(sc.GEN_AI_USAGE_INPUT_TOKENS) is not None:
                    run.usage = run.usage + Usage.of_span(span)
                if sc.AIW_PLAN_STATE in span.attributes and not span.parent_span_id:
                    run.start_ns, run.duration_ms = span.start_ns, span.duration_ms
                    _name(run, of_plan_span(span))
                    run.outcome = str(span.state or ("failed" if span.failed else "done"))
    ended = {trace_id for trace_id, run in runs.items() if run.start_ns}
    for trace_id, (identity, directory) in _start_records(files, ended, warn).items():
        if trace_id not in ended:  # never over the plan span
            _name(runs.setdefault(trace_id, RunSummary(trace_id, len(runs), directory=directory)), identity)
    unended = [run for run in runs.values() if not run.start_ns]
    if unended:
        _judge_unended(files, unended, time.time_ns() if now_ns is None else now_ns, warn)
    return sorted(runs.values(), key=_newest_first)


def _name(run: RunSummary, identity: RunIdentity) -> None:
    run.plan, run.run_id = identity.plan, identity.run_id


def _start_records(files: Sequence[SignalFile], ended: set[str], warn: Warn) -> dict[str, tuple[RunIdentity, Path]]:
    """trace id -> its start record's identity and the directory of its file, from the logs files:
    what names a run whose plan span is not written, and finds one that has written no span at all
    yet. A substring search per line; only a line holding the start record of a run not `ended` (no
    plan span) is decoded, and of it only the start records are built."""

    def wanted(raw: bytes) -> bool:
        return START_MARK in raw and not trace_ids(raw) <= ended

    found: dict[str, tuple[RunIdentity, Path]] = {}
    for file in files:
        if file.signal not in ("logs", None):
            continue
        for _, logs in records_by_line(file, wanted, warn, keep_log=_raw_start_record):
            for record in logs:
                if record.trace_id and is_start_record(record):
                    found.setdefault(record.trace_id, (of_start_record(record), file.path.parent))
    return found


def _raw_start_record(raw: Mapping[str, Any]) -> bool:
    """A start record, told from its JSON before it is built (its line's other records are not)."""
    return any(item.get("key") == sc.AIW_ACTION and (item.get("value") or {}).get("stringValue") == sc.ACTION_PLAN_STARTED
               for item in raw.get("attributes") or ())


def _judge_unended(files: Sequence[SignalFile], unended: Sequence[RunSummary], now_ns: int, warn: Warn) -> None:
    """First and last records' times of the runs without a plan span (reading only their lines, of
    traces and logs), and which of them are INTERRUPTED: quiet for QUIET_NS with no run answering on
    their directory's control socket. A live socket speaks for one run only: its directory's latest."""
    by_id = {run.trace_id: run for run in unended}
    wanted = re.compile(rb'"traceId"\s*:\s*"(?:' + "|".join(by_id).encode() + rb')"', re.IGNORECASE)
    for file in files:
        for spans, logs in records_by_line(file, lambda raw: wanted.search(raw) is not None, warn):
            records: list[Span | LogRecord] = [*spans, *logs]
            for record in records:
                run = by_id.get(record.trace_id)
                if run is not None:
                    first = record.start_ns if isinstance(record, Span) else record.time_ns
                    run.first_ns = min(run.first_ns or first, first)
                    run.last_ns = max(run.last_ns, time_written(record))
    live: dict[Path | None, bool] = {d: _run_listens(d) for d in {run.directory for run in unended} if d is not None}
    listening: dict[Path | None, RunSummary] = {}  # directory -> the run its live socket speaks for: the latest
    for run in sorted(unended, key=lambda run: run.last_ns):
        if live.get(run.directory):
            listening[run.directory] = run
    for run in unended:
        if now_ns - run.last_ns > QUIET_NS and listening.get(run.directory) is not run:
            run.outcome = INTERRUPTED


def _run_listens(directory: Path) -> bool:
    """A run answers on the directory's control socket (a dead run's socket file refuses connections)."""
    from aiw_otel.control.paths import control_sockets, default_socket_path

    for path in dict.fromkeys([*control_sockets(directory), default_socket_path(directory)]):
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(PROBE_TIMEOUT_S)
        try:
            probe.connect(str(path))
            return True
        except OSError:
            continue
        finally:
            probe.close()
    return False


def _newest_first(run: RunSummary) -> tuple[int, int, int]:
    running = run.outcome == RUNNING
    return (0 if running else 1, -run.seen if running else -run.started_ns, -run.seen)


def files_holding(files: Sequence[SignalFile], traces: set[str], warn: Warn = warn_on_stderr) -> list[SignalFile]:
    """The files with at least one line of one of `traces` (a regex pass, no JSON decoding)."""
    held = []
    for file in files:
        if any(trace_ids(raw) & traces for _, raw in read_lines(file.path, warn, file.start)):
            held.append(file)
    return held


def _newest_time(raw: bytes, signal: str | None) -> int:
    """The latest span end (traces) or record time (logs) in a raw line; 0 when it names none."""
    if signal is None:  # a file named otherwise: its lines say what they hold
        signal = "traces" if _SPANS in raw else "logs"
    return max(map(int, _TIMES[signal].findall(raw)), default=0)


def _older_than(raw: bytes, signal: str | None, start_ns: int) -> bool:
    """True for a line all of whose records were written before `start_ns` (a line naming no time is not)."""
    written = _newest_time(raw, signal)
    return 0 < written < start_ns


def _silent(message: str) -> None:
    pass


def _lines_newest_first(group: Sequence[SignalFile], warn: Warn) -> Iterator[tuple[int, int, bytes]]:
    """(index of the file in `group`, byte offset, line), from the end of the newest file back."""
    for index in range(len(group) - 1, -1, -1):
        for offset, raw in lines_from_end(group[index].path, warn):
            yield index, offset, raw


def _plan_starts(raw: bytes) -> dict[str, int]:
    """trace id -> start of its plan span, for the plan spans in a line (the only lines decoded).

    A bad line is passed over in silence: if it is the chosen run's, reading it forward warns, naming its line."""
    if _PLAN not in raw:
        return {}
    document = parse_line("", raw, _silent)
    spans = decode_or_warn("", document, _silent)[0] if document is not None else []
    return {s.trace_id: s.start_ns for s in spans if sc.AIW_PLAN_STATE in s.attributes and not s.parent_span_id}


@dataclass(frozen=True)
class Newest:
    trace_id: str
    start_ns: int  # the plan's start; for a run still being written, the earliest span start seen
    running: bool


def _newest_in(group: Sequence[SignalFile], keeps_trace: Callable[[str], bool], warn: Warn) -> Newest | None:
    """The newest run of one traces stream: the run of its last line, unless a run ending earlier
    started later (runs side by side); a run without its plan span at the end is still going, and newest."""
    found: Newest | None = None
    for _, _, raw in _lines_newest_first(group, warn):
        if found is not None and _older_than(raw, "traces", found.start_ns):
            break
        ids = [t for t in trace_ids(raw) if keeps_trace(t)] if _SPANS in raw else []
        if not ids:
            continue
        plans = {t: start for t, start in _plan_starts(raw).items() if keeps_trace(t)}
        if found is None:
            going = [t for t in ids if t not in plans]
            if going:
                found = Newest(going[0], 0, True)
            else:
                trace_id = max(plans, key=lambda t: plans[t])
                found = Newest(trace_id, plans[trace_id], False)
        elif not found.running and plans and max(plans.values()) > found.start_ns:
            trace_id = max(plans, key=lambda t: plans[t])
            found = Newest(trace_id, plans[trace_id], False)
        if found.running and found.trace_id in ids:
            starts = [int(start) for start in _STARTS.findall(raw)]
            found = dataclasses.replace(found, start_ns=min([found.start_ns or min(starts, default=0)] + starts))
    return found


def _latest_start_in(group: Sequence[SignalFile], keeps_trace: Callable[[str], bool], after_ns: int,
                     warn: Warn) -> Newest | None:
    """The latest start record of one logs stream that is later than `after_ns` (the newest run the
    traces know of started then), read from the end only back to lines older than that: a run that
    has written no span yet is the newest run, and is known only here."""
    for _, _, raw in _lines_newest_first(group, warn):
        if _older_than(raw, "logs", after_ns):
            break
        if START_MARK not in raw:
            continue
        document = parse_line("", raw, _silent)
        logs = decode_or_warn("", document, _silent)[1] if document is not None else []
        started = [r for r in logs if is_start_record(r) and keeps_trace(r.trace_id) and r.time_ns > after_ns]
        if started:
            latest = max(started, key=lambda record: record.time_ns)
            return Newest(latest.trace_id, latest.time_ns, True)
    return None


def _ended(groups: Sequence[Sequence[SignalFile]], run: Newest, warn: Warn) -> bool:
    """Whether `run`'s plan span is in the traces written since it started: then the traces' own
    newest (still going, or started later) is the newest run, not this one."""
    for group in groups:
        if group[0].signal not in ("traces", None):
            continue
        for _, _, raw in _lines_newest_first(group, warn):
            if _older_than(raw, "traces", run.start_ns):
                break
            if run.trace_id in _plan_starts(raw):
                return True
    return False


def _window(group: Sequence[SignalFile], newest: Newest, warn: Warn) -> list[SignalFile]:
    """The files of one stream from the first line holding the run's trace id on (that file from that line)."""
    holds_run = re.compile(re.escape(newest.trace_id.encode()), re.IGNORECASE).search  # hex of any case
    first: tuple[int, int] | None = None
    for index, offset, raw in _lines_newest_first(group, warn):
        if holds_run(raw):
            first = (index, offset)
        elif _older_than(raw, group[0].signal, newest.start_ns):
            break
    if first is None:
        return []
    index, offset = first
    return [group[index]._replace(start=offset), *group[index + 1:]]


def newest_run(files: Sequence[SignalFile], keeps_trace: Callable[[str], bool] = lambda _: True,
               warn: Warn = warn_on_stderr) -> tuple[str, list[SignalFile]] | None:
    """The newest run `keeps_trace` accepts (the first of `--runs`, read from the end of the files)
    and the files narrowed to the part that holds it; None when there is no run."""
    groups = [group for group in streams(files) if group[0].signal in ("traces", "logs", None)]  # metrics: no runs
    candidates = [found for group in groups if group[0].signal in ("traces", None)
                  if (found := _newest_in(group, keeps_trace, warn)) is not None]
    newest = max(candidates, key=lambda found: (found.running, found.start_ns), default=None)
    after_ns = newest.start_ns if newest is not None else 0
    started = [found for group in groups if group[0].signal == "logs"
               if (found := _latest_start_in(group, keeps_trace, after_ns, warn)) is not None]
    later = max(started, key=lambda found: found.start_ns, default=None)
    if later is not None and (newest is None or later.trace_id != newest.trace_id and not _ended(groups, later, warn)):
        newest = later
    if newest is None:
        return None
    return newest.trace_id, [file for group in groups for file in _window(group, newest, warn)]
