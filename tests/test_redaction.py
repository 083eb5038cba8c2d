"""Redaction: every secret shape in every field kind, prose kept, caps, counts, identity.

Fake secrets are assembled here at run time so no real-looking secret sits verbatim in the repo
(secret scanners would flag it, and a reader could not tell it was fake).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from typing import Any, Callable

import pytest

from aiw_otel.config import RedactionConfig
from aiw_otel.redaction import Redactor


@dataclass(frozen=True)
class Shape:
    label: str
    #: The secret material: no 6-character piece of it may survive.
    secret: str
    #: How the secret is written where it appears (e.g. `Bearer <secret>`).
    text: str
    #: Single-line and space-free, so it can sit inside a file path.
    pathable: bool = True


def _jwt() -> str:
    header = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    payload = "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0"
    return f"{header}.{payload}.{'SflKxwRJ' * 5}"


def _pem() -> str:
    body = "\n".join(("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" + str(i) * 32) for i in range(4))
    kind = "RSA " + "PRIVATE KEY"
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----"


def _shapes() -> list[Shape]:
    openai = "sk-proj-" + "A1b2C3d4" * 5
    anthropic = "sk-ant-api03-" + "Zx9_Qw8-" * 10
    openrouter = "sk-or-v1-" + "0f9e8d7c" * 8
    aws = "AKIA" + "Q7XZ" * 4
    github = "ghp_" + "Ab1Cd2Ef3" * 4
    github_pat = "github_pat_" + "11ABCDEFG0" * 3
    slack = "xoxb-" + "1234567890-" * 2 + "aBcD" * 6
    webhook = "https://hooks.slack.com/services/" + "T0AAAA1B2/B0BBBB3C4/" + "xYz1" * 6
    bearer = "Zm9vYmFy" * 4
    url_secret = "alice:" + "S3cr" * 4
    pem = _pem()
    pem_body = pem.split("\n", 1)[1].rsplit("\n", 1)[0]
    return [
        Shape("openai_api_key", openai, openai),
        Shape("anthropic_api_key", anthropic, anthropic),
        Shape("openrouter_api_key", openrouter, openrouter),
        Shape("aws_access_key_id", aws, aws),
        Shape("github_token", github, github),
        Shape("github_token", github_pat, github_pat),
        Shape("slack_token", slack, slack),
        Shape("slack_webhook", webhook.rsplit("/", 1)[1], webhook, pathable=False),
        Shape("jwt", _jwt(), _jwt()),
        Shape("bearer_token", bearer, f"Bearer {bearer}", pathable=False),
        Shape("url_credentials", url_secret, f"postgres://{url_secret}@db.internal:5432/app", pathable=False),
        Shape("private_key", pem_body, pem, pathable=False),
    ]


SHAPES = _shapes()

#: Each field kind puts `shape.text` somewhere and returns (what comes out, as one string).
FIELD_KINDS: dict[str, Callable[[Redactor, Shape], str]] = {
    "plain": lambda r, s: r.redact_value("aiw.output", s.text),
    "prose": lambda r, s: r.redact_text(f"the step printed {s.text} and then exited"),
    "nested_dict": lambda r, s: json.dumps(r.redact_attributes({"aiw.details": {"note": s.text}, "n": 1})),
    "argv_element": lambda r, s: " ".join(r.redact_value("process.command_args", ("tool", "--input", s.text, "-v"))),
    "json_string": lambda r, s: r.redact_text(json.dumps({"messages": [{"content": f"my key is {s.text}"}]})),
    "json_after_newline": lambda r, s: r.redact_text(json.dumps({"output": f"line one\n{s.text}\nline three"})),
    "command_output": lambda r, s: r.redact_text(f"Collecting deps...\nresult:\n{s.text}\nDone in 2.1s\n"),
}


def _leaks(secret: str, output: str) -> list[str]:
    """6-char pieces of the secret left in the output, markers aside (`github_token` is a label)."""
    output = re.sub(r"\[REDACTED:\w+\]", "", output)
    return [secret[i : i + 6] for i in range(len(secret) - 5) if secret[i : i + 6] in output]


def _assert_redacted(shape: Shape, output: str) -> None:
    assert not _leaks(shape.secret, output), output
    assert f"[REDACTED:{shape.label}]" in output, output


@pytest.mark.parametrize("kind", FIELD_KINDS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s.label}:{s.text[:6]}")
def test_every_shape_in_every_field_kind(shape: Shape, kind: str) -> None:
    _assert_redacted(shape, FIELD_KINDS[kind](Redactor(), shape))


@pytest.mark.parametrize("shape", [s for s in SHAPES if s.pathable], ids=lambda s: s.label)
def test_secret_in_a_file_path(shape: Shape) -> None:
    redactor = Redactor()
    out = redactor.redact_value("file.path", f"/tmp/work/{shape.text}/out.txt")
    _assert_redacted(shape, out)
    assert out.startswith("/tmp/work/") and out.endswith("/out.txt")


def test_bearer_keeps_the_scheme_word_and_url_keeps_the_host() -> None:
    redactor = Redactor()
    token = "Zm9vYmFy" * 4
    assert redactor.redact_text(f"bearer {token}") == "bearer [REDACTED:bearer_token]"
    assert (
        redactor.redact_text("postgres://alice:" + "S3cr" * 4 + "@db:5432/app")
        == "postgres://[REDACTED:url_credentials]@db:5432/app"
    )


def test_truncated_pem_block_is_redacted_to_the_end() -> None:
    pem = _pem()
    cut = pem[: pem.index("-----END")]
    out = Redactor().redact_text("key follows\n" + cut)
    assert out == "key follows\n[REDACTED:private_key]"


# --- text assignments --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("password=hunter2", "password=[REDACTED:password]"),
        ('api_key: "abc123"', 'api_key: "[REDACTED:api_key]"'),
        ("PASSWORD=hunter2 ./run.sh", "PASSWORD=[REDACTED:password] ./run.sh"),
        ("run --password hunter2 -v", "run --password [REDACTED:password] -v"),
        ("run --password=hunter2 -v", "run --password=[REDACTED:password] -v"),
        ("GET /cb?token=abc123&x=1", "GET /cb?token=[REDACTED:token]&x=1"),
        ("Authorization: Basic dXNlcjpwYXNz", "Authorization: [REDACTED:authorization]"),
        ("Cookie: a=b; c=d\nAccept: */*", "Cookie: [REDACTED:cookie]\nAccept: */*"),
        ("X-Api-Key: abc123", "X-Api-Key: [REDACTED:api_key]"),
        ("sent authorization=Basic dXNlcjpwYXNz ok", "sent authorization=[REDACTED:authorization] ok"),
        ('curl -H "Cookie: a=b; c=d" host', 'curl -H "Cookie: [REDACTED:cookie]" host'),
        ("client_secret = 'abc123'", "client_secret = '[REDACTED:secret]'"),
        ("aws_secret_access_key=abc123", "aws_secret_access_key=[REDACTED:secret]"),
        ("OPENAI_API_KEY=abc123", "OPENAI_API_KEY=[REDACTED:api_key]"),
    ],
)
def test_assignments_keep_the_key_and_lose_the_value(text: str, expected: str) -> None:
    assert Redactor().redact_text(text) == expected


def test_json_assignment_stays_valid_json() -> None:
    body = json.dumps({"api_key": "abc123", "password": "p@ss word", "n": 1, "model": "gpt"})
    out = json.loads(Redactor().redact_text(body))
    assert out == {"api_key": "[REDACTED:api_key]", "password": "[REDACTED:password]", "n": 1, "model": "gpt"}


def test_json_encoded_twice_is_still_redacted() -> None:
    inner = json.dumps({"password": "hunter22", "note": "line\npassword=hunter33"})
    out = Redactor().redact_text(json.dumps({"body": inner}))
    assert "hunter" not in out
    assert json.loads(json.loads(out)["body"])["password"] == "[REDACTED:password]"


def test_json_encoded_three_times_is_still_redacted() -> None:
    """A model's tool call arguments (JSON) quoting command output (JSON), captured as a message
    attribute (JSON): the pair's quotes are `\\\"`, and they stay, so every level still parses."""
    inner = json.dumps({"username": "svc", "password": "ui_g9jkv*JXireRByU0q"})
    thrice = json.dumps([{"arguments": json.dumps({"content": inner})}])
    out = Redactor().redact_text(thrice)
    assert "ui_g9jkv" not in out
    content = json.loads(json.loads(json.loads(out)[0]["arguments"])["content"])
    assert content == {"username": "svc", "password": "[REDACTED:password]"}


def test_a_key_value_file_name_in_a_path_is_redacted_but_a_path_word_is_not() -> None:
    redactor = Redactor()
    value = "Crokyo38MJBvi7u9OAIwJHgsE0RMRogJbivOMlc9"
    assert redactor.redact_text(f"/ws/note-COHERE_API_KEY={value}.txt") == "/ws/note-COHERE_API_KEY=[REDACTED:api_key]"
    for text in ("/etc/passwd: permission denied", "mysql --password-file /run/secrets/db_password app"):
        assert redactor.redact_text(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a location (file name, line, column, then a space): the message after it is still scanned
        ("secret.yaml:3: expected a mapping", "secret.yaml:3: expected a mapping"),
        ("aiw-otel: TOKEN.TXT:3:14: not JSON", "aiw-otel: TOKEN.TXT:3:14: not JSON"),
        ("secret.yaml:3:", "secret.yaml:3:"),
        ("secret.yaml:3:  password: hunter2", "secret.yaml:3:  password: [REDACTED:password]"),
        ("token.txt:1: ghp_" + "a1B2" * 9, "token.txt:1: [REDACTED:github_token]"),
        # grep's output is a pair: the file's content follows at once
        ("password.txt:hunter2", "password.txt:[REDACTED:password]"),
        ("password.txt:3:hunter2", "password.txt:[REDACTED:password]"),
        ("secret.yaml:3:hunter2 more", "secret.yaml:[REDACTED:secret]"),
        # no line: as likely a key as a file name
        ("secret.yaml: hunter2", "secret.yaml: [REDACTED:secret]"),
        # dotted config keys end in a key word, not a file extension
        ("spring.datasource.password: hunter2", "spring.datasource.password: [REDACTED:password]"),
        ("db.password=hunter2", "db.password=[REDACTED:password]"),
        ("db.password:3: hunter2", "db.password:[REDACTED:password]"),
        ("api.secret:3: hunter2", "api.secret:[REDACTED:secret]"),
    ],
)
def test_a_file_name_at_a_line_is_a_location_not_a_key(text: str, expected: str) -> None:
    assert Redactor().redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Your password has been reset",
        "Enter the password to continue",
        "the token budget is low",
        "author: Jane",
        "tokens used: 120",
        "max_tokens=5",
        "input_tokens: 12, output_tokens: 40",
        "Password: ",
        "cat /etc/passwd: permission denied",
        "ssh://git@github.com/org/repo.git",
        "https://user@example.com/path",
        "git@github.com:org/repo.git",
        "http://localhost:8080/v1/chat?model=gpt-4o&stream=true",
        "risk-assessment-and-mitigation-overview",
        "keyboard monkey passage session",
        "",
    ],
)
def test_prose_is_kept_as_the_same_object(text: str) -> None:
    assert Redactor().redact_text(text) is text


# --- key rule ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "label"),
    [
        ("password", "password"),
        ("db_password", "password"),
        ("userPassword", "password"),
        ("passwd", "password"),
        ("client_secret", "secret"),
        ("x-api-key", "api_key"),
        ("apiKey", "api_key"),
        ("OPENAI_API_KEY", "api_key"),
        ("access_token", "token"),
        ("http.request.header.authorization", "authorization"),
        ("http.response.header.set-cookie", "cookie"),
        ("credentials", "credential"),
        ("private_key", "private_key"),
        ("sessionId", "session"),
        ("aws.accessKey", "access_key"),
    ],
)
def test_sensitive_keys_replace_the_whole_value(key: str, label: str) -> None:
    redactor = Redactor()
    assert redactor.is_sensitive_key(key)
    assert redactor.redact_value(key, "nothing secret looking") == f"[REDACTED:{label}]"


@pytest.mark.parametrize(
    "key",
    [
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "gen_ai.request.max_tokens",
        "gen_ai.token.type",
        "tokenizer",
        "author",
        "keyboard.layout",
        "session",
        "file.path",
    ],
)
def test_keys_that_are_not_sensitive(key: str) -> None:
    redactor = Redactor()
    assert not redactor.is_sensitive_key(key)
    value = "input"
    assert redactor.redact_value(key, value) is value


@pytest.mark.parametrize("value", [5, 1.5, True, None, 0])
def test_numbers_and_flags_survive_under_sensitive_keys(value: Any) -> None:
    assert Redactor().redact_value("token", value) is value


def test_bytes_only_go_under_a_sensitive_key() -> None:
    redactor = Redactor()
    data = b"abc"
    assert redactor.redact_value("payload", data) is data
    assert redactor.redact_value("secret", data) == "[REDACTED:secret]"


def test_everything_under_a_sensitive_key_goes() -> None:
    out = Redactor().redact_value(None, {"credentials": {"user": "bob", "pass": "x1", "port": 5432}})
    assert out == {"credentials": {"user": "[REDACTED:credential]", "pass": "[REDACTED:credential]", "port": 5432}}


def test_safe_keys_skip_the_key_rule_but_not_value_shapes() -> None:
    redactor = Redactor(safe_keys=["aiw.secret.name"])
    name = "db-main"
    assert redactor.redact_value("aiw.secret.name", name) is name
    key = "sk-proj-" + "A1b2C3d4" * 5
    assert redactor.redact_value("aiw.secret.name", key) == "[REDACTED:openai_api_key]"
    assert Redactor().redact_value("aiw.secret.name", name) == "[REDACTED:secret]"


def test_extra_keys_work_for_attributes_and_text() -> None:
    redactor = Redactor(extra_keys=["ssn", "Mother-Maiden-Name"])
    assert redactor.redact_value("user.ssn", "123-45-6789") == "[REDACTED:ssn]"
    assert redactor.redact_text("ssn=123-45-6789 ok") == "ssn=[REDACTED:ssn] ok"
    assert redactor.redact_value("motherMaidenName", "Smith") == "[REDACTED:mother_maiden_name]"
    assert not Redactor().is_sensitive_key("user.ssn")


def test_extra_patterns_replace_the_whole_match() -> None:
    redactor = Redactor(extra_patterns=[("employee_id", r"EMP-\d{6}")])
    assert redactor.redact_text("by EMP-123456 today") == "by [REDACTED:employee_id] today"
    assert redactor.redact_text("EMP-1") == "EMP-1"


def test_invalid_extra_pattern_names_label_and_error() -> None:
    with pytest.raises(ValueError, match=re.escape("'broken' ('([a-'): unterminated character set")):
        Redactor(extra_patterns=[("broken", "([a-")])
    with pytest.raises(ValueError, match="empty string"):
        Redactor(extra_patterns=[("greedy", "x*")])


def test_from_config() -> None:
    config = RedactionConfig(extra_patterns=(("emp", r"EMP-\d+"),), extra_keys=("ssn",), max_value_length=64)
    redactor = Redactor.from_config(config)
    assert redactor.redact_text("EMP-42 x") == "[REDACTED:emp] x"
    assert redactor.is_sensitive_key("ssn")
    assert "TRUNCATED" in redactor.redact_text("word " * 40)


# --- argv --------------------------------------------------------------------------------------


def test_sensitive_flags_take_the_next_argv_element() -> None:
    argv = ["mysql", "--password", "hunter2", "--max-tokens", "5", "-token", "t0k", "--client-secret", "s3"]
    assert Redactor().redact_value("process.command_args", argv) == [
        "mysql",
        "--password",
        "[REDACTED:password]",
        "--max-tokens",
        "5",
        "-token",
        "[REDACTED:token]",
        "--client-secret",
        "[REDACTED:secret]",
    ]


def test_argv_keeps_its_type_and_identity() -> None:
    redactor = Redactor()
    clean = ("git", "status", "--short")
    assert redactor.redact_value("process.command_args", clean) is clean
    out = redactor.redact_value("process.command_args", ("tool", "--api-key=abc123"))
    assert out == ("tool", "--api-key=[REDACTED:api_key]")
    assert isinstance(redactor.redact_value("argv", ["x", "--token", "y"]), list)


# --- identity, caching and attributes ----------------------------------------------------------


def test_redact_attributes_returns_none_when_nothing_changed() -> None:
    redactor = Redactor()
    attrs = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o",
        "server.port": 443,
        "gen_ai.usage.input_tokens": 12,
        "process.command_args": ("ls", "-la"),
        "aiw.details": {"step": "s1"},
    }
    assert redactor.redact_attributes(attrs) is None
    assert redactor.redact_attributes(attrs) is None  # cached path too
    assert redactor.redact_attributes({}) is None
    assert redactor.redact_attributes(None) is None
    assert redactor.count == 0


def test_redact_attributes_copies_and_leaves_the_input_alone() -> None:
    attrs = {"a": "fine", "api_key": "abc123", "n": 3}
    out = Redactor().redact_attributes(attrs)
    assert out == {"a": "fine", "api_key": "[REDACTED:api_key]", "n": 3}
    assert attrs["api_key"] == "abc123"


def test_unchanged_result_is_the_argument_even_from_the_cache() -> None:
    redactor = Redactor()
    first = "a perfectly ordinary message"
    twin = "".join(list(first))
    assert twin is not first
    assert redactor.redact_text(first) is first
    assert redactor.redact_text(twin) is twin


def test_redaction_is_idempotent() -> None:
    redactor = Redactor()
    for shape in SHAPES:
        once = redactor.redact_text(f"x {shape.text} password=abc y")
        assert redactor.redact_text(once) is once


def test_counts_by_label_grow_also_on_cache_hits() -> None:
    redactor = Redactor()
    key = "sk-proj-" + "A1b2C3d4" * 5
    redactor.redact_text(f"use {key}")
    redactor.redact_text(f"use {key}")
    redactor.redact_value("password", "x")
    assert redactor.count == 3
    assert redactor.counts_by_label() == {"openai_api_key": 2, "password": 1}


def test_count_is_exact_across_threads() -> None:
    redactor = Redactor()

    def work() -> None:
        for i in range(500):
            redactor.redact_text(f"password=p{i}")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert redactor.count == 4000


# --- cap ---------------------------------------------------------------------------------------


def test_long_values_are_capped_at_a_word_boundary_with_a_marker() -> None:
    redactor = Redactor(max_value_length=1000)
    text = "word " * 500
    out = redactor.redact_text(text)
    kept, marker = out.split("…")
    assert len(kept) <= 1000 and kept.endswith("word")
    assert marker == f"[TRUNCATED {len(text) - len(kept)} chars]"


def test_cap_without_whitespace_drops_the_last_256_chars() -> None:
    out = Redactor(max_value_length=1000).redact_text("x" * 2000)
    assert out == "x" * 744 + "…[TRUNCATED 1256 chars]"


def test_secret_straddling_the_cut_leaves_nothing_behind() -> None:
    jwt = _jwt()
    text = "a " * 495 + jwt + " tail" * 50  # the JWT starts at 990 and the cut is at 1000
    out = Redactor(max_value_length=1000).redact_text(text)
    assert not _leaks(jwt, out)
    assert "TRUNCATED" in out


def test_pem_cut_by_the_cap_is_fully_redacted() -> None:
    pem = _pem()
    out = Redactor(max_value_length=100).redact_text("key:\n" + pem)
    assert out.startswith("key:\n[REDACTED:private_key]…[TRUNCATED ")
    assert not _leaks(pem.split("\n", 1)[1], out)


def test_invalid_max_value_length() -> None:
    with pytest.raises(ValueError, match="max_value_length"):
        Redactor(max_value_length=0)


def test_every_built_in_key_word_contains_a_stem() -> None:
    """The pair rule only looks where a stem occurs, so a key word without one would go unseen."""
    from aiw_otel.redaction import _BUILTIN_KEYWORDS, _BUILTIN_STEMS

    for phrase, _ in _BUILTIN_KEYWORDS:
        assert any(stem in phrase for stem in _BUILTIN_STEMS), phrase


def test_lowercasing_that_changes_length_does_not_shift_offsets() -> None:
    """`İ`.lower() is two characters; pair offsets come from the lowercased text."""
    assert Redactor().redact_text("İİİ İstanbul password=hunter2 ok") == "İİİ İstanbul password=[REDACTED:password] ok"


def test_comparison_in_code_is_an_assignment_too() -> None:
    assert Redactor().redact_text('if password == "hunter2":') == 'if password == "[REDACTED:password]":'


def test_markers_are_never_redacted_again() -> None:
    """A quoted marker is not a value, and brackets are not URL credentials (RFC 3986)."""
    redactor = Redactor()
    for text in ("token: '[REDACTED:token]'", "x://u[REDACTED:jwt]@host", 'api_key="[REDACTED:api_key]"'):
        assert redactor.redact_text(text) is text
    assert redactor.count == 0


def test_distinctive_prefixes_are_caught_even_glued_to_a_word() -> None:
    github = "ghp_" + "Ab1Cd2Ef3" * 4
    out = Redactor().redact_text(f"Cookie{github} and key{_jwt()}")
    assert out == "Cookie[REDACTED:github_token] and key[REDACTED:jwt]"


def test_a_mapping_of_numbers_passes_as_it_is_and_a_mapping_with_text_is_still_scanned() -> None:
    redactor = Redactor()
    counts = {"prompt_tokens": 120, "ratio": 0.5, "cached": True, "none": None}
    assert redactor.redact_attributes({"aiw.summary": counts, "aiw.password": {"length": 12}}) is None
    key = "sk-proj-" + "a1B2c3D4e5F6g7H8i9J0" * 2
    changed = redactor.redact_attributes({"aiw.summary": {"prompt_tokens": 120, "note": f"key {key}"},
                                          "aiw.auth": {"api_key": "hunter2hunter2", "retries": 2}})
    assert changed is not None
    assert key not in json.dumps(changed) and "hunter2" not in json.dumps(changed)
    assert changed["aiw.summary"]["prompt_tokens"] == 120 and changed["aiw.auth"]["retries"] == 2
