"""Metrics from the telemetry flow: every span start and end (and one kind of log record) becomes
a measurement on the run's instruments, so the runner records nothing twice.

It is registered as a ProcessorSink behind redaction, like the console's state tracker. A span's
start and a log record are looked at in the caller's thread (a dict lookup or two, rarely an
`add`). An ended span is only queued there: the SDK's `record` costs as much as a sixth of the
runner's own span, event and log record (it cleans, copies and hashes the attributes on every
call), so a thread of its own records them, in the order the spans ended: the cost leaves the
runner's thread, not the process. Nothing is lost and no collection misses an ended span: every
collection (any reader: Prometheus, OTLP, in-memory) first records what is queued (setup calls
`drain` before it reports), and a queue that reaches its bound is recorded by the caller. Each
measurement keeps its span's context, so exemplars still point at the span.

Spans are the source wherever they can be, because they are recorded whatever the log levels
say: a span's attributes at its end hold its final state, its duration, tokens, cost and
error. Two things are not on a span's end:

* "active" and "paused" right now: plan and step spans count up at start and down at end; a
  plan is paused from its `user_interaction pause` span to the `resume` or `cancel` one (or the
  plan's end, which may close a pause without a request: a block that leaves while paused).
* `details` requests change no state and have no span, only their `details_requested` record.
"""

from __future__ import annotations

import collections
import threading
from typing import Any, Callable, Mapping

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk._logs import LogRecordProcessor, ReadWriteLogRecord
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import StatusCode

from aiw_otel import conventions as sc
from aiw_otel.instrument.metrics import RunInstruments
from aiw_otel.processors.attributes import plain_attributes, span_attributes
from aiw_otel.sinks import ProcessorSink

#: Span attributes copied onto both GenAI metrics (the conventions' attribute set, minus error.type).
_GEN_AI_KEYS = (
    sc.GEN_AI_OPERATION_NAME,
    sc.GEN_AI_PROVIDER_NAME,
    sc.GEN_AI_REQUEST_MODEL,
    sc.GEN_AI_RESPONSE_MODEL,
    sc.SERVER_ADDRESS,
    sc.SERVER_PORT,
)
#: The conventions' fallback `error.type` when a failure names no type.
_OTHER_ERROR = "_OTHER"
#: `error.type` of a command ended by the user's cancel or by telemetry shutting down.
_CANCELLED_ERRORS = frozenset({"cancelled", sc.ERROR_INTERRUPTED})
#: The values the run's counters are created with at 0 (the states a run or step can end in).
_FINAL_PLAN_STATES = ("Completed", "Failed", "Cancelled")
_FINAL_STEP_STATES = ("Completed", "Failed", "Cancelled", "Skipped")
_COMMAND_OUTCOMES = ("success", "failure", "timeout", "cancelled")
#: The relay's record of a `details STEP` request (the one request without a span).
_DETAILS_ACTION = "details_requested"


#: Ended spans queued before the recording thread is woken, and before the caller records them itself.
_WAKE_AT = 256
_MAX_QUEUED = 4096
#: How long an ended span may wait for the recording thread when few spans end.
_DELAY_S = 0.5
#: What each measurement's context (its span, for the exemplar) is made on: given explicitly, the
#: SDK does not look up the recording thread's current context (empty anyway) every time.
_NO_CONTEXT = Context()
#: Bound of `_common`'s memo: one entry per provider, model and server in use.
_COMMON_LIMIT = 256


class MetricsProcessor(SpanProcessor, LogRecordProcessor):
    """Records RunInstruments from spans and log records; pass `sink()` to the pipeline."""

    def __init__(self, instruments: RunInstruments, announce: Callable[[], None] | None = None,
                 failed: Callable[[Exception], None] | None = None) -> None:
        self._m = instruments
        #: Told of a span the recording thread could not record (the health report counts it).
        self._failed = failed
        self._ended: collections.deque[ReadableSpan] = collections.deque()
        #: Held while recording queued spans: one recorder at a time keeps them in order.
        self._recording = threading.Lock()
        self._wake = threading.Event()
        self._stopped = False
        threading.Thread(target=self._record_queued, name="aiw-otel-sink-metrics-record", daemon=True).start()
        #: Called when a plan starts, once its counters exist at 0: setup makes the readers export
        #: then, so a backend holds a 0 before the run's first increment (see `_zero_plan`).
        self._announce = announce
        self._paused_lock = threading.Lock()
        #: Trace ids of the plan runs that are paused right now.
        self._paused: set[int] = set()
        #: Step types whose step-run series exist already (at 0 or more).
        self._step_types: set[str] = set()
        #: `_common`'s memo (used by the recording thread only, or by a caller holding `_recording`).
        self._commons: dict[tuple[Any, ...], dict[str, Any]] = {}

    def sink(self, name: str = "metrics") -> ProcessorSink:
        return ProcessorSink(name, span_processor=self, log_processor=self)

    # -- SpanProcessor ----------------------------------------------------------------------
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        attributes = span_attributes(span)
        if not attributes:
            return
        if sc.AIW_STEP_STATE in attributes:
            self._m.step_active.add(1)
            self._zero_steps(str(attributes.get(sc.AIW_STEP_TYPE, "step")))
        elif sc.AIW_PLAN_ID in attributes:
            self._m.plan_active.add(1)
            self._zero_plan()

    def _zero_plan(self) -> None:
        """Counters a run will increment exist at 0 from its start, and the readers export them.

        A Prometheus counter series that first appears at its final value has no increase:
        rate() and increase() need a sample before it. Short runs (one export at the end) would
        otherwise leave every per-interval graph flat. Only bounded label sets are created.
        """
        m = self._m
        m.plan_paused.add(0)
        for state in _FINAL_PLAN_STATES:
            m.plan_runs.add(0, {sc.AIW_PLAN_STATE: state})
        for outcome in _COMMAND_OUTCOMES:
            m.command_runs.add(0, {sc.AIW_COMMAND_OUTCOME: outcome})
        if self._announce is not None:
            self._announce()

    def _zero_steps(self, step_type: str) -> None:
        if step_type in self._step_types:
            return
        self._step_types.add(step_type)
        for state in _FINAL_STEP_STATES:
            self._m.step_runs.add(0, {sc.AIW_STEP_TYPE: step_type, sc.AIW_STEP_STATE: state})

    def on_end(self, span: ReadableSpan) -> None:
        ended = self._ended
        ended.append(span)
        if len(ended) >= _WAKE_AT:
            if len(ended) >= _MAX_QUEUED:
                self.drain()  # the thread cannot keep up: bounded memory, nothing dropped
            elif not self._wake.is_set():  # `set` takes a lock every time: once is enough
                self._wake.set()

    def drain(self) -> None:
        """Record every span ended so far, in the order they ended (a pause before its resume)."""
        with self._recording:
            ended = self._ended
            while ended:
                span = ended.popleft()
                try:
                    self._record(span)
                except Exception as error:  # one bad span must not stop the others
                    if self._failed is not None:
                        self._failed(error)

    def _record_queued(self) -> None:
        while not self._stopped:
            self._wake.wait(_DELAY_S)
            self._wake.clear()
            self.drain()

    def _record(self, span: ReadableSpan) -> None:
        attributes = span_attributes(span)
        if not attributes:
            return
        # Recorded on another thread: the span's context, given explicitly, is what links an
        # exemplar to the span (and decides, like the caller's would have, whether one is kept).
        context = trace.set_span_in_context(trace.NonRecordingSpan(span.context), _NO_CONTEXT)
        if attributes.get(sc.GEN_AI_OPERATION_NAME) == sc.OP_CHAT:
            self._ai_call(span, attributes, context)
        elif sc.PROCESS_EXECUTABLE_NAME in attributes:
            self._command(span, attributes, context)
        elif sc.AIW_FILE_OPERATION in attributes:
            self._file(attributes, context)
        elif sc.AIW_STEP_STATE in attributes:
            self._step(span, attributes, context)
        elif sc.AIW_PLAN_ID in attributes:
            self._plan(span, attributes, context)
        elif sc.AIW_INTERACTION in attributes:
            self._interaction(span, attributes, context)

    # -- LogRecordProcessor -----------------------------------------------------------------
    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        attributes = plain_attributes(log_record.log_record.attributes)
        if attributes.get(sc.AIW_ACTION) == _DETAILS_ACTION:
            source = attributes.get(sc.AIW_INTERACTION_SOURCE)
            self._m.user_interactions.add(
                1, {sc.AIW_INTERACTION: "details", sc.AIW_INTERACTION_SOURCE: str(source or "unknown")})

    def shutdown(self) -> None:
        self._stopped = True
        self._wake.set()
        self.drain()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        self.drain()  # no I/O: at most _MAX_QUEUED spans' measurements
        return True

    # -- one method per kind of span --------------------------------------------------------
    def _ai_call(self, span: ReadableSpan, attributes: Mapping[str, Any], context: Context) -> None:
        m = self._m
        common = self._common(attributes)
        failed = span.status.status_code is StatusCode.ERROR
        if failed:
            m.operation_duration.record(_seconds(span), {**common, sc.ERROR_TYPE: attributes.get(sc.ERROR_TYPE, _OTHER_ERROR)},
                                        context)
            self._retry(span, context)
        else:
            m.operation_duration.record(_seconds(span), common, context)
        for key, token_type in ((sc.GEN_AI_USAGE_INPUT_TOKENS, "input"), (sc.GEN_AI_USAGE_OUTPUT_TOKENS, "output")):
            count = attributes.get(key)
            if count is not None:
                m.token_usage.record(count, {**common, sc.GEN_AI_TOKEN_TYPE: token_type}, context)
        cost = attributes.get(sc.AIW_AI_COST)
        if cost is not None:
            m.ai_cost.add(float(cost), {key: common[key] for key in (sc.GEN_AI_REQUEST_MODEL, sc.GEN_AI_PROVIDER_NAME)
                                         if key in common}, context)

    def _common(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        """The GenAI metrics' attributes of an AI call: looked up by the values in C (one dict per
        provider, model and server in use) rather than built key by key for every call. The SDK
        copies what it is given, so one dict serves every measurement."""
        values = tuple(map(attributes.get, _GEN_AI_KEYS))
        common = self._commons.get(values)
        if common is None:
            common = {key: value for key, value in zip(_GEN_AI_KEYS, values) if value is not None}
            if len(self._commons) >= _COMMON_LIMIT:
                self._commons.clear()
            self._commons[values] = common
        return common

    def _retry(self, span: ReadableSpan, context: Context) -> None:
        """A failed attempt whose failure event announces a retry (`aiw.ai.retry_after_s`)."""
        for event in span.events:
            event_attributes = event.attributes or {}
            if event.name == sc.EV_API_RESPONSE_FAILED and sc.AIW_AI_RETRY_AFTER_S in event_attributes:
                status = event_attributes.get(sc.HTTP_RESPONSE_STATUS_CODE)
                self._m.ai_retries.add(1, {sc.HTTP_RESPONSE_STATUS_CODE: status} if status is not None else {}, context)
                return

    def _command(self, span: ReadableSpan, attributes: Mapping[str, Any], context: Context) -> None:
        error_type = attributes.get(sc.ERROR_TYPE)
        if error_type is None:
            outcome = "failure" if span.status.status_code is StatusCode.ERROR else "success"
        elif error_type == "timeout":
            outcome = "timeout"
        elif error_type in _CANCELLED_ERRORS:
            outcome = "cancelled"
        else:
            outcome = "failure"
        labels = {sc.AIW_COMMAND_OUTCOME: outcome}
        self._m.command_runs.add(1, labels, context)
        self._m.command_duration.record(_seconds(span), labels, context)

    def _file(self, attributes: Mapping[str, Any], context: Context) -> None:
        for key, direction in ((sc.AIW_FILE_BYTES_READ, "read"), (sc.AIW_FILE_BYTES_WRITTEN, "write")):
            count = attributes.get(key)
            if count is not None:
                self._m.file_io.add(count, {sc.AIW_IO_DIRECTION: direction}, context)

    def _step(self, span: ReadableSpan, attributes: Mapping[str, Any], context: Context) -> None:
        labels = {sc.AIW_STEP_TYPE: attributes.get(sc.AIW_STEP_TYPE, "step"), sc.AIW_STEP_STATE: attributes[sc.AIW_STEP_STATE]}
        self._m.step_active.add(-1, context=context)
        self._m.step_runs.add(1, labels, context)
        self._m.step_duration.record(_seconds(span), labels, context)

    def _plan(self, span: ReadableSpan, attributes: Mapping[str, Any], context: Context) -> None:
        labels = {sc.AIW_PLAN_STATE: attributes[sc.AIW_PLAN_STATE]}
        self._m.plan_active.add(-1, context=context)
        self._unpause(span.context.trace_id, context)
        self._m.plan_runs.add(1, labels, context)
        self._m.plan_duration.record(_seconds(span), labels, context)

    def _interaction(self, span: ReadableSpan, attributes: Mapping[str, Any], context: Context) -> None:
        kind = attributes[sc.AIW_INTERACTION]
        source = attributes.get(sc.AIW_INTERACTION_SOURCE, "unknown")
        self._m.user_interactions.add(1, {sc.AIW_INTERACTION: kind, sc.AIW_INTERACTION_SOURCE: source}, context)
        trace_id = span.context.trace_id
        if kind == "pause":
            with self._paused_lock:
                newly = trace_id not in self._paused
                self._paused.add(trace_id)
            if newly:
                self._m.plan_paused.add(1, context=context)
        elif kind in ("resume", "cancel"):
            self._unpause(trace_id, context)

    def _unpause(self, trace_id: int, context: Context) -> None:
        with self._paused_lock:
            was_paused = trace_id in self._paused
            self._paused.discard(trace_id)
        if was_paused:
            self._m.plan_paused.add(-1, context=context)


def _seconds(span: ReadableSpan) -> float:
    if span.start_time is None or span.end_time is None:
        return 0.0
    return (span.end_time - span.start_time) / 1e9
