"""The metric instruments of a run: names, units, descriptions and bucket advice in one place.

Names and units are what dashboards and alert rules are written against, so they are fixed here
and pinned by tests (the Prometheus names are derived from them: `s` adds `_seconds`, `By` adds
`_bytes`, `{annotation}` units add nothing, counters get `_total`). The two GenAI histograms
follow the GenAI semantic conventions (v1.41.1), their advisory bucket boundaries included; the
`aiw.*` instruments are ours, with low-cardinality attributes only (states, types, outcomes,
never ids, paths, prompts or commands).
"""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry.metrics import Counter, Histogram, Meter, UpDownCounter

#: GenAI semconv advisory boundaries for `gen_ai.client.operation.duration` (seconds).
GEN_AI_DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
#: GenAI semconv advisory boundaries for `gen_ai.client.token.usage`.
GEN_AI_TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
#: A plan runs for minutes to hours (util-genai uses these for `gen_ai.invoke_workflow.duration`).
PLAN_DURATION_BUCKETS = (1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)
#: A step runs for a fraction of a second (a skipped one) to an hour.
STEP_DURATION_BUCKETS = (0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
#: A command runs for milliseconds (`true`) to a build's many minutes.
COMMAND_DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600, 1800)


@dataclass(frozen=True)
class RunInstruments:
    """Every instrument the metrics processor records, created once on the one MeterProvider."""

    operation_duration: Histogram
    token_usage: Histogram
    plan_runs: Counter
    plan_duration: Histogram
    plan_active: UpDownCounter
    plan_paused: UpDownCounter
    step_runs: Counter
    step_duration: Histogram
    step_active: UpDownCounter
    command_runs: Counter
    command_duration: Histogram
    file_io: Counter
    user_interactions: Counter
    ai_cost: Counter
    ai_retries: Counter

    @classmethod
    def create(cls, meter: Meter) -> RunInstruments:
        return cls(
            operation_duration=meter.create_histogram(
                "gen_ai.client.operation.duration", unit="s", description="GenAI operation duration.",
                explicit_bucket_boundaries_advisory=GEN_AI_DURATION_BUCKETS),
            token_usage=meter.create_histogram(
                "gen_ai.client.token.usage", unit="{token}", description="Number of input and output tokens used.",
                explicit_bucket_boundaries_advisory=GEN_AI_TOKEN_BUCKETS),
            plan_runs=meter.create_counter(
                "aiw.plan.runs", unit="{run}", description="Plan runs that ended, by final state."),
            plan_duration=meter.create_histogram(
                "aiw.plan.duration", unit="s", description="Duration of plan runs, by final state.",
                explicit_bucket_boundaries_advisory=PLAN_DURATION_BUCKETS),
            plan_active=meter.create_up_down_counter(
                "aiw.plan.active", unit="{plan}", description="Plan runs in progress."),
            plan_paused=meter.create_up_down_counter(
                "aiw.plan.paused", unit="{plan}", description="Plan runs paused by the user right now."),
            step_runs=meter.create_counter(
                "aiw.step.runs", unit="{step}", description="Steps that ended, by type and final state."),
            step_duration=meter.create_histogram(
                "aiw.step.duration", unit="s", description="Duration of steps, by type and final state.",
                explicit_bucket_boundaries_advisory=STEP_DURATION_BUCKETS),
            step_active=meter.create_up_down_counter(
                "aiw.step.active", unit="{step}", description="Steps in progress."),
            command_runs=meter.create_counter(
                "aiw.command.runs", unit="{command}", description="Commands that ended, by outcome."),
            command_duration=meter.create_histogram(
                "aiw.command.duration", unit="s", description="Duration of commands, by outcome.",
                explicit_bucket_boundaries_advisory=COMMAND_DURATION_BUCKETS),
            file_io=meter.create_counter(
                "aiw.file.io", unit="By", description="Bytes read and written by file operations."),
            user_interactions=meter.create_counter(
                "aiw.user.interactions", unit="{interaction}", description="User requests applied to a run."),
            ai_cost=meter.create_counter(
                "aiw.ai.cost", unit="{USD}", description="Cost of AI calls in US dollars, as priced or reported."),
            ai_retries=meter.create_counter(
                "aiw.ai.retries", unit="{retry}", description="AI call attempts that failed and were retried."),
        )
