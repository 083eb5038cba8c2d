"""Prometheus `/metrics`: real runs as subprocesses, scraped over real HTTP and parsed with
prometheus-client's own exposition parser; the settings that switch it on and where it listens."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from aiw_otel.config import ConfigError, TelemetryConfig
from aiw_otel.config_env import apply_environment
from aiw_otel.config_yaml import config_from_text
from tests.cli_process import AIW, ROOT, aiw
from tests.processes import DEADLINE_S, until

HELLO = ROOT / "examples" / "plans" / "hello.yaml"


class Run:
    """A run in the background whose stdout lines are collected as they come."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([*AIW, *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, cwd=ROOT)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def line_with(self, text: str, seconds: float = 120) -> str:
        return until(lambda: next((line for line in self.lines if text in line), None), repr(text), seconds)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def scrape(url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Sample name -> [(labels, value)], through prometheus-client's parser (a format error fails)."""
    with urllib.request.urlopen(url, timeout=DEADLINE_S) as response:
        text = response.read().decode()
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def values(samples: dict[str, Any], name: str, label: str) -> dict[str, float]:
    return {labels.get(label, ""): value for labels, value in samples.get(name, [])}


def counted(samples: dict[str, Any], name: str, label: str) -> dict[str, float]:
    """A counter's totals by one label, without the series a run created at 0 and never counted."""
    totals: dict[str, float] = {}
    for labels, value in samples.get(name, []):
        if value:
            totals[labels.get(label, "")] = totals.get(labels.get(label, ""), 0.0) + value
    return totals


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on `port`, from /proc/net/tcp and tcp6."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]) if len(address) == 8 else address)
    return found


@pytest.fixture
def run() -> Any:
    started: list[Run] = []

    def start(*args: str) -> Run:
        started.append(Run(*args))
        return started[-1]

    yield start
    for each in started:
        each.stop()


EXPECTED_SAMPLES = (
    "gen_ai_client_operation_duration_seconds_bucket", "gen_ai_client_operation_duration_seconds_count",
    "gen_ai_client_token_usage_bucket", "gen_ai_client_token_usage_sum",
    "aiw_plan_runs_total", "aiw_plan_duration_seconds_bucket", "aiw_step_runs_total", "aiw_step_duration_seconds_sum",
    "aiw_command_runs_total", "aiw_command_duration_seconds_count", "aiw_file_io_bytes_total", "aiw_ai_cost_total",
    "aiw_ai_retries_total", "aiw_plan_active", "aiw_step_active", "aiw_plan_paused",
    "aiw_telemetry_dropped_total", "aiw_telemetry_export_failures_total", "aiw_telemetry_redactions_total", "target_info",
)


@pytest.mark.slow
def test_the_demo_serves_metrics_on_loopback_only_and_keeps_the_final_values_up_after_it_ends(
    run: Any, tmp_path: Path
) -> None:
    demo = run("demo", "--no-console", "--log-dir", str(tmp_path), "--prometheus-port", "0",
               "--prometheus-linger", "300")
    url = demo.line_with("aiw-otel: metrics at ").split(" at ", 1)[1].strip()
    assert url.startswith("http://127.0.0.1:") and url.endswith("/metrics")
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    assert listening_addresses(port) == {"127.0.0.1"}

    during = until(lambda: (s := scrape(url)) and values(s, "aiw_plan_active", "") == {"": 1.0} and s, "an active plan")
    assert values(during, "aiw_plan_paused", "") == {"": 0.0}

    demo.line_with("final metrics stay at")
    assert demo.proc.poll() is None  # lingering: the run is over, the endpoint is not
    final = scrape(url)
    missing = [name for name in EXPECTED_SAMPLES if name not in final]
    assert not missing, f"missing samples: {missing}; got {sorted(final)}"
    assert counted(final, "aiw_plan_runs_total", "aiw_plan_state") == {"Failed": 1.0}
    steps = counted(final, "aiw_step_runs_total", "aiw_step_state")
    assert steps.get("Failed") == 1.0 and steps.get("Skipped") == 1.0
    assert values(final, "aiw_ai_retries_total", "http_response_status_code").get("429", 0) >= 1
    assert values(final, "aiw_plan_active", "") == {"": 0.0}
    [(target, _)] = final["target_info"]
    assert target["service_name"] == "aiwhisperer-runner" and target["service_instance_id"]
    buckets = {labels["le"] for labels, _ in final["gen_ai_client_operation_duration_seconds_bucket"]}
    assert {"0.01", "81.92", "+Inf"} <= buckets

    demo.proc.send_signal(signal.SIGINT)  # Ctrl-C ends the linger early; the demo still exits 0
    assert demo.proc.wait(timeout=DEADLINE_S) == 0
    with pytest.raises(urllib.error.URLError):
        scrape(url)


@pytest.mark.slow
def test_a_busy_port_is_one_clear_line_and_the_run_goes_on(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = aiw("run", str(HELLO), "--provider", "replay", "--no-console", "--log-dir", str(tmp_path),
                     "--prometheus-port", str(port))
    assert result.returncode == 0, result.stderr
    [line] = [line for line in result.stderr.splitlines() if "prometheus" in line]
    assert f"cannot listen on 127.0.0.1:{port}" in line and "in use" in line
    assert "Traceback" not in result.stderr
    assert "metrics at" not in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("variable, value, says", [
    ("OTEL_EXPORTER_PROMETHEUS_PORT", "metrics", "expected a port number from 0 to 65535"),
    ("OTEL_METRICS_EXPORTER", "prometheus,statsd", "unsupported exporter 'statsd'"),
])
def test_a_bad_variable_is_one_line_naming_it(tmp_path: Path, variable: str, value: str, says: str) -> None:
    """The specification: an unparsable Integer or an unknown Enum value is warned about and ignored."""
    result = aiw("run", str(HELLO), "--provider", "replay", "--no-console", "--log-dir", str(tmp_path),
                 "--prometheus-port", "0", env={**os.environ, "OTEL_METRICS_EXPORTER": "prometheus", variable: value})
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [result.stderr.strip()]  # one line
    assert f"environment variable {variable}={value!r} ignored: {says}" in result.stderr


def test_the_exporter_variable_switches_prometheus_on_beside_otlp_and_the_host_and_port_variables_place_it() -> None:
    sinks = apply_environment(TelemetryConfig(), {"OTEL_METRICS_EXPORTER": "otlp, prometheus",
                                                  "OTEL_EXPORTER_PROMETHEUS_HOST": "0.0.0.0",
                                                  "OTEL_EXPORTER_PROMETHEUS_PORT": "9465"}).sinks
    assert (sinks.prometheus.enabled, sinks.prometheus.host, sinks.prometheus.port) == (True, "0.0.0.0", 9465)
    assert sinks.otlp.enabled and "metrics" in sinks.otlp.signals
    defaults = TelemetryConfig().sinks.prometheus
    assert (defaults.enabled, defaults.host, defaults.port, defaults.linger_s) == (False, "127.0.0.1", 9464, 0.0)
    # A list without prometheus turns a configured endpoint off, as for every other sink.
    configured = config_from_text("telemetry:\n  sinks:\n    prometheus: {enabled: true}\n").telemetry
    assert not apply_environment(configured, {"OTEL_METRICS_EXPORTER": "otlp"}).sinks.prometheus.enabled


def test_the_config_section_and_its_errors_name_file_and_line() -> None:
    text = "telemetry:\n  sinks:\n    prometheus:\n      enabled: true\n      port: 9500\n      linger_s: 30\n"
    prometheus = config_from_text(text, source="aiw.yaml").telemetry.sinks.prometheus
    assert (prometheus.enabled, prometheus.port, prometheus.linger_s) == (True, 9500, 30.0)
    with pytest.raises(ConfigError, match=r"^aiw.yaml:5: telemetry.sinks.prometheus.port: .*port number from 0 to 65535"):
        config_from_text(text.replace("9500", "70000"), source="aiw.yaml")
    with pytest.raises(ConfigError, match=r"^aiw.yaml:6: .*a number >= 0"):
        config_from_text(text.replace("30", "-1"), source="aiw.yaml")


def test_a_scrape_after_flushes_holds_each_series_once() -> None:
    """Flushing the provider (a run starting, `force_flush`, shutdown's flush) must not queue extra
    collections in the pull reader: the upstream collector yields every queued collection, so one
    scrape used to carry `target_info` and every series twice, which Prometheus rejects as duplicates."""
    import aiw_otel
    from aiw_otel.config import PrometheusSinkConfig, SinksConfig

    config = TelemetryConfig(sinks=SinksConfig(prometheus=PrometheusSinkConfig(enabled=True, port=0)))
    telemetry = aiw_otel.configure(config, environ={"AIW_FILE": "off"}, set_global=False, handle_signals=False)
    try:
        with telemetry.plan_run("p", "flushed"):
            pass
        for _ in range(3):
            assert telemetry.force_flush(10.0)
        url = telemetry.endpoints["prometheus"]
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
    finally:
        telemetry.shutdown(10.0)
    series = [line.split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")]
    assert series.count(next(line for line in series if line.startswith("target_info"))) == 1
    assert len(series) == len(set(series)), [line for line in series if series.count(line) > 1][:5]
