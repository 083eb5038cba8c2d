"""`aiw-otel demo`: a scripted plan that drives every part of the span and log API.

Until the reference runner lands this is the command that shows the pipeline working: the file
operations and commands are real (in a fresh workspace), the AI exchanges are replayed from the
script below (no key, no network), and the output is the plain console sink. One step fails and
the step depending on it is skipped, so the failure path shows too.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from aiw_otel.config import TelemetryConfig
from aiw_otel.instrument.plan import PlanRun, Step
from aiw_otel.model import ComponentType, LogLevel, State
from aiw_otel.setup import configure

PLAN_ID = "demo-pipeline"
PLAN_NAME = "pipeline walkthrough"


def demo_config(base: TelemetryConfig | None = None) -> TelemetryConfig:
    """The demo always shows the plain console, whatever else is configured."""
    base = base or TelemetryConfig()
    levels = {ComponentType.TERMINAL_INTERACTION: LogLevel.DEBUG, **base.component_levels}
    console = replace(base.sinks.console, enabled=True, level=min(base.sinks.console.level, LogLevel.DEBUG, key=_number))
    return replace(base, component_levels=levels, sinks=replace(base.sinks, console=console))


def _number(level: LogLevel) -> int:
    return level.number


def run_demo(config: TelemetryConfig | None = None, workspace: Path | None = None) -> int:
    """Run the walkthrough; 0 when it went as scripted (the plan ends Failed on purpose)."""
    telemetry = configure(demo_config(config))
    workspace = workspace or Path(tempfile.mkdtemp(prefix="aiw-demo-"))
    print(f"aiw-otel demo: workspace {workspace} (AI responses are replayed from the script)", flush=True)
    try:
        with telemetry.plan_run(PLAN_ID, PLAN_NAME) as run:
            _prepare(run, workspace)
            _generate(run, workspace)
            _run_checks(run, workspace)
            deploy_ok = _deploy(run, workspace)
            if not deploy_ok:
                run.skip_step("publish", "dependency 'deploy' did not complete", step_type="release")
        state = run.state
    finally:
        telemetry.shutdown()
    print(f"aiw-otel demo: plan {state.value} (step 'deploy' fails and 'publish' is skipped on purpose)", flush=True)
    if telemetry.config.sinks.file.enabled:
        print(f"aiw-otel demo: telemetry files in {telemetry.config.sinks.file.directory}/", flush=True)
    return 0 if state is State.FAILED else 1


def _prepare(run: PlanRun, workspace: Path) -> None:
    with run.step("prepare", "file_operations", "Write the task description") as step:
        task = workspace / "task.md"
        with step.file_operation("create", str(task)) as op:
            data = b"# Task\nWrite greet(name) in greet.py and test it.\n"
            task.write_bytes(data)
            op.done(bytes_written=len(data), size=len(data))
        with step.file_operation("read", str(task)) as op:
            op.done(bytes_read=len(task.read_bytes()))


def _generate(run: PlanRun, workspace: Path) -> None:
    with run.step("generate", "code_generation", "Generate greet.py") as step:
        with step.ai_call(provider="openai", model="gpt-4o-mini", server_address="api.openai.com",
                          server_port=443, event_id="ai_call_001") as call:
            call.request_sent(prompt_tokens=180)
            call.response_failed(error_type="RateLimitError", message="rate limit exceeded", status_code=429,
                                 retry_after_s=0.2)
        with step.ai_call(provider="openai", model="gpt-4o-mini", server_address="api.openai.com",
                          server_port=443, attempt=2, event_id="ai_call_002") as call:
            call.request_sent(prompt_tokens=180)
            call.response_received(response_model="gpt-4o-mini-2024-07-18", finish_reasons=["tool_calls"],
                                   input_tokens=180, output_tokens=64)
        _write_file(step, workspace / "greet.py", "def greet(name):\n    return f'Hello, {name}!'\n")
        with step.ai_call(provider="openai", model="gpt-4o-mini", server_address="api.openai.com",
                          server_port=443, event_id="ai_call_003") as call:
            call.request_sent(prompt_tokens=260)
            call.response_received(response_model="gpt-4o-mini-2024-07-18", finish_reasons=["stop"],
                                   input_tokens=260, output_tokens=12)


def _write_file(step: Step, path: Path, text: str) -> None:
    with step.tool_call("write_file", call_id="call_write_1") as tool:
        with tool.file_operation("write", str(path)) as op:
            data = text.encode()
            path.write_bytes(data)
            op.done(bytes_written=len(data), size=len(data))


CHECK_SCRIPT = """from greet import greet
assert greet("Ada") == "Hello, Ada!"
print("greet ok")
print("connecting with OPENAI_API_KEY=" + "sk-demo" + "X" * 32)  # the output is redacted on every sink
"""


def _run_checks(run: PlanRun, workspace: Path) -> None:
    with run.step("check", "validation", "Run the generated code") as step:
        _write_file(step, workspace / "check_greet.py", CHECK_SCRIPT)
        _command(step, [sys.executable, "check_greet.py"], workspace)
        step.log(LogLevel.INFO, "validation_passed", "greet.py behaves as specified.")


def _deploy(run: PlanRun, workspace: Path) -> bool:
    with run.step("deploy", "deployment", "Push to a registry that does not exist") as step:
        script = "echo 'pushing to registry.example'; echo 'connection refused' >&2; exit 1"
        code = _command(step, ["sh", "-c", script], workspace)
        if code != 0:
            step.fail("CommandFailed", f"deploy command exited with {code}")
            return False
    return True


def _command(step: Step, argv: list[str], cwd: Path) -> int:
    with step.command(argv, cwd=str(cwd)) as cmd:
        proc = subprocess.Popen(argv, cwd=cwd, env=cmd.child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        cmd.started(proc.pid)
        out, err = proc.communicate()
        cmd.output("stdout", out)
        cmd.output("stderr", err)
        cmd.exited(proc.returncode)
        return proc.returncode

