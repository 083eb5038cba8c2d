"""The aiw-otel command as a user runs it: a real process, its output and its exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.cli_process import ROOT, aiw
from tests.otlp_files import attrs, spans_in
from tests.recorded_runs import plan_file

pytestmark = pytest.mark.slow


def test_check_accepts_the_seed_example_and_creates_nothing(tmp_path):
    example = ROOT / "examples" / "logging_config.yaml"
    result = aiw("check", str(example), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout and "stdlib logging section: yes" in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_check_lists_every_sink_the_config_turns_on_and_counts_steps_in_words(tmp_path):
    config = tmp_path / "aiw.yaml"
    config.write_text("telemetry:\n  sinks:\n    prometheus:\n      enabled: true\n")
    checked = aiw("check", str(config))
    assert checked.returncode == 0 and "sinks: file, prometheus," in checked.stdout, checked.stderr
    plan = tmp_path / "plan.yaml"
    plan.write_text("task_id: t\nplan:\n  - step_id: only\n    description: d\n"
                    "    agent_spec: {type: validation, instructions: [look]}\n")
    checked = aiw("check", str(plan))
    assert checked.returncode == 0 and checked.stdout.strip() == f"{plan}: OK (plan 'plan', 1 step: only)", checked.stderr


def test_check_names_file_line_and_expectation(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(textwrap.dedent("""
        telemetry:
          sinks:
            otlp:
              protocol: htp
    """).lstrip())
    result = aiw("check", str(bad))
    assert result.returncode == 2
    assert f"{bad}:4: telemetry.sinks.otlp.protocol: expected one of grpc, http/protobuf, got 'htp'" in result.stderr


def test_check_of_a_missing_file_is_a_clear_error(tmp_path):
    result = aiw("check", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2 and "nope.yaml" in result.stderr and "Traceback" not in result.stderr


def test_demo_runs_the_bundled_plan(tmp_path):
    result = aiw("demo", "--workspace", str(tmp_path / "ws"), "--log-dir", str(tmp_path / "logs"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    publish = "Publish greet to the package registry"  # the step publish_package, by its name
    for expected in ("Starting plan 'greet-release'", "chat gpt-4o-mini", "error=RateLimitError",
                     "execute_tool write_file", "execute_tool execute_command", f"Step '{publish}' failed",
                     "state=Skipped", "plan 'greet-release' Failed", "on purpose"):
        assert expected in out, expected
    assert "greet" in (tmp_path / "ws" / "greet.py").read_text()
    shown = aiw("logs", str(tmp_path / "logs"), "--no-color")
    assert shown.returncode == 0, shown.stderr
    assert "what failed" in shown.stdout and f"step {publish} (deployment)  Failed" in shown.stdout


def test_run_exit_code_and_plan_errors(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(textwrap.dedent("""
        task_id: t1
        natural_language_goal: say hi
        plan:
          - step_id: hello
            description: write hello.txt
            agent_spec: {type: file_operations}
            actions: [{write: hello.txt, content: hi}, {run: "test -s hello.txt"}]
    """).lstrip())
    result = aiw("run", str(plan), "--workspace", str(tmp_path / "ws"), "--log-dir", str(tmp_path / "logs"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "ws" / "hello.txt").read_text() == "hi"
    plan.write_text(plan.read_text().replace("depends_on: []", "") + "    depends_on: [nowhere]\n")
    broken = aiw("run", str(plan), "--log-dir", str(tmp_path / "logs"))
    assert broken.returncode == 2 and "unknown step 'nowhere'" in broken.stderr and "Traceback" not in broken.stderr
    checked = aiw("check", str(plan))
    assert checked.returncode == 2 and "nowhere" in checked.stderr


def test_a_run_with_telemetry_disabled_does_not_point_at_files_it_never_wrote(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text("task_id: t1\nplan:\n  - step_id: hello\n    description: d\n"
                    "    agent_spec: {type: file_operations}\n    actions: [{write: hello.txt, content: hi}]\n")
    logs = tmp_path / "logs"
    result = aiw("run", str(plan), "--workspace", str(tmp_path / "ws"), "--log-dir", str(logs),
                 env={**os.environ, "OTEL_SDK_DISABLED": "true"})
    assert result.returncode == 0, result.stdout + result.stderr
    said = result.stdout + result.stderr
    assert "running plan 'plan' (1 step) in" in said and "plan 'plan' Completed" in said
    assert not list(logs.glob("*.jsonl")) and "telemetry in" not in said


#: A command run directly (its span is `python`), then two lines the shell runs (their spans: `sh`).
COMMAND_LINES_PLAN = """
task_id: named
natural_language_goal: name commands
plan:
  - step_id: lines
    description: a direct command, then shell lines
    agent_spec: {type: validation}
    actions:
      - run: [python, -c, "print(7)"]
      - run: "echo one && echo two | tr a-z A-Z"
      - run: "echo why >&2; exit 3"
"""


def test_a_command_is_named_by_its_line_everywhere_its_span_by_the_program_that_ran(tmp_path):
    """A line the shell runs is `sh` to the CLI span convention, never to a reader: the plain output,
    `logs` (tree and failure panel) and the final summary name it by the line the plan wrote."""
    plan = plan_file(tmp_path, COMMAND_LINES_PLAN)
    logs = tmp_path / "logs"
    result = aiw("run", str(plan), "--no-console", "--workspace", str(tmp_path / "ws"), "--log-dir", str(logs))
    assert result.returncode == 1, result.stdout + result.stderr
    span_lines = [line for line in result.stdout.splitlines() if "[terminal_interaction:lines] - " in line
                  and (" SPAN " in line or " ERROR " in line) and "exit=" in line]
    assert [line.split(" - ")[3].rsplit(" (", 1)[0] for line in span_lines] == [
        "python -c 'print(7)'", "echo one && echo two | tr a-z A-Z", "echo why >&2; exit 3"]
    assert "  echo why >&2; exit 3: exit 3" in result.stdout  # the final summary
    shown = aiw("logs", str(logs))
    assert shown.returncode == 0, shown.stderr
    assert "at `echo why >&2; exit 3`: command exited with 3" in shown.stdout  # the failure panel
    assert "echo one && echo two | tr a-z A-Z  " in shown.stdout and "python -c 'print(7)'  " in shown.stdout
    assert not [line for line in (result.stdout + shown.stdout).splitlines() if " sh " in f" {line} "]
    commands = [attrs(s) for s in spans_in(logs) if "process.executable.name" in attrs(s)]
    assert [(c["process.executable.name"], c["aiw.command.line"]) for c in commands] == [
        ("python", "python -c 'print(7)'"), ("sh", "echo one && echo two | tr a-z A-Z"), ("sh", "echo why >&2; exit 3")]
    names = {s["name"] for s in spans_in(logs) if "process.executable.name" in attrs(s)}
    assert names == {"python", "sh"}  # span names: `{process.executable.name}`, as the convention says


UUID_PLAN = """
task_id: uuids
plan:
  - {step_id: 7c9e6679-7425-40de-944b-e07fc1f90ae7, description: first, agent_spec: {type: t}, actions: [{run: "echo one"}]}
  - {step_id: 16fd2706-8baf-433b-82eb-8c7fada847da, description: second, agent_spec: {type: t},
     depends_on: [7c9e6679-7425-40de-944b-e07fc1f90ae7], actions: [{run: "echo two"}]}
  - {step_id: write_notes, name: Write the notes, description: third, agent_spec: {type: t}, actions: [{run: "echo three"}]}
"""


def test_the_plain_output_names_each_step_by_its_label_as_the_runners_messages_do(tmp_path):
    """AIWhisperer's subtask ids are UUIDs: a line's `[component:step]` shows the short form the console
    and the runner's own messages show (stepref.labels), and a named step by its name."""
    plan = plan_file(tmp_path, UUID_PLAN)
    result = aiw("run", str(plan), "--no-console", "--workspace", str(tmp_path / "ws"), "--log-dir", str(tmp_path / "logs"))
    assert result.returncode == 0, result.stdout + result.stderr
    started = [line.split(" - ")[2:] for line in result.stdout.splitlines() if "Starting execution of step" in line]
    assert started == [["[execution_engine:7c9e6679…]", "Starting execution of step '7c9e6679…'."],
                       ["[execution_engine:16fd2706…]", "Starting execution of step '16fd2706…'."],
                       ["[execution_engine:Write the notes]", "Starting execution of step 'Write the notes'."]]
    assert "[terminal_interaction:16fd2706…] - echo two (" in result.stdout  # a span line, too
    assert "-7425-" not in result.stdout and "-8baf-" not in result.stdout, "no line shows a whole UUID"


def test_shutdown_at_exit_ends_open_spans(tmp_path):
    script = tmp_path / "exits.py"
    script.write_text(textwrap.dedent("""
        import aiw_otel
        from aiw_otel.config import TelemetryConfig, SinksConfig, ConsoleSinkConfig
        telemetry = aiw_otel.configure(TelemetryConfig(sinks=SinksConfig(console=ConsoleSinkConfig(enabled=True))))
        run = telemetry.plan_run("p", "left open").__enter__()
        run.step("s1", "never_closed").__enter__()
    """))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "never_closed" in result.stdout and "error=interrupted" in result.stdout
    assert "invoke_workflow left open" in result.stdout


def test_run_config_applies_the_files_stdlib_logging_section(tmp_path):
    """`run --config` and `configure(path)` read a config file the same way (one settings loader)."""
    handler_log = tmp_path / "handler.log"
    config = tmp_path / "aiw.yaml"
    config.write_text(textwrap.dedent(f"""
        version: 1
        disable_existing_loggers: false
        formatters:
          plain: {{format: '%(levelname)s %(message)s'}}
        handlers:
          to_file: {{class: logging.FileHandler, filename: '{handler_log}', formatter: plain, level: DEBUG}}
        root: {{level: DEBUG, handlers: [to_file]}}
        telemetry:
          service_name: from-the-file
    """).lstrip())
    plan = tmp_path / "plan.yaml"
    plan.write_text(textwrap.dedent("""
        task_id: t1
        natural_language_goal: say hi
        plan:
          - step_id: hello
            description: write hello.txt
            agent_spec: {type: file_operations}
            actions: [{write: hello.txt, content: hi}]
    """).lstrip())
    result = aiw("run", str(plan), "--config", str(config), "--no-console",
                 "--workspace", str(tmp_path / "ws"), "--log-dir", str(tmp_path / "logs"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Step 'hello' succeeded" in handler_log.read_text()
    assert '"from-the-file"' in (tmp_path / "logs" / "traces.otlp.jsonl").read_text()


def test_a_built_wheel_carries_the_demo_plan_and_the_web_page(tmp_path):
    """`pip install .` (not only -e) must give a working `aiw-otel demo` and `aiw-otel web`: the plan
    and the page are package data."""
    import shutil
    import zipfile

    source = tmp_path / "source"  # a copy: building in the checkout would leave build/ and egg-info there
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", "logs", "build", "*.egg-info",
                                                                "__pycache__", ".pytest_cache", ".mypy_cache"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                            "-w", str(tmp_path), str(source)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("aiw_otel-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for data in ("demo", "web/static"):
        for path in (ROOT / "aiw_otel" / data).iterdir():
            assert f"aiw_otel/{data}/{path.name}" in names


#: Runs `aiw-otel ARGS...` in this process and prints, as JSON, the modules it loaded (those the
#: interpreter had not loaded at start-up). `web DIR` is stopped where it would start serving, its
#: URL printed: what it loads until then is what a user waits for.
_LOADED_PROBE = textwrap.dedent("""
    import json, sys
    at_start = set(sys.modules)
    from aiw_otel.cli import main
    if sys.argv[1] == "web" and "--help" not in sys.argv:
        from aiw_otel.web.server import WebServer  # loaded before the URL is printed anyway

        def ctrl_c(self, poll_interval=0.5):
            raise KeyboardInterrupt

        WebServer.serve_forever = ctrl_c
    try:
        code = main(sys.argv[1:])
    except SystemExit as exit:  # --help
        code = exit.code
    print(json.dumps({"code": code, "loaded": sorted(set(sys.modules) - at_start)}))
""")


def _one_step_log_dir(directory):
    writer = textwrap.dedent("""
        import sys, aiw_otel
        from aiw_otel.config import FileSinkConfig, SinksConfig, TelemetryConfig
        t = aiw_otel.configure(TelemetryConfig(sinks=SinksConfig(file=FileSinkConfig(directory=sys.argv[1]))))
        with t.plan_run("p", "probe plan") as run, run.step("s1", "step"):
            pass
        t.shutdown()
    """)
    subprocess.run([sys.executable, "-c", writer, str(directory)], check=True, timeout=60)
    return directory


#: aiw-otel's own modules no typed command but `run`/`demo` needs: the SDK pipeline and its set-up,
#: the instrumentation, the engine, the live console.
_ENGINE = ("aiw_otel.setup", "aiw_otel.processors", "aiw_otel.instrument", "aiw_otel.runner.engine",
           "aiw_otel.console", "aiw_otel.exporters.otlp_json", "aiw_otel.sinks")


@pytest.mark.parametrize("command, also_not", [
    (["--help"], ("aiw_otel.readback", "aiw_otel.web", "aiw_otel.config")),
    (["ctl", "status", "--socket", "{tmp}/none.sock"], ("aiw_otel.readback", "aiw_otel.web", "aiw_otel.config")),
    (["logs", "{logs}", "--no-color"], ("aiw_otel.web", "aiw_otel.config", "aiw_otel.control")),
    (["logs", "--runs", "{logs}", "--no-color"], ("aiw_otel.web", "aiw_otel.config", "aiw_otel.control")),
    # --json prints what it reads: no model (enums, dataclasses), text exporter or step names to load first
    (["logs", "{logs}", "--json"], ("aiw_otel.web", "aiw_otel.config", "aiw_otel.control", "aiw_otel.model",
                                    "aiw_otel.exporters", "aiw_otel.stepref", "dataclasses", "datetime")),
    (["web", "--help"], ("aiw_otel.readback", "aiw_otel.web", "aiw_otel.control")),
    (["web", "{logs}", "--port", "0"], ("aiw_otel.readback", "aiw_otel.config")),
], ids=["help", "ctl-status", "logs", "logs-runs", "logs-json", "web-help", "web-until-url"])
def test_typed_commands_load_only_the_standard_library_and_what_they_use(tmp_path, command, also_not):
    """Start-up is paid per command typed (benchmarks/bench_startup.py measures it), so a command
    loads no third-party package at all (OpenTelemetry, its SDK, gRPC, protobuf, the OpenAI client,
    Rich: all of them cost tens of ms), nor aiw-otel's engine, nor another command's machinery; the
    web monitor reads the finished runs' files (readback) only when a page asks for them."""
    logs = _one_step_log_dir(tmp_path / "logs")
    argv = [word.format(tmp=tmp_path, logs=logs) for word in command]
    probe = subprocess.run([sys.executable, "-c", _LOADED_PROBE, *argv], capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0, probe.stderr
    *shown, report = probe.stdout.strip().splitlines()
    result = json.loads(report)
    if command[0] == "logs":
        assert any("probe plan" in line for line in shown), probe.stdout  # it did read the run
    if command[0] == "web" and "--help" not in command:
        assert "http://" in probe.stdout and result["code"] == 0
    loaded = result["loaded"]
    third_party = sorted({name.split(".")[0] for name in loaded} - set(sys.stdlib_module_names) - {"aiw_otel"})
    assert third_party == [], third_party
    assert "asyncio" not in loaded  # the logging instrumentation's
    unneeded = [name for name in loaded if name.startswith(_ENGINE + also_not)]
    assert unneeded == [], unneeded
