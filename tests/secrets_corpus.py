"""Generated secrets and ordinary text: the corpora behind redaction's figures (issue 9).

Stable API (other tests, the end-to-end proof and `benchmarks/redaction_figures.py` use it):

* `Sample(family, secret, fragment, inline)`: `secret` is the text as it would appear (multi-line
  for PEM keys; `NAME=value` for families recognisable only by their name, such as Cohere or AWS
  secret access keys); `fragment` is a distinctive piece from its random middle that must not
  appear anywhere after redaction; `inline` says the secret is one line without spaces, so it
  also fits in a URL or a single argv element.
* `secret_samples(rng) -> list[Sample]`: one sample per shape, in a fixed order, each built
  afresh from its family's alphabet and length with `rng`. No secret is stored in the repo.
* `ordinary_samples() -> list[str]`: ordinary text and code that redaction must leave unchanged.
* `CONTEXTS` / `in_contexts(sample)`: realistic places a secret shows up (a log message, a YAML,
  JSON and .env line, a command line, an HTTP header, a URL, command output over several lines).
* `corpus_seed()`: `AIW_SECRETS_SEED` if set, else a fresh random seed; print it on failure so
  a run can be repeated exactly.
"""

from __future__ import annotations

import base64
import json
import os
import random
import string
import textwrap
from dataclasses import dataclass
from typing import Callable

LOWER = string.ascii_lowercase
UPPER = string.ascii_uppercase
DIGITS = string.digits
ALNUM = LOWER + UPPER + DIGITS
HEX = DIGITS + "abcdef"
B64 = ALNUM + "+/"
B64URL = ALNUM + "_-"
#: Characters of a generated password: no quote, space, `&`, `;`, `@`, `#` or backslash, which
#: would end the value (or the URL userinfo) before the password does.
PASSWORD = ALNUM + "!%^*-_+=.,~"


@dataclass(frozen=True)
class Sample:
    family: str
    secret: str
    fragment: str
    inline: bool = True


def corpus_seed() -> int:
    configured = os.environ.get("AIW_SECRETS_SEED")
    return int(configured) if configured else random.SystemRandom().randrange(2**32)


def _pick(rng: random.Random, alphabet: str, size: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(size))


def _middle(random_part: str, size: int = 12) -> str:
    size = min(size, max(6, len(random_part) // 2))
    start = (len(random_part) - size) // 2
    return random_part[start : start + size]


def _pem(rng: random.Random, kind: str, der_prefix: bytes, size: int) -> tuple[str, str]:
    body = base64.b64encode(der_prefix + rng.randbytes(size)).decode()
    lines = textwrap.wrap(body, 64)
    label = f"{kind} PRIVATE KEY".strip()
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----", lines[len(lines) // 2][20:36]


def _jwt_part(rng: random.Random, claims: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")


def secret_samples(rng: random.Random) -> list[Sample]:
    """At least 40 shapes, every one generated now from `rng`."""
    samples: list[Sample] = []

    def add(family: str, prefix: str, alphabet: str, size: int, suffix: str = "") -> None:
        middle = _pick(rng, alphabet, size)
        samples.append(Sample(family, prefix + middle + suffix, _middle(middle)))

    def named(family: str, name: str, alphabet: str, size: int) -> None:
        value = _pick(rng, alphabet, size)
        samples.append(Sample(family, f"{name}={value}", _middle(value)))

    # cloud
    add("aws_access_key_id", rng.choice(("AKIA", "ASIA")), UPPER + "234567", 16)
    named("aws_secret_access_key", "AWS_SECRET_ACCESS_KEY", B64, 40)
    add("google_api_key", "AIza", B64URL, 35)
    add("google_oauth_secret", "GOCSPX-", B64URL, 28)
    account_key = _pick(rng, B64, 86) + "=="
    samples.append(
        Sample(
            "azure_storage_connection_string",
            f"DefaultEndpointsProtocol=https;AccountName=store{_pick(rng, DIGITS, 4)};"
            f"AccountKey={account_key};EndpointSuffix=core.windows.net",
            _middle(account_key),
        )
    )
    signature = base64.b64encode(rng.randbytes(32)).decode()
    encoded = signature.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    samples.append(
        Sample(
            "azure_sas_signature",
            "https://store1.blob.core.windows.net/backups/db.bak?sv=2022-11-02&ss=b&srt=o&sp=r"
            f"&se=2026-12-31T00:00:00Z&spr=https&sig={encoded}",
            _middle(encoded),
        )
    )
    secret = _pick(rng, B64URL, 3) + rng.choice(DIGITS) + "Q~" + _pick(rng, B64URL + "~.", 34)
    samples.append(Sample("azure_client_secret", secret, _middle(secret[6:])))
    pem, fragment = _pem(rng, "", bytes.fromhex("308204be020100300d06092a864886f70d0101010500"), 1180)
    service_account = json.dumps(
        {"type": "service_account", "project_id": "demo", "private_key_id": _pick(rng, HEX, 40), "private_key": pem}
    )
    samples.append(Sample("gcp_service_account_key", service_account, fragment, inline=False))
    # source hosting
    add("github_token", rng.choice(("ghp_", "gho_", "ghu_", "ghs_", "ghr_")), ALNUM, 36)
    add("github_fine_grained_pat", "github_pat_11" + _pick(rng, UPPER + DIGITS, 20) + "_", ALNUM, 59)
    add("gitlab_token", "glpat-", B64URL, 20)
    add("bitbucket_app_password", "ATBB", ALNUM, 32, _pick(rng, HEX.upper(), 8))
    # package registries
    add("npm_token", "npm_", ALNUM, 36)
    add("pypi_token", "pypi-AgEIcHlwaS5vcmc", B64URL, 70)
    add("rubygems_api_key", "rubygems_", HEX, 48)
    add("nuget_api_key", "oy2", LOWER + DIGITS, 43)
    add("docker_hub_token", "dckr_pat_", B64URL, 27)
    # AI providers
    add("openai_project_key", "sk-proj-", B64URL, 60, "T3BlbkFJ" + _pick(rng, B64URL, 60))
    add("openai_service_account_key", "sk-svcacct-", B64URL, 60, "T3BlbkFJ" + _pick(rng, B64URL, 60))
    add("openai_legacy_key", "sk-", ALNUM, 20, "T3BlbkFJ" + _pick(rng, ALNUM, 20))
    add("openai_key_glued", "fp_sk-proj-", B64URL, 64)
    add("anthropic_api_key", "sk-ant-api03-", B64URL, 93, "AA")
    add("openrouter_api_key", "sk-or-v1-", HEX, 64)
    add("huggingface_token", "hf_", LOWER + UPPER, 34)
    add("groq_api_key", "gsk_", ALNUM, 52)
    add("replicate_api_token", "r8_", ALNUM, 37)
    named("cohere_api_key", "COHERE_API_KEY", ALNUM, 40)
    named("mistral_api_key", "MISTRAL_API_KEY", ALNUM, 32)
    # payment
    add("stripe_secret_key", rng.choice(("sk_live_", "sk_test_")), ALNUM, 24 + rng.randrange(76))
    add("stripe_restricted_key", "rk_live_", ALNUM, 24 + rng.randrange(76))
    add("square_access_token", "sq0atp-", B64URL, 22)
    add("square_oauth_secret", "sq0csp-", B64URL, 43)
    add("braintree_access_token", "access_token$production$" + _pick(rng, LOWER + DIGITS, 16) + "$", HEX, 32)
    # messaging
    add("slack_bot_token", f"xoxb-{_pick(rng, DIGITS, 12)}-{_pick(rng, DIGITS, 13)}-", ALNUM, 24)
    add("slack_user_token", f"xoxp-{_pick(rng, DIGITS, 12)}-{_pick(rng, DIGITS, 13)}-", HEX, 32)
    add("slack_webhook", f"https://hooks.slack.com/services/T{_pick(rng, UPPER + DIGITS, 10)}/B{_pick(rng, UPPER + DIGITS, 10)}/", ALNUM, 24)
    add("discord_bot_token", rng.choice("MNO") + _pick(rng, B64URL, 23) + "." + _pick(rng, B64URL, 6) + ".", B64URL, 38)
    add("discord_webhook", f"https://discord.com/api/webhooks/{_pick(rng, DIGITS, 19)}/", B64URL, 68)
    add("telegram_bot_token", f"{rng.randrange(10**8, 10**10)}:AA", B64URL, 33)
    add("twilio_api_key", "SK", HEX, 32)
    add("twilio_account_sid", "AC", HEX, 32)
    # e-mail
    add("sendgrid_api_key", "SG." + _pick(rng, B64URL, 22) + ".", B64URL, 43)
    add("mailgun_api_key", "key-", HEX, 32)
    add("mailchimp_api_key", "", HEX, 32, f"-us{rng.randrange(1, 21)}")
    named("postmark_server_token", "POSTMARK_SERVER_TOKEN", HEX, 32)
    # hosting / CDN
    add("heroku_api_key", "HRKU-AA", B64URL, 58)
    add("digitalocean_token", "dop_v1_", HEX, 64)
    named("vercel_token", "VERCEL_TOKEN", ALNUM, 24)
    add("netlify_token", "nfp_", ALNUM, 36)
    named("cloudflare_api_token", "CLOUDFLARE_API_TOKEN", B64URL, 40)
    add("flyio_token", "fo1_", B64URL, 43)
    # private keys
    for kind, der in (("RSA", "308204a40201000282010100"), ("EC", "307702010104"), ("OPENSSH", "6f70656e7373682d6b65792d7631")):
        pem, fragment = _pem(rng, kind, bytes.fromhex(der), 400 + rng.randrange(800))
        samples.append(Sample(f"pem_{kind.lower()}_private_key", pem, fragment, inline=False))
    pem, fragment = _pem(rng, "RSA", bytes.fromhex("308204a40201000282010100"), 900)
    samples.append(Sample("pem_body_without_begin", pem.split("\n", 1)[1], fragment, inline=False))
    # JWTs
    header = _jwt_part(rng, {"alg": "HS256", "typ": "JWT"})
    payload = _jwt_part(rng, {"sub": _pick(rng, DIGITS, 10), "sid": _pick(rng, ALNUM, 24), "iat": rng.randrange(2**31)})
    add("jwt", f"{header}.{payload}.", B64URL, 43)
    samples.append(Sample("jwt_without_signature", f"{header}.{payload}", _middle(payload[10:])))
    # generic forms
    opaque = _pick(rng, B64URL, 40)
    samples.append(Sample("authorization_bearer", f"Authorization: Bearer {opaque}", _middle(opaque), inline=False))
    add("x_api_key_header", "X-Api-Key: ", ALNUM, 32)
    samples[-1] = Sample("x_api_key_header", samples[-1].secret, samples[-1].fragment, inline=False)
    add("url_client_secret", "https://login.example.com/oauth/token?client_id=runner&client_secret=", B64URL, 40)
    add("url_access_token", "https://app.example.com/callback#access_token=", B64URL, 48, "&expires_in=3600")
    add("url_token_param", "https://api.example.com/export?format=csv&token=", ALNUM, 32)
    add("url_userinfo", "https://deploy:", ALNUM, 20, "@git.example.com/org/repo.git")
    add("postgres_url", "postgres://app:", ALNUM, 16, "@db.internal:5432/app")
    password = _pick(rng, PASSWORD, 18)
    samples.append(
        Sample("sqlserver_password", f"Server=db;Database=app;User Id=sa;Password={password};", _middle(password), inline=False)
    )
    add("odbc_pwd", "DRIVER={ODBC Driver 18};SERVER=db;UID=sa;PWD=", PASSWORD, 18, ";")
    samples[-1] = Sample("odbc_pwd", samples[-1].secret, samples[-1].fragment, inline=False)
    add("db_pw_env", "DB_PW=", PASSWORD, 16)
    add("pgpassword_env", "PGPASSWORD=", PASSWORD, 16)
    add("export_secret", "export APP_CLIENT_SECRET=", B64URL, 40)
    add("yaml_signing_key", "signing_key: ", B64, 44)
    samples[-1] = Sample("yaml_signing_key", samples[-1].secret, samples[-1].fragment, inline=False)
    add("json_password", '{"username": "svc", "password": "', PASSWORD, 20, '"}')
    samples[-1] = Sample("json_password", samples[-1].secret, samples[-1].fragment, inline=False)
    add("dotenv_django_secret", "DJANGO_SECRET_KEY=", PASSWORD, 50)
    # A file named after a secret is a location only at a line with a message after it
    # (`secret.yaml:3: expected a mapping`, see ordinary_samples); grep's output is a pair.
    add("grep_secret_file", rng.choice(("password.txt:", "secret.yaml:", "token.json:")), PASSWORD, 16)
    add("grep_n_secret_file", f"password.txt:{rng.randrange(1, 999)}:", PASSWORD, 16)
    # Dotted config keys (Spring, Java properties) end in a key word, not a file extension.
    add("dotted_yaml_password", "spring.datasource.password: ", PASSWORD, 16)
    samples[-1] = Sample("dotted_yaml_password", samples[-1].secret, samples[-1].fragment, inline=False)
    add("dotted_property_password", "db.password=", PASSWORD, 16)
    return samples


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.split("\n"))


#: Each context writes a sample where it might really appear. `inline`-only contexts are marked.
CONTEXTS: dict[str, Callable[[Sample], str]] = {
    "log_message": lambda s: f"2026-03-01T10:00:02Z INFO step s3: calling the API with {s.secret} (attempt 2)",
    "yaml": lambda s: "settings:\n  value: |\n" + _indent(s.secret, "    ") + "\n  retries: 3\n",
    "json": lambda s: json.dumps({"step": "s3", "output": s.secret, "exit_code": 0}),
    "dotenv": lambda s: f'APP_NAME=runner\nAPP_VALUE="{s.secret}"\nAPP_DEBUG=0\n',
    "command_line": lambda s: f"tool --input '{s.secret}' --verbose",
    "http_header": lambda s: "GET /v1/runs HTTP/1.1\nHost: api.example.com\nX-Debug-Info: " + s.secret.replace("\n", " ") + "\n",
    "url": lambda s: f"https://api.example.com/v1/run?step=s3&value={s.secret}&n=1",
    "command_output": lambda s: f"Collecting deps...\nresult:\n{s.secret}\nDone in 2.1s\n",
    # A model's tool call as recorded: a shell line with quotes, in JSON arguments, in a JSON attribute.
    "shell_in_json_in_json": lambda s: json.dumps(
        {"arguments": json.dumps({"command": f'sh -c "deploy --value=\\"{s.secret}\\" --quiet"'})}),
}
INLINE_ONLY = frozenset({"url"})


def in_contexts(sample: Sample) -> list[tuple[str, str]]:
    return [(name, build(sample)) for name, build in CONTEXTS.items() if sample.inline or name not in INLINE_ONLY]


def ordinary_samples() -> list[str]:
    """Text and code that name secrets without holding one, and values that only look technical."""
    return [
        # code that names passwords and keys
        "password = getpass.getpass()",
        "api_key = os.environ['OPENAI_API_KEY']",
        'token = request.headers.get("Authorization")',
        'secret_key_name = "SECRET"',
        'api_key = os.getenv("OPENAI_API_KEY", "")',
        'password = input("Password: ")',
        "def login(user: str, password: str) -> None:",
        "    client = OpenAI(api_key=api_key, base_url=base_url)",
        "token: str | None = None",
        "self.api_key = api_key",
        'headers["Authorization"] = f"Bearer {token}"',
        "password_hash = bcrypt.hashpw(password.encode(), bcrypt.gensalt())",
        "auth = HTTPBasicAuth(user, password)",
        'secret = Secret.from_env("API_TOKEN")',
        "token_count = len(tokens)",
        "max_tokens = 4096",
        "if token is None or token == expected_token:",
        'monkeypatch.setenv("OPENAI_API_KEY", "test")',
        "sort_key = lambda item: item.name",
        "private_key_path = Path.home() / '.ssh' / 'id_ed25519'",
        'tokenizer = tiktoken.get_encoding("cl100k_base")',
        # shell, YAML and config that name environment variables
        "export OPENAI_API_KEY",
        'echo "$OPENAI_API_KEY" | wc -c',
        "export OPENROUTER_API_KEY=$(pass show openrouter)",
        "  api_key: ${OPENAI_API_KEY}",
        "      - name: OPENAI_API_KEY",
        '  password: "{{ vault_db_password }}"',
        'curl -H "Authorization: Bearer $TOKEN" https://api.example.com/v1/models',
        "mysql --password-file /run/secrets/db_password app",
        "PWD=/home/dev/project",
        "key: value",
        # the same references behind escaped quotes: a shell line inside a JSON string, or inside two
        r'curl -d password=\"$TOKEN\" https://api.example.com/login',
        json.dumps({"command": 'export DB_PASSWORD="${DB_PASSWORD}" && psql'}),
        json.dumps({"arguments": json.dumps({"command": 'sh -c "login --password=\\"$TOKEN\\" --user=svc"'})}),
        json.dumps({"arguments": json.dumps({"command": "mysql --password='{{ vault_db_password }}' app"})}),
        # prose about secrets
        "Enter your password to continue.",
        "Passwords must be at least 12 characters long and are rotated every 90 days.",
        "The API key is read from the environment, never from the plan file.",
        "Rotate the token if you suspect it leaked; the session id changes on login.",
        # values that look technical but are public
        "commit 3f4c9a1e8b7d6c5f4e3d2c1b0a9f8e7d6c5b4a39",
        "Merge: 1a2b3c4 5d6e7f8",
        "run 550e8400-e29b-41d4-a716-446655440000 finished in 12.4 s",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  empty.txt",
        'data = base64.b64decode("aGVsbG8gd29ybGQ=")',
        'expected = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"',
        "/home/dev/project/src/aiw/runner/steps.py:42: in run_step",
        "https://api.openai.com/v1/chat/completions",
        "https://github.com/org/repo/blob/main/README.md#api-keys",
        "ssh://git@github.com/org/repo.git",
        "version 1.2.3-rc.1+build.5",
        "Downloaded 1234567 bytes in 0.82 s",
        "pip install openai==1.51.0 anthropic==0.39.0",
        "task-assessment-and-mitigation-overview-2026",
        # errors and tool output about a file named after a secret, at a line: a location, not a pair
        "secret.yaml:3: expected a mapping",
        "aiw-otel: configuration error: password.yaml:12: step 'build': unknown key 'secret_file'",
        "aiw-otel: warning: token.txt:1: not JSON (Expecting value); skipped",
        'token.py:12: error: Incompatible return value type (got "int", expected "str")  [return-value]',
        "secrets.c:41:5: warning: unused variable 'n' [-Wunused-variable]",
        "test_api_key.py:88: AssertionError",
    ]
