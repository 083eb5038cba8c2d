"""The real demo, as a subprocess, read back from its `metrics.otlp.jsonl` and `traces.otlp.jsonl`:
every metric point's attributes are on an allow-list (low cardinality, never ids or paths), and
the values agree with what the trace says happened."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import pytest

from aiw_otel.logdir import SIGNAL_FILES
from aiw_otel.readback.records import attributes_of
from tests.otlp_files import data_points, exports, items, spans_in

pytestmark = pytest.mark.slow

GEN_AI = {"gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model", "gen_ai.response.model",
          "server.address", "server.port"}
SINK = {"aiw.sink", "aiw.signal"}
#: Every attribute key each metric may carry.
ALLOWED = {
    "gen_ai.client.operation.duration": GEN_AI | {"error.type"},
    "gen_ai.client.token.usage": GEN_AI | {"gen_ai.token.type"},
    "aiw.plan.runs": {"aiw.plan.state"},
    "aiw.plan.duration": {"aiw.plan.state"},
    "aiw.step.runs": {"aiw.step.type", "aiw.step.state"},
    "aiw.step.duration": {"aiw.step.type", "aiw.step.state"},
    "aiw.command.runs": {"aiw.command.outcome"},
    "aiw.command.duration": {"aiw.command.outcome"},
    "aiw.file.io": {"aiw.io.direction"},
    "aiw.user.interactions": {"aiw.interaction.kind", "aiw.interaction.source"},
    "aiw.ai.cost": {"gen_ai.request.model", "gen_ai.provider.name"},
    "aiw.ai.retries": {"http.response.status_code"},
    "aiw.plan.active": set(),
    "aiw.step.active": set(),
    "aiw.plan.paused": set(),
    "aiw.telemetry.dropped": SINK,
    "aiw.telemetry.export.failures": SINK,
    "aiw.telemetry.redactions": {"aiw.redaction.label"},
}
#: What the demo must produce (it has no user interaction, so no `aiw.user.interactions` point).
EXPECTED = set(ALLOWED) - {"aiw.user.interactions"}


def metric_points(export: dict[str, Any], metrics: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(name, attributes, point) for every data point of one export; fills `metrics` by name."""
    for metric in items(export, "metrics"):
        metrics[metric["name"]] = metric
        for point in data_points(metric):
            yield metric["name"], attributes_of(point.get("attributes")), point


def value(point: dict[str, Any]) -> float:
    return float(point["asInt"]) if "asInt" in point else float(point.get("asDouble", 0.0))


@pytest.fixture(scope="module")
def demo(demo_logs: Path) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    # Cumulative temporality: the last export holds the final values.
    points = list(metric_points(exports(demo_logs / SIGNAL_FILES["metrics"])[-1], metrics))
    spans = [attributes_of(span.get("attributes")) for span in spans_in(demo_logs)]
    return {"points": points, "metrics": metrics, "spans": spans}


def by(points: list[Any], name: str) -> dict[frozenset[tuple[str, Any]], dict[str, Any]]:
    return {frozenset(attributes.items()): point for metric, attributes, point in points if metric == name}


def test_every_metric_point_carries_only_allowed_attribute_keys(demo: dict[str, Any]) -> None:
    outside = {(name, key) for name, attributes, _ in demo["points"] for key in attributes
               if key not in ALLOWED.get(name, set())}
    assert outside == set(), f"attributes outside the allow-list: {sorted(outside)}"
    assert set(demo["metrics"]) >= EXPECTED, f"missing: {EXPECTED - set(demo['metrics'])}"
    assert {m["name"] for m in demo["metrics"].values()} <= set(ALLOWED), "a metric nobody allowed"


def test_plan_and_step_runs_match_the_trace(demo: dict[str, Any]) -> None:
    points = demo["points"]
    assert {dict(k)["aiw.plan.state"]: value(p) for k, p in by(points, "aiw.plan.runs").items() if value(p)} == {"Failed": 1}
    steps = Counter((s["aiw.step.type"], s["aiw.step.state"]) for s in demo["spans"] if "aiw.step.state" in s)
    runs = {(dict(k)["aiw.step.type"], dict(k)["aiw.step.state"]): value(p) for k, p in by(points, "aiw.step.runs").items() if value(p)}
    assert runs == dict(steps)
    states = Counter(state for (_, state), n in runs.items() for _ in range(int(n)))
    assert (states["Failed"], states["Skipped"], states["Completed"]) == (1, 1, 3)  # what the demo does on purpose
    durations = by(points, "aiw.step.duration")
    assert {k: int(p["count"]) for k, p in durations.items()} == {k: value(p) for k, p in by(points, "aiw.step.runs").items() if value(p)}
    assert all(value(p) == 0 for p in by(points, "aiw.step.active").values())
    assert all(value(p) == 0 for p in by(points, "aiw.plan.active").values())
    assert [value(p) for p in by(points, "aiw.plan.paused").values()] == [0]


def test_token_usage_equals_the_spans_usage_and_retries_name_the_429(demo: dict[str, Any]) -> None:
    points = demo["points"]
    chats = [s for s in demo["spans"] if s.get("gen_ai.operation.name") == "chat"]
    for token_type, key in (("input", "gen_ai.usage.input_tokens"), ("output", "gen_ai.usage.output_tokens")):
        recorded = sum(float(p["sum"]) for k, p in by(points, "gen_ai.client.token.usage").items()
                       if dict(k)["gen_ai.token.type"] == token_type)
        assert recorded == sum(int(s.get(key, 0)) for s in chats) > 0
    attempts = sum(int(p["count"]) for p in by(points, "gen_ai.client.operation.duration").values())
    assert attempts == len(chats)
    failed = {dict(k).get("error.type"): int(p["count"]) for k, p in by(points, "gen_ai.client.operation.duration").items()
              if "error.type" in dict(k)}
    assert failed == dict(Counter(s["error.type"] for s in chats if "error.type" in s)) and failed
    retries = {dict(k).get("http.response.status_code"): value(p) for k, p in by(points, "aiw.ai.retries").items()}
    assert retries.get(429, 0) >= 1
    cost = sum(value(p) for p in by(points, "aiw.ai.cost").values())
    assert cost == pytest.approx(sum(float(s.get("aiw.ai.cost_usd", 0.0)) for s in chats))


def test_commands_and_file_bytes_match_the_trace(demo: dict[str, Any]) -> None:
    points = demo["points"]
    commands = [s for s in demo["spans"] if "process.executable.name" in s]
    runs = {dict(k)["aiw.command.outcome"]: value(p) for k, p in by(points, "aiw.command.runs").items() if value(p)}
    assert sum(runs.values()) == len(commands) > 0 and runs.get("success", 0) >= 1
    io = {dict(k)["aiw.io.direction"]: value(p) for k, p in by(points, "aiw.file.io").items()}
    written = sum(int(s.get("aiw.file.bytes_written", 0)) for s in demo["spans"])
    assert io.get("write") == written > 0
    assert io.get("read", 0) == sum(int(s.get("aiw.file.bytes_read", 0)) for s in demo["spans"])


def test_self_metrics_are_present_at_zero(demo: dict[str, Any]) -> None:
    points = demo["points"]
    dropped = by(points, "aiw.telemetry.dropped")
    assert {dict(k)["aiw.sink"] for k in dropped} >= {"file"} and all(value(p) == 0 for p in dropped.values())
    assert by(points, "aiw.telemetry.export.failures") and by(points, "aiw.telemetry.redactions")
