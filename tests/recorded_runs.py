"""Runs the tests make: the DEBUG config they use, plans written to files, and sample runs driven
through the real pipeline (a sample plan, and whole runs recorded into a log directory by the file sink)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiw_otel
from aiw_otel import LogLevel
from aiw_otel.config import FileSinkConfig, SinksConfig, TelemetryConfig

FAILING_COMMAND = ("import sys; print('pushing to registry.example'); "
                   "print('connection refused', file=sys.stderr); sys.exit(3)")


def debug_config(**changes: Any) -> TelemetryConfig:
    return replace(TelemetryConfig(log_level=LogLevel.DEBUG), **changes)


def plan_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(body)
    return path


def run_sample_plan(telemetry, workspace):
    """A plan with one step doing an AI call, a tool that writes a file, and a real command."""
    with telemetry.plan_run("plan-7", "refactor module") as run:
        with run.step("s1", "code_generation", "Generate the module") as step:
            with step.ai_call(provider="openai", model="gpt-4o", server_address="api.openai.com", server_port=443,
                              event_id="ai_call_001") as call:
                call.request_sent(prompt_tokens=12)
                call.response_received(response_model="gpt-4o-2024-08-06", finish_reasons=["tool_calls"],
                                       input_tokens=12, output_tokens=7)
            with step.tool_call("write_file", call_id="call_1") as tool:
                target = workspace / "out.py"
                with tool.file_operation("write", str(target)) as op:
                    data = b"print('hi')\n"
                    target.write_bytes(data)
                    op.done(bytes_written=len(data), size=len(data))
            with step.command([sys.executable, "-c", "print('one'); print('two')"], cwd=str(workspace)) as cmd:
                proc = subprocess.run(cmd.argv, env=cmd.child_env(), capture_output=True, cwd=workspace)
                cmd.started(12345)
                cmd.output("stdout", proc.stdout)
                cmd.exited(proc.returncode)
    return run


def run_plan(telemetry: aiw_otel.Telemetry, name: str, workspace: Path, fail: bool = True) -> str:
    """Two AI calls, a tool writing a file, then (when `fail`) a deploy step whose command exits 3; returns the run id."""
    with telemetry.plan_run(f"plan-{name}", name) as run:
        with run.step("generate", "code_generation", "Write the module") as step:
            for attempt, (tokens_in, tokens_out, cost) in enumerate(((100, 20, 0.0015), (50, 10, 0.0005)), start=1):
                with step.ai_call(provider="openai", model="gpt-4o", server_address="api.openai.com",
                                  server_port=443, attempt=attempt) as call:
                    call.request_sent(prompt_tokens=tokens_in)
                    call.response_received(response_model="gpt-4o-2024-08-06", input_tokens=tokens_in,
                                           output_tokens=tokens_out, cost_usd=cost)
            step.log(LogLevel.DEBUG, "auth", "using OPENAI_API_KEY=sk-demo" + "X" * 32)  # redacted: a metric point
            with step.tool_call("write_file", call_id="call_1") as tool:
                target = workspace / f"{name}.py"
                with tool.file_operation("write", str(target)) as op:
                    op.done(bytes_written=target.write_text("print('hi')\n"))
        if fail:
            with run.step("deploy", "deployment", "Push the module") as step:
                for index in range(7):
                    step.log(LogLevel.INFO, "deploy_progress", f"deploy progress {index}")
                argv = [sys.executable, "-c", FAILING_COMMAND]
                with step.command(argv, cwd=str(workspace)) as cmd:
                    proc = subprocess.run(argv, env=cmd.child_env(), capture_output=True, cwd=workspace, timeout=60)
                    cmd.started(4242)
                    cmd.output("stdout", proc.stdout)
                    cmd.output("stderr", proc.stderr)
                    cmd.exited(proc.returncode)
                step.fail("CommandFailed", f"deploy exited with {proc.returncode}")
            run.skip_step("publish", "dependency 'deploy' did not complete", step_type="release")
    return run.run_id


def record_runs(directory: Path, *names: str, fail: bool = True, **file_changes: object) -> list[str]:
    """Each plan through configure() with the file sink into `directory`, flushed between runs (separate lines)."""
    config = debug_config(sinks=SinksConfig(file=FileSinkConfig(directory=str(directory), **file_changes)))
    telemetry = aiw_otel.configure(config, environ={}, set_global=False, handle_signals=False)
    workspace = directory.parent / "workspace"
    workspace.mkdir(exist_ok=True)
    try:
        run_ids = []
        for name in names:
            run_ids.append(run_plan(telemetry, name, workspace, fail))
            assert telemetry.force_flush(10.0)
    finally:
        assert telemetry.shutdown(10.0)
    return run_ids
