"""Files and directories the user may not read or write: one clear line, no traceback, and the run
goes on where the README says it does (without the file sink, with the control socket elsewhere).

Root is never denied, and CI runs as root: these run the command as `nobody` then (see unprivileged.py).
"""

from __future__ import annotations

import os
import shutil
import socket
import textwrap
from pathlib import Path

import pytest

from tests.hostile.cli import HANG_GUARD_S, ROOT, aiw, one_line_error
from tests.hostile.unprivileged import denied_aiw, denied_popen, give_to_denied_user, shared_dir, writable_dir

#: Real aiw-otel processes: not in the fast loop (`pytest -m "not slow"`).
pytestmark = pytest.mark.slow

__all__ = ["shared_dir"]  # the fixture, used by name

PLAN = textwrap.dedent("""
    task_id: denied
    plan:
      - step_id: write
        description: write a file
        agent_spec: {type: t}
        actions: [{write: out.txt, content: hello}, {run: "echo done"}]
""")


def _plan(directory: Path) -> Path:
    path = directory / "plan.yaml"
    path.write_text(PLAN)
    path.chmod(0o644)
    return path


def _assert_ran_without_the_file_sink(result, log_dir: str, workspace: Path) -> None:
    assert result.returncode == 0, result.stderr
    assert one_line_error(result) == (f"aiw-otel: WARNING: sink 'file' is off: cannot write to log directory "
                                      f"'{log_dir}': Permission denied (further problems of this sink are "
                                      "reported at most every 30 s)")
    assert "plan 'plan' Completed" in result.stdout
    assert "telemetry in" not in result.stdout  # there is none to read back
    socket_line = next(line for line in result.stdout.splitlines() if "control socket" in line)
    assert log_dir not in socket_line  # it fell back too
    assert (workspace / "out.txt").read_text() == "hello"


def test_an_unwritable_log_dir_runs_without_the_file_sink(shared_dir):
    logs = shared_dir / "logs"
    logs.mkdir(mode=0o555)
    logs.chmod(0o555)
    workspace = writable_dir(shared_dir / "ws")
    result = denied_aiw("run", str(_plan(shared_dir)), "--no-console", "--workspace", str(workspace),
                        "--log-dir", str(logs), cwd=shared_dir)
    _assert_ran_without_the_file_sink(result, str(logs), workspace)
    assert list(logs.iterdir()) == []


def test_an_unwritable_working_directory_runs_without_the_default_log_dir(shared_dir):
    """The default log dir is ./logs: a run started in a directory it may not write in."""
    here = shared_dir / "readonly"
    here.mkdir()
    plan = _plan(here)
    here.chmod(0o555)
    workspace = writable_dir(shared_dir / "ws")
    result = denied_aiw("run", str(plan), "--no-console", "--workspace", str(workspace), cwd=here)
    _assert_ran_without_the_file_sink(result, "logs", workspace)
    assert not (here / "logs").exists()


def test_an_unreadable_plan_is_one_line_and_exit_2(shared_dir):
    plan = _plan(shared_dir)
    plan.chmod(0)
    run = denied_aiw("run", str(plan), "--no-console", "--log-dir", str(shared_dir / "l"), cwd=shared_dir)
    assert run.returncode == 2
    assert one_line_error(run) == f"aiw-otel: {plan}: cannot read the plan file: Permission denied"
    check = denied_aiw("check", str(plan), cwd=shared_dir)  # plan or config: not known before it is read
    assert check.returncode == 2
    assert one_line_error(check) == f"aiw-otel: {plan}: cannot read it: Permission denied"
    assert not (shared_dir / "l").exists()  # refused before anything ran


def test_an_unreadable_subtask_file_is_one_line_and_exit_2(shared_dir):
    overview = shared_dir / "overview"
    shutil.copytree(ROOT / "examples" / "plans" / "overview", overview)
    overview.chmod(0o755)
    subtask = sorted(overview.glob("subtask*"))[0]
    subtask.chmod(0)
    result = denied_aiw("check", str(overview), cwd=shared_dir)
    assert result.returncode == 2
    line = one_line_error(result)
    assert str(subtask) in line and line.endswith("Permission denied"), line


def test_an_unreadable_config_is_one_line_and_exit_2(shared_dir):
    config = shared_dir / "aiw.yaml"
    config.write_text("sinks: {file: {enabled: true}}\n")
    config.chmod(0)
    plan = _plan(shared_dir)
    expected = f"aiw-otel: configuration error: {config}: cannot read the config file: Permission denied"
    given = denied_aiw("run", str(plan), "--no-console", "--config", str(config), cwd=shared_dir)
    assert given.returncode == 2 and one_line_error(given) == expected
    from_environment = denied_aiw("run", str(plan), "--no-console", cwd=shared_dir,
                                  env={**os.environ, "AIW_CONFIG": str(config)})
    assert from_environment.returncode == 2 and one_line_error(from_environment) == expected
    assert not (shared_dir / "logs").exists()


@pytest.fixture
def log_dir(shared_dir: Path) -> Path:
    """The files of a real run, readable by the denied user until a test takes that away."""
    logs = shared_dir / "logs"
    result = aiw("run", str(_plan(shared_dir)), "--no-console", "--log-dir", str(logs),
                 "--workspace", str(shared_dir / "ws"))
    assert result.returncode == 0, result.stderr
    logs.chmod(0o755)
    for path in logs.iterdir():
        path.chmod(0o644)
    return logs


def test_logs_on_an_unreadable_file_is_one_line(log_dir):
    traces = log_dir / "traces.otlp.jsonl"
    traces.chmod(0)
    result = denied_aiw("logs", str(traces), cwd=log_dir.parent)
    assert result.returncode == 1
    assert one_line_error(result) == f"aiw-otel: {traces}: permission denied"


def test_logs_on_a_directory_skips_its_unreadable_file_and_shows_the_rest(log_dir):
    traces = log_dir / "traces.otlp.jsonl"
    traces.chmod(0)
    result = denied_aiw("logs", str(log_dir), cwd=log_dir.parent)
    assert result.returncode == 0, result.stderr
    assert one_line_error(result) == f"aiw-otel: warning: {traces}: permission denied; skipped"
    assert "Command 'echo done' completed with exit code 0." in result.stdout  # from the logs file


@pytest.mark.parametrize("follow", [False, True], ids=["show", "follow"])
def test_logs_on_a_directory_it_may_not_enter_is_one_line(log_dir, follow):
    log_dir.chmod(0)
    if follow:  # --follow polls until stopped: an error must end it at once
        runner = denied_popen("logs", "--follow", str(log_dir), cwd=log_dir.parent)
        try:
            _, stderr = runner.communicate(timeout=HANG_GUARD_S)
        finally:
            if runner.poll() is None:
                runner.kill()
        result_code, lines = runner.returncode, [line for line in stderr.splitlines() if line.strip()]
        assert "Traceback" not in stderr
    else:
        result = denied_aiw("logs", str(log_dir), cwd=log_dir.parent)
        result_code, lines = result.returncode, [one_line_error(result)]
    assert result_code == 1
    assert len(lines) == 1 and lines[0].startswith("aiw-otel: ") and lines[0].endswith(": permission denied")


def test_permission_denied_on_a_socket_is_reported_as_such(shared_dir):
    path = shared_dir / "ctl.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(path))
        listener.listen(1)
        give_to_denied_user(path)  # ctl talks only to sockets of its own user
        path.chmod(0)
        result = denied_aiw("ctl", "status", "--socket", str(path), cwd=shared_dir)
    assert result.returncode == 2 and "permission denied" in one_line_error(result)
