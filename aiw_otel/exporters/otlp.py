"""OTLP export to a collector (Jaeger, Tempo, Grafana...), built only when configured.

Every setting is resolved here per signal (`OtlpSinkConfig.target`) and handed to the exporters
explicitly, so the OpenTelemetry specification's rules hold whatever the exporter classes would
read from the environment themselves (the Python ones read OTEL_EXPORTER_OTLP_TIMEOUT as seconds,
for one), TLS files included: only a file left unset over http/protobuf is the exporter's to look
up (in os.environ), as it has no public way to be told "none". The exporter packages (and gRPC) are
imported inside the functions, so `import aiw_otel` stays fast and never loads a transport that is
not used.
"""

from __future__ import annotations

import logging
from typing import Any

from aiw_otel.config import OtlpSinkConfig, OtlpTarget
from aiw_otel.otlp_values import quiet_grpc
from aiw_otel.sinks import ExporterSink

#: The exporters' and the SDK's export loops log every retry; the sink counts failures and
#: `Telemetry.shutdown` says once what was not delivered, so their lines would only be noise.
_CHATTY_LOGGERS = (
    "opentelemetry.exporter.otlp",
    "opentelemetry.sdk.metrics._internal.export",
    "opentelemetry.sdk._shared_internal",
)


def otlp_sink(config: OtlpSinkConfig, name: str = "otlp") -> ExporterSink:
    """An ExporterSink for the signals the config enables, each over its own protocol and endpoint."""
    for logger in _CHATTY_LOGGERS:
        logging.getLogger(logger).setLevel(logging.CRITICAL)
    targets = {signal: config.target(signal) for signal in sorted(config.signals)}
    exporters = {signal: _exporter(target) for signal, target in targets.items()}
    return ExporterSink(
        name,
        span_exporter=exporters.get("traces"),
        log_exporter=exporters.get("logs"),
        metric_exporter=exporters.get("metrics"),
        destination=", ".join(sorted({t.url for t in targets.values()})),
    )


def _exporter(target: OtlpTarget) -> Any:
    return _grpc_exporter(target) if target.protocol == "grpc" else _http_exporter(target)


def _http_exporter(target: OtlpTarget) -> Any:
    from opentelemetry.exporter.otlp.proto.http import Compression

    if target.signal == "traces":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as Exporter
    elif target.signal == "logs":
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as Exporter  # type: ignore[assignment]
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as Exporter  # type: ignore[assignment]
    compression = Compression(target.compression) if target.compression else Compression.NoCompression
    session = _session_keeping_its_ca() if target.tls.certificate else None
    return Exporter(endpoint=target.url, headers=dict(target.headers), timeout=target.timeout_s,
                    compression=compression, certificate_file=target.tls.certificate,
                    client_key_file=target.tls.client_key, client_certificate_file=target.tls.client_certificate,
                    session=session)


def _session_keeping_its_ca() -> Any:
    """A requests session whose CA file (the exporter sets it from certificate_file) is the one used.

    requests lets REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE, which many hosts set to the system bundle,
    override a session's CA file (psf/requests#3829): OTEL_EXPORTER_OTLP_CERTIFICATE was ignored and a
    private-CA collector refused. Only that is undone; proxies still come from the environment.
    """
    import requests

    class Session(requests.Session):
        def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
            settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
            if isinstance(self.verify, str):
                settings["verify"] = self.verify
            return settings

    return Session()


def _grpc_exporter(target: OtlpTarget) -> Any:
    quiet_grpc()
    from grpc import Compression, ssl_channel_credentials

    if target.signal == "traces":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as Exporter
    elif target.signal == "logs":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as Exporter  # type: ignore[assignment]
    else:
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as Exporter  # type: ignore[assignment]
    compression = {"gzip": Compression.Gzip, "deflate": Compression.Deflate}.get(target.compression or "",
                                                                                Compression.NoCompression)
    # The scheme decides, as the specification says it does over OTEL_EXPORTER_OTLP_INSECURE (which
    # applies to scheme-less endpoints only, and ours always have one); the credentials are ours, so the
    # exporter reads no certificate variable of its own.
    insecure = target.url.startswith("http://")
    credentials = None if insecure else ssl_channel_credentials(*target.tls.contents())
    return Exporter(endpoint=target.url, insecure=insecure, credentials=credentials, headers=dict(target.headers),
                    timeout=target.timeout_s, compression=compression)
