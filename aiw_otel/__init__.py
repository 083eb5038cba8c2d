"""aiw-otel: logging and monitoring for the AIWhisperer Runner, built on OpenTelemetry.

    telemetry = aiw_otel.configure()            # or configure("aiw.yaml")
    with telemetry.plan_run("plan-1", "demo") as run:
        with run.step("s1", "code_generation") as step:
            with step.command(["echo", "hi"]) as cmd: ...

The names below are the public API; everything else is internal.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what a type checker sees; at run time the names are imported on first use
    from aiw_otel.config import ConfigError, ContentCapture, TelemetryConfig
    from aiw_otel.instrument.plan import PlanRun, Step
    from aiw_otel.model import ComponentType, InvalidTransition, LogLevel, LogMessage, RunCancelled, State
    from aiw_otel.setup import Telemetry, TelemetryClosed, configure, current, shutdown
    from aiw_otel.sinks import ExporterSink, ProcessorSink

#: Where each public name lives. Importing them lazily keeps `aiw-otel ctl` and `logs`, which import
#: `aiw_otel.cli`, from loading the SDK, the logging instrumentation and the exporters they never use.
_HOMES = {
    "ConfigError": "aiw_otel.config",
    "ContentCapture": "aiw_otel.config",
    "TelemetryConfig": "aiw_otel.config",
    "PlanRun": "aiw_otel.instrument.plan",
    "Step": "aiw_otel.instrument.plan",
    "ComponentType": "aiw_otel.model",
    "InvalidTransition": "aiw_otel.model",
    "LogLevel": "aiw_otel.model",
    "LogMessage": "aiw_otel.model",
    "RunCancelled": "aiw_otel.model",
    "State": "aiw_otel.model",
    "Telemetry": "aiw_otel.setup",
    "TelemetryClosed": "aiw_otel.setup",
    "configure": "aiw_otel.setup",
    "current": "aiw_otel.setup",
    "shutdown": "aiw_otel.setup",
    "ExporterSink": "aiw_otel.sinks",
    "ProcessorSink": "aiw_otel.sinks",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'aiw_otel' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])


__all__ = [
    "ComponentType",
    "ConfigError",
    "ContentCapture",
    "ExporterSink",
    "InvalidTransition",
    "LogLevel",
    "LogMessage",
    "PlanRun",
    "ProcessorSink",
    "RunCancelled",
    "State",
    "Step",
    "Telemetry",
    "TelemetryClosed",
    "TelemetryConfig",
    "configure",
    "current",
    "shutdown",
]
