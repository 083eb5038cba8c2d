"""Records read one line at a time, filtered as they are decoded: `logs --json` on a directory of any size.

Memory is one export request (one line) per stream, never the directory: each stream (a signal's
files, oldest first) yields its records in the order they were written, and the streams are merged
by time, so spans (at their end, when they were written) and log lines come out interleaved as
they happened. A `--trace` filter skips other runs' lines with a regex over the raw bytes, before
`json.loads`; `--step` costs a first pass over the traces (which step ids and names exist, and which
spans belong to the chosen step), so that bridged log lines without a step id are still kept.
"""

from __future__ import annotations

import bisect
import re
from itertools import chain, groupby
from operator import itemgetter
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, NamedTuple, Sequence, TypeVar

from aiw_otel import conventions as sc
from aiw_otel.readback.files import SignalFile, Warn, warn_on_stderr
from aiw_otel.readback.records import LogRecord, Span, records_by_line
from aiw_otel.readback.select import Selection

if TYPE_CHECKING:
    from aiw_otel.stepref import StepRef

Record = Span | LogRecord
T = TypeVar("T")


def time_written(record: Record) -> int:
    """When a record reached the file: a span at its end, a log line at its time."""
    return record.end_ns if isinstance(record, Span) else record.time_ns


def trace_line_filter(prefix: str | None) -> Callable[[bytes], bool] | None:
    """A raw-line test that is False only for lines holding no record of a trace starting with `prefix`."""
    if not prefix:
        return None
    if not re.fullmatch(r"[0-9a-fA-F]+", prefix):  # no hex id starts so: nothing matches, every line is skipped
        return lambda raw: False
    pattern = re.compile(rb'"traceId"\s*:\s*"' + prefix.encode("ascii"), re.IGNORECASE)
    return lambda raw: pattern.search(raw) is not None


def streams(files: Sequence[SignalFile]) -> list[list[SignalFile]]:
    """The files grouped by stream (directory and signal), each oldest first, as find_files orders them."""
    ours = [f for f in files if f.signal]
    grouped = [list(group) for _, group in groupby(ours, key=lambda f: (f.path.resolve().parent, f.signal))]
    return grouped + [[f] for f in files if not f.signal]


class StepScope(NamedTuple):
    """What `--step` keeps: the step id it resolved to, the traces that ran it and its spans' ids."""

    selection: Selection
    traces: frozenset[str]
    spans: frozenset[str]


def known_steps(files: Sequence[SignalFile], warn: Warn = warn_on_stderr, *, from_logs: bool = False) -> list[StepRef]:
    """The steps in the files: ids and names from the step spans of the traces files, and with
    `from_logs` also the ids in the log lines (a step whose span is not written yet, or was lost)."""
    from aiw_otel.stepref import StepRef  # only --step needs it: not imported by every `logs`

    names: dict[str, str | None] = {}
    marker = sc.AIW_STEP_STATE.encode()
    for file in files:
        if file.signal not in ("traces", None):
            continue
        for spans, _ in records_by_line(file, lambda raw: marker in raw, warn):
            for span in spans:
                if span.is_step and span.step_id:
                    names[span.step_id] = span.attributes.get(sc.AIW_STEP_NAME) or names.get(span.step_id)
    if from_logs:
        log_marker = sc.AIW_LOG_STEP_ID.encode()
        for file in files:
            if file.signal in ("logs", None):
                for _, logs in records_by_line(file, lambda raw: log_marker in raw, warn):
                    for record in logs:
                        if record.step_id:
                            names.setdefault(record.step_id, None)
    return [StepRef(step_id, name) for step_id, name in names.items()]


def resolve_step(files: Sequence[SignalFile], typed: str, warn: Warn = warn_on_stderr) -> str:
    """The id of the step `typed` names (a name, an id or a unique prefix, as stepref takes them) among
    the steps in the files; StepNotFound (a ValueError) lists the candidates. The log lines are read
    only when the step spans do not settle it."""
    from aiw_otel.stepref import StepNotFound, resolve

    try:
        return resolve(typed, known_steps(files, warn))
    except StepNotFound:
        return resolve(typed, known_steps(files, warn, from_logs=True))


def step_scope(files: Sequence[SignalFile], selection: Selection, warn: Warn = warn_on_stderr) -> StepScope:
    """Resolve `--step` and find its spans."""
    assert selection.step is not None
    step_id = resolve_step(files, selection.step, warn)
    selection = selection._replace(step=step_id)
    traces: set[str] = set()
    spans: set[str] = set()
    needle = step_id.encode()
    trace_ok = trace_line_filter(selection.trace)
    for file in files:
        if file.signal not in ("traces", None):
            continue
        for line_spans, _ in records_by_line(file, lambda raw: needle in raw and (trace_ok is None or trace_ok(raw)),
                                             warn):
            for span in line_spans:
                if span.step_id == step_id and selection.keeps_trace(span.trace_id):
                    traces.add(span.trace_id)
                    spans.add(span.span_id)
    return StepScope(selection, frozenset(traces), frozenset(spans))


def _stream(files: Sequence[SignalFile], selection: Selection, scope: StepScope | None,
            warn: Warn) -> Iterator[list[Record]]:
    """The kept records of one stream, a line (export request) at a time, each line's in time order."""
    keep_line = trace_line_filter(selection.trace)
    step_spans = scope.spans if scope is not None else frozenset()
    keeps_all = scope is None and selection == Selection()
    for file in files:
        for spans, logs in records_by_line(file, keep_line, warn, selection.raw_log_test()):
            kept: list[Record]
            if keeps_all:  # `logs --json` of everything: no test per record
                kept = [*spans, *logs]
            else:
                kept = [s for s in spans if selection.keeps_span(s) and (scope is None or s.trace_id in scope.traces)]
                kept += [r for r in logs if selection.keeps_log(r, step_spans)]
            del spans, logs  # what the filters dropped is freed now, not after the next line is read
            if kept:
                kept.sort(key=time_written)
                yield kept
            del kept


#: A batch of (time written, item) pairs, in time order.
Timed = list[tuple[int, T]]
_time = itemgetter(0)
_item = itemgetter(1)


def merge_batches(sources: Iterable[Iterator[Timed[T]]]) -> Iterator[Timed[T]]:
    """Streams of time-ordered batches merged into time-ordered batches.

    What heapq.merge does an item at a time (a Python comparison and a generator step for each),
    done a batch at a time: everything up to the least last time among the streams' current
    batches can come from no later batch, so it is cut off each stream (bisect), and the cuts are
    sorted together (timsort merges the sorted runs in C). Ties within a cut keep the streams'
    order; a record of the same nanosecond in a stream's next batch comes after. Memory is one
    batch per stream."""
    heads: list[Timed[T]] = []
    rests: list[Iterator[Timed[T]]] = []
    for source in sources:
        first = _next_batch(source)
        if first is not None:
            heads.append(first)
            rests.append(source)
    while len(heads) > 1:
        limit = min(batch[-1][0] for batch in heads)
        out: Timed[T] = []
        for index, batch in enumerate(heads):
            cut = bisect.bisect_right(batch, limit, key=_time)
            out += batch[:cut]
            heads[index] = batch[cut:]
        out.sort(key=_time)
        yield out
        for index in reversed(range(len(heads))):
            if not heads[index]:
                refill = _next_batch(rests[index])
                if refill is None:
                    del heads[index], rests[index]
                else:
                    heads[index] = refill
    if heads:  # one stream left: its batches as they come
        yield heads[0]
        yield from rests[0]


def _next_batch(source: Iterator[Timed[T]]) -> Timed[T] | None:
    """The next batch that holds something (a conversion may drop a whole line's records)."""
    return next((batch for batch in source if batch), None)


def stream_converted(files: Sequence[SignalFile], convert: Callable[[list[Record]], Timed[T]],
                     selection: Selection = Selection(), warn: Warn = warn_on_stderr) -> Iterator[Timed[T]]:
    """Every record `selection` keeps, each line's records turned by `convert` into (time written,
    item) pairs as soon as they are decoded, the streams merged by that time, a batch (about an
    export request) at a time.

    Converting before merging is what keeps `logs --json` near the speed of reading: a line's
    records become text while they are still in the CPU's caches, not after the other streams'
    lines have pushed them out (measured: a fifth of its time).
    `--step` is resolved here (StepNotFound, a ValueError, when it names no step in the files)."""
    scope = step_scope(files, selection, warn) if selection.step is not None else None
    if scope is not None:
        selection = scope.selection
    return merge_batches([map(convert, _stream(group, selection, scope, warn)) for group in streams(files)])


def timed(records: list[Record]) -> Timed[Record]:
    return [(time_written(record), record) for record in records]


def stream_records(files: Sequence[SignalFile], selection: Selection = Selection(),
                   warn: Warn = warn_on_stderr) -> Iterator[Record]:
    """Every record `selection` keeps, the streams merged by the time each was written."""
    return map(_item, chain.from_iterable(stream_converted(files, timed, selection, warn)))  # no Python step per record
