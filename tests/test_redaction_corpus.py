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
