"""aiw-otel: logging and monitoring for the AIWhisperer Runner, built on OpenTelemetry.

    telemetry = aiw_otel.configure()            # or configure("aiw.yaml")
    with telemetry.plan_run("plan-1", "demo") as run:
        with run.step("s1", "code_generation") as step:
            with step.command(["echo", "hi"]) as cmd: ...

The names below are the public API; everything else is internal.
"""

from aiw_otel.config import ConfigError, ContentCapture, TelemetryConfig
from aiw_otel.instrument.plan import PlanRun, Step
from aiw_otel.model import ComponentType, InvalidTransition, LogLevel, LogMessage, RunCancelled, State
from aiw_otel.setup import Telemetry, configure, current, shutdown
from aiw_otel.sinks import ExporterSink, ProcessorSink

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
    "TelemetryConfig",
    "configure",
    "current",
    "shutdown",
]
