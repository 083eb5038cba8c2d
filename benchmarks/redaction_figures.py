"""Redaction's figures for issue 9: shapes caught, ordinary lines kept, and what it costs.

* shapes caught: a generated secret shape counts when its distinctive fragment is gone from
  every context it was put in (tests/secrets_corpus.py: log line, YAML, JSON, .env, command line,
  HTTP header, URL, multi-line output);
* ordinary lines kept: lines of code, config and prose that must come through unchanged;
* cost: redact_text per value seen for the first time (the memo cleared), ordinary lines and
  secret-bearing lines, next to `json.dumps` of the same string (a copy every record pays).

Run: python benchmarks/redaction_figures.py [--seed N] [--before GIT_REV]
`--before` loads aiw_otel/redaction.py as it was at GIT_REV and prints its figures too.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiw_otel.redaction import Redactor  # noqa: E402
from tests.secrets_corpus import Sample, corpus_seed, in_contexts, ordinary_samples, secret_samples  # noqa: E402


def caught(redactor: Any, samples: list[Sample]) -> tuple[int, list[str]]:
    missed = []
    for sample in samples:
        for name, text in in_contexts(sample):
            if sample.fragment in redactor.redact_text(text):
                missed.append(f"{sample.family} ({name})")
                break
    return len(samples) - len(missed), missed


def kept(redactor: Any, lines: list[str]) -> tuple[int, list[str]]:
    changed = [line for line in lines if redactor.redact_text(line) != line]
    return len(lines) - len(changed), changed


def ns_per_value(call: Callable[[str], object], values: list[str], repeats: int = 5) -> float:
    """Best of `repeats` passes over all values, per value."""
    best = float("inf")
    rounds = max(1, 4000 // len(values))
    for _ in range(repeats):
        started = time.perf_counter_ns()
        for _ in range(rounds):
            for value in values:
                call(value)
        best = min(best, (time.perf_counter_ns() - started) / (rounds * len(values)))
    return best


def first_sight(redactor: Any) -> Callable[[str], object]:
    def call(value: str) -> object:
        redactor._text_cache.clear()  # a figure may peek: there is no public way to forget
        return redactor.redact_text(value)

    return call


def load_redactor_at(rev: str) -> Any:
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:aiw_otel/redaction.py"], check=True, capture_output=True, text=True
    ).stdout
    with tempfile.NamedTemporaryFile("w", suffix="_redaction_before.py", delete=False) as handle:
        handle.write(source)
    spec = importlib.util.spec_from_file_location("redaction_before", handle.name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Redactor()


def report(title: str, redactor: Any, samples: list[Sample], lines: list[str]) -> None:
    n_caught, missed = caught(redactor, samples)
    n_kept, changed = kept(redactor, lines)
    secret_lines = [text for sample in samples for name, text in in_contexts(sample) if name == "log_message"]
    copy_ordinary = ns_per_value(json.dumps, lines)
    copy_secret = ns_per_value(json.dumps, secret_lines)
    ordinary = ns_per_value(first_sight(redactor), lines)
    secret = ns_per_value(first_sight(redactor), secret_lines)
    print(f"== {title}")
    print(f"shapes caught: {n_caught} of {len(samples)}")
    print(f"ordinary lines kept: {n_kept} of {len(lines)}")
    print(
        f"cost per value, first sight: ordinary {ordinary / 1000:.2f} µs ({ordinary / copy_ordinary:.1f}x json.dumps), "
        f"secret-bearing {secret / 1000:.2f} µs ({secret / copy_secret:.1f}x json.dumps)"
    )
    for item in missed:
        print(f"  missed: {item}")
    for line in changed:
        print(f"  changed: {line!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=None, help="corpus seed (default: AIW_SECRETS_SEED or random)")
    parser.add_argument("--before", metavar="GIT_REV", help="also report redaction.py as of this revision")
    args = parser.parse_args()
    seed = corpus_seed() if args.seed is None else args.seed
    print(f"seed {seed}")
    samples, lines = secret_samples(random.Random(seed)), ordinary_samples()
    if args.before:
        report(f"before ({args.before})", load_redactor_at(args.before), samples, lines)
    report("now", Redactor(), samples, lines)


if __name__ == "__main__":
    main()
