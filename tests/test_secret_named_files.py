"""Files named after a secret (`secret.yaml`, `token.txt`, `password.yaml`): their errors stay
readable, and what they hold is still redacted.

Redacted as one line, `secret.yaml: cannot read it` reads as the pair `secret.yaml: <secret>` and
the user learns nothing. Our own error lines redact the file and the message apart
(FileError.shown); in any other text, a file name at a line (`secret.yaml:3: expected a mapping`)
is a location. grep's `password.txt:hunter2` and dotted keys (`db.password=hunter2`) stay pairs.
"""

from __future__ import annotations

import random
import string
import textwrap
from pathlib import Path

import pytest

from aiw_otel.errors import ConfigError, FileError
from aiw_otel.hand_edited import Where
from tests.hostile.cli import aiw, one_line_error
from tests.hostile.unprivileged import denied_aiw, give_to_denied_user, shared_dir
from tests.leak_check import read_all

__all__ = ["shared_dir"]  # the fixture, used by name


def _password() -> str:
    return "".join(random.choice(string.ascii_letters + string.digits) for _ in range(16))


# -- the error itself -----------------------------------------------------------------------------


def test_a_file_error_shows_its_file_and_message_apart() -> None:
    error = FileError("cannot read it: Permission denied", source="token.txt")
    assert error.shown() == "token.txt: cannot read it: Permission denied"
    step = FileError("unknown key", source="secret.yaml", line=3, step="build", field_name="actions[0].x")
    assert step.shown() == "secret.yaml:3: step 'build': actions[0].x: unknown key"


def test_each_part_of_a_file_error_is_still_redacted() -> None:
    password = _password()
    error = FileError(f"expected a mapping, got 'password={password}'", source=f"/ws/API_KEY={password}/plan.yaml",
                      step=f"token={password}")
    assert password not in error.shown()
    assert error.shown() == ("/ws/API_KEY=[REDACTED:api_key]: step 'token=[REDACTED:token]': "
                             "expected a mapping, got 'password=[REDACTED:password]'")
    # A field named after a secret still loses the value it quotes.
    field = ConfigError(f"expected a string, got {password!r}", source="secret.yaml", line=2, field_name="password")
    assert password not in field.shown() and field.shown().startswith("secret.yaml:2: password: ")


def test_a_file_named_after_a_secret_never_quotes_its_text_back() -> None:
    password = _password()
    assert Where("token.txt").expected("a mapping", password).detail == "expected a mapping, got a string"
    assert Where("pin.secret.txt").expected("a mapping", 123456).detail == "expected a mapping, got a number"
    named = Where("db-password.yaml", show_names=True).expected("a mapping", [password]).detail
    assert named == "expected a mapping, got a list"
    assert Where("plan.yaml", show_names=True).expected("a mapping", ["a"]).detail == "expected a mapping, got ['a']"
    assert Where("plan.yaml").expected("a mapping", "hello").detail == "expected a mapping, got 'hello'"


# -- the real command -----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("secret.yaml", "steps: [1, 2\n",
         "aiw-otel: configuration error: secret.yaml:2: invalid YAML at line 2, column 1: expected ',' or ']', "
         "but got '<stream end>' (while parsing a flow sequence, line 1)"),
        ("password.yaml", "- a\n- b\n", "aiw-otel: configuration error: password.yaml: top level: expected a mapping, got a list"),
        ("secret.yaml", "telemetry:\n  nope: 1\n",
         "aiw-otel: configuration error: secret.yaml:2: telemetry.nope: unknown key; allowed keys: service_name, "),
    ],
)
def test_check_names_a_secret_named_file_readably(tmp_path: Path, name: str, text: str, expected: str) -> None:
    (tmp_path / name).write_text(text)
    result = aiw("check", name, cwd=tmp_path)
    assert result.returncode == 2
    line = one_line_error(result)
    assert line.startswith(expected), line
    assert "[REDACTED" not in line


@pytest.mark.slow
def test_check_of_a_token_file_names_it_but_prints_no_token(tmp_path: Path) -> None:
    password = _password()
    (tmp_path / "token.txt").write_text(password + "\n")
    result = aiw("check", "token.txt", cwd=tmp_path)
    assert result.returncode == 2
    assert one_line_error(result) == "aiw-otel: configuration error: token.txt: top level: expected a mapping, got a string"


@pytest.mark.slow
def test_an_unreadable_token_file_is_named(shared_dir: Path) -> None:
    token = shared_dir / "token.txt"
    token.write_text(_password())
    give_to_denied_user(token)
    token.chmod(0)
    result = denied_aiw("check", "token.txt", cwd=shared_dir)
    assert result.returncode == 2
    assert one_line_error(result) == "aiw-otel: token.txt: cannot read it: Permission denied"


@pytest.mark.slow
def test_a_run_keeps_locations_and_loses_what_grep_and_dotted_keys_show(tmp_path: Path) -> None:
    """Command output through a real run: grep's `password.txt:...` lines and dotted config keys
    are redacted, a compiler-style line about `secret.yaml` comes through whole."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    secrets = [_password() for _ in range(4)]
    (workspace / "password.txt").write_text(secrets[0] + "\n")
    (workspace / "app.properties").write_text(f"db.password={secrets[1]}\nspring.datasource.password: {secrets[2]}\n")
    (workspace / "token.json").write_text(secrets[3] + "\n")
    (workspace / "errors.txt").write_text("secret.yaml:3: expected a mapping\ntoken.py:12:5: error: bad type\n")
    (tmp_path / "plan.yaml").write_text(textwrap.dedent("""
        task_id: greps
        plan:
          - step_id: look
            description: look at the files
            agent_spec: {type: t}
            actions:
              - {run: "grep -H . password.txt token.json; grep -Hn . password.txt; cat app.properties"}
              - {run: "cat errors.txt >&2"}
    """))
    logs = tmp_path / "logs"
    result = aiw("run", "plan.yaml", "--no-console", "--workspace", "ws", "--log-dir", "logs", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    written = read_all(logs) + result.stdout + result.stderr
    assert not [s for s in secrets if s in written]
    for kept in ("password.txt:[REDACTED:password]", "token.json:[REDACTED:token]", "db.password=[REDACTED:password]",
                 "spring.datasource.password: [REDACTED:password]",
                 "secret.yaml:3: expected a mapping", "token.py:12:5: error: bad type"):
        assert kept in written, kept


# -- a file named after a secret that cannot be read: logs, a replay, a plan ----------------------------
#
# Each command's one line names the file and says why, with the path and the reason redacted apart
# (as one line, `token.txt: permission denied` reads as a token's pair and loses the reason).

#: The command line that reads the file named last, and its exit status when it cannot.
_READERS = {
    "logs": (("logs",), 1),
    "follow": (("logs", "--follow"), 1),
    "ship": (("ship", "--endpoint", "http://127.0.0.1:9"), 1),  # refused before anything is sent
    "replay": (("demo", "--no-console", "--log-dir", "telemetry", "--replay"), 2),
    "plan": (("run", "--no-console", "--log-dir", "telemetry"), 2),
}

#: What each says after the file's name when the file may not be read.
_DENIED = {
    "logs": "permission denied",
    "follow": "permission denied",
    "ship": "permission denied",
    "replay": "cannot read the replay file: Permission denied",
    "plan": "cannot read the plan file: Permission denied",
}


@pytest.mark.slow
@pytest.mark.parametrize("reader", list(_READERS))
@pytest.mark.parametrize("name", ["token.txt", "password.json", "secret.yaml"])
def test_an_unreadable_secret_named_file_is_named_with_its_reason(shared_dir: Path, reader: str, name: str) -> None:
    secret = shared_dir / name
    secret.write_text(_password())
    give_to_denied_user(secret)
    secret.chmod(0)
    args, code = _READERS[reader]
    result = denied_aiw(*args, name, cwd=shared_dir)
    assert result.returncode == code
    assert one_line_error(result) == f"aiw-otel: {name}: {_DENIED[reader]}"


@pytest.mark.slow
@pytest.mark.parametrize("reader", list(_READERS))
def test_a_missing_secret_named_file_is_named_with_its_reason(tmp_path: Path, reader: str) -> None:
    missing = {
        "logs": "password.json: no such file or directory",
        "follow": "password.json: no such file or directory",
        "ship": "password.json: no such file or directory",
        "replay": "password.json: cannot read the replay file: No such file or directory",
        "plan": f"password.json: plan file not found (looked for {tmp_path / 'password.json'})",
    }
    args, code = _READERS[reader]
    result = aiw(*args, "password.json", cwd=tmp_path)
    assert result.returncode == code
    assert one_line_error(result) == f"aiw-otel: {missing[reader]}"


@pytest.mark.slow
@pytest.mark.parametrize("reader", list(_READERS))
def test_a_secret_in_the_path_of_a_file_it_cannot_read_is_still_redacted(tmp_path: Path, reader: str) -> None:
    password = _password()
    args, code = _READERS[reader]
    result = aiw(*args, f"API_KEY={password}/token.txt", cwd=tmp_path)
    assert result.returncode == code
    line = one_line_error(result)
    assert password not in line and line.startswith("aiw-otel: API_KEY=[REDACTED:api_key]"), line


@pytest.mark.slow
def test_a_replay_named_after_a_secret_never_quotes_its_text_back(tmp_path: Path) -> None:
    password = _password()
    (tmp_path / "password.json").write_text(f'{{"steps": {{}}, "latency_s": "{password}"}}')
    args, code = _READERS["replay"]
    result = aiw(*args, "password.json", cwd=tmp_path)
    assert result.returncode == code
    assert one_line_error(result) == "aiw-otel: password.json: latency_s: expected a non-negative number, got a string"


@pytest.mark.slow
def test_a_secret_quoted_from_a_replay_is_still_redacted(tmp_path: Path) -> None:
    key = "sk-proj-" + "".join(random.choice(string.ascii_letters + string.digits) for _ in range(40))
    (tmp_path / "replay.json").write_text(f'{{"steps": {{}}, "latency_s": "{key}"}}')
    args, code = _READERS["replay"]
    result = aiw(*args, "replay.json", cwd=tmp_path)
    assert result.returncode == code
    assert one_line_error(result) == (
        'aiw-otel: replay.json: latency_s: expected a non-negative number, got "[REDACTED:openai_api_key]"')
