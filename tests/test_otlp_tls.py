"""OTLP over TLS as the environment variable specification has it: OTEL_EXPORTER_OTLP_CERTIFICATE,
_CLIENT_KEY and _CLIENT_CERTIFICATE (each overridable per signal), for the runner's exporters and for
`aiw-otel ship`, against real https and gRPC-over-TLS receivers on 127.0.0.1 with a throwaway CA."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterator

import pytest

import aiw_otel
from aiw_otel.config import ConfigError, TelemetryConfig
from aiw_otel.config_env import apply_environment
from aiw_otel.otlp_values import TlsFiles
from tests.cli_process import aiw
from tests.otlp_receiver import GrpcReceiver, Receiver
from tests.recorded_runs import record_runs
from tests.tls_files import Pki, make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Another CA, which signed nothing the receivers present."""
    return make_pki(tmp_path_factory.mktemp("stranger"), "stranger")


@pytest.fixture
def https_receiver(pki: Pki) -> Iterator[Receiver]:
    server = Receiver(pki.http_server())
    yield server
    server.close()


@pytest.fixture
def mtls_receiver(pki: Pki) -> Iterator[Receiver]:
    server = Receiver(pki.http_server(require_client=True))
    yield server
    server.close()


def run_a_plan(environ: dict[str, str]) -> None:
    """A one-step plan through configure(environ=...), its exporters given 2 s to deliver at the end."""
    telemetry = aiw_otel.configure(environ={"AIW_FILE": "off", "AIW_SHUTDOWN_TIMEOUT": "2", **environ},
                                   set_global=False, handle_signals=False)
    with telemetry.plan_run("p", "tls plan") as run, run.step("s1", "t"):
        pass
    telemetry.shutdown()


def test_the_runner_exports_over_https_trusting_the_certificate_variable(https_receiver, pki, capsys):
    run_a_plan({"OTEL_EXPORTER_OTLP_ENDPOINT": https_receiver.endpoint, "OTEL_EXPORTER_OTLP_CERTIFICATE": str(pki.ca)})
    assert https_receiver.endpoint.startswith("https://")
    assert {s.name for s in https_receiver.spans()} == {"invoke_workflow tls plan", "t"}
    assert https_receiver.log_records() and https_receiver.metrics()
    assert "did not receive" not in capsys.readouterr().err


def test_without_the_ca_the_run_goes_on_and_its_end_counts_what_was_not_delivered(https_receiver, capsys):
    run_a_plan({"OTEL_EXPORTER_OTLP_ENDPOINT": https_receiver.endpoint, "OTEL_EXPORTER_OTLP_TIMEOUT": "1000"})
    err = capsys.readouterr().err
    (summary,) = [line for line in err.splitlines() if "did not receive" in line]
    assert https_receiver.endpoint in summary and "spans" in summary
    assert "Traceback" not in err and https_receiver.requests() == 0


def test_a_signals_own_certificate_wins_over_the_generic_one(https_receiver, pki, stranger):
    run_a_plan({"OTEL_EXPORTER_OTLP_ENDPOINT": https_receiver.endpoint, "OTEL_EXPORTER_OTLP_TIMEOUT": "1000",
                "OTEL_EXPORTER_OTLP_CERTIFICATE": str(stranger.ca),
                "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE": str(pki.ca)})
    assert https_receiver.spans()
    assert https_receiver.received["/v1/logs"] == [] and https_receiver.received["/v1/metrics"] == []


def test_mutual_tls_needs_the_client_certificate_and_key(mtls_receiver, pki, capsys):
    trusting = {"OTEL_EXPORTER_OTLP_ENDPOINT": mtls_receiver.endpoint, "OTEL_EXPORTER_OTLP_TIMEOUT": "1000",
                "OTEL_EXPORTER_OTLP_CERTIFICATE": str(pki.ca)}
    run_a_plan({**trusting, "OTEL_LOGS_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"})
    assert mtls_receiver.requests() == 0
    assert "did not receive" in capsys.readouterr().err
    run_a_plan({**trusting, "OTEL_EXPORTER_OTLP_CLIENT_KEY": str(pki.client_key),
                       "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": str(pki.client_certificate)})
    assert mtls_receiver.spans() and mtls_receiver.log_records()
    assert "PRIVATE KEY" not in capsys.readouterr().err


@pytest.mark.parametrize("require_client", [False, True], ids=["tls", "mtls"])
def test_the_runner_exports_over_grpc_with_tls(pki, require_client):
    receiver = GrpcReceiver(pki.grpc_server(require_client))
    client = {"OTEL_EXPORTER_OTLP_CLIENT_KEY": str(pki.client_key),
              "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": str(pki.client_certificate)} if require_client else {}
    try:
        run_a_plan({"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                    "OTEL_EXPORTER_OTLP_CERTIFICATE": str(pki.ca), **client})
    finally:
        receiver.close()
    assert receiver.endpoint.startswith("https://") and receiver.spans() and receiver.log_records()


def test_a_certificate_variable_naming_no_file_is_refused_with_its_name_and_path(tmp_path):
    missing = tmp_path / "nowhere" / "ca.pem"
    with pytest.raises(ConfigError) as error:
        aiw_otel.configure(environ={"AIW_FILE": "off", "OTEL_EXPORTER_OTLP_ENDPOINT": "https://127.0.0.1:4318",
                                    "OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY": str(missing)},
                           set_global=False, handle_signals=False)
    assert "OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY" in str(error.value) and str(missing) in str(error.value)


def test_each_tls_file_is_resolved_on_its_own_a_signals_variable_first(pki, stranger):
    otlp = apply_environment(TelemetryConfig(), {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector:4318", "OTEL_EXPORTER_OTLP_CERTIFICATE": str(pki.ca),
        "OTEL_EXPORTER_OTLP_CLIENT_KEY": str(pki.client_key),
        "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": str(pki.client_certificate),
        "OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY": str(stranger.client_key),
        "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE": str(stranger.ca)}).sinks.otlp
    assert otlp.target("traces").tls == TlsFiles(str(pki.ca), str(pki.client_key), str(pki.client_certificate))
    assert otlp.target("logs").tls == TlsFiles(str(pki.ca), str(stranger.client_key), str(pki.client_certificate))
    assert otlp.target("metrics").tls == TlsFiles(str(stranger.ca), str(pki.client_key), str(pki.client_certificate))


# -- aiw-otel ship ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("runs") / "logs"
    record_runs(directory, "one")
    return directory


def ship(log_dir: Path, tmp_path: Path, *options: str, **variables: str):
    """`aiw-otel ship` of a copy of `log_dir` (each ship starts afresh), the OTLP variables its only ones."""
    copy = tmp_path / "copy"
    shutil.copytree(log_dir, copy)
    environ = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    return aiw("ship", str(copy), "--timeout", "5", *options, env={**environ, **variables})


def test_ship_over_https_trusts_the_certificate_variable_and_refuses_without_it(https_receiver, pki, log_dir, tmp_path):
    refused = ship(log_dir, tmp_path / "1", OTEL_EXPORTER_OTLP_ENDPOINT=https_receiver.endpoint)
    assert refused.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in refused.stderr
    assert "Traceback" not in refused.stderr
    result = ship(log_dir, tmp_path / "2", OTEL_EXPORTER_OTLP_ENDPOINT=https_receiver.endpoint,
                  OTEL_EXPORTER_OTLP_CERTIFICATE=str(pki.ca))
    assert result.returncode == 0, result.stderr
    assert https_receiver.spans() and https_receiver.log_records() and https_receiver.metrics()


def test_ship_with_mutual_tls_sends_the_client_certificate(mtls_receiver, pki, log_dir, tmp_path):
    without = ship(log_dir, tmp_path / "1", "--certificate", str(pki.ca), "--endpoint", mtls_receiver.endpoint)
    assert without.returncode == 1 and mtls_receiver.requests() == 0
    result = ship(log_dir, tmp_path / "2", "--endpoint", mtls_receiver.endpoint,
                  OTEL_EXPORTER_OTLP_CERTIFICATE=str(pki.ca), OTEL_EXPORTER_OTLP_CLIENT_KEY=str(pki.client_key),
                  OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE=str(pki.client_certificate))
    assert result.returncode == 0, result.stderr
    assert mtls_receiver.spans() and "PRIVATE KEY" not in result.stdout + result.stderr


def test_ship_over_grpc_with_mutual_tls(pki, log_dir, tmp_path):
    receiver = GrpcReceiver(pki.grpc_server(require_client=True))
    try:
        refused = ship(log_dir, tmp_path / "1", "--protocol", "grpc", "--endpoint", receiver.endpoint)  # no CA
        result = ship(log_dir, tmp_path / "2", "--protocol", "grpc", "--client-key", str(pki.client_key),
                      OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint, OTEL_EXPORTER_OTLP_CERTIFICATE=str(pki.ca),
                      OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE=str(pki.client_certificate))
    finally:
        receiver.close()
    assert refused.returncode == 1 and "UNAVAILABLE" in refused.stderr
    # gRPC's C core says nothing of its own (a line per handshake): the one failure line is ours
    assert all(line.startswith("aiw-otel: ") for line in refused.stderr.splitlines()), refused.stderr
    assert result.returncode == 0, result.stderr
    assert receiver.spans() and receiver.log_records() and receiver.metrics()


def test_ship_refuses_an_unreadable_tls_file_in_one_line(tmp_path, log_dir):
    missing = tmp_path / "ca.pem"
    result = ship(log_dir, tmp_path, OTEL_EXPORTER_OTLP_ENDPOINT="https://127.0.0.1:4318",
                  OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE=str(missing))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE" in result.stderr and str(missing) in result.stderr
    option = ship(log_dir, tmp_path / "2", "--endpoint", "https://127.0.0.1:4318", "--client-key", str(missing))
    assert option.returncode == 2 and "--client-key" in option.stderr and str(missing) in option.stderr
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("not a certificate\n")
    garbled = ship(log_dir, tmp_path / "3", "--endpoint", "https://127.0.0.1:4318", "--certificate", str(not_pem))
    assert garbled.returncode == 1 and f"cannot use the TLS files {not_pem}" in garbled.stderr
    assert "Traceback" not in garbled.stderr
