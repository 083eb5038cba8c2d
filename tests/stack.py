"""The real telemetry stack for tests: OpenTelemetry Collector, Jaeger v2 and Prometheus as processes.

A pytest plugin (listed in conftest's `pytest_plugins`), not a test module. `.ci/build-stack.sh`
builds the collector (`otelcol-aiw`) and Jaeger into ${AIW_OTEL_CACHE:-~/.cache/aiw-otel}/bin/ and
installs Debian's Prometheus; where a binary is missing or was built from other sources, the tests
that need it are skipped, naming the command that builds it.

Session fixtures, each a running server on free 127.0.0.1 ports, stopped at the end of the session:

* `jaeger`: Jaeger v2 with `collector-config/jaeger.yaml`; `jaeger.api(path)` reads its query API.
* `collector`: `collector-config/otel-collector.yaml` unchanged, its addresses set through the
  environment variables it reads, sending traces to `jaeger`; `collector.otlp_http_url` is what a
  runner's OTEL_EXPORTER_OTLP_ENDPOINT names.
* `prometheus`: Debian's Prometheus running collector-config/prometheus.yml and alerts.yml, its
  compose addresses replaced by this session's ports (the collector's exporter; `runner_port` for a
  runner's own /metrics); `prometheus.query(promql)` runs an instant query.
* `demo_run`: one `aiw-otel demo` exporting OTLP to `collector`, shared by the stack tests.
* `collector_binary`: the built collector's path, for `validate`.

The same without pytest (examples/stack_snapshot.py): start_jaeger(directory), start_collector(directory,
jaeger), start_prometheus(directory, collector) and run_demo(collector, directory); stop() each server.

Every server writes its output to a file in the session's temporary directory; when a test marked
`stack` fails, the end of each running server's output is added to the report.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import signal
import socket
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from tests import cli_process
from tests.cli_process import ROOT
from tests.otlp_files import spans_in
from tests.processes import until

CONFIG_DIR = ROOT / "collector-config"
COLLECTOR_CONFIG = CONFIG_DIR / "otel-collector.yaml"
JAEGER_CONFIG = CONFIG_DIR / "jaeger.yaml"
BUILD_COMMAND = "bash .ci/build-stack.sh"

#: Seconds a server gets to answer its readiness check (a cold start on a busy 2-core machine).
START_DEADLINE_S = 60.0
#: Seconds between SIGTERM and SIGKILL at teardown.
STOP_GRACE_S = 10.0

#: binary name -> the Go module (under collector-config/) it is built from, as in .ci/build-stack.sh.
MODULES = {"otelcol-aiw": "otelcol-aiw", "jaeger": "jaeger"}
#: The files whose hash keys a build, in the script's order.
SOURCES = ("go.mod", "go.sum", "main.go")


def cache_dir() -> Path:
    """${AIW_OTEL_CACHE:-$HOME/.cache/aiw-otel}, as .ci/build-stack.sh reads it."""
    return Path(os.environ.get("AIW_OTEL_CACHE") or Path.home() / ".cache" / "aiw-otel")


def sources_hash(module: Path) -> str:
    """What .ci/build-stack.sh writes to NAME.sources: sha256 over each file's name and bytes."""
    digest = hashlib.sha256()
    for name in SOURCES:
        path = module / name
        if path.is_file():
            digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def find_binary(name: str) -> tuple[Path | None, str]:
    """The built binary and "", or None and why it cannot be used."""
    binary = cache_dir() / "bin" / name
    if not binary.exists():
        return None, f"{name} is not built ({binary} is missing): run `{BUILD_COMMAND}`"
    stamp = binary.with_name(f"{name}.sources")
    built_from = stamp.read_text().strip() if stamp.exists() else ""
    if built_from != sources_hash(CONFIG_DIR / MODULES[name]):
        return None, (f"{binary} was built from other sources than collector-config/{MODULES[name]}: "
                      f"run `{BUILD_COMMAND}`")
    return binary, ""


def binary_or_skip(name: str) -> Path:
    binary, reason = find_binary(name)
    if binary is None:
        pytest.skip(reason)
    return binary


def program_or_skip(name: str) -> Path:
    for directory in os.environ.get("PATH", "").split(os.pathsep) + ["/usr/bin", "/usr/sbin"]:
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    pytest.skip(f"{name} is not installed: run `{BUILD_COMMAND}` (apt-get install prometheus)")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(url: str, timeout: float = 5.0, headers: dict[str, str] | None = None) -> tuple[int, str] | None:
    """(status, body) of a GET, or None while nothing answers on that port."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return None


def answers(url: str) -> bool:
    got = http_get(url, timeout=2.0)
    return got is not None and got[0] == 200


def listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _die_with_parent(parent: int) -> Callable[[], None]:
    """In the child before exec: SIGTERM it when pytest dies, so no server outlives a killed run.
    A pytest that died between the fork and the prctl would not signal, so the child then checks
    that its parent is still the one that forked it, and leaves at once if not."""

    def arm() -> None:
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:
            os._exit(1)

    return arm


def server_environment(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment without OTEL_* (a developer's own exporter settings stay out)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env.update(extra)
    return env


@dataclass
class Server:
    """A server process started by a fixture, its output in `log_path`."""

    name: str
    argv: list[str]
    log_path: Path
    ports: dict[str, int]
    process: subprocess.Popen | None = None
    _log: Any = field(default=None, repr=False)

    def start(self, env: dict[str, str], ready: Callable[[], bool], deadline_s: float = START_DEADLINE_S) -> None:
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self._log,
                                        stderr=subprocess.STDOUT, env=env, cwd=self.log_path.parent,
                                        preexec_fn=_die_with_parent(os.getpid()))
        RUNNING.append(self)

        def up() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode} before it was ready:\n"
                                     f"{self.log_tail()}")
            return ready()

        try:
            until(up, f"{self.name} to be ready ({' '.join(self.argv)})\n{self.log_tail()}", deadline_s)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_GRACE_S)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self in RUNNING:
            RUNNING.remove(self)

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def url(self, port_name: str, path: str = "") -> str:
        return f"http://127.0.0.1:{self.ports[port_name]}{path}"


#: Servers started and not yet stopped, for the failure report.
RUNNING: list[Server] = []


class Jaeger(Server):
    @property
    def otlp_grpc_endpoint(self) -> str:
        return f"127.0.0.1:{self.ports['otlp_grpc']}"

    def api(self, path: str, **params: str) -> Any:
        """GET the query API (`/api/services`, `/api/traces?service=...`, `/api/traces/ID`): JSON or None."""
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        got = http_get(self.url("query_http", path + query))
        if got is None or got[0] != 200:
            return None
        return json.loads(got[1])


class Collector(Server):
    @property
    def otlp_http_url(self) -> str:
        """For OTEL_EXPORTER_OTLP_ENDPOINT with OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf."""
        return self.url("otlp_http")

    @property
    def otlp_grpc_endpoint(self) -> str:
        return f"127.0.0.1:{self.ports['otlp_grpc']}"

    @property
    def exporter_url(self) -> str:
        """The prometheus exporter's scrape URL."""
        return self.url("prometheus_exporter", "/metrics")

    @property
    def telemetry_url(self) -> str:
        """The collector's own metrics (otelcol_receiver_accepted_metric_points_total and the like)."""
        return self.url("telemetry", "/metrics")


@pytest.fixture(scope="session")
def stack_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the servers' output, Prometheus' config and its data go (never the repository)."""
    return tmp_path_factory.mktemp("stack")


@pytest.fixture(scope="session")
def collector_binary() -> Path:
    return binary_or_skip("otelcol-aiw")


@pytest.fixture(scope="session")
def jaeger(stack_dir: Path) -> Iterator[Jaeger]:
    server = start_jaeger(stack_dir)
    yield server
    server.stop()


def start_jaeger(directory: Path) -> Jaeger:
    """Jaeger v2 with collector-config/jaeger.yaml on free ports, its output in `directory`, ready."""
    binary = binary_or_skip("jaeger")
    ports = {name: free_port() for name in ("otlp_grpc", "otlp_http", "query_http", "query_grpc", "telemetry")}
    server = Jaeger("jaeger", [str(binary), "--config", str(JAEGER_CONFIG)], directory / "jaeger.log", ports)
    env = server_environment({
        "JAEGER_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{ports['otlp_grpc']}",
        "JAEGER_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{ports['otlp_http']}",
        "JAEGER_QUERY_HTTP_ENDPOINT": f"127.0.0.1:{ports['query_http']}",
        "JAEGER_QUERY_GRPC_ENDPOINT": f"127.0.0.1:{ports['query_grpc']}",
        "JAEGER_TELEMETRY_HOST": "127.0.0.1",
        "JAEGER_TELEMETRY_PORT": str(ports["telemetry"]),
    })
    # The query API comes up with the extensions, the OTLP receiver after them: wait for both.
    server.start(env, lambda: answers(server.url("query_http", "/api/services")) and listening(ports["otlp_grpc"]))
    return server


@pytest.fixture(scope="session")
def collector(stack_dir: Path, jaeger: Jaeger) -> Iterator[Collector]:
    server = start_collector(stack_dir, jaeger)
    yield server
    server.stop()


def start_collector(directory: Path, jaeger: Jaeger) -> Collector:
    """collector-config/otel-collector.yaml unchanged, sending traces to `jaeger`, ready."""
    binary = binary_or_skip("otelcol-aiw")
    ports = {name: free_port() for name in ("otlp_grpc", "otlp_http", "prometheus_exporter", "health", "telemetry")}
    server = Collector("collector", [str(binary), "--config", str(COLLECTOR_CONFIG)], directory / "collector.log",
                       ports)
    env = server_environment({
        "OTLP_GRPC_ENDPOINT": f"127.0.0.1:{ports['otlp_grpc']}",
        "OTLP_HTTP_ENDPOINT": f"127.0.0.1:{ports['otlp_http']}",
        "JAEGER_OTLP_ENDPOINT": jaeger.otlp_grpc_endpoint,
        "PROM_EXPORTER_ENDPOINT": f"127.0.0.1:{ports['prometheus_exporter']}",
        "HEALTH_ENDPOINT": f"127.0.0.1:{ports['health']}",
        "COLLECTOR_TELEMETRY_HOST": "127.0.0.1",
        "COLLECTOR_TELEMETRY_PORT": str(ports["telemetry"]),
    })
    # health_check answers 200 only once every pipeline has started.
    server.start(env, lambda: answers(server.url("health", "/")))
    return server


#: Where collector-config/prometheus.yml points in compose -> the port of the server standing in for it here.
COMPOSE_TARGETS = {
    "otel-collector:8889": "collector",
    "host.docker.internal:9464": "runner",
    "pushgateway:9091": "pushgateway",
    "localhost:9090": "web",
}


def prometheus_config(ports: dict[str, int]) -> dict[str, Any]:
    """collector-config/prometheus.yml as users run it (honor_labels, rule files, jobs), with each
    compose address replaced by this session's 127.0.0.1 port and a 1 s scrape and rule interval."""
    import yaml

    config = yaml.safe_load((CONFIG_DIR / "prometheus.yml").read_text(encoding="utf-8"))
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    config["rule_files"] = [str(CONFIG_DIR / name) for name in config.get("rule_files", [])]
    for job in config["scrape_configs"]:
        for static in job.get("static_configs", []):
            # A target the map does not know fails here: the test must stand in for every one.
            static["targets"] = [f"127.0.0.1:{ports[COMPOSE_TARGETS[target]]}" for target in static["targets"]]
    return config


class Prometheus(Server):
    def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant query's result vector ([] while there is none yet); AssertionError for a bad query."""
        url = self.url("web", "/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
        try:
            with urllib.request.urlopen(url, timeout=5.0) as response:
                return json.loads(response.read())["data"]["result"]
        except urllib.error.HTTPError as error:
            raise AssertionError(f"Prometheus refused {promql!r}: {error.read().decode(errors='replace')}") from None
        except OSError:
            return []

    def api(self, path: str) -> Any:
        got = http_get(self.url("web", path))
        return json.loads(got[1])["data"] if got and got[0] == 200 else None

    @property
    def runner_port(self) -> int:
        """Where the `aiwhisperer-runner` job looks for a runner's own /metrics (--prometheus-port)."""
        return self.ports["runner"]


@pytest.fixture(scope="session")
def prometheus(stack_dir: Path, collector: Collector) -> Iterator[Prometheus]:
    server = start_prometheus(stack_dir, collector)
    yield server
    server.stop()


def start_prometheus(directory: Path, collector: Collector) -> Prometheus:
    """Debian's Prometheus with collector-config/prometheus.yml and its alert rules (see prometheus_config)."""
    import yaml

    binary = program_or_skip("prometheus")
    ports = {"web": free_port(), "runner": free_port(), "pushgateway": free_port(),
             "collector": collector.ports["prometheus_exporter"]}
    config = directory / "prometheus.yml"
    config.write_text(yaml.safe_dump(prometheus_config(ports)))
    server = Prometheus("prometheus", [
        str(binary), f"--config.file={config}", f"--storage.tsdb.path={directory / 'prometheus-data'}",
        f"--web.listen-address=127.0.0.1:{ports['web']}", "--log.level=info",
    ], directory / "prometheus.log", ports)
    server.start(server_environment({}), lambda: answers(server.url("web", "/-/ready")))
    return server


@dataclass(frozen=True)
class DemoRun:
    result: subprocess.CompletedProcess[str]
    #: The spans the file sink wrote for the same run (OTLP/JSON), the reference for what the backends show.
    file_spans: list[dict[str, Any]]

    @property
    def trace_id(self) -> str:
        (trace_id,) = {span["traceId"] for span in self.file_spans}
        return trace_id


@pytest.fixture(scope="session")
def demo_run(collector: Collector, tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    return run_demo(collector, tmp_path_factory.mktemp("demo"))


def run_demo(collector: Collector, tmp: Path) -> DemoRun:
    """`aiw-otel demo` as a real process, exporting OTLP/HTTP to the collector (and to its log dir in `tmp`)."""
    env = server_environment({
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.otlp_http_url,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    })
    result = cli_process.run_demo(tmp, env=env, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "did not receive" not in result.stderr, result.stderr
    return DemoRun(result, spans_in(tmp / "logs"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """A failed stack test's report ends with what each running server wrote."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and item.get_closest_marker("stack") is not None:
        for server in RUNNING:
            report.sections.append((f"{server.name} output ({server.log_path})", server.log_tail()))
