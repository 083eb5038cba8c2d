"""The resolved telemetry settings: plain, frozen dataclasses with embedded defaults.

Where the values come from is someone else's job: `config_yaml` reads the `telemetry:` section of a
YAML file (with file and line in every error) and `config_env` lays `OTEL_*` / `AIW_*` variables on
top. Everything downstream (setup, sinks) reads only these objects.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Mapping

from aiw_otel.errors import ConfigError as ConfigError  # noqa: F401 - settings errors have always been importable from here
from aiw_otel.model import ComponentType, LogLevel
from aiw_otel.otlp_values import TlsFiles

SIGNALS = ("traces", "logs", "metrics")


class ContentCapture(enum.Enum):
    """Where prompt and completion text may be recorded (util-genai's values; default: nowhere)."""

    NO_CONTENT = "NO_CONTENT"
    SPAN_ONLY = "SPAN_ONLY"
    EVENT_ONLY = "EVENT_ONLY"
    SPAN_AND_EVENT = "SPAN_AND_EVENT"

    @property
    def on_span(self) -> bool:
        return self in (ContentCapture.SPAN_ONLY, ContentCapture.SPAN_AND_EVENT)

    @property
    def on_event(self) -> bool:
        return self in (ContentCapture.EVENT_ONLY, ContentCapture.SPAN_AND_EVENT)


@dataclass(frozen=True)
class RedactionConfig:
    """Redaction is on unless explicitly turned off; extra rules add to the built-in ones."""

    enabled: bool = True
    #: (label, regex) pairs; a match is replaced by `[REDACTED:<label>]`.
    extra_patterns: tuple[tuple[str, str], ...] = ()
    #: Extra key words that make an attribute key sensitive (e.g. `ssn`).
    extra_keys: tuple[str, ...] = ()
    #: Attribute keys whose values are never replaced by the key rule.
    safe_keys: tuple[str, ...] = ()
    #: Longer string values are cut to this many characters before scanning.
    max_value_length: int = 16384


@dataclass(frozen=True)
class QueueConfig:
    """Each sink drains its own bounded queue on its own thread; a full queue drops and counts."""

    max_size: int = 4096
    batch_size: int = 512
    schedule_delay_ms: int = 500
    export_timeout_ms: int = 10000


@dataclass(frozen=True)
class ConsoleSinkConfig:
    """Plain line-per-record output on the terminal (the Rich live console arrives later)."""

    enabled: bool = False
    #: Lowest level of log records printed; spans always print when traces are on.
    level: LogLevel = LogLevel.INFO
    signals: frozenset[str] = frozenset({"traces", "logs"})


#: Where each OTLP transport listens when no endpoint is configured (the specification's defaults).
OTLP_DEFAULT_ENDPOINTS = {"http/protobuf": "http://localhost:4318", "http/json": "http://localhost:4318",
                          "grpc": "http://localhost:4317"}


@dataclass(frozen=True)
class OtlpTarget:
    """Where and how one signal is exported, every setting resolved."""

    signal: str
    #: The full URL for http/protobuf (`/v1/<signal>` included), the server address for grpc.
    url: str
    protocol: str
    headers: Mapping[str, str]
    timeout_s: float
    compression: str | None
    #: Used over https only: an http:// URL (grpc's too) is plain text, whatever the files say.
    tls: TlsFiles = TlsFiles()


@dataclass(frozen=True)
class OtlpSinkConfig:
    """OTLP export to a collector; off unless configured or an OTLP endpoint variable is set."""

    enabled: bool = False
    #: Base endpoint; `/v1/<signal>` is appended for http/protobuf. None: the protocol's default.
    endpoint: str | None = None
    protocol: str = "http/protobuf"
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 10.0
    compression: str | None = None
    #: PEM files for https: the CA to trust, the client's key and certificate (mutual TLS).
    certificate: str | None = None
    client_key: str | None = None
    client_certificate: str | None = None
    signals: frozenset[str] = frozenset(SIGNALS)
    #: One signal's own settings, which win over the ones above (OTEL_EXPORTER_OTLP_<SIGNAL>_*):
    #: signal -> {"endpoint" (used as is, no path appended), "protocol", "headers", "timeout_s", "compression",
    #: "certificate", "client_key", "client_certificate"}, each one overriding its generic setting alone.
    per_signal: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def target(self, signal: str) -> OtlpTarget:
        """The signal's settings with the OTLP exporter specification's precedence applied."""
        own = self.per_signal.get(signal, {})
        protocol = own.get("protocol", self.protocol)
        if "endpoint" in own:
            url = own["endpoint"]
        else:
            base = self.endpoint or OTLP_DEFAULT_ENDPOINTS[protocol]
            url = base if protocol == "grpc" else f"{base.rstrip('/')}/v1/{signal}"
        return OtlpTarget(
            signal,
            url,
            protocol,
            own.get("headers", self.headers),
            own.get("timeout_s", self.timeout_s),
            own.get("compression", self.compression),
            TlsFiles(own.get("certificate", self.certificate), own.get("client_key", self.client_key),
                     own.get("client_certificate", self.client_certificate)),
        )


@dataclass(frozen=True)
class FileSinkConfig:
    """The default destination of every run: OTLP/JSON lines per signal plus a text log, rotated."""

    enabled: bool = True
    directory: str = "logs"
    #: Rotate a file when the next write would take it past this size.
    max_bytes: int = 10 * 1024 * 1024
    #: Backups kept per file; older ones are deleted, so the disk used stays bounded.
    backup_count: int = 5
    #: Also rotate at the start of each hour or day (UTC): None, "hourly" or "daily".
    rotate_when: str | None = None
    #: gzip rotated backups (the live file stays plain for tailing).
    compress: bool = True
    #: Write the human-readable `aiwhisperer_runner.log` too.
    text_log: bool = True
    #: Lowest level of log records in the text log.
    text_level: LogLevel = LogLevel.DEBUG
    #: Longest time a finished record waits in memory before reaching the disk (SIGKILL loses at most this).
    flush_interval_ms: int = 1000
    signals: frozenset[str] = frozenset(SIGNALS)


@dataclass(frozen=True)
class PrometheusSinkConfig:
    """A `/metrics` endpoint for Prometheus to scrape; off unless configured.

    The OTel spec's default host is `localhost`; we bind its IPv4 loopback address explicitly, so
    the endpoint is never reachable from another machine unless a host is chosen, and a scrape
    config naming 127.0.0.1 works whatever `localhost` resolves to.
    """

    enabled: bool = False
    host: str = "127.0.0.1"
    #: 0: any free port (the URL printed at start says which).
    port: int = 9464
    #: After the run, keep serving the final values this long (a run may end before a scrape).
    linger_s: float = 0.0


@dataclass(frozen=True)
class SinksConfig:
    console: ConsoleSinkConfig = field(default_factory=ConsoleSinkConfig)
    otlp: OtlpSinkConfig = field(default_factory=OtlpSinkConfig)
    file: FileSinkConfig = field(default_factory=FileSinkConfig)
    prometheus: PrometheusSinkConfig = field(default_factory=PrometheusSinkConfig)


@dataclass(frozen=True)
class TelemetryConfig:
    """Everything `configure()` needs; the defaults run with no file and no environment."""

    service_name: str = "aiwhisperer-runner"
    #: None means the installed aiw-otel version.
    service_version: str | None = None
    resource_attributes: Mapping[str, Any] = field(default_factory=dict)
    #: False when OTEL_SDK_DISABLED=true: no spans, logs or metrics are produced.
    enabled: bool = True
    #: Default threshold for LogMessages and `aiw.*` stdlib loggers.
    log_level: LogLevel = LogLevel.INFO
    component_levels: Mapping[ComponentType, LogLevel] = field(default_factory=dict)
    content_capture: ContentCapture = ContentCapture.NO_CONTENT
    redaction: RedactionConfig = field(default_factory=RedactionConfig)
    queue: QueueConfig = field(default_factory=QueueConfig)
    sinks: SinksConfig = field(default_factory=SinksConfig)
    shutdown_timeout_s: float = 5.0
    #: Longest attribute value per signal ("traces", "logs") from OTEL_*_ATTRIBUTE_VALUE_LENGTH_LIMIT;
    #: a signal not listed has no limit. Applied after redaction (processors/limits.py).
    value_length_limits: Mapping[str, int] = field(default_factory=dict)

    def level_for(self, component: ComponentType) -> LogLevel:
        return self.component_levels.get(component, self.log_level)


@dataclass(frozen=True)
class LoadedConfig:
    """A parsed config file: our `telemetry` settings and the stdlib `dictConfig` part, if any."""

    telemetry: TelemetryConfig
    #: The file minus its `telemetry:` key, ready for `logging.config.dictConfig`; None if absent.
    logging_dict: dict[str, Any] | None = None
    #: Line of each top-level logging entry (`handlers.<name>` etc.), for errors raised later.
    logging_lines: Mapping[str, int] = field(default_factory=dict)
    source: str | None = None
    #: Values the environment had that the OpenTelemetry specification says to warn about and ignore.
    warnings: tuple[str, ...] = ()
    #: True once the environment has been laid over `telemetry` (by `settings.load_settings`).
    resolved: bool = False
