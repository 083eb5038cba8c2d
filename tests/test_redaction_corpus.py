"""Redaction against the generated corpora (issue 9): every shape caught in every context, every
ordinary line kept. Secrets are generated at test time; the seed is printed on failure and can be
replayed with AIW_SECRETS_SEED=<seed>."""

from __future__ import annotations

import random

import pytest

from aiw_otel.redaction import Redactor
from tests.secrets_corpus import CONTEXTS, Sample, corpus_seed, in_contexts, ordinary_samples, secret_samples

SEED = corpus_seed()


def _samples() -> list[Sample]:
    return secret_samples(random.Random(SEED))


def test_the_corpora_are_big_enough_and_vary_with_the_seed() -> None:
    samples = _samples()
    assert len({s.family for s in samples}) >= 40
    assert len(ordinary_samples()) >= 40
    other = secret_samples(random.Random(SEED + 1))
    assert [s.family for s in other] == [s.family for s in samples]  # same shapes, same order
    assert sum(a.secret != b.secret for a, b in zip(samples, other)) == len(samples)
    for sample in samples:
        assert sample.fragment in sample.secret and len(sample.fragment) >= 6, sample


@pytest.mark.parametrize("context", CONTEXTS)
def test_every_shape_is_caught_in_every_context(context: str) -> None:
    redactor = Redactor()
    missed = []
    for sample in _samples():
        for name, text in in_contexts(sample):
            if name != context:
                continue
            out = redactor.redact_text(text)
            if sample.fragment in out or "[REDACTED:" not in out:
                missed.append(f"{sample.family}: {out!r}")
    assert not missed, f"AIW_SECRETS_SEED={SEED}\n" + "\n".join(missed)


@pytest.mark.parametrize("line", ordinary_samples())
def test_ordinary_lines_come_through_unchanged(line: str) -> None:
    assert Redactor().redact_text(line) is line


def test_ordinary_lines_unchanged_as_one_text() -> None:
    text = "\n".join(ordinary_samples())
    assert Redactor().redact_text(text) == text


def test_named_cases_from_the_issue() -> None:
    rng = random.Random(SEED)
    body = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") for _ in range(40))
    redactor = Redactor()
    assert redactor.redact_text(f"fp_sk-proj-{body}") == "fp_[REDACTED:openai_api_key]"
    assert redactor.redact_text(f"DB_PW={body[:12]} ./run") == "DB_PW=[REDACTED:password] ./run"
    assert redactor.redact_text(f"PGPASSWORD={body[:12]}") == "PGPASSWORD=[REDACTED:password]"
    assert redactor.redact_text(f"sk_live_{body}") == "[REDACTED:stripe_key]"
    assert redactor.redact_text(f"AIza{body[:35]}") == "[REDACTED:google_api_key]"
    assert redactor.redact_text(f"eyJhbGciOi{body[:8]}.eyJzdWIiOi{body[8:20]}") == "[REDACTED:jwt]"
    pem_tail = "\n".join(body for _ in range(3)) + "\n-----END RSA PRIVATE KEY-----"
    assert redactor.redact_text("output:\n" + pem_tail) == "output:\n[REDACTED:private_key]"
    for kept in ("PWD=/home/dev/project", "sort key: name", f"run {body[:8]}-e29b-41d4-a716-446655440000"):
        assert redactor.redact_text(kept) is kept, f"AIW_SECRETS_SEED={SEED}"


def test_every_family_label_is_known_up_front() -> None:
    """The redactions counter shows 0 per label from the start, so labels() must list them all."""
    labels = Redactor().labels()
    assert {"google_api_key", "stripe_key", "private_key", "key", "signature", "password"} <= labels
