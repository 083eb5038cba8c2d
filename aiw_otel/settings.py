"""The one way settings are built: defaults < config file < environment, for every entry point.

`configure()`, `aiw-otel run`/`demo` and `aiw-otel check` all call `load_settings`, so a config
file means the same thing everywhere (its stdlib logging section included) and the environment is
laid over it exactly once. A front end that changes a setting afterwards (`--log-dir`) does so on
the resolved result and hands that to `configure()`, which does not resolve it again.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Mapping, Union

from aiw_otel.config import LoadedConfig, TelemetryConfig
from aiw_otel.config_env import config_path_from_environment, read_environment
from aiw_otel.config_yaml import load_config_file

#: What `configure()` and `load_settings()` accept: a file path, parsed settings, or None (defaults).
SettingsSource = Union[TelemetryConfig, LoadedConfig, str, "os.PathLike[str]", None]


def load_settings(source: SettingsSource = None, environ: Mapping[str, str] | None = None) -> LoadedConfig:
    """Read `source` (None: `$AIW_CONFIG`, else the defaults) and lay `environ` over it, once.

    Settings that are already resolved come back unchanged, so passing the result on is safe.
    """
    environ = os.environ if environ is None else environ
    if isinstance(source, LoadedConfig) and source.resolved:
        return source
    if isinstance(source, LoadedConfig):
        loaded = source
    elif isinstance(source, TelemetryConfig):
        loaded = LoadedConfig(source)
    else:
        path = source if source is not None else config_path_from_environment(environ)
        loaded = load_config_file(path) if path is not None else LoadedConfig(TelemetryConfig())
    telemetry, warnings = read_environment(loaded.telemetry, environ)
    return replace(loaded, telemetry=telemetry, warnings=loaded.warnings + warnings, resolved=True)
