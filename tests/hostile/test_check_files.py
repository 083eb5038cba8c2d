"""`aiw-otel check` on files with mistakes, as a real process: it refuses what `run` refuses, names
every mistake of a file (one line each, with file and line) and exits 2."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.hostile.cli import aiw, one_line_error

#: Real aiw-otel processes: not in the fast loop (`pytest -m "not slow"`).
pytestmark = pytest.mark.slow


def _errors(result) -> list[str]:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return result.stderr.splitlines()


def test_check_reports_every_mistake_of_a_plan_in_file_order(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(textwrap.dedent("""\
        task_id: mistakes
        plan:
          - step_id: a
            description: 5
            agent_spec: {type: t, model_preference: {provider: nosuch, temperature: 9}}
            actions: [{write: "a\\0b", content: x}, {run: "true", bogus: 1}]
          - step_id: b
            depends_on: [a, zz]
            description: d
            agent_spec: {type: t, instructions: [do it]}
        """))
    p = str(plan)
    assert _errors(aiw("check", p)) == [
        f"aiw-otel: {p}:4: step 'a': description: expected a non-empty string, got 5",
        f"aiw-otel: {p}:5: step 'a': agent_spec.model_preference.provider: "
        "expected one of openai, openrouter, replay, got 'nosuch'",
        f"aiw-otel: {p}:5: step 'a': agent_spec.model_preference.temperature: expected a number from 0 to 2, got 9",
        f"aiw-otel: {p}:6: step 'a': actions[0].write: contains a NUL byte (\\0); a file path cannot",
        f"aiw-otel: {p}:6: step 'a': actions[1].bogus: unknown key for a run action; allowed keys: run, timeout_s",
        f"aiw-otel: {p}:8: step 'b': depends_on[1]: depends on unknown step 'zz'; steps in this plan: a, b",
    ]


def test_check_reports_every_mistake_of_a_config(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(textwrap.dedent("""\
        telemetry:
          log_level: LOUD
          sinks:
            file:
              directory: "logs\\0x"
              max_bytes: 1
        version: 1
        handlers:
          h:
            class: logging.NoSuchHandler
            filename: "a\\0b"
        """))
    c = str(config)
    prefix = "aiw-otel: configuration error:"
    assert _errors(aiw("check", c)) == [
        f"{prefix} {c}:2: telemetry.log_level: unknown log level 'LOUD' "
        "(expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL)",
        f"{prefix} {c}:5: telemetry.sinks.file.directory: contains a NUL byte (\\0); a file path cannot",
        f"{prefix} {c}:6: telemetry.sinks.file.max_bytes: expected an integer >= 4096, got 1",
        f"{prefix} {c}:10: handlers.h.class: cannot import 'logging.NoSuchHandler': "
        "AttributeError: module 'logging' has no attribute 'NoSuchHandler'",
        f"{prefix} {c}:11: handlers.h.filename: contains a NUL byte (\\0); a file path cannot",
    ]


def test_check_refuses_a_provider_run_would_refuse(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("task_id: t\nplan:\n  - step_id: a\n    description: d\n"
                    "    agent_spec: {type: t, instructions: [x], model_preference: {provider: nosuch}}\n")
    line = one_line_error(aiw("check", str(plan)))
    assert line == (f"aiw-otel: {plan}:5: step 'a': agent_spec.model_preference.provider: "
                    "expected one of openai, openrouter, replay, got 'nosuch'")


@pytest.mark.parametrize("command", ["check", "run"])
def test_max_turns_0_is_refused_by_check_as_by_run(tmp_path: Path, command: str) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("task_id: t\nplan:\n  - step_id: a\n    description: d\n    agent_spec: {type: t}\n"
                    "    actions: [{run: 'true'}]\n")
    result = aiw(command, str(plan), "--max-turns", "0")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "argument --max-turns: expected a whole number >= 1, got '0'" in result.stderr


@pytest.mark.parametrize("name", ["plan.yaml", "config.yaml"])
def test_non_utf8_yaml_is_one_line_naming_the_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"telemetry:\n  service_name: caf\xe9\n")
    assert one_line_error(aiw("check", str(path))).endswith(
        f"{path}:2: not UTF-8 text (invalid continuation byte)")


def test_a_nul_byte_in_a_subtask_path_names_the_file_and_field(tmp_path: Path) -> None:
    overview = tmp_path / "overview.json"
    overview.write_text('{"task_id": "t", "plan": [{"subtask_id": "a", "file_path": "a\\u0000.json"}]}')
    assert one_line_error(aiw("check", str(overview))) == (
        f"aiw-otel: {overview}:1: step 'a': file_path: contains a NUL byte (\\0); a file path cannot")
