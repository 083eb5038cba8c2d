"""Lay `OTEL_*` and `AIW_*` environment variables over a TelemetryConfig (defaults < file < env).

The OTEL_* variables mean here what the OpenTelemetry specification says they mean, so a user who
already exports them for other services gets the same behaviour. A value we cannot honour is an
error naming the variable, never a silent fallback: a telemetry setting that is quietly ignored is
found out only when the data is missing.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Callable, Mapping, TypeVar
from urllib.parse import unquote

from aiw_otel.config import SIGNALS, ConfigError, ContentCapture, TelemetryConfig
from aiw_otel.config_yaml import (
    SERVICE_ATTRIBUTES,
    parse_compression,
    parse_content_capture,
    parse_endpoint,
    parse_port,
    parse_protocol,
)
from aiw_otel.model import ComponentType, LogLevel

T = TypeVar("T")

_EXPORTERS = ("otlp", "console", "none")
_SINKS = ("otlp", "console")
#: Exporters for one signal only (the spec's `prometheus` is a metrics exporter).
_SIGNAL_EXPORTERS = {"metrics": ("prometheus",)}
_SWITCHES = {"on": True, "true": True, "off": False, "false": False}
#: The values util-genai accepted before it had the four modes.
_LEGACY_CAPTURE = {"true": ContentCapture.SPAN_ONLY, "false": ContentCapture.NO_CONTENT}


def config_path_from_environment(environ: Mapping[str, str]) -> str | None:
    """AIW_CONFIG names the config file when no path is given on the command line."""
    return _read(environ, "AIW_CONFIG")


def apply_environment(config: TelemetryConfig, environ: Mapping[str, str]) -> TelemetryConfig:
    """A new config with the environment laid over `config` (defaults or a file), which is kept."""
    for step in _STEPS:
        config = step(config, environ)
    return config


# -- reading one variable ---------------------------------------------------------------------


def _read(environ: Mapping[str, str], name: str) -> str | None:
    """The OTel spec treats an empty variable as unset; so do we, for ours too."""
    value = environ.get(name, "").strip()
    return value or None


def _error(name: str, message: str) -> ConfigError:
    return ConfigError(message, source=f"environment variable {name}")


def _convert(name: str, parse: Callable[[str], T], text: str) -> T:
    try:
        return parse(text)
    except ValueError as exc:
        raise _error(name, str(exc)) from None


def _switch(name: str, text: str) -> bool:
    try:
        return _SWITCHES[text.lower()]
    except KeyError:
        raise _error(name, f"expected on, off, true or false, got {text!r}") from None


def _seconds(name: str, text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise _error(name, f"expected a number of seconds > 0, got {text!r}")
    return seconds


def _pairs(name: str, text: str) -> dict[str, str]:
    """`k=v,k2=v2` with percent-encoded keys and values, the OTel format for these lists."""
    pairs = {}
    for item in filter(str.strip, text.split(",")):
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise _error(
                name,
                f"expected comma-separated key=value pairs, got {item.strip()!r} "
                "(percent-encode ',' and '=' inside keys and values)",
            )
        pairs[unquote(key.strip())] = unquote(value.strip())
    return pairs


# -- updating the frozen config ---------------------------------------------------------------


def _update_sink(config: TelemetryConfig, sink: str, **changes: Any) -> TelemetryConfig:
    updated = replace(getattr(config.sinks, sink), **changes)
    return replace(config, sinks=replace(config.sinks, **{sink: updated}))


def _route(config: TelemetryConfig, sink: str, signal: str, wanted: bool) -> TelemetryConfig:
    """Send `signal` to `sink` (switching the sink on) or stop sending it there."""
    signals = getattr(config.sinks, sink).signals
    if wanted:
        return _update_sink(config, sink, enabled=True, signals=signals | {signal})
    return _update_sink(config, sink, signals=signals - {signal})


# -- the steps, in order ----------------------------------------------------------------------


def _service(config: TelemetryConfig, environ: Mapping[str, str]) -> TelemetryConfig:
    """service.name and service.version have their own fields; the resource takes the rest."""
    attributes = {**config.resource_attributes}
    changes: dict[str, Any] = {}
    text = _read(environ, "OTEL_RESOURCE_ATTRIBUTES")
    if text is not None:
        attributes.update(_pairs("OTEL_RESOURCE_ATTRIBUTES", text))
        for key, field_name in SERVICE_ATTRIBUTES.items():
            if key in attributes:
                changes[field_name] = attributes.pop(key)
    service_name = _read(environ, "OTEL_SERVICE_NAME")
    if service_name is not None:  # the spec: OTEL_SERVICE_NAME wins over the resource variable
        changes["service_name"] = service_name
    return replace(config, resource_attributes=attributes, **changes)


def _sdk_disabled(config: TelemetryConfig, environ: Mapping[str, str]) -> TelemetryConfig:
    text = _read(environ, "OTEL_SDK_DISABLED")
    if text is None or text.lower() == "false":
        return config
    if text.lower() == "true":
        return replace(config, enabled=False)
    # The spec says "anything else is false"; an error is kinder than telemetry the user meant off.
    raise _error("OTEL_SDK_DISABLED", f"expected true or false, got {text!r}")


def _otlp_endpoints(config: TelemetryConfig, environ: Mapping[str, str]) -> TelemetryConfig:
    """Setting an endpoint means "export there": it switches the OTLP sink on."""
    text = _read(environ, "OTEL_EXPORTER_OTLP_ENDPOINT")
    if text is not None:
        endpoint = _convert("OTEL_EXPORTER_OTLP_ENDPOINT", parse_endpoint, text)
        config = _update_sink(config, "otlp", endpoint=endpoint, enabled=True)
    for signal in SIGNALS:
        # The exporter reads the per-signal URL itself; we only make sure the signal goes there.
        name = f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT"
        text = _read(environ, name)
        if text is not None:
            _convert(name, parse_endpoint, text)
            config = _route(config, "otlp", signal, wanted=True)
    return config


def _otlp_settings(config: TelemetryConfig, environ: Mapping[str, str]) -> TelemetryConfig:
    otlp = config.sinks.otlp
    changes: dict[str, Any] = {}
    if (text := _read(environ, "OTEL_EXPORTER_OTLP_PROTOCOL")) is not None:
        changes["protocol"] = _convert("OTEL_EXPORTER_OTLP_PROTOCOL", parse_protocol, text)
    if (text := _read(environ, "OTEL_EXPORTER_OTLP_HEADERS")) is not None:
        changes["headers"] = {**otlp.headers, **_pairs("OTEL_EXPORTER_OTLP_HEADERS", text)}
    if (text := _read(environ, "OTEL_EXPORTER_OTLP_TIMEOUT")) is not None:
        # Python's OTLP exporters read this one as seconds, not the spec's milliseconds.
        changes["timeout_s"] = _seconds("OTEL_EXPORTER_OTLP_TIMEOUT", text)
    if (text := _read(environ, "OTEL_EXPORTER_OTLP_COMPRESSION")) is not None:
        changes["compression"] = _convert("OTEL_EXPORTER_OTLP_COMPRESSION", parse_compression, text)
    return _update_sink(config, "otlp", **changes)


def _exporters(config: TelemetryConfig, environ: Mapping[str, str]) -> TelemetryConfig:
    """OTEL_<SIGNAL>_EXPORTER lists every sink the signal goes to; sinks not listed lose it.

    Runs after the endpoints so that an explicit `none` beats an endpoint variable.
    """
    for signal in SIGNALS:
        name = f"OTEL_{signal.upper()}_EXPORTER"
        text = _read(environ, name)
        if text is not None:
            chosen = _exporter_names(name, signal, text)
            for sink in _SINKS:
                config = _route(config, sink, signal, wanted=sink in chosen)
            for sink in _SIGNAL_EXPORTERS.get(signal, ()):
                config = _update_sink(config, sink, enabled=sink in chosen)
    return config


def _exporter_names(name: str, signal: str, text: str) -> set[str]:
    chosen = {part.strip() for part in text.split(",") if part.strip()}
    exporters = _EXPORTERS + _SIGNAL_EXPORTERS.get(signal, ())
    supported = f"supported: {', '.join(exporters)}"
    unknown = sorted(chosen.difference(exporters))
    if unknown:
        raise _error(name, f"unsupported exporter {', '.join(map(repr, unknown))} ({supported})")
    if "none" in chosen and len(chosen) > 1:
        raise _error(name, f"'none' cannot be combined with other exporters, got {text!r}")
    return chosen


def _prometheus(config: TelemetryConfig, environ: Mapping[str, str]) -> TelemetryConfig:
    """Where the endpoint listens; OTEL_METRICS_EXPORTER=prometheus is what switches it on."""
    changes: dict[str, Any] = {}
    if (text := _read(environ, "OTEL_EXPORTER_PROMETHEUS_HOST")) is not None:
        changes["host"] = text
    if (text := _read(environ, "OTEL_EXPORTER_PROMETHEUS_PORT")) is not None:
        changes["port"] = _convert("OTEL_EXPORTER_PROMETHEUS_PORT", parse_port, text)
    return _update_sink(config, "prometheus", **changes)


def _content_capture(config: TelemetryConfig, environ: Mapping[str, str]) -> TelemetryConfig:
    name = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
    text = _read(environ, name)
    if text is None:
        return config
    capture = _LEGACY_CAPTURE.get(text.lower())
    if capture is None:
        capture = _convert(name, parse_content_capture, text)
    return replace(config, content_capture=capture)


def _levels(config: TelemetryConfig, environ: Mapping[str, str]) -> TelemetryConfig:
    changes: dict[str, Any] = {}
    if (text := _read(environ, "AIW_LOG_LEVEL")) is not None:
        changes["log_level"] = _convert("AIW_LOG_LEVEL", LogLevel.parse, text)
    if (text := _read(environ, "AIW_COMPONENT_LEVELS")) is not None:
        changes["component_levels"] = {**config.component_levels, **_component_levels(text)}
    return replace(config, **changes)


def _component_levels(text: str) -> dict[ComponentType, LogLevel]:
    name = "AIW_COMPONENT_LEVELS"
    return {
        _convert(name, ComponentType.parse, component): _convert(name, LogLevel.parse, level)
        for component, level in _pairs(name, text).items()
    }


def _switches(config: TelemetryConfig, environ: Mapping[str, str]) -> TelemetryConfig:
    """Last of the sink steps, so AIW_CONSOLE=off beats OTEL_*_EXPORTER=console."""
    if (text := _read(environ, "AIW_REDACTION")) is not None:
        redaction = replace(config.redaction, enabled=_switch("AIW_REDACTION", text))
        config = replace(config, redaction=redaction)
    if (text := _read(environ, "AIW_CONSOLE")) is not None:
        config = _update_sink(config, "console", enabled=_switch("AIW_CONSOLE", text))
    if (text := _read(environ, "AIW_LOG_DIR")) is not None:
        config = _update_sink(config, "file", directory=text)
    if (text := _read(environ, "AIW_FILE")) is not None:
        config = _update_sink(config, "file", enabled=_switch("AIW_FILE", text))
    return config


def _shutdown(config: TelemetryConfig, environ: Mapping[str, str]) -> TelemetryConfig:
    text = _read(environ, "AIW_SHUTDOWN_TIMEOUT")
    if text is None:
        return config
    return replace(config, shutdown_timeout_s=_seconds("AIW_SHUTDOWN_TIMEOUT", text))


_STEPS: tuple[Callable[[TelemetryConfig, Mapping[str, str]], TelemetryConfig], ...] = (
    _service,
    _sdk_disabled,
    _otlp_endpoints,
    _otlp_settings,
    _prometheus,
    _exporters,
    _content_capture,
    _levels,
    _switches,
    _shutdown,
)
