"""Every path a record, a plan or a value takes out of the process is redacted (issue 9, "Paths").

Each test pushes secrets generated at test time (tests/leak_check.py) through one path and looks
for them in every sink that path reaches.
"""

from __future__ import annotations

import logging
import os
import stat
import textwrap
from pathlib import Path
from typing import Any

import pytest

import aiw_otel
from aiw_otel.model import ComponentType, LogLevel, LogMessage
from tests.cli_process import AIW, aiw
from tests.leak_check import github_token, leaks, openai_key, pem_key, read_all


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- 1. stdlib handlers from a config file -----------------------------------------------------

def _logging_config(tmp_path: Path) -> Path:
    config = tmp_path / "logging.yaml"
    config.write_text(textwrap.dedent(f"""
        version: 1
        disable_existing_loggers: false
        formatters:
          detailed: {{format: '%(levelname)s %(name)s %(message)s %(api_key)s %(step_id)s'}}
          bare: {{format: '%(message)s'}}
        handlers:
          text_file:
            class: logging.handlers.RotatingFileHandler
            formatter: bare
            filename: {tmp_path / 'stdlib.log'}
            maxBytes: 2000
            backupCount: 2
          extra_file:
            class: logging.FileHandler
            formatter: detailed
            filename: {tmp_path / 'stdlib-extra.log'}
            filters: []
        loggers:
          aiw:
            handlers: [text_file]
          leaky:
            handlers: [text_file, extra_file]
            level: DEBUG
        telemetry:
          sinks:
            file: {{directory: {tmp_path / 'logs'}}}
    """).lstrip())
    return config


def test_stdlib_handlers_from_a_config_file_see_only_redacted_records(tmp_path: Path, loose_umask: None) -> None:
    key, token, pem = openai_key(), github_token(), pem_key()
    telemetry = aiw_otel.configure(str(_logging_config(tmp_path)), environ={}, set_global=False, handle_signals=False)
    try:
        # A LogMessage, mirrored to the `aiw.<component>` stdlib logger with its fields as `extra`.
        telemetry.log(LogMessage(LogLevel.WARNING, ComponentType.RUNNER, "deploy", f"using {key}",
                                 details={"header": f"Authorization: Bearer {token}", "pem": pem}))
        # Any other logger: %-args, an `extra` field named like a secret, and an exception's message.
        leaky = logging.getLogger("leaky")
        leaky.warning("token is %s", token, extra={"api_key": "hunter2-" + key[-10:], "step_id": key})
        try:
            raise RuntimeError(f"failed with {key} and\n{pem}")
        except RuntimeError:
            leaky.exception("it broke", extra={"api_key": "x", "step_id": "s"})
        for _ in range(40):  # past maxBytes: a rotated backup holds secrets too (had they leaked)
            leaky.info("filler line to rotate %s", token)
    finally:
        telemetry.shutdown(5.0)
        for name in ("leaky", "aiw"):
            for handler in logging.getLogger(name).handlers[:]:
                logging.getLogger(name).removeHandler(handler)
                handler.close()
    written = {p.name: p for p in tmp_path.glob("stdlib*")}
    assert {"stdlib.log", "stdlib.log.1", "stdlib-extra.log"} <= set(written)
    everything = read_all(tmp_path)
    assert "[REDACTED:" in written["stdlib-extra.log"].read_text()
    assert "it broke" in everything and "RuntimeError" in everything  # the exception is kept, as redacted text
    assert leaks([key, token, pem, "hunter2-" + key[-10:] + "xxxxxxxxxxxxxxxxxxxx"], everything) == []
    assert "hunter2" not in everything
    for path in [*written.values(), *(tmp_path / "logs").iterdir()]:
        assert _mode(path) == 0o600, path


def test_a_record_with_nothing_to_hide_reaches_the_handler_as_is() -> None:
    from aiw_otel.logs import redact_handler
    from aiw_otel.redaction import Redactor

    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    handler = Keep()
    redact_handler(handler, Redactor())
    redact_handler(handler, Redactor())  # idempotent
    logger = logging.getLogger("aiw-test-clean")
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        record = logger.makeRecord(logger.name, logging.INFO, __file__, 1, "hello %s", ("world",), None)
        logger.handle(record)
        secret = openai_key()
        logger.info("key %s", secret)
    finally:
        logger.removeHandler(handler)
    assert seen[0] is record
    assert seen[1].getMessage() == "key [REDACTED:openai_api_key]"


def test_our_own_files_are_0600_even_when_they_existed(tmp_path: Path, loose_umask: None) -> None:
    from aiw_otel.exporters.rotating_file import RotatingFile

    left = tmp_path / "traces.otlp.jsonl"
    left.write_text("left by an older version\n")
    left.chmod(0o644)
    rotating = RotatingFile(left, max_bytes=4096, backup_count=2)
    rotating.write_lines(["x" * 3000])
    rotating.write_lines(["y" * 3000])  # rotates: the backup is gzipped
    rotating.close()
    files = sorted(tmp_path.iterdir())
    assert any(p.name.endswith(".gz") for p in files), files
    assert all(_mode(p) == 0o600 for p in files), [(p.name, oct(_mode(p))) for p in files]


# -- 2. the plan as shown before it runs; 3. resource attributes --------------------------------

def _aiw(*args: str, cwd: Path, env: dict[str, str] | None = None, **popen: Any) -> Any:
    import subprocess

    return subprocess.Popen([*AIW, *args], cwd=cwd, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, **popen)


@pytest.mark.slow
def test_pending_steps_are_shown_redacted_by_ctl_status_and_watch(tmp_path: Path) -> None:
    import json
    import subprocess
    import time

    key, token = openai_key(), github_token()
    plan = tmp_path / "plan.yaml"
    plan.write_text(textwrap.dedent(f"""
        task_id: "deploy {key}"
        natural_language_goal: ship it
        plan:
          - step_id: wait
            description: wait a moment
            agent_spec: {{type: validation}}
            actions: [{{run: "sleep 3"}}]
          - step_id: "use-{token}"
            description: "log in with password={key[-12:]}xyz and {key}"
            depends_on: [wait]
            agent_spec: {{type: "validation"}}
            actions: [{{run: "true"}}]
    """).lstrip())
    socket_path = tmp_path / "run.sock"
    run = _aiw("run", str(plan), "--no-console", "--workspace", str(tmp_path / "ws"), "--log-dir",
               str(tmp_path / "logs"), "--control-socket", str(socket_path), cwd=tmp_path)
    try:
        deadline = time.monotonic() + 30
        while not socket_path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        status = subprocess.run([*AIW, "ctl", "status", "--json", "--socket",
                                 str(socket_path)], capture_output=True, text=True, timeout=60)
        plain = subprocess.run([*AIW, "ctl", "status", "--socket", str(socket_path)],
                               capture_output=True, text=True, timeout=60)
        watch = subprocess.run([*AIW, "watch", "--socket", str(socket_path)],
                               capture_output=True, text=True, timeout=60)
    finally:
        out, err = run.communicate(timeout=60)
    assert status.returncode == 0, status.stderr
    view = json.loads(status.stdout)["data"]
    pending = [s for s in view["steps"] if s["step_id"] != "wait"]
    assert pending and "[REDACTED:" in pending[0]["step_id"] and "[REDACTED:" in pending[0]["description"]
    assert "[REDACTED:" in view.get("plan_id", "") + view["plan_name"]
    secrets_ = [key, token, "x" * 8 + key[-12:] + "xyz" + "x" * 9]
    for where, text in (("ctl --json", status.stdout), ("ctl", plain.stdout), ("watch", watch.stdout),
                        ("run stdout", out), ("run stderr", err), ("files", read_all(tmp_path / "logs"))):
        assert leaks(secrets_, text) == [], where
        assert key[-12:] not in text, where
    assert run.returncode == 0, out + err  # the seeded ids still match the (redacted) spans' ids


@pytest.mark.slow
def test_resource_attributes_are_redacted_in_files_and_otlp(tmp_path: Path) -> None:
    from tests.otlp_receiver import Receiver

    key, token = openai_key(), github_token()
    config = tmp_path / "config.yaml"
    config.write_text(textwrap.dedent(f"""
        telemetry:
          resource_attributes: {{deployment.environment.name: dev, build.note: "made with {key}"}}
          sinks:
            file: {{directory: {tmp_path / 'logs'}}}
    """).lstrip())
    receiver = Receiver()
    try:
        environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
                   "OTEL_RESOURCE_ATTRIBUTES": f"ci.api_token={token[4:]},ci.url=https://u:{key[-10:]}@ci.example"}
        telemetry = aiw_otel.configure(str(config), environ=environ, set_global=False, handle_signals=False)
        with telemetry.plan_run("p", "plan") as run, run.step("s1", "validation"):
            pass
        assert telemetry.shutdown(10.0)
    finally:
        receiver.close()
    requests = [str(request) for path in receiver.received for _, request in receiver.received[path]]
    assert requests and all("dev" in r for r in requests)
    everything = "\n".join(requests) + read_all(tmp_path / "logs")
    assert "deployment.environment.name" in everything
    assert leaks([key, token], everything) == [] and key[-10:] not in everything and token[4:] not in everything


# -- 8. commands the model runs do not inherit the runner's credentials -------------------------

def test_a_model_that_runs_env_never_sees_the_runners_credentials(capture: Any, tmp_path: Path, fake_openai: Any) -> None:
    import json

    from aiw_otel import State
    from aiw_otel.runner.engine import Engine, RunOptions
    from aiw_otel.runner.plan_loader import load_plan
    from tests.recorded_runs import debug_config
    from tests.fake_openai import completion

    key, router, token = openai_key(), "sk-or-v1-" + openai_key()[8:], github_token()
    environ = {
        **os.environ,
        "OPENAI_BASE_URL": fake_openai.base_url,
        "OPENAI_API_KEY": key,
        "OPENROUTER_API_KEY": router,
        "OTEL_EXPORTER_OTLP_HEADERS": f"authorization=Bearer {token}",
        "DEPLOY_DB_URL": f"postgres://admin:{token[4:20]}@db.internal/app",  # caught by its value
        "AWS_SECRET_ACCESS_KEY": "x" * 40,
        "NPM_TOKEN": "npm-allowed-by-the-user",
        "AIW_COMMAND_ENV_ALLOW": "NPM_TOKEN",
        "HARMLESS_SETTING": "kept",
    }
    fake_openai.script(completion("looking", tool_calls=[("execute_command", {"command": "env"})]), completion("done"))
    plan = tmp_path / "plan.yaml"
    plan.write_text(textwrap.dedent("""
        task_id: t
        natural_language_goal: look around
        plan:
          - step_id: look
            description: run env
            agent_spec:
              type: validation
              instructions: [run env]
              model_preference: {provider: openai, model: m}
            actions: [{run: "env"}]
    """).lstrip())
    cap = capture(debug_config())
    engine = Engine(cap.telemetry, load_plan(plan), RunOptions(workspace=tmp_path / "ws", environ=environ))
    assert engine.run() is State.COMPLETED
    second = fake_openai.wait_for_requests(2)[1]
    tool_result = json.loads(next(m["content"] for m in second.body["messages"] if m["role"] == "tool"))
    seen = tool_result["stdout"]
    # The allowed credential reached the command; like any secret, its value is not sent to the model.
    assert "HARMLESS_SETTING=kept" in seen and "NPM_TOKEN=[REDACTED:" in seen
    for name in ("OPENAI_API_KEY", "OPENROUTER_API_KEY", "OTEL_EXPORTER_OTLP_HEADERS", "DEPLOY_DB_URL",
                 "AWS_SECRET_ACCESS_KEY"):
        assert f"{name}=" not in seen, name
    body = json.dumps(second.body)
    assert leaks([key, router, token], body) == [] and "x" * 40 not in body
    recorded = json.dumps([dict(r.attributes or {}, body=r.body) for r in cap.logs()], default=str)
    assert "HARMLESS_SETTING=kept" in recorded  # the plan's own `env` action ran with the same environment
    assert "OPENAI_API_KEY=" not in recorded and leaks([key, router, token], recorded) == []


@pytest.mark.parametrize("name, credential", [
    ("OPENAI_API_KEY", True), ("OPENROUTER_API_KEY", True), ("GITHUB_TOKEN", True), ("HF_TOKEN", True),
    ("OTEL_EXPORTER_OTLP_HEADERS", True), ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", True),
    ("AWS_SECRET_ACCESS_KEY", True), ("AWS_ACCESS_KEY_ID", True), ("DB_PASSWORD", True), ("PGPASSWORD", True),
    ("CLIENT_SECRET", True), ("DB_PW", True),
    ("PATH", False), ("HOME", False), ("TOKENIZERS_PARALLELISM", False), ("SSH_AUTH_SOCK", False),
    ("GIT_ASKPASS", False), ("PYTHONPATH", False), ("OTEL_EXPORTER_OTLP_ENDPOINT", False),
])
def test_credential_names(name: str, credential: bool) -> None:
    from aiw_otel.runner.command_env import is_credential_name

    assert is_credential_name(name) is credential


def test_a_percent_encoded_secret_keeps_a_variable_from_commands() -> None:
    from urllib.parse import quote

    from aiw_otel.runner.command_env import without_credentials

    url = f"postgres://app:{openai_key()[8:24]}@db.internal:5432/app"
    environ = {"OTEL_RESOURCE_ATTRIBUTES": f"ci.db={quote(url, safe='')},ci.name=proof",
               "OTEL_SERVICE_NAME": "runner", "NOTE": "100%25 done"}
    kept, removed = without_credentials(environ)
    assert removed == ["OTEL_RESOURCE_ATTRIBUTES"] and kept == {"OTEL_SERVICE_NAME": "runner", "NOTE": "100%25 done"}


# -- 4. truncation after redaction; 5. secrets over several lines of output ---------------------

def _command_output(capture: Any, *chunks: bytes) -> tuple[str, list[str]]:
    """Feed `chunks` as one command's stdout; (everything recorded, the recorded output lines)."""
    from tests.recorded_runs import debug_config

    cap = capture(debug_config())
    with cap.telemetry.plan_run("p", "plan") as run, run.step("s1", "validation") as step:
        with step.command(["producer"]) as cmd:
            for chunk in chunks:
                cmd.output("stdout", chunk)
            cmd.exited(0)
    lines = [r.body for r in cap.logs() if (r.attributes or {}).get("aiw.action") == "command_output"]
    events = [dict(e.attributes) for s in cap.spans() for e in s.events]
    return repr(lines) + repr(events) + repr([dict(s.attributes) for s in cap.spans()]), lines


def test_a_secret_across_the_line_cut_is_redacted_before_the_cut(capture: Any) -> None:
    key = openai_key()
    line = "x" * 1985 + " " + key + " tail\n"  # the cut at 2000 characters keeps 14 of the key
    recorded, lines = _command_output(capture, line.encode())
    assert lines[0].startswith("x" * 1985) and len(lines[0]) <= 2000
    assert key[:12] not in recorded and leaks([key], recorded) == []


def test_a_line_longer_than_what_is_kept_leaves_no_partial_secret(capture: Any) -> None:
    key = openai_key()
    long_line = "y" * 7990 + " " + key + "\n"  # the key straddles the 8000-byte read cap
    recorded, _ = _command_output(capture, long_line[:5000].encode(), long_line[5000:].encode())
    assert key[:12] not in recorded and leaks([key], recorded) == []


@pytest.mark.parametrize("chunking", ["whole", "byte_by_line"])
def test_a_private_key_over_several_lines_of_output_is_redacted(capture: Any, chunking: str) -> None:
    pem = pem_key()
    text = f"before\n{pem}\nafter\n"
    chunks = [text.encode()] if chunking == "whole" else [line.encode() + b"\n" for line in text.splitlines()]
    recorded, lines = _command_output(capture, *chunks)
    assert lines[0] == "before" and lines[-1] == "after" and "[REDACTED:private_key]" in lines
    assert leaks([pem], recorded) == []


@pytest.mark.parametrize("chunking", ["whole", "byte_by_line"])
def test_a_private_key_body_without_its_begin_line_is_redacted(capture: Any, chunking: str) -> None:
    pem = pem_key()
    body = pem.split("\n", 1)[1]  # `tail -n +2 key.pem`: body lines, then END
    blob = "aGVsbG8gd29ybGQgdGhpcyBpcyBqdXN0IGJhc2U2NCB0ZXN0IGRhdGEgb2sgb2s="  # base64, no END after it
    text = f"before\n{body}\n{blob}\nafter\n"
    chunks = [text.encode()] if chunking == "whole" else [line.encode() + b"\n" for line in text.splitlines()]
    recorded, lines = _command_output(capture, *chunks)
    assert lines[0] == "before" and lines[-2:] == [blob, "after"] and "[REDACTED:private_key]" in lines
    assert leaks([pem], recorded) == []


def test_a_key_longer_than_the_hold_limit_and_one_never_closed_stay_redacted(capture: Any) -> None:
    big = pem_key(lines=450)  # past the 200 lines held back at most
    open_ended = pem_key(lines=5).rsplit("\n", 1)[0]  # no END line: the command stopped mid-key
    recorded, lines = _command_output(capture, f"start\n{big}\nmiddle\n{open_ended}".encode())
    assert "start" in lines and "middle" in lines
    assert leaks([big, open_ended], recorded) == []


@pytest.mark.slow
def test_command_output_secrets_reach_no_file(tmp_path: Path) -> None:
    from aiw_otel import State
    from aiw_otel.config import FileSinkConfig, SinksConfig, TelemetryConfig
    from aiw_otel.runner.engine import Engine, RunOptions
    from aiw_otel.runner.plan_loader import load_plan

    key, pem = openai_key(), pem_key()
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "secret.txt").write_text(f"{'z' * 1995} {key}\n{pem}\n")
    plan = tmp_path / "plan.yaml"
    plan.write_text(textwrap.dedent("""
        task_id: t
        natural_language_goal: print a file
        plan:
          - step_id: show
            description: cat it
            agent_spec: {type: validation}
            actions: [{run: "cat secret.txt"}, {read: secret.txt}]
    """).lstrip())
    logs = tmp_path / "logs"
    config = TelemetryConfig(sinks=SinksConfig(file=FileSinkConfig(directory=str(logs), max_bytes=4096)),
                             log_level=LogLevel.DEBUG)
    telemetry = aiw_otel.configure(config, environ={}, set_global=False, handle_signals=False)
    engine = Engine(telemetry, load_plan(plan), RunOptions(workspace=tmp_path / "ws"))
    assert engine.run() is State.COMPLETED
    assert telemetry.shutdown(10)
    everything = read_all(logs)
    assert "[REDACTED:private_key]" in everything
    assert key[:12] not in everything and leaks([key, pem], everything) == []


# -- 6. errors that echo input; 7. ship's state ------------------------------------------------

def _cli(*args: str, cwd: Path, env: dict[str, str]) -> Any:
    return aiw(*args, cwd=cwd, env={**os.environ, **env})


@pytest.mark.slow
def test_config_and_environment_errors_do_not_echo_credentials(tmp_path: Path) -> None:
    password = openai_key()[8:28]  # a random password: no rule knows it by its shape
    token = github_token()
    config = tmp_path / "config.yaml"
    config.write_text(textwrap.dedent(f"""
        telemetry:
          sinks:
            otlp: {{enabled: true, endpoint: "htp://admin:{password}@collector:4318"}}
    """).lstrip())
    from_file = _cli("check", str(config), cwd=tmp_path, env={})
    good_plan = tmp_path / "good.yaml"
    good_plan.write_text("task_id: t\nnatural_language_goal: g\nplan: [{step_id: s, description: d, "
                         "agent_spec: {type: validation}, actions: [{run: 'true'}]}]\n")
    from_env = _cli("run", str(good_plan), "--no-console", "--log-dir", str(tmp_path / "logs"), cwd=tmp_path,
                    env={"OTEL_EXPORTER_OTLP_ENDPOINT": f"htp://admin:{password}@collector"})
    plan = tmp_path / "plan.yaml"
    plan.write_text(f"task_id: t\nnatural_language_goal: g\nplan: [{{step_id: {token}, description: d, agent_spec: 7}}]\n")
    bad_plan = _cli("check", str(plan), cwd=tmp_path, env={})
    for result in (from_file, from_env, bad_plan):
        assert result.returncode == 2, result.stdout + result.stderr
        output = result.stdout + result.stderr
        assert password not in output and leaks([token], output) == [], output
    assert "collector" in from_file.stderr and "collector" in from_env.stderr  # still says which value is wrong


@pytest.mark.slow
def test_ship_state_is_created_0600(tmp_path: Path, loose_umask: None) -> None:
    from aiw_otel.readback.ship import STATE_FILE
    from tests.otlp_receiver import Receiver as HttpReceiver
    from tests.recorded_runs import record_runs

    log_dir = tmp_path / "logs"
    record_runs(log_dir, "one")
    receiver = HttpReceiver()
    try:
        result = _cli("ship", str(log_dir), "--endpoint", receiver.endpoint, cwd=tmp_path, env={})
    finally:
        receiver.close()
    assert result.returncode == 0, result.stderr
    assert _mode(log_dir / STATE_FILE) == 0o600


def test_the_attribute_length_limit_cuts_after_redaction(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from aiw_otel.config import FileSinkConfig, SinksConfig, TelemetryConfig

    monkeypatch.setenv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "40")  # the SDK reads os.environ itself
    key = openai_key()
    logs = tmp_path / "logs"
    telemetry = aiw_otel.configure(TelemetryConfig(sinks=SinksConfig(file=FileSinkConfig(directory=str(logs)))),
                                   set_global=False, handle_signals=False)
    with telemetry.plan_run("p", "plan") as run, run.step("s1", "validation") as step:
        step.set_attribute("aiw.note", "x" * 20 + " " + key)  # the cut at 40 falls inside the key
        step.set_attribute("aiw.plain", "p" * 100)
        step.log(LogLevel.INFO, "noted", "noted", details={"note": "y" * 20 + " " + key})
    assert telemetry.shutdown(10)
    everything = read_all(logs)
    assert key[:12] not in everything and leaks([key], everything) == []
    assert "p" * 40 in everything and "p" * 41 not in everything  # the limit still holds


def test_a_bad_span_length_limit_is_warned_about_and_the_generic_limit_applies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from aiw_otel.config import FileSinkConfig, SinksConfig, TelemetryConfig

    logs = tmp_path / "logs"
    environ = {"OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT": "30 chars", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "30"}
    telemetry = aiw_otel.configure(TelemetryConfig(sinks=SinksConfig(file=FileSinkConfig(directory=str(logs)))),
                                   environ=environ, set_global=False, handle_signals=False)
    with telemetry.plan_run("p", "plan") as run, run.step("s1", "validation") as step:
        step.set_attribute("aiw.plain", "p" * 100)
        step.log(LogLevel.INFO, "noted", "noted", details={"note": "q" * 100})
    assert telemetry.shutdown(10)

    everything = read_all(logs)
    assert "p" * 30 in everything and "p" * 31 not in everything
    assert "q" * 30 in everything and "q" * 31 not in everything
    warnings = [line for line in capsys.readouterr().err.splitlines() if "LENGTH_LIMIT" in line]
    assert warnings == ["aiw-otel: WARNING: environment variable OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT='30 chars' "
                        "ignored: expected a whole number of characters >= 0"]
