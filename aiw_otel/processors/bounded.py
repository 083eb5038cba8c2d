"""Calling code we don't control (sinks, exporters) with a deadline.

Flush and shutdown run at exit and on SIGTERM; an exporter stuck on a dead collector must not
hold the process past its deadline, so such calls run on a daemon thread we stop waiting for.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Iterable


def call_within(fn: Callable[..., Any], timeout_s: float, *args: Any) -> tuple[bool, Any]:
    """Run `fn(*args)` for at most `timeout_s`; (finished, result). Exceptions count as finished with None."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(fn(*args))
        except Exception:  # the caller only needs to know it is over
            outcome.append(None)

    worker = threading.Thread(target=run, name="aiw-otel-bounded-call", daemon=True)
    worker.start()
    worker.join(max(timeout_s, 0.0))
    return (bool(outcome), outcome[0] if outcome else None)


def each_within(calls: Iterable[Callable[[float], Any]], timeout_s: float) -> bool:
    """Run the calls side by side, each given the whole deadline; True if all finished and none returned False.

    Side by side, not one after the other: an exporter stuck on a dead collector must not use up
    the time the file sink needs to write what it holds.
    """
    deadline = time.monotonic() + timeout_s
    outcomes: list[list[Any]] = []
    workers = []
    for call in calls:
        outcome: list[Any] = []
        outcomes.append(outcome)
        worker = threading.Thread(target=_record, args=(call, timeout_s, outcome), name="aiw-otel-bounded-call",
                                  daemon=True)
        worker.start()
        workers.append(worker)
    for worker in workers:
        worker.join(max(deadline - time.monotonic(), 0.0))
    return all(outcome and outcome[0] is not False for outcome in outcomes)


def _record(call: Callable[[float], Any], timeout_s: float, outcome: list[Any]) -> None:
    try:
        outcome.append(call(timeout_s))
    except Exception:  # the caller only needs to know it is over
        outcome.append(None)
