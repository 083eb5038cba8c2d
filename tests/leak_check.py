"""Generated secrets and the check that none of them reached a sink (issue 9, paths).

Secrets are built at test time from random characters in shapes the redaction rules catch, so no
fixed string can be special-cased; a sink is searched for each secret's random middle, so a secret
cut short (a prefix across a truncation) or split across lines is found too.
"""

from __future__ import annotations

import gzip
import random
import string
from pathlib import Path
from typing import Iterable

_ALNUM = string.ascii_letters + string.digits
_B64 = _ALNUM + "+/"


def _random(alphabet: str, n: int, rng: random.Random) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def openai_key(rng: random.Random | None = None) -> str:
    return "sk-proj-" + _random(_ALNUM, 48, rng or random.Random())


def github_token(rng: random.Random | None = None) -> str:
    return "ghp_" + _random(_ALNUM, 36, rng or random.Random())


def pem_key(rng: random.Random | None = None, lines: int = 6) -> str:
    rng = rng or random.Random()
    body = "\n".join(_random(_B64, 64, rng) for _ in range(lines))
    return f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----"


def secrets() -> list[str]:
    return [openai_key(), github_token(), pem_key()]


def fingerprints(secret: str) -> list[str]:
    """What must not appear anywhere: the random middle of the secret (of each PEM body line)."""
    if "PRIVATE KEY" in secret:
        return [line[8:40] for line in secret.splitlines()[1:-1]]
    return [secret[12:32]]


def leaks(secrets_: Iterable[str], text: str) -> list[str]:
    """The fingerprints of `secrets_` found in `text` (empty: nothing leaked)."""
    return [f for s in secrets_ for f in fingerprints(s) if f in text]


def read_all(directory: Path) -> str:
    """Every file under `directory`, `.gz` backups decompressed."""
    parts = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if path.name.endswith(".gz"):
            data = gzip.decompress(data)
        parts.append(f"== {path}\n" + data.decode("utf-8", "replace"))
    return "\n".join(parts)
