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
    """Give each call what is left of one shared deadline; True if all finished and none returned False."""
    deadline = time.monotonic() + timeout_s
    ok = True
    for call in calls:
        remaining = deadline - time.monotonic()
        finished, result = call_within(call, remaining, remaining)
        ok = ok and finished and result is not False
    return ok
