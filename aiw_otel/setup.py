"""`configure()` and `shutdown()`: build the three providers once, wire the sinks, stop cleanly.

Order matters and is fixed here: redaction sits in front of every sink (spans and logs), the
open-span tracker sees every span so shutdown can end the ones left open, and one MeterProvider
holds every metric reader so later sinks (Prometheus, OTLP) plug in without a second provider.
"""

from __future__ import annotations

import atexit
import logging
import logging.config
import os
import re
import signal
import threading
import time
import uuid
from contextlib import suppress
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Callable, Iterable, Mapping, Sequence

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry._logs import NoOpLogger
from opentelemetry.metrics import CallbackOptions, Meter, NoOpMeter, Observation
from opentelemetry.sdk._logs import LoggerProvider, LogRecordLimits, LogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, SpanProcessor, TracerProvider

from aiw_otel.config import ConfigError, LoadedConfig, TelemetryConfig
from aiw_otel.errors import shown
from aiw_otel.exporters.file_sink import FileSink
from aiw_otel.exporters.plain_console import PlainConsoleSink
from aiw_otel.health import TelemetryHealth, internal_logger
from aiw_otel.instrument.base import Instruments
from aiw_otel.instrument.metrics import RunInstruments
from aiw_otel.instrument.plan import PlanRun
from aiw_otel.logs import LogEmitter, apply_component_levels, install_stdlib_bridge, redact_handler, remove_stdlib_bridge
from aiw_otel.model import LogMessage, StateChange
from aiw_otel.processors.bounded import each_within
from aiw_otel.processors.metrics import MetricsProcessor
from aiw_otel.processors.open_spans import OpenSpanTracker
from aiw_otel.processors.pipeline import LogPipeline, SpanPipeline
from aiw_otel.private_file import PRIVATE_FILE_MODE, open_private
from aiw_otel.processors.queued import QueuedLogSink, QueuedSpanSink
from aiw_otel.redaction import Redactor
from aiw_otel.settings import SettingsSource, load_settings
from aiw_otel.sinks import BuiltSink, ProcessorSink, Sink

SCOPE = "aiw_otel"


def package_version() -> str:
    try:
        return version("aiw-otel")
    except PackageNotFoundError:
        return "0+unknown"


class TelemetryClosed(RuntimeError):
    """A run started from a pipeline that was shut down: it would record nothing, and a run view fed
    by it (the console's StateTracker) would show the plan Pending while it ran."""


class Telemetry:
    """A configured pipeline: start plan runs from it, emit LogMessages, flush and shut it down.

    Once shut down it refuses new runs with TelemetryClosed rather than letting them run unrecorded.
    """

    def __init__(
        self,
        config: TelemetryConfig,
        instruments: Instruments,
        *,
        health: TelemetryHealth,
        redactor: Redactor | None,
        providers: Sequence[Any] = (),
        bridge: logging.Handler | None = None,
        meter: Meter | None = None,
        endpoints: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.health = health
        self.redactor = redactor
        self.meter: Meter = meter or NoOpMeter(SCOPE)
        #: Where sinks can be reached from outside, by sink name (the Prometheus `/metrics` URL).
        self.endpoints: Mapping[str, str] = dict(endpoints or {})
        self._instruments = instruments
        self._providers = list(providers)
        self._bridge = bridge
        self._lock = threading.Lock()
        self._closed = False

    @property
    def tracer_provider(self) -> TracerProvider | None:
        return next((p for p in self._providers if isinstance(p, TracerProvider)), None)

    def plan_run(self, plan_id: str, name: str | None = None, run_id: str | None = None) -> PlanRun:
        """The root span of one run; use it as a context manager (`with telemetry.plan_run(...) as run:`).

        Raises TelemetryClosed once this pipeline is shut down."""
        if self._closed:
            raise TelemetryClosed("this Telemetry was shut down; aiw_otel.configure() builds a new one")
        return PlanRun(self._instruments, plan_id, name or plan_id, run_id)

    def log(self, message: LogMessage) -> None:
        """Emit a LogMessage correlated to the current span (use an operation's `.log` inside one)."""
        self._instruments.emitter.emit(message)

    def force_flush(self, timeout_s: float | None = None) -> bool:
        """Hand everything recorded so far to the sinks' exporters, within the deadline."""
        budget = self.config.shutdown_timeout_s if timeout_s is None else timeout_s
        return each_within([partial(_flush_provider, p) for p in self._providers], budget)

    def shutdown(self, timeout_s: float | None = None) -> bool:
        """End open spans as interrupted, flush every sink and stop; bounded by the deadline. Idempotent."""
        with self._lock:
            if self._closed:
                return True
            self._closed = True
        _forget(self)
        budget = self.config.shutdown_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + budget
        tracker = self._instruments.tracker
        if tracker is not None:
            tracker.interrupt_all("interrupted: telemetry shut down before the operation ended")
        if self._bridge is not None:
            remove_stdlib_bridge(self._bridge)
        ok = self.force_flush(budget)
        left = deadline - time.monotonic()
        ok = each_within([partial(_shutdown_provider, p) for p in self._providers], left) and ok
        for line in self.health.undelivered_summary():
            internal_logger().warning(line)
        _release_log_directories(self)  # its files are closed: another pipeline may write there now
        return ok


def _flush_provider(provider: Any, left_s: float) -> object:
    return provider.force_flush(int(left_s * 1000))


def _shutdown_provider(provider: Any, left_s: float) -> None:
    if isinstance(provider, MeterProvider):
        provider.shutdown(timeout_millis=max(left_s, 0.0) * 1000)
    else:
        provider.shutdown()


# -- configure ------------------------------------------------------------------------------

_current: Telemetry | None = None
_current_lock = threading.Lock()
#: Every pipeline configure() built and nobody has shut down yet: exit and SIGTERM end them all.
#: No lock: list appends and removes are atomic, and a SIGTERM handler on the thread that holds a
#: lock would wait for it forever.
_open: list[Telemetry] = []
#: Each open pipeline's log directories (resolved), until its shutdown has closed their files.
_directory_writers: dict[str, Telemetry] = {}
_globals_set = False
_atexit_registered = False


def configure(
    config: SettingsSource = None,
    *,
    sinks: Iterable[Sink] = (),
    environ: Mapping[str, str] | None = None,
    set_global: bool = True,
    handle_signals: bool = True,
    stdlib_bridge: bool = True,
) -> Telemetry:
    """Build the pipeline from a config file, a parsed config or the defaults, plus the environment.

    `sinks` adds destinations beyond the configured ones (tests pass in-memory exporters this way).

    Each call builds a pipeline of its own: one configured earlier keeps recording its runs until
    its own `shutdown()` (two runs in one process, each with its own console state, work). What is
    one per process is shared: the global OTel providers are the first pipeline's, the stdlib
    loggers' levels and `logging` config the last one's, stdlib records reach every pipeline still
    up, and a Prometheus port can be served by one pipeline at a time. A log directory is written by
    one pipeline at a time too: a file sink in a directory that a pipeline still open writes raises
    ConfigError naming it (their rotations would rename each other's files). To reconfigure, shut
    the old pipeline down first. The module's `shutdown()`, run at exit and on SIGTERM, ends them all.
    """
    global _current
    loaded = load_settings(config, environ)
    settings = loaded.telemetry
    for warning in loaded.warnings:
        internal_logger().warning(shown(warning))  # warnings quote the environment's values
    redactor = Redactor.from_config(settings.redaction) if settings.redaction.enabled else None
    sinks = list(sinks)
    with _current_lock:
        directories = _log_directories(settings, sinks) if settings.enabled else []  # refused before any change
        if loaded.logging_dict is not None:
            apply_logging_dict(loaded, redactor)
        env = os.environ if environ is None else environ
        telemetry = _build(settings, list(_configured_sinks(settings)) + sinks, loaded, set_global, stdlib_bridge,
                           parent_from_environment(env), redactor)
        _current = telemetry
        _open.append(telemetry)
        _directory_writers.update(dict.fromkeys(directories, telemetry))
    _register_atexit()
    if handle_signals:
        _install_sigterm_handler()
    return telemetry


def _log_directories(settings: TelemetryConfig, sinks: Iterable[Sink]) -> list[str]:
    """The log directories the configured file sink and any FileSink among `sinks` would write,
    resolved; ConfigError for one that a pipeline still open writes (or that two of these would).

    Each file sink rotates the same fixed names (`traces.otlp.jsonl` -> `.1`): two in one directory
    would rename each other's file away mid-write and interleave their backups, and whose settings
    (sizes, signals) would hold is anyone's guess. So a directory has one writer at a time."""
    configs = [sink.config for sink in sinks if isinstance(sink, FileSink)]
    if settings.sinks.file.enabled:
        configs.insert(0, settings.sinks.file)
    claimed: list[str] = []
    for config in configs:
        given = config.directory
        directory = os.path.realpath(given)
        if directory in claimed or directory in _directory_writers:
            raise ConfigError(
                f"log directory {given!r} ({directory}) is written by another pipeline still open: two would "
                "rotate the same files; give this one its own directory, or shut the other down first",
                field_name="sinks.file.directory")
        claimed.append(directory)
    return claimed


def current() -> Telemetry | None:
    """The pipeline the last `configure()` built, if it is still up."""
    return _current


def shutdown(timeout_s: float | None = None) -> bool:
    """Shut down every pipeline still up, each within its own deadline (see Telemetry.shutdown)."""
    ok = True
    for telemetry in list(_open):
        ok = telemetry.shutdown(timeout_s) and ok
    return ok


def _release_log_directories(telemetry: Telemetry) -> None:
    for directory, writer in list(_directory_writers.items()):
        if writer is telemetry:
            del _directory_writers[directory]


def _forget(telemetry: Telemetry) -> None:
    with suppress(ValueError):  # made directly, not by configure()
        _open.remove(telemetry)


def _configured_sinks(settings: TelemetryConfig) -> Iterable[Sink]:
    console = settings.sinks.console
    if console.enabled:
        yield PlainConsoleSink(level=console.level, spans="traces" in console.signals, logs="logs" in console.signals)
    if settings.sinks.file.enabled:
        yield FileSink(settings.sinks.file)
    if settings.sinks.otlp.enabled:
        from aiw_otel.exporters.otlp import otlp_sink

        yield otlp_sink(settings.sinks.otlp)
    if settings.sinks.prometheus.enabled:
        from aiw_otel.exporters.prometheus import PrometheusSink

        yield PrometheusSink(settings.sinks.prometheus)


_DICTCONFIG_FAILURE = re.compile(r"Unable to configure (handler|formatter|filter|logger|root logger) '?([^']*)'?")


def apply_logging_dict(loaded: LoadedConfig, redactor: Redactor | None = None) -> None:
    """Run the file's dictConfig part, turning its failures into ConfigErrors that name the line.

    Its handlers then see only redacted records (`logs.redact_handler`), and the files its file
    handlers write are created (and re-created on rotation) 0600, whatever the umask: they hold
    the same run details as our own files.
    """
    handler_specs = (loaded.logging_dict or {}).get("handlers") or {}
    for spec in handler_specs.values():
        if isinstance(spec, Mapping) and isinstance(spec.get("filename"), (str, os.PathLike)):
            _create_private(os.fspath(spec["filename"]))
    try:
        logging.config.dictConfig(loaded.logging_dict)  # type: ignore[arg-type]
    except (ValueError, TypeError, AttributeError, ImportError) as error:
        match = _DICTCONFIG_FAILURE.search(str(error))
        line = None
        if match:
            section = {"root logger": "root"}.get(match.group(1), match.group(1) + "s")
            line = loaded.logging_lines.get(section if section == "root" else f"{section}.{match.group(2)}")
        cause = error.__cause__ or error.__context__
        detail = f"{error}: {cause}" if cause else str(error)
        raise ConfigError(f"logging configuration failed: {detail}", source=loaded.source, line=line) from error
    named = getattr(logging, "_handlers", {})  # dictConfig's handlers by name (getHandlerByName is 3.12+)
    for name in handler_specs:
        handler = named.get(name)
        if handler is None:
            continue
        if redactor is not None:
            redact_handler(handler, redactor)
        if isinstance(handler, logging.FileHandler):
            _keep_private(handler)


def _create_private(path: str) -> None:
    """Create `path` 0600 if missing and make it 0600 if not, before a handler opens it for append."""
    try:
        directory = os.path.dirname(path)
        if directory and not os.path.isdir(directory):
            return  # dictConfig reports the missing directory itself
        os.close(open_private(path, os.O_WRONLY | os.O_APPEND))
    except OSError:
        pass  # unwritable: the handler's own open will fail with the error worth showing


def _keep_private(handler: logging.FileHandler) -> None:
    """Every later (re)open of the handler's file, rotation included, creates it 0600."""
    if os.path.exists(handler.baseFilename):
        os.chmod(handler.baseFilename, PRIVATE_FILE_MODE)

    def private_open(file: str, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if "a" in mode or "w" in mode:
            _create_private(file)
        return open(file, mode, *args, **kwargs)

    # FileHandler._open opens through this attribute (Python 3.9+), which is what rotation calls.
    setattr(handler, "_builtin_open", private_open)


def parent_from_environment(environ: Mapping[str, str]) -> Context | None:
    """The trace this process runs in, from TRACEPARENT / TRACESTATE / BAGGAGE (the specification's
    environment-variable carriers, read once at start-up with the configured propagator)."""
    traceparent = environ.get("TRACEPARENT", "").strip()
    if not traceparent:
        return None
    carrier = {"traceparent": traceparent}
    for name in ("TRACESTATE", "BAGGAGE"):
        if environ.get(name, "").strip():
            carrier[name.lower()] = environ[name].strip()
    context = propagate.extract(carrier)
    if not trace.get_current_span(context).get_span_context().is_valid:
        internal_logger().warning(f"TRACEPARENT={traceparent!r} is not a W3C traceparent: each run starts a new trace")
        return None
    return context


def _build(
    settings: TelemetryConfig,
    sinks: list[Sink],
    loaded: LoadedConfig,
    set_global: bool,
    stdlib_bridge: bool,
    root_context: Context | None,
    redactor: Redactor | None,
) -> Telemetry:
    health = TelemetryHealth()
    mirror = bool(loaded.logging_dict and loaded.logging_dict.get("handlers"))
    if not settings.enabled:
        emitter = LogEmitter(NoOpLogger(SCOPE), settings.component_levels, settings.log_level)
        # No spans and no records, but a run view in this process (the console, `ctl status`)
        # still follows the plan: through the engine's own state changes.
        instruments = Instruments(trace.NoOpTracer(), emitter, None, settings.content_capture,
                                  states=_state_listeners(sinks))
        return Telemetry(settings, instruments, health=health, redactor=redactor)

    resource = _resource(settings, redactor)
    built = [sink.build(health, settings.queue) for sink in sinks]
    for sink in built:
        if sink.destination:
            health.describe(sink.name, sink.destination)
    readers = [b.metric_reader for b in built if b.metric_reader is not None]
    meter_provider = MeterProvider(resource=resource, metric_readers=readers, shutdown_on_exit=False)
    meter = meter_provider.get_meter(SCOPE, package_version())
    settle: Callable[[], None] | None = None
    if readers:  # with no reader every measurement would be thrown away: skip the work
        announce = partial(_export_soon, meter_provider)
        metrics = MetricsProcessor(RunInstruments.create(meter), announce, partial(health.failed, "metrics", "traces"))
        built.append(metrics.sink().build(health, settings.queue))
        settle = metrics.drain
    _register_self_metrics(meter, health, redactor, built, settle)
    tracker = OpenSpanTracker()
    # The SDK would cut attribute values before redaction sees them (a secret's prefix across the
    # cut survives): it gets no length limit, and the pipelines apply it after redacting.
    no_length_limit = SpanLimits.UNSET
    tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False, span_limits=SpanLimits(
        max_attribute_length=no_length_limit, max_span_attribute_length=no_length_limit))
    tracer_provider.add_span_processor(tracker)
    span_processors = [(b.name, b.span_processor) for b in built if b.span_processor is not None]
    tracer_provider.add_span_processor(SpanPipeline(redactor, span_processors, health,
                                                    settings.value_length_limits.get("traces")))
    logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False, log_record_limits=LogRecordLimits(
        max_attribute_length=no_length_limit, max_log_record_attribute_length=no_length_limit))
    log_processors = [(b.name, b.log_processor) for b in built if b.log_processor is not None]
    logger_provider.add_log_record_processor(LogPipeline(redactor, log_processors, health,
                                                         settings.value_length_limits.get("logs")))

    apply_component_levels(settings.component_levels, settings.log_level)
    bridge = install_stdlib_bridge(logger_provider) if stdlib_bridge else None
    if set_global:
        _set_globals(tracer_provider, logger_provider, meter_provider)
    emitter = LogEmitter(logger_provider.get_logger(SCOPE, package_version()), settings.component_levels, settings.log_level, mirror)
    instruments = Instruments(
        tracer_provider.get_tracer(SCOPE, package_version()), emitter, tracker, settings.content_capture,
        root_context=root_context, redactor=redactor,
    )
    return Telemetry(
        settings,
        instruments,
        health=health,
        redactor=redactor,
        providers=[tracer_provider, logger_provider, meter_provider],
        bridge=bridge,
        meter=meter,
        endpoints={b.name: b.endpoint for b in built if b.endpoint is not None},
    )


def _state_listeners(sinks: Iterable[Sink]) -> Callable[[StateChange], None] | None:
    listeners = [s.state_listener for s in sinks if isinstance(s, ProcessorSink) and s.state_listener is not None]
    if not listeners:
        return None

    def tell_all(change: StateChange) -> None:
        for listener in listeners:
            listener(change)

    return tell_all


def _export_soon(meter_provider: MeterProvider) -> None:
    """Have every metric reader export now, off the caller's thread (a plan is starting)."""
    threading.Thread(target=meter_provider.force_flush, name="aiw-otel-metrics-now", daemon=True).start()


def _resource(settings: TelemetryConfig, redactor: Redactor | None = None) -> Resource:
    """The resource on every span, log and metric, redacted: no processor ever sees it.

    Redacted as built, not only our settings: `Resource.create` also merges what the SDK's
    detectors read from the process environment (OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME).
    """
    attributes: dict[str, Any] = dict(settings.resource_attributes)
    attributes["service.name"] = settings.service_name
    attributes["service.version"] = settings.service_version or package_version()
    attributes.setdefault("service.instance.id", str(uuid.uuid4()))
    resource = Resource.create(attributes)
    clean = redactor.redact_attributes(resource.attributes) if redactor is not None else None
    return resource if clean is None else Resource(clean, resource.schema_url)


def _register_self_metrics(
    meter: Meter, health: TelemetryHealth, redactor: Redactor | None, built: Sequence[BuiltSink],
    settle: Callable[[], None] | None = None,
) -> None:
    """Telemetry about the telemetry, read only when a metric reader collects (no hot-path cost).

    `settle` runs first, in every collection by any reader (the SDK calls these callbacks before
    it reads the synchronous instruments): it records the measurements of spans that ended but
    are still queued (processors/metrics.py), so no collection misses them.

    Every sink and signal that can fail (or drop: those behind a queue) and every redaction label
    is reported from the start, at 0 until something happens, so a dashboard shows 0 rather than
    "no data" and `increase()` sees the first one as an increase rather than as a new series.
    """
    parts = [(b.name, signal, part) for b in built for signal, part in _parts_of(b)]
    failure_zeros = {(name, signal): 0 for name, signal, _ in parts}
    drop_zeros = {(name, signal): 0 for name, signal, part in parts if isinstance(part, (QueuedSpanSink, QueuedLogSink))}
    labels = {label: 0 for label in redactor.labels()} if redactor is not None else {}

    def per_sink(counts: Mapping[tuple[str, str], int]) -> list[Observation]:
        return [Observation(n, {"aiw.sink": s, "aiw.signal": sig}) for (s, sig), n in counts.items()]

    def dropped(_: CallbackOptions) -> list[Observation]:
        if settle is not None:
            settle()
        return per_sink({**drop_zeros, **health.snapshot().dropped})

    def failures(_: CallbackOptions) -> list[Observation]:
        return per_sink({**failure_zeros, **health.snapshot().failures})

    def redactions(_: CallbackOptions) -> list[Observation]:
        if redactor is None:
            return []
        counts = {**labels, **redactor.counts_by_label()}
        return [Observation(n, {"aiw.redaction.label": label}) for label, n in counts.items()]

    meter.create_observable_counter("aiw.telemetry.dropped", [dropped], unit="{record}", description="Records dropped by full sink queues")
    meter.create_observable_counter("aiw.telemetry.export.failures", [failures], unit="{failure}", description="Sink export failures")
    meter.create_observable_counter("aiw.telemetry.redactions", [redactions], unit="{redaction}", description="Secrets redacted")


def _parts_of(sink: BuiltSink) -> list[tuple[str, SpanProcessor | LogRecordProcessor | MetricReader]]:
    """(signal, processor or reader) for each signal the sink takes."""
    fields: tuple[tuple[str, SpanProcessor | LogRecordProcessor | MetricReader | None], ...] = (("traces", sink.span_processor), ("logs", sink.log_processor), ("metrics", sink.metric_reader))
    return [(signal, part) for signal, part in fields if part is not None]


def _set_globals(tracer_provider: TracerProvider, logger_provider: LoggerProvider, meter_provider: MeterProvider) -> None:
    """The OTel API allows one global provider per process: the first configure() sets them."""
    global _globals_set
    if _globals_set:
        return
    from opentelemetry import _logs, metrics

    trace.set_tracer_provider(tracer_provider)
    _logs.set_logger_provider(logger_provider)
    metrics.set_meter_provider(meter_provider)
    _globals_set = True


def _register_atexit() -> None:
    global _atexit_registered
    if not _atexit_registered:
        atexit.register(shutdown)
        _atexit_registered = True


def _install_sigterm_handler() -> None:
    """SIGTERM flushes and ends open spans before the process dies, if nobody else handles it."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def on_sigterm(signum: int, frame: Any) -> None:
        shutdown()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)
