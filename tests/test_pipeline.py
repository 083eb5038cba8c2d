"""The pipeline around the spans: sinks that fail, hang or fill up; shutdown; logs; levels; redaction."""

from __future__ import annotations

import io
import logging
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import StatusCode

import aiw_otel
from aiw_otel import ComponentType, LogLevel, LogMessage, State
from aiw_otel.config import ConfigError, FileSinkConfig, QueueConfig, SinksConfig, TelemetryConfig
from aiw_otel.exporters.plain_console import PlainConsoleSink
from aiw_otel.processors.state_tracker import StateTracker
from aiw_otel.runner.engine import Engine, RunOptions
from aiw_otel.runner.plan_loader import load_plan
from tests.otlp_files import spans_in
from tests.processes import until
from tests.recorded_runs import debug_config, plan_file


class RaisingExporter(SpanExporter):
    def __init__(self):
        self.calls = 0

    def export(self, spans):
        self.calls += 1
        raise ConnectionError("collector unreachable")

    def shutdown(self):
        raise RuntimeError("and it fails to shut down too")


class BlockingExporter(SpanExporter):
    """Hangs in export until released, like an exporter stuck on a dead socket."""

    def __init__(self):
        self.entered = threading.Event()
        self.release = threading.Event()

    def export(self, spans):
        self.entered.set()
        self.release.wait()
        return SpanExportResult.SUCCESS

    def shutdown(self):
        self.release.wait()


def stuck_sink(name: str, exporter: SpanExporter, max_size: int) -> aiw_otel.ExporterSink:
    """A sink with a tiny queue of its own, drained one span at a time."""
    return aiw_otel.ExporterSink(name, span_exporter=exporter,
                                 queue=QueueConfig(max_size=max_size, batch_size=1, schedule_delay_ms=10))


class RaisingProcessor:
    name = "raising-processor"

    def on_start(self, span, parent_context=None):
        raise ValueError("bad sink on_start")

    def on_end(self, span):
        raise ValueError("bad sink on_end")

    def shutdown(self):
        pass

    def force_flush(self, timeout_millis=0):
        return True


def test_a_raising_sink_never_reaches_the_caller_and_is_counted(capture):
    raising = RaisingExporter()
    cap = capture(sinks=[aiw_otel.ExporterSink("broken", span_exporter=raising),
                         aiw_otel.ProcessorSink("broken-processor", span_processor=RaisingProcessor())])
    with cap.telemetry.plan_run("p", "plan") as run, run.step("s", "t"):
        pass
    assert {s.name for s in cap.spans()} == {"invoke_workflow plan", "t"}
    snapshot = cap.telemetry.health.snapshot()
    assert snapshot.failures[("broken", "traces")] == raising.calls >= 1
    assert snapshot.failures[("broken-processor", "traces")] == 4  # two starts, two ends


def test_failures_are_reported_once_then_rate_limited(capture, capsys):
    cap = capture(sinks=[aiw_otel.ExporterSink("broken", span_exporter=RaisingExporter())])
    for index in range(5):
        with cap.telemetry.plan_run(f"p{index}", "plan"):
            pass
        cap.telemetry.force_flush(2.0)
    err = capsys.readouterr().err
    assert err.count("sink 'broken' failed to handle traces: ConnectionError: collector unreachable") == 1
    assert cap.telemetry.health.snapshot().failures[("broken", "traces")] == 5


def test_a_hanging_sink_stalls_neither_the_caller_nor_shutdown(capture):
    blocking = BlockingExporter()
    cap = capture(sinks=[stuck_sink("stuck", blocking, max_size=8)])
    try:
        with cap.telemetry.plan_run("p", "plan") as run:
            with run.step("s0", "t"):
                pass
            assert blocking.entered.wait(5.0)
            for index in range(40):  # far more spans than the stuck sink's queue holds
                with run.step(f"s{index + 1}", "t"):
                    pass
        # The healthy sink got everything although the stuck one never returned (it is flushed first).
        assert cap.telemetry.force_flush(1.0) is False
        assert len([s for s in cap._spans.get_finished_spans() if s.name == "t"]) == 41
        assert cap.telemetry.health.snapshot().dropped[("stuck", "traces")] > 0
        started = time.monotonic()
        assert cap.telemetry.shutdown(1.0) is False
        assert time.monotonic() - started < 10.0  # unbounded, it would wait for the stuck exporter forever
    finally:
        blocking.release.set()


def test_ended_operations_leave_no_open_span_or_interrupt_hook_behind(capture):
    """Interrupt hooks are kept by the live span and dropped when the SDK's ended copy of it comes
    back: a long run must not keep one per action it ever ran."""
    cap = capture()
    run = cap.telemetry.plan_run("p", "plan").__enter__()
    step = run.step("s1", "t").__enter__()
    for _ in range(20):
        with step.ai_call(provider="openai", model="m", server_address="h", server_port=443) as call:
            call.request_sent(prompt_tokens=1)
    tracker = cap.telemetry._instruments.tracker
    assert tracker.open_count() == 2  # the plan and the step
    assert len(tracker._hooks) == 2
    step.__exit__(None, None, None)
    run.__exit__(None, None, None)
    assert tracker.open_count() == 0 and not tracker._hooks


def test_shutdown_ends_open_spans_as_interrupted(capture):
    cap = capture()
    run = cap.telemetry.plan_run("p", "plan").__enter__()
    step = run.step("s1", "t").__enter__()
    command = step.command("sleep 100").__enter__()
    cap.telemetry.force_flush()
    cap.telemetry.shutdown(2.0)
    spans = {s.name: s for s in cap._spans.get_finished_spans()}
    assert set(spans) == {"invoke_workflow plan", "t", "sleep"}
    for span in spans.values():
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes["error.type"] == "interrupted"
    assert spans["t"].attributes["aiw.step.state"] == "Cancelled"
    assert spans["invoke_workflow plan"].attributes["aiw.plan.state"] == "Cancelled"
    # children end before their parents
    assert spans["sleep"].end_time <= spans["t"].end_time <= spans["invoke_workflow plan"].end_time
    assert step.state is State.CANCELLED and run.state is State.CANCELLED
    command.__exit__(None, None, None)  # the engine finishing late must not fail or double-end
    step.__exit__(None, None, None)
    run.__exit__(None, None, None)


def test_two_pipelines_in_one_process_each_see_their_own_run(capture, tmp_path):
    """Configured one after the other, run at the same time: each pipeline records its own run, and
    each run view (a console's StateTracker) follows its own plan, not Pending while it runs."""
    plan = load_plan(plan_file(tmp_path, textwrap.dedent("""
        task_id: twice
        plan:
          - step_id: make
            description: make a file
            agent_spec: {type: t}
            actions: [{run: "sh -c 'touch made; until [ -e go ]; do sleep 0.01; done'"}]
    """)))
    views = [StateTracker(), StateTracker()]
    caps = [capture(sinks=(view.sink(),)) for view in views]
    engines = []
    for n, (view, cap) in enumerate(zip(views, caps)):
        view.seed(plan, cap.telemetry.redactor)
        engines.append(Engine(cap.telemetry, plan, RunOptions(workspace=tmp_path / f"ws{n}")))
    workers = [threading.Thread(target=engine.run) for engine in engines]
    for worker in workers:
        worker.start()
    until(lambda: all((tmp_path / f"ws{n}" / "made").exists() for n in range(2)), "both commands to run")
    assert [view.snapshot().state for view in views] == ["Running", "Running"]
    for n in range(2):
        (tmp_path / f"ws{n}" / "go").write_text("")
    for worker in workers:
        worker.join(20)
    assert [engine.run_record.state for engine in engines] == [State.COMPLETED, State.COMPLETED]
    assert [view.snapshot().state for view in views] == ["Completed", "Completed"]
    run_ids = [engine.run_record.run_id for engine in engines]
    assert [view.snapshot().run_id for view in views] == run_ids
    for cap, run_id in zip(caps, run_ids):  # each pipeline's sink has its own run's spans only
        assert {s.attributes.get("aiw.run.id") for s in cap.spans() if s.name.startswith("invoke_workflow")} == {run_id}


def _writing(directory: Path | str) -> aiw_otel.Telemetry:
    """A pipeline whose only sink is the file sink in `directory`."""
    config = TelemetryConfig(sinks=SinksConfig(file=FileSinkConfig(directory=str(directory))))
    return aiw_otel.configure(config, environ={}, set_global=False, handle_signals=False, stdlib_bridge=False)


def _record_run(telemetry: aiw_otel.Telemetry, name: str) -> None:
    with telemetry.plan_run(name):
        pass
    assert telemetry.force_flush(5.0)


def _runs_in(directory: Path) -> list[str]:
    return [span["name"] for span in spans_in(directory) if span["name"].startswith("invoke_workflow")]


def test_a_log_directory_has_one_open_pipeline_writing_it(tmp_path, monkeypatch):
    """Two pipelines would rotate the same fixed file names: the second is refused, named by the
    directory, however it spells it (relative, through a link); the first writes on undisturbed."""
    logs = tmp_path / "logs"
    (tmp_path / "link").symlink_to(tmp_path)
    monkeypatch.chdir(tmp_path)
    first = _writing("logs")
    try:
        for spelled in ("logs", logs, tmp_path / "link" / "logs", "./logs/"):
            with pytest.raises(ConfigError) as refused:
                _writing(spelled)
            assert str(refused.value) == (
                f"sinks.file.directory: log directory {str(spelled)!r} ({logs}) is written by another pipeline "
                "still open: two would rotate the same files; give this one its own directory, or shut the "
                "other down first")
        elsewhere = _writing(tmp_path / "other")  # a directory of its own: no conflict
        _record_run(first, "first")
        _record_run(elsewhere, "elsewhere")
        elsewhere.shutdown(2.0)
        assert (_runs_in(logs), _runs_in(tmp_path / "other")) == (["invoke_workflow first"], ["invoke_workflow elsewhere"])
    finally:
        first.shutdown(2.0)
    after = _writing(logs)  # once the first is shut down, its directory is free again
    try:
        _record_run(after, "after")
    finally:
        after.shutdown(2.0)
    assert _runs_in(logs) == ["invoke_workflow first", "invoke_workflow after"]


def test_a_pipeline_without_telemetry_writes_no_directory(tmp_path):
    """`enabled: false` builds no sinks: it claims no directory, and a real one may write there."""
    off = aiw_otel.configure(TelemetryConfig(enabled=False, sinks=SinksConfig(file=FileSinkConfig(directory=str(tmp_path)))),
                             environ={}, set_global=False, handle_signals=False, stdlib_bridge=False)
    try:
        on = _writing(tmp_path)
        on.shutdown(2.0)
    finally:
        off.shutdown(2.0)


def test_a_shut_down_pipeline_refuses_new_runs(capture):
    """Rather than running a plan that nothing records (a console would show it Pending throughout)."""
    telemetry = capture().telemetry
    telemetry.shutdown(2.0)
    with pytest.raises(aiw_otel.TelemetryClosed, match=r"was shut down; aiw_otel.configure\(\) builds"):
        telemetry.plan_run("again")


@pytest.mark.slow
def test_sigterm_flushes_and_ends_open_spans_in_a_real_process(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent("""
        import sys, time
        import aiw_otel
        from aiw_otel.config import TelemetryConfig, SinksConfig, ConsoleSinkConfig
        telemetry = aiw_otel.configure(TelemetryConfig(sinks=SinksConfig(console=ConsoleSinkConfig(enabled=True))))
        run = telemetry.plan_run("p", "sigterm plan").__enter__()
        step = run.step("s1", "waiting").__enter__()
        print("READY", flush=True)
        time.sleep(60)
    """))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path)
    assert proc.stdout.readline().strip() == "READY"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == -signal.SIGTERM, err
    assert "waiting" in out and "error=interrupted" in out and "state=Cancelled" in out
    assert "invoke_workflow sigterm plan" in out


def test_a_full_queue_drops_and_counts_without_blocking(capture):
    blocking = BlockingExporter()
    cap = capture(sinks=[stuck_sink("tiny", blocking, max_size=4)])
    try:
        with cap.telemetry.plan_run("p", "plan") as run:
            with run.step("first", "t"):
                pass
            assert blocking.entered.wait(5.0)
            for index in range(10):
                with run.step(f"s{index}", "t"):
                    pass
        # 1 in the stuck export, 4 queued, the rest (10 steps + the root - 4) dropped
        assert cap.telemetry.health.snapshot().dropped[("tiny", "traces")] == 7
    finally:
        blocking.release.set()


def test_log_message_api_and_component_levels(capture):
    config = TelemetryConfig(component_levels={ComponentType.AI_SERVICE: LogLevel.DEBUG})
    cap = capture(config)
    with cap.telemetry.plan_run("p", "plan") as run, run.step("s", "t") as step:
        with step.ai_call(provider="openai", model="m") as call:
            call.request_sent()
        with step.command("true") as cmd:
            cmd.output("stdout", b"debug line\n")  # TERMINAL_INTERACTION stays at INFO: not logged
            cmd.exited(0)
        cap.telemetry.log(LogMessage(LogLevel.DEBUG, ComponentType.RUNNER, "dropped", "below INFO"))
        cap.telemetry.log(LogMessage(LogLevel.WARNING, ComponentType.RUNNER, "custom", "kept", details={"k": 1}))
    assert len(cap.logs_with("api_request_sent")) == 1
    assert cap.logs_with("command_output") == []
    assert cap.logs_with("dropped") == []
    (custom,) = cap.logs_with("custom")
    assert custom.attributes["aiw.k"] == 1 and custom.severity_text == "WARN"
    assert custom.span_id == cap.span("t").context.span_id  # correlated to the current span


def test_stdlib_records_are_bridged_with_extra_fields_and_levels(capture):
    cap = capture(TelemetryConfig(component_levels={ComponentType.AI_SERVICE: LogLevel.DEBUG}))
    with cap.telemetry.plan_run("p", "plan") as run, run.step("s", "t"):
        logging.getLogger("thirdparty.client").warning("retrying %s", "GET /x", extra={"attempt": 2})
        logging.getLogger("aiw.ai_service").debug("ai debug from stdlib")
        logging.getLogger("aiw.file_operations").debug("file debug from stdlib: below INFO")
    records = {r.body: r for r in cap.logs() if not r.attributes.get("aiw.action")}
    bridged = records["retrying GET /x"]
    assert bridged.attributes["attempt"] == 2
    assert bridged.severity_text == "WARN"
    assert bridged.span_id == cap.span("t").context.span_id
    assert records["ai debug from stdlib"].attributes["aiw.component"] == "ai_service"
    assert "file debug from stdlib: below INFO" not in records


def test_what_telemetrys_own_threads_log_is_not_bridged_back(capture):
    """An exporter's HTTP client logs ("Starting new HTTP connection") on the sink's thread:
    bridged, exporting would make records (and one run's records would land in another's files)."""
    import threading

    cap = capture()
    from_sink = threading.Thread(target=lambda: logging.getLogger("urllib3.connectionpool").warning("from a sink"),
                                 name="aiw-otel-sink-otlp-traces")
    from_work = threading.Thread(target=lambda: logging.getLogger("urllib3.connectionpool").warning("from the run"),
                                 name="aiw-otel-engine")
    for thread in (from_sink, from_work):
        thread.start()
        thread.join()
    bodies = [r.body for r in cap.logs()]
    assert "from the run" in bodies and "from a sink" not in bodies


def test_seed_logging_config_handlers_receive_log_messages(capture, tmp_path, monkeypatch):
    from aiw_otel.config_yaml import config_from_text

    monkeypatch.chdir(tmp_path)
    loaded = config_from_text(textwrap.dedent("""
        version: 1
        disable_existing_loggers: False
        formatters:
          detailed_file:
            format: '%(levelname)s [%(component)s:%(step_id)s] %(message)s'
        handlers:
          file_rotating_text:
            class: logging.handlers.RotatingFileHandler
            level: DEBUG
            formatter: detailed_file
            filename: aiwhisperer_runner.log
            maxBytes: 10485760
            backupCount: 5
        root:
          level: DEBUG
          handlers: [file_rotating_text]
    """), source="inline.yaml")
    cap = capture(loaded)
    with cap.telemetry.plan_run("p", "plan") as run, run.step("s1", "t"):
        pass
    cap.telemetry.shutdown(2.0)
    logging.getLogger().handlers[0].flush()
    text = (tmp_path / "aiwhisperer_runner.log").read_text()
    assert "INFO [execution_engine:s1] Starting execution of step 's1'." in text
    # the mirrored copy did not reach OTel twice
    assert len(cap.logs_with("step_execution_started")) == 1
    logging.getLogger().handlers.clear()


def test_dictconfig_runtime_failure_names_the_line(tmp_path):
    from aiw_otel.config_yaml import config_from_text

    loaded = config_from_text(textwrap.dedent(f"""
        version: 1
        handlers:
          broken:
            class: logging.FileHandler
            filename: {tmp_path}/no/such/dir/x.log
        root:
          handlers: [broken]
    """), source="cfg.yaml")
    with pytest.raises(aiw_otel.ConfigError, match=r"cfg\.yaml:4: logging configuration failed: .*broken"):
        aiw_otel.configure(loaded, environ={}, set_global=False, handle_signals=False)


def test_secrets_never_reach_a_sink(capture, tmp_path):
    key = "sk-proj-" + "Zq9Xw2Lm" * 5
    stream = io.StringIO()
    cap = capture(debug_config(), sinks=[PlainConsoleSink(stream=stream, level=LogLevel.DEBUG)])
    with pytest.raises(RuntimeError):
        with cap.telemetry.plan_run("p", f"plan {key}") as run, run.step("s", "t") as step:
            with step.command(["curl", "-H", f"Authorization: Bearer {key}", "https://u:hunter2pass@example.com"]) as cmd:
                cmd.output("stdout", f"token={key}\n".encode())
                cmd.exited(0)
            with step.file_operation("write", str(tmp_path / key)):
                pass
            logging.getLogger("app").warning("using key %s", key, extra={"api_key": key})
            step.log(LogLevel.INFO, "custom", f"key {key}", details={"password": "hunter2pass"})
            raise RuntimeError(f"request failed for {key}")
    cap.telemetry.force_flush()
    everything = repr([(s.name, dict(s.attributes), [(e.name, dict(e.attributes)) for e in s.events],
                        s.status.description) for s in cap.spans()])
    everything += repr([(r.body, dict(r.attributes)) for r in cap.logs()]) + stream.getvalue()
    assert key[8:20] not in everything and "hunter2pass" not in everything
    assert "[REDACTED:openai_api_key]" in everything
    assert "[REDACTED:url_credentials]" in everything
    assert cap.telemetry.redactor.count > 5


def test_redaction_can_be_turned_off_explicitly(capture):
    cap = capture(environ={"AIW_REDACTION": "off"})
    with cap.telemetry.plan_run("p", "plan") as run, run.step("s", "t") as step:
        step.set_attribute("password", "hunter2")
    assert cap.span("t").attributes["password"] == "hunter2"


def test_sdk_disabled_keeps_the_api_working_and_records_nothing(capture):
    cap = capture(environ={"OTEL_SDK_DISABLED": "true"})
    with cap.telemetry.plan_run("p", "plan") as run, run.step("s", "t") as step:
        with step.command("true") as cmd:
            cmd.exited(0)
        run.pause()
        run.resume()
    assert run.state is State.COMPLETED
    assert cap.spans() == [] and cap.logs() == []


@pytest.mark.slow
def test_import_loads_no_exporter_or_grpc(tmp_path):
    code = ("import sys, aiw_otel; aiw_otel.configure(environ={}, set_global=False, handle_signals=False);"
            "bad = [m for m in sys.modules if 'grpc' in m or 'exporter.otlp' in m or 'prometheus' in m];"
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_reports_can_go_to_a_live_console_instead_of_stderr(capture, capsys):
    shown: list[str] = []
    cap = capture(sinks=[aiw_otel.ExporterSink("broken", span_exporter=RaisingExporter())])
    cap.telemetry.health.set_reporter(shown.append)
    with cap.telemetry.plan_run("p", "plan"):
        pass
    cap.telemetry.force_flush(2.0)
    assert shown and "sink 'broken' failed to handle traces" in shown[0]
    assert "collector unreachable" not in capsys.readouterr().err


def test_processors_read_the_sdks_plain_attribute_dicts_and_see_the_same_values():
    """The hot path reads the dict behind the SDK's attribute mappings (processors/attributes.py);
    if an SDK release moves it, this fails instead of every processor silently going slow."""
    from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor
    from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider

    from aiw_otel.processors.attributes import plain_attributes, span_attributes

    seen = {}

    class Peek(SpanProcessor, LogRecordProcessor):
        def on_start(self, span, parent_context=None):
            plain = span_attributes(span)
            seen["start"] = (type(plain), dict(plain), dict(span.attributes))

        def on_end(self, span):
            plain = span_attributes(span)
            seen["end"] = (type(plain), dict(plain), dict(span.attributes))

        def on_emit(self, record):
            attributes = record.log_record.attributes
            plain = plain_attributes(attributes)
            seen["log"] = (type(plain), dict(plain), dict(attributes))

        def shutdown(self):
            pass

        def force_flush(self, timeout_millis=30000):
            return True

    tracer_provider, logger_provider = TracerProvider(), LoggerProvider()
    tracer_provider.add_span_processor(Peek())
    logger_provider.add_log_record_processor(Peek())
    with tracer_provider.get_tracer("t").start_as_current_span("s", attributes={"a": "x", "n": 1}) as span:
        span.set_attribute("later", True)
        logger_provider.get_logger("t").emit(body="b", attributes={"k": "v", "d": {"x": 1}})
    for name in ("start", "end", "log"):
        kind, plain, public = seen[name]
        assert kind is dict, name
        assert plain == public, name
    assert seen["start"][1] == {"a": "x", "n": 1}
    assert seen["end"][1] == {"a": "x", "n": 1, "later": True}
    copy = ReadableSpan(name="c", attributes={"k": "v"})
    assert span_attributes(copy) == {"k": "v"}
    assert dict(span_attributes(ReadableSpan(name="none"))) == {}

    class Double:  # anything else: the public mapping
        attributes = {"x": 1}

    assert span_attributes(Double()) == {"x": 1}
    assert plain_attributes(None) == {} and plain_attributes({"y": 2}) == {"y": 2}


def test_an_ended_spans_events_and_links_read_without_a_copy_are_the_same_as_the_public_ones():
    """`span_events` / `span_links` read the SDK's stored lists without its copies; they must
    never lose an event or a link, and the fast path must be the one taken with the SDK in use."""
    from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
    from opentelemetry.trace import Link

    from aiw_otel.processors.attributes import span_events, span_links

    ended: list[ReadableSpan] = []

    class Keep(SpanProcessor):
        def on_end(self, span):
            ended.append(span)

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(Keep())
    tracer = tracer_provider.get_tracer("t")
    with tracer.start_as_current_span("bare"):
        pass
    with tracer.start_as_current_span("parent") as parent:
        pass
    with tracer.start_as_current_span("full", links=[Link(parent.get_span_context(), {"l": 1})]) as span:
        span.add_event("e", {"k": "v"})
    bare, _, full = ended
    assert list(span_events(bare)) == [] and list(span_links(bare)) == []
    assert span_events(full) is full._events._dq  # the fast path is taken with the SDK in use
    assert [(e.name, dict(e.attributes)) for e in span_events(full)] == [("e", {"k": "v"})]
    assert [dict(link.attributes) for link in span_links(full)] == [{"l": 1}]
    assert list(span_events(ReadableSpan(name="plain"))) == [] and list(span_links(ReadableSpan(name="plain"))) == []
