"""The `logs` filters (--trace, --step, --level, --component), shared by the tree, --json and --follow."""

from __future__ import annotations

from typing import Any, Collection, Mapping, NamedTuple, Sequence

from aiw_otel.readback.records import LogRecord, RawLogTest, Span


def severity_floor(level: str) -> int:
    """The OTLP severity number of a level name (`warn`, `ERROR`, ...); ValueError naming the choices.

    Imported here: the logging bridge loads OpenTelemetry's logs API, which only `--level` needs."""
    from aiw_otel.logs import SEVERITY
    from aiw_otel.model import LogLevel

    return SEVERITY[LogLevel.parse(level)][0].value


class Selection(NamedTuple):
    """What to show. Spans are kept for context (a step keeps its plan); log lines are what gets narrowed."""

    trace: str | None = None  # a hex prefix
    step: str | None = None
    min_severity: int = 0
    component: str | None = None
    traces: frozenset[str] | None = None  # whole ids: the runs --since chose

    def keeps_trace(self, trace_id: str) -> bool:
        if self.traces is not None and trace_id not in self.traces:
            return False
        return not self.trace or trace_id.startswith(self.trace.lower())

    def keeps_span(self, span: Span) -> bool:
        if not self.keeps_trace(span.trace_id):
            return False
        return self.step is None or span.step_id == self.step or not span.parent_span_id

    def raw_log_test(self) -> RawLogTest | None:
        """What `keeps_log` refuses by severity alone, told from the record's JSON before it is built
        (`--level error` builds only the errors); a severity that is not a number is left to decode."""
        floor = self.min_severity
        if not floor:
            return None

        def severe_enough(raw: Mapping[str, Any]) -> bool:
            number = raw.get("severityNumber", 0)
            return type(number) is not int or number >= floor

        return severe_enough

    def keeps_log(self, record: LogRecord, step_spans: Collection[str] = ()) -> bool:
        """`step_spans`: ids of spans inside the selected step, so bridged records (no aiw.step_id) still count."""
        if not self.keeps_trace(record.trace_id):
            return False
        if self.step is not None and record.step_id != self.step and record.span_id not in step_spans:
            return False
        if self.min_severity and record.severity_number < self.min_severity:
            return False
        return self.component is None or record.component == self.component

    def apply(self, spans: Sequence[Span], logs: Sequence[LogRecord]) -> tuple[list[Span], list[LogRecord]]:
        kept_spans = [span for span in spans if self.keeps_span(span)]
        step_spans = {span.span_id for span in kept_spans if self.step is not None and span.step_id == self.step}
        kept_logs = [record for record in logs if self.keeps_log(record, step_spans)]
        if self.step is not None:  # runs that never ran this step are not shown at all, not even their root
            traces = {s.trace_id for s in kept_spans if s.step_id == self.step} | {r.trace_id for r in kept_logs}
            kept_spans = [span for span in kept_spans if span.trace_id in traces]
        return kept_spans, kept_logs
