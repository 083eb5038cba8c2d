"""Lay `OTEL_*` and `AIW_*` environment variables over a TelemetryConfig (defaults < file < env).

The OTEL_* variables mean here what the OpenTelemetry specification says they mean, so a user who
already exports them for other services gets the same behaviour: signal-specific OTLP variables win
over the generic ones, timeouts are milliseconds, and where the specification says to warn about a
value and ignore it (a boolean other than true/false, an unknown enum value, a bad number, a
malformed OTEL_RESOURCE_ATTRIBUTES) we do exactly that: the warning is returned with the settings
and shown to the user, never dropped. Every other bad value, and every bad AIW_* value, is an error
naming the variable: a telemetry setting that is quietly ignored is found out only when the data
is missing.

`config_yaml`'s rules (and YAML with them) are imported by the steps that use them, not here:
`aiw-otel ship` reads the OTLP variables alone, with rules of its own, and need not load them (they
were two thirds of what importing this module cost it: 25-50 ms).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Callable, Mapping, TypeVar

from aiw_otel.config import SIGNALS, ConfigError, ContentCapture, OtlpSinkConfig, TelemetryConfig
from aiw_otel.otlp_values import check_readable, parse_endpoint, parse_pairs
from aiw_otel.model import ComponentType, LogLevel
from aiw_otel.ports import parse_port

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
    return read_environment(config, environ)[0]


def read_environment(config: TelemetryConfig, environ: Mapping[str, str]) -> tuple[TelemetryConfig, tuple[str, ...]]:
    """`apply_environment`, plus the warnings about values the specification says to ignore."""
    from aiw_otel.config_yaml import parse_compression, parse_protocol

    variables = _Variables(environ, parse_protocol, parse_compression)
    for step in _STEPS:
        config = step(config, variables)
    return config, tuple(variables.warnings)


def read_otlp_environment(environ: Mapping[str, str], parse_otlp_protocol: Callable[[str], str],
                          parse_otlp_compression: Callable[[str], str | None]) -> OtlpSinkConfig:
    """Only the OTLP exporter variables, over the defaults, read as the runner reads them: for
    `aiw-otel ship`, which sends saved files with them. It has protocols and compressions of its own
    (http/json, which the runner's exporters lack), hence the parsers; and a value the runner warns
    about and ignores is a ConfigError here: a ship goes to one place and records its progress under
    it, so falling back to another protocol or timeout would ship somewhere the user did not mean."""
    env = _Variables(environ, parse_otlp_protocol, parse_otlp_compression, strict=True)
    return _otlp_settings(_otlp_endpoints(TelemetryConfig(), env), env).sinks.otlp


class _Variables:
    """The environment being read, and what reading it found worth a warning."""

    def __init__(self, environ: Mapping[str, str], parse_otlp_protocol: Callable[[str], str],
                 parse_otlp_compression: Callable[[str], str | None], strict: bool = False) -> None:
        self.environ = environ
        self.parse_otlp_protocol = parse_otlp_protocol
        self.parse_otlp_compression = parse_otlp_compression
        self.strict = strict
        self.warnings: list[str] = []

    def get(self, name: str) -> str | None:
        return _read(self.environ, name)

    def ignore(self, name: str, text: str, why: str) -> None:
        if self.strict:
            raise _error(name, why)
        self.warnings.append(f"environment variable {name}={text!r} ignored: {why}")


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
    return _convert(name, parse_pairs, text)


# -- updating the frozen config ---------------------------------------------------------------


def _update_sink(config: TelemetryConfig, sink: str, **changes: Any) -> TelemetryConfig:
    updated = replace(getattr(config.sinks, sink), **changes)
    return replace(config, sinks=replace(config.sinks, **{sink: updated}))


def _route(config: TelemetryConfig, sink: str, signal: str, wanted: bool) -> TelemetryConfig:
    """Send `signal` to `sink` or stop sending it there. A sink switched on this way gets this
    signal only: asking for traces to go somewhere is not asking for logs and metrics to go too."""
    current = getattr(config.sinks, sink)
    if wanted:
        signals = current.signals | {signal} if current.enabled else frozenset({signal})
        return _update_sink(config, sink, enabled=True, signals=signals)
    return _update_sink(config, sink, signals=current.signals - {signal})


# -- the steps, in order ----------------------------------------------------------------------


def _service(config: TelemetryConfig, env: _Variables) -> TelemetryConfig:
    """service.name and service.version have their own fields; the resource takes the rest."""
    from aiw_otel.config_yaml import SERVICE_ATTRIBUTES

    attributes = {**config.resource_attributes}
    changes: dict[str, Any] = {}
    name = "OTEL_RESOURCE_ATTRIBUTES"
    text = env.get(name)
    if text is not None:
        try:
            attributes.update(_pairs(name, text))
        except ConfigError as error:  # the specification: discard the whole value and report it
            env.ignore(name, text, error.detail)
        for key, field_name in SERVICE_ATTRIBUTES.items():
            if key in attributes:
                changes[field_name] = attributes.pop(key)
    service_name = env.get("OTEL_SERVICE_NAME")
    if service_name is not None:  # the spec: OTEL_SERVICE_NAME wins over the resource variable
        changes["service_name"] = service_name
    return replace(config, resource_attributes=attributes, **changes)


def _sdk_disabled(config: TelemetryConfig, env: _Variables) -> TelemetryConfig:
    """A Boolean: only `true` (any case) is true; anything but `false` is false with a warning."""
    text = env.get("OTEL_SDK_DISABLED")
    if text is None or text.lower() == "false":
        return config
    if text.lower() == "true":
        return replace(config, enabled=False)
    env.ignore("OTEL_SDK_DISABLED", text, "only 'true' disables the SDK; telemetry stays on")
    return config


def _otlp_endpoints(config: TelemetryConfig, env: _Variables) -> TelemetryConfig:
    """Setting an endpoint means "export there": the generic one switches every signal on, a
    signal's own endpoint switches on that signal only (a traces-only backend gets traces only)."""
    text = env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if text is not None:
        endpoint = _convert("OTEL_EXPORTER_OTLP_ENDPOINT", parse_endpoint, text)
        config = _update_sink(config, "otlp", endpoint=endpoint, enabled=True)
    for signal in SIGNALS:
        name = f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT"
        text = env.get(name)
        if text is not None:
            config = _per_signal(config, signal, endpoint=_convert(name, parse_endpoint, text))
            config = _route(config, "otlp", signal, wanted=True)
    return config


#: The TLS file variables (after the prefix) and the OtlpSinkConfig setting each one fills.
_TLS_FILES = {"CERTIFICATE": "certificate", "CLIENT_KEY": "client_key", "CLIENT_CERTIFICATE": "client_certificate"}


def _otlp_settings(config: TelemetryConfig, env: _Variables) -> TelemetryConfig:
    """Protocol, headers, timeout, compression and TLS files: the generic variable, then each signal's own."""
    config = _update_sink(config, "otlp", **_otlp_options(env, "OTEL_EXPORTER_OTLP_", config.sinks.otlp.headers))
    for signal in SIGNALS:
        options = _otlp_options(env, f"OTEL_EXPORTER_OTLP_{signal.upper()}_", {})
        if options:
            config = _per_signal(config, signal, **options)
    return config


def _otlp_options(env: _Variables, prefix: str, headers: Mapping[str, str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if (text := env.get(name := prefix + "PROTOCOL")) is not None:
        try:
            options["protocol"] = env.parse_otlp_protocol(text)
        except ValueError as error:  # an enum: warn and ignore
            env.ignore(name, text, str(error))
    if (text := env.get(name := prefix + "HEADERS")) is not None:
        options["headers"] = {**headers, **_pairs(name, text)}
    if (text := env.get(name := prefix + "TIMEOUT")) is not None:
        timeout = _timeout_ms(env, name, text)
        if timeout is not None:
            options["timeout_s"] = timeout
    if (text := env.get(name := prefix + "COMPRESSION")) is not None:
        try:
            options["compression"] = env.parse_otlp_compression(text)
        except ValueError as error:  # an enum: warn and ignore
            env.ignore(name, text, str(error))
    for suffix, setting in _TLS_FILES.items():
        if (text := env.get(name := prefix + suffix)) is not None:  # a file the exporter cannot read: refused
            options[setting] = _convert(name, check_readable, text)
    return options


#: What the specification allows an implementation to take for an indefinite (0) timeout.
_INDEFINITE_S = float(2**31 - 1) / 1000


def _timeout_ms(env: _Variables, name: str, text: str) -> float | None:
    """A Timeout: integer milliseconds, 0 meaning indefinite; anything else is warned about and ignored."""
    milliseconds = _whole_number(env, name, text, "expected a whole number of milliseconds (e.g. 10000)")
    if milliseconds is None:
        return None
    return milliseconds / 1000 if milliseconds else _INDEFINITE_S


def _whole_number(env: _Variables, name: str, text: str, expected: str) -> int | None:
    """A non-negative Integer; anything else is warned about (`expected`) and ignored (None)."""
    try:
        number = int(text)
    except ValueError:
        number = -1
    if number < 0:
        env.ignore(name, text, expected)
        return None
    return number


def _per_signal(config: TelemetryConfig, signal: str, **options: Any) -> TelemetryConfig:
    per_signal = {**config.sinks.otlp.per_signal}
    per_signal[signal] = {**per_signal.get(signal, {}), **options}
    return _update_sink(config, "otlp", per_signal=per_signal)


def _exporters(config: TelemetryConfig, env: _Variables) -> TelemetryConfig:
    """OTEL_<SIGNAL>_EXPORTER lists every sink the signal goes to; sinks not listed lose it.

    Runs after the endpoints so that an explicit `none` beats an endpoint variable.
    """
    for signal in SIGNALS:
        name = f"OTEL_{signal.upper()}_EXPORTER"
        text = env.get(name)
        if text is None:
            continue
        try:
            chosen = _exporter_names(signal, text)
        except ValueError as error:  # an enum: warn and ignore the setting
            env.ignore(name, text, str(error))
            continue
        for sink in _SINKS:
            config = _route(config, sink, signal, wanted=sink in chosen)
        for sink in _SIGNAL_EXPORTERS.get(signal, ()):
            config = _update_sink(config, sink, enabled=sink in chosen)
    return config


def _exporter_names(signal: str, text: str) -> set[str]:
    chosen = {part.strip() for part in text.split(",") if part.strip()}
    exporters = _EXPORTERS + _SIGNAL_EXPORTERS.get(signal, ())
    supported = f"supported: {', '.join(exporters)}"
    unknown = sorted(chosen.difference(exporters))
    if unknown:
        raise ValueError(f"unsupported exporter {', '.join(map(repr, unknown))} ({supported})")
    if "none" in chosen and len(chosen) > 1:
        raise ValueError("'none' cannot be combined with other exporters")
    return chosen


def _prometheus(config: TelemetryConfig, env: _Variables) -> TelemetryConfig:
    """Where the endpoint listens; OTEL_METRICS_EXPORTER=prometheus is what switches it on."""
    changes: dict[str, Any] = {}
    if (text := env.get("OTEL_EXPORTER_PROMETHEUS_HOST")) is not None:
        changes["host"] = text
    if (text := env.get(name := "OTEL_EXPORTER_PROMETHEUS_PORT")) is not None:
        try:
            changes["port"] = parse_port(text)
        except ValueError as error:  # an Integer: warn and ignore
            env.ignore(name, text, str(error))
    return _update_sink(config, "prometheus", **changes)


def _content_capture(config: TelemetryConfig, env: _Variables) -> TelemetryConfig:
    from aiw_otel.config_yaml import parse_content_capture

    name = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
    text = env.get(name)
    if text is None:
        return config
    capture = _LEGACY_CAPTURE.get(text.lower())
    if capture is None:
        capture = _convert(name, parse_content_capture, text)
    return replace(config, content_capture=capture)


def _levels(config: TelemetryConfig, env: _Variables) -> TelemetryConfig:
    changes: dict[str, Any] = {}
    if (text := env.get("AIW_LOG_LEVEL")) is not None:
        changes["log_level"] = _convert("AIW_LOG_LEVEL", LogLevel.parse, text)
    if (text := env.get("AIW_COMPONENT_LEVELS")) is not None:
        changes["component_levels"] = {**config.component_levels, **_component_levels(text)}
    return replace(config, **changes)


def _component_levels(text: str) -> dict[ComponentType, LogLevel]:
    name = "AIW_COMPONENT_LEVELS"
    return {
        _convert(name, ComponentType.parse, component): _convert(name, LogLevel.parse, level)
        for component, level in _pairs(name, text).items()
    }


def _switches(config: TelemetryConfig, env: _Variables) -> TelemetryConfig:
    """Last of the sink steps, so AIW_CONSOLE=off beats OTEL_*_EXPORTER=console."""
    if (text := env.get("AIW_REDACTION")) is not None:
        redaction = replace(config.redaction, enabled=_switch("AIW_REDACTION", text))
        config = replace(config, redaction=redaction)
    if (text := env.get("AIW_CONSOLE")) is not None:
        config = _update_sink(config, "console", enabled=_switch("AIW_CONSOLE", text))
    if (text := env.get("AIW_LOG_DIR")) is not None:
        config = _update_sink(config, "file", directory=text)
    if (text := env.get("AIW_FILE")) is not None:
        config = _update_sink(config, "file", enabled=_switch("AIW_FILE", text))
    return config


#: The specification's attribute length variables, most specific first, per signal.
_LENGTH_LIMITS = {
    "traces": ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"),
    "logs": ("OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"),
}


def _length_limits(config: TelemetryConfig, env: _Variables) -> TelemetryConfig:
    """Integers: a bad value is warned about (once) and ignored, and the more general variable applies."""
    names = dict.fromkeys(name for names in _LENGTH_LIMITS.values() for name in names)  # the generic one once
    read = {name: _length_limit(env, name) for name in names}
    limits = {**config.value_length_limits}
    for signal, specific_first in _LENGTH_LIMITS.items():
        limit = next((read[name] for name in specific_first if read[name] is not None), None)
        if limit is not None:
            limits[signal] = limit
    return replace(config, value_length_limits=limits)


def _length_limit(env: _Variables, name: str) -> int | None:
    text = env.get(name)
    return None if text is None else _whole_number(env, name, text, "expected a whole number of characters >= 0")


def _shutdown(config: TelemetryConfig, env: _Variables) -> TelemetryConfig:
    text = env.get("AIW_SHUTDOWN_TIMEOUT")
    if text is None:
        return config
    return replace(config, shutdown_timeout_s=_seconds("AIW_SHUTDOWN_TIMEOUT", text))


_STEPS: tuple[Callable[[TelemetryConfig, _Variables], TelemetryConfig], ...] = (
    _service,
    _sdk_disabled,
    _otlp_endpoints,
    _otlp_settings,
    _prometheus,
    _exporters,
    _content_capture,
    _levels,
    _switches,
    _length_limits,
    _shutdown,
)
