"""The run's metrics, recorded from spans and records through a real pipeline and read back from
the SDK's in-memory reader (what every exporter, OTLP file or Prometheus, is given)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics.export import (
    HistogramDataPoint,
    InMemoryMetricReader,
    MetricExporter,
    MetricExportResult,
    MetricsData,
)

from aiw_otel.instrument.metrics import GEN_AI_DURATION_BUCKETS, GEN_AI_TOKEN_BUCKETS
from aiw_otel.model import ComponentType, LogLevel, LogMessage
from aiw_otel.runner.control import RunControl
from aiw_otel.runner.processes import run_command
from aiw_otel.sinks import ProcessorSink


class Metrics:
    """A pipeline with an in-memory metric reader; `points(name)` collects and returns
    {frozenset(attributes): value}, a histogram's value being (count, sum)."""

    def __init__(self, capture: Any, **kwargs: Any) -> None:
        self.reader = InMemoryMetricReader()
        self.cap = capture(sinks=(ProcessorSink("memory-metrics", metric_reader=self.reader),), **kwargs)
        self.telemetry = self.cap.telemetry

    def collect(self) -> dict[str, Any]:
        data = self.reader.get_metrics_data()
        found: dict[str, Any] = {}
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    found[metric.name] = metric
        return found

    def points(self, name: str) -> dict[frozenset[tuple[str, Any]], Any]:
        metric = self.collect().get(name)
        if metric is None:
            return {}
        return {
            frozenset((point.attributes or {}).items()): (
                (point.count, point.sum) if isinstance(point, HistogramDataPoint) else point.value
            )
            for point in metric.data.data_points
        }

    def counts(self, name: str) -> dict[frozenset[tuple[str, Any]], Any]:
        """A counter's points that counted something (runs create their label sets at 0 first)."""
        return {labels: value for labels, value in self.points(name).items() if value}

    def histogram(self, name: str) -> list[HistogramDataPoint]:
        return list(self.collect()[name].data.data_points)


def labels(**attributes: Any) -> frozenset[tuple[str, Any]]:
    return frozenset((key.replace("__", "."), value) for key, value in attributes.items())


@pytest.fixture
def metrics(capture: Any) -> Metrics:
    return Metrics(capture)


CHAT = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
        "server.address": "api.openai.com", "server.port": 443}


def test_a_successful_ai_call_records_duration_tokens_and_cost_with_the_semconv_attributes(metrics: Metrics) -> None:
    with metrics.telemetry.plan_run("p", "plan") as run, run.step("s1", "code_generation") as step:
        with step.ai_call(provider="openai", model="gpt-4o-mini", server_address="api.openai.com", server_port=443) as call:
            call.response_received(response_model="gpt-4o-mini-2024-07-18", input_tokens=120, output_tokens=40,
                                   cost_usd=0.25)
    expected = frozenset({**CHAT, "gen_ai.response.model": "gpt-4o-mini-2024-07-18"}.items())
    [(attributes, (count, seconds))] = metrics.points("gen_ai.client.operation.duration").items()
    assert (attributes, count) == (expected, 1) and 0 <= seconds < 60
    assert metrics.points("gen_ai.client.token.usage") == {
        expected | {("gen_ai.token.type", "input")}: (1, 120),
        expected | {("gen_ai.token.type", "output")}: (1, 40),
    }
    assert metrics.points("aiw.ai.cost") == {
        labels(gen_ai__request__model="gpt-4o-mini", gen_ai__provider__name="openai"): 0.25}
    assert metrics.points("aiw.ai.retries") == {}
    collected = metrics.collect()
    units = {name: collected[name].unit for name in ("gen_ai.client.operation.duration", "gen_ai.client.token.usage",
                                                      "aiw.ai.cost")}
    assert units == {"gen_ai.client.operation.duration": "s", "gen_ai.client.token.usage": "{token}",
                     "aiw.ai.cost": "{USD}"}
    assert tuple(metrics.histogram("gen_ai.client.operation.duration")[0].explicit_bounds) == GEN_AI_DURATION_BUCKETS
    assert tuple(metrics.histogram("gen_ai.client.token.usage")[0].explicit_bounds) == GEN_AI_TOKEN_BUCKETS


def test_ended_spans_recorded_off_the_callers_thread_are_all_counted_at_any_collection_with_their_exemplars(
    metrics: Metrics,
) -> None:
    """A span's measurements are recorded by the processor's own thread (processors/metrics.py):
    a collection right after the spans ended (no flush) still sees every one, past the queue's
    bound too, and an exemplar still names the span it came from."""
    calls = 5000  # past the queue's bound (4096): the caller then records itself, nothing is dropped
    span_ids = set()
    with metrics.telemetry.plan_run("p", "plan") as run, run.step("s1", "code_generation") as step:
        for _ in range(calls):
            with step.ai_call(provider="openai", model="gpt-4o-mini", server_address="api.openai.com",
                              server_port=443) as call:
                span_ids.add(call.span.get_span_context().span_id)
        trace_id = call.span.get_span_context().trace_id
    [point] = metrics.histogram("gen_ai.client.operation.duration")
    assert point.count == calls
    assert metrics.points("aiw.step.runs")[labels(aiw__step__type="code_generation", aiw__step__state="Completed")] == 1
    assert point.exemplars and all(e.trace_id == trace_id and e.span_id in span_ids for e in point.exemplars)


def test_a_rate_limited_attempt_counts_a_retry_and_carries_error_type_only_on_the_failure(metrics: Metrics) -> None:
    with metrics.telemetry.plan_run("p", "plan") as run, run.step("s1", "code_generation") as step:
        with step.ai_call(provider="openai", model="gpt-4o-mini", server_address="api.openai.com", server_port=443) as call:
            call.response_failed(error_type="RateLimitError", message="slow down", status_code=429, retry_after_s=0.5)
        with step.ai_call(provider="openai", model="gpt-4o-mini", server_address="api.openai.com", server_port=443,
                          attempt=2) as call:
            call.response_failed(error_type="BadRequestError", message="no", status_code=400)  # not retried
        with step.ai_call(provider="openai", model="gpt-4o-mini", server_address="api.openai.com", server_port=443,
                          attempt=1) as call:
            call.response_received(input_tokens=5, output_tokens=1)
    durations = metrics.points("gen_ai.client.operation.duration")
    assert {dict(a).get("error.type"): c for a, (c, _) in durations.items()} == {
        "RateLimitError": 1, "BadRequestError": 1, None: 1}
    assert metrics.points("aiw.ai.retries") == {labels(http__response__status_code=429): 1}
    assert all(dict(a)["gen_ai.token.type"] in ("input", "output") and "error.type" not in dict(a)
               for a in metrics.points("gen_ai.client.token.usage"))


def test_plan_and_step_runs_by_final_state_with_durations_and_active_counts(metrics: Metrics) -> None:
    with metrics.telemetry.plan_run("p", "plan") as run:
        with run.step("write", "code_generation"):
            assert metrics.points("aiw.step.active") == {frozenset(): 1}
            assert metrics.points("aiw.plan.active") == {frozenset(): 1}
        with pytest.raises(RuntimeError), run.step("check", "validation"):
            raise RuntimeError("broken")
        run.skip_step("publish", "dependency 'check' failed", step_type="deployment")
    assert metrics.counts("aiw.plan.runs") == {labels(aiw__plan__state="Failed"): 1}
    assert [c for c, _ in metrics.points("aiw.plan.duration").values()] == [1]
    assert metrics.counts("aiw.step.runs") == {
        labels(aiw__step__type="code_generation", aiw__step__state="Completed"): 1,
        labels(aiw__step__type="validation", aiw__step__state="Failed"): 1,
        labels(aiw__step__type="deployment", aiw__step__state="Skipped"): 1,
    }
    assert {k: c for k, (c, _) in metrics.points("aiw.step.duration").items()} == metrics.counts("aiw.step.runs")
    assert metrics.points("aiw.step.active") == {frozenset(): 0}
    assert metrics.points("aiw.plan.active") == {frozenset(): 0}


class Recording(MetricExporter):
    """A push exporter that keeps every batch it is given (the SDK has no in-memory one)."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[MetricsData] = []

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        self.batches.append(metrics_data)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass

    def points(self, name: str) -> dict[frozenset[tuple[str, Any]], Any]:
        """The named counter's points in the latest batch that has it."""
        for data in reversed(self.batches):
            for metric in (m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics):
                if metric.name == name:
                    return {frozenset(p.attributes.items()): p.value for p in metric.data.data_points}
        return {}


def test_a_run_creates_its_counters_at_zero_and_exports_them_as_it_starts(capture: Any) -> None:
    """A counter that first reaches a backend at its final value shows no increase there: a run's
    label sets exist at 0 from its start, and the readers export them right then, not a minute on."""
    from aiw_otel.sinks import ExporterSink
    from tests.processes import until

    exporter = Recording()
    cap = capture(sinks=(ExporterSink("memory-export", metric_exporter=exporter, metric_interval_ms=3_600_000),))
    with cap.telemetry.plan_run("p", "plan") as run:
        plan_runs = until(lambda: exporter.points("aiw.plan.runs"), "the plan's counters exported as it starts")
        assert plan_runs == {labels(aiw__plan__state=state): 0 for state in ("Completed", "Failed", "Cancelled")}
        assert set(exporter.points("aiw.command.runs").values()) == {0}
        with run.step("write", "code_generation"):
            assert cap.telemetry.force_flush(5.0)
            assert exporter.points("aiw.step.runs") == {
                labels(aiw__step__type="code_generation", aiw__step__state=state): 0
                for state in ("Completed", "Failed", "Cancelled", "Skipped")}


def test_command_outcomes_from_real_processes(metrics: Metrics, tmp_path: Path) -> None:
    control = RunControl()
    with metrics.telemetry.plan_run("p", "plan") as run, run.step("s1", "validation") as step:
        run_command(step, "true", cwd=tmp_path, control=control, timeout_s=None)
        run_command(step, "exit 3", cwd=tmp_path, control=control, timeout_s=None)
        run_command(step, "sleep 30", cwd=tmp_path, control=control, timeout_s=0.2, grace_s=0.5)
        with step.command(["make"]) as cmd:  # what run_command records for a cancel (see test_runner_tools)
            cmd.exited(-15)
            cmd.set_error("cancelled", "command cancelled by the user")
    outcomes = {"success": 1, "failure": 1, "timeout": 1, "cancelled": 1}
    assert metrics.counts("aiw.command.runs") == {labels(aiw__command__outcome=o): n for o, n in outcomes.items()}
    durations = metrics.points("aiw.command.duration")
    assert durations[labels(aiw__command__outcome="timeout")][1] >= 0.2


def test_file_bytes_by_direction(metrics: Metrics, tmp_path: Path) -> None:
    with metrics.telemetry.plan_run("p", "plan") as run, run.step("s1", "file_io") as step:
        with step.file_operation("write", str(tmp_path / "a")) as op:
            op.done(bytes_written=(tmp_path / "a").write_text("hello"))
        with step.file_operation("read", str(tmp_path / "a")) as op:
            op.done(bytes_read=len((tmp_path / "a").read_bytes()))
        with step.file_operation("read", str(tmp_path / "a")) as op:
            op.done(bytes_read=3)
    assert metrics.points("aiw.file.io") == {labels(aiw__io__direction="write"): 5, labels(aiw__io__direction="read"): 8}
    assert metrics.collect()["aiw.file.io"].unit == "By"


def test_interactions_and_the_paused_gauge(metrics: Metrics) -> None:
    with metrics.telemetry.plan_run("p", "plan") as run:
        with run.step("s1", "code_generation"):
            run.pause(source="console")
            assert metrics.points("aiw.plan.paused") == {frozenset(): 1}
            run.resume(source="socket")
            assert metrics.points("aiw.plan.paused") == {frozenset(): 0}
            run.add_context("be brief", source="api")
            run.log(LogLevel.INFO, "details_requested", "User asked for the details of step 's1'.",
                    component=ComponentType.USER_INTERACTION, details={"step": "s1", "source": "console"})
            run.pause(source="console")
            assert metrics.points("aiw.plan.paused") == {frozenset(): 1}
        # the block ends while paused: the plan resumes to end, and is no longer paused
    assert metrics.points("aiw.plan.paused") == {frozenset(): 0}
    assert metrics.points("aiw.user.interactions") == {
        labels(aiw__interaction__kind="pause", aiw__interaction__source="console"): 2,
        labels(aiw__interaction__kind="resume", aiw__interaction__source="socket"): 1,
        labels(aiw__interaction__kind="context", aiw__interaction__source="api"): 1,
        labels(aiw__interaction__kind="details", aiw__interaction__source="console"): 1,
    }


def test_a_cancel_while_paused_ends_the_pause(metrics: Metrics) -> None:
    with metrics.telemetry.plan_run("p", "plan") as run:
        run.pause(source="console")
        run.cancel(source="console")
        assert metrics.points("aiw.plan.paused") == {frozenset(): 0}
    assert metrics.counts("aiw.plan.runs") == {labels(aiw__plan__state="Cancelled"): 1}


def test_self_metrics_report_zero_per_sink_signal_and_redaction_label_before_anything_happens(metrics: Metrics) -> None:
    dropped = metrics.points("aiw.telemetry.dropped")
    assert dropped[labels(aiw__sink="memory", aiw__signal="traces")] == 0
    assert dropped[labels(aiw__sink="memory", aiw__signal="logs")] == 0
    assert set(dropped.values()) == {0}
    assert set(metrics.points("aiw.telemetry.export.failures").values()) == {0}
    redactions = metrics.points("aiw.telemetry.redactions")
    assert redactions[labels(aiw__redaction__label="password")] == 0 and set(redactions.values()) == {0}
    metrics.telemetry.log(LogMessage(LogLevel.INFO, ComponentType.RUNNER, "login", "password=hunter2"))
    assert metrics.points("aiw.telemetry.redactions")[labels(aiw__redaction__label="password")] == 1
