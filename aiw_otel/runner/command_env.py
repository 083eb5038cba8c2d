"""The environment of the commands a plan or a model runs: the runner's, minus its credentials.

The runner holds keys it needs itself (`OPENAI_API_KEY`, `OPENROUTER_API_KEY`, the OTLP exporter's
headers). A command the model runs needs none of them, and a model that runs `env` would read
them back in its next request. So by default every variable whose *name* says it holds a credential
(`DENYLIST`), and every variable whose *value* the redaction rules recognise as a secret (a key
shape, a URL with a password; also once percent-decoded, as in `OTEL_RESOURCE_ATTRIBUTES`), is left
out of the commands' environment.

A plan that really needs one (a deploy step that uses `NPM_TOKEN`) names it in the allow-list:
`AIW_COMMAND_ENV_ALLOW=NPM_TOKEN,GH_TOKEN` in the runner's environment, or
`RunOptions(command_env_allow=...)` from Python. Names are matched case-sensitively, as the OS does.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Iterable, Mapping
from urllib.parse import unquote

from aiw_otel.errors import default_redactor

#: The runner's environment variable holding extra names to pass through (comma-separated).
ALLOW_VARIABLE = "AIW_COMMAND_ENV_ALLOW"

#: Glob patterns (matched against the upper-cased name) of variables that hold credentials.
DENYLIST: tuple[str, ...] = (
    "*API_KEY*", "*APIKEY*", "*_TOKEN", "TOKEN", "*_TOKEN_*", "*SECRET*", "*PASSWORD*", "*PASSWD*",
    "*PASSPHRASE*", "*_PASS", "*_PW", "*ACCESS_KEY*", "*PRIVATE_KEY*", "*CREDENTIAL*", "*_AUTH",
    "*AUTH_TOKEN*", "*_PAT", "*_SESSION_KEY*", "OTEL_EXPORTER_OTLP*HEADERS", "*CONNECTION_STRING*",
    "*_DSN",
)
_DENIED = re.compile("|".join(fnmatch.translate(pattern) for pattern in DENYLIST))


def is_credential_name(name: str) -> bool:
    """Whether the variable's name says it holds a credential (`OPENAI_API_KEY`, `GH_TOKEN` ...)."""
    return _DENIED.match(name.upper()) is not None


def holds_secret(value: str) -> bool:
    """Whether the redaction rules find a secret in `value`, as it is or percent-decoded
    (`OTEL_RESOURCE_ATTRIBUTES=ci.url=postgres%3A%2F%2Fapp%3Apw%40db` hides its URL from them)."""
    if default_redactor().redact_text(value) is not value:
        return True
    decoded = unquote(value) if "%" in value else value
    return decoded is not value and default_redactor().redact_text(decoded) is not decoded


def allowed_names(environ: Mapping[str, str], extra: Iterable[str] = ()) -> frozenset[str]:
    """The allow-list: `extra` plus the names in `$AIW_COMMAND_ENV_ALLOW`."""
    listed = environ.get(ALLOW_VARIABLE, "")
    return frozenset(n.strip() for n in [*listed.split(","), *extra] if n.strip())


def without_credentials(environ: Mapping[str, str], allow: Iterable[str] = ()) -> tuple[dict[str, str], list[str]]:
    """(`environ` minus its credentials, the names removed, sorted); allowed names always stay."""
    allowed = allowed_names(environ, allow)
    kept: dict[str, str] = {}
    removed: list[str] = []
    for name, value in environ.items():
        if name not in allowed and (is_credential_name(name) or holds_secret(value)):
            removed.append(name)
        else:
            kept[name] = value
    return kept, sorted(removed)
