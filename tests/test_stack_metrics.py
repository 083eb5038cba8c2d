"""A run's metrics as users look at them: the dashboard's queries and the alert rules on a real Prometheus.

Prometheus runs collector-config/prometheus.yml and alerts.yml (tests/stack.py replaces only the
compose addresses), scraping the real Collector's prometheus exporter that the demo exported OTLP
to, and a runner's own /metrics. Grafana itself cannot run here; its dashboard's every query can.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.cli_process import AIW, ROOT
from tests.deploy_support import dashboard_queries
from tests.processes import until
from tests.stack import DemoRun, Prometheus, server_environment

pytestmark = pytest.mark.stack

#: Seconds for Prometheus to discover a target and scrape it (the first scrape lands ~5 s in).
SCRAPE_DEADLINE_S = 60.0
#: The demo's series, by the job the collector's exporter gives them (service.name).
DEMO = '{job="aiwhisperer-runner"}'


@pytest.fixture(scope="module")
def scraped(demo_run: DemoRun, prometheus: Prometheus) -> Prometheus:
    """Prometheus once it holds the demo's final values (the plan run ends last) in a few scrapes, so
    that rate() and increase() over the dashboard's windows have the two samples they need."""
    until(lambda: prometheus.query(f"count_over_time(aiw_plan_runs_total{DEMO}[1m]) >= 3"),
          "three scrapes of the demo's plan run in Prometheus", SCRAPE_DEADLINE_S)
    return prometheus


def test_the_demo_run_is_in_prometheus_as_the_trace_says(scraped: Prometheus, demo_run: DemoRun) -> None:
    def value(promql: str) -> dict[str, float]:
        return {",".join(f"{k}={v}" for k, v in sorted(r["metric"].items()) if k not in ("job", "instance")):
                float(r["value"][1]) for r in scraped.query(f"({promql}) != 0")}

    assert value(f"sum by (aiw_plan_state) (aiw_plan_runs_total{DEMO})") == {"aiw_plan_state=Failed": 1.0}
    steps = {span["attributes"] and next(a["value"]["stringValue"] for a in span["attributes"]
                                         if a["key"] == "aiw.step.state")
             for span in demo_run.file_spans if any(a["key"] == "aiw.step.state" for a in span["attributes"])}
    states = value(f"sum by (aiw_step_state) (aiw_step_runs_total{DEMO})")
    assert set(states) == {f"aiw_step_state={state}" for state in steps}
    assert sum(states.values()) == 5.0
    chats = [s for s in demo_run.file_spans if s["name"].startswith("chat ")]
    (count,) = value(f"sum(gen_ai_client_operation_duration_seconds_count{DEMO})").values()
    assert count == len(chats)
    tokens = sum(a["value"]["intValue"] if isinstance(a["value"]["intValue"], int) else int(a["value"]["intValue"])
                 for s in chats for a in s["attributes"] if a["key"] == "gen_ai.usage.input_tokens")
    assert value('sum(gen_ai_client_token_usage_sum{job="aiwhisperer-runner", gen_ai_token_type="input"})') == {
        "": float(tokens)}
    assert value(f"sum by (http_response_status_code) (aiw_ai_retries_total{DEMO})") == {
        "http_response_status_code=429": 1.0}
    assert value(f"sum(target_info{DEMO})") == {"": 1.0}


def test_every_dashboard_query_returns_data_after_a_demo_run(scraped: Prometheus) -> None:
    """What each panel shows, as Grafana would ask for it (its variables filled in as for the demo)."""
    queries = dashboard_queries()
    assert len(queries) >= 20
    empty = [f"{q['panel']} [{q['ref_id']}]: {q['expr']}" for q in queries if not scraped.query(q["expr"])]
    assert empty == [], f"{len(empty)} of {len(queries)} dashboard queries return no data:\n" + "\n".join(empty)


def test_the_alert_rules_are_loaded_and_the_failed_step_alert_fires(scraped: Prometheus) -> None:
    groups = scraped.api("/api/v1/rules")["groups"]
    names = {rule["name"] for group in groups for rule in group["rules"]}
    assert {"AiwStepsFailed", "AiwAiErrorRatioHigh", "AiwTelemetryDropped", "AiwTelemetryExportFailing",
            "AiwPlanPausedTooLong"} <= names
    assert all(rule.get("health") != "err" for group in groups for rule in group["rules"]), groups
    alert = until(lambda: scraped.query('ALERTS{alertname="AiwStepsFailed", job="aiwhisperer-runner"}'),
                  "the failed-step alert for the demo's failed step", SCRAPE_DEADLINE_S)
    assert alert[0]["metric"]["alertstate"] in ("pending", "firing")
    # Nothing was dropped or failed to export in a healthy stack: those alerts stay quiet.
    assert scraped.query('ALERTS{alertname=~"AiwTelemetry.*", job="aiwhisperer-runner"}') == []


def test_a_runners_own_metrics_endpoint_is_scraped_while_it_lingers(prometheus: Prometheus, tmp_path: Path) -> None:
    """The `aiwhisperer-runner` job: a run serving /metrics on the host, kept up after the run ends."""
    command = [*AIW, "run", str(ROOT / "examples" / "plans" / "hello.yaml"),
               "--provider", "replay", "--no-console", "--log-dir", str(tmp_path / "logs"),
               "--workspace", str(tmp_path / "ws"), "--prometheus-port", str(prometheus.runner_port),
               "--prometheus-linger", "120"]
    runner = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                              env=server_environment({"OTEL_SERVICE_NAME": "aiwhisperer-runner",
                                                      "OTEL_RESOURCE_ATTRIBUTES": "service.instance.id=lingering-1"}))
    try:
        runs: list[dict[str, Any]] = until(
            lambda: prometheus.query('aiw_plan_runs_total{instance="127.0.0.1:%d"} > 0' % prometheus.runner_port),
            "the lingering runner's final values in Prometheus", SCRAPE_DEADLINE_S)
        assert runs[0]["metric"]["job"] == "aiwhisperer-runner" and runs[0]["metric"]["aiw_plan_state"] == "Completed"
        assert runs[0]["value"][1] == "1"
    finally:
        runner.send_signal(signal.SIGINT)  # Ctrl-C ends the linger
        out, err = runner.communicate(timeout=60)
    assert runner.returncode == 0, out + err
