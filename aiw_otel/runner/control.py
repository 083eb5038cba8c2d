"""The engine's side of steering: a pause gate, a cancel flag, and hooks for what is in flight.

Telemetry records a request (PlanRun.pause() etc.); RunControl makes it take effect. Work in
progress registers hooks so a request acts at once: a running command's process group is
stopped / continued / terminated, an in-flight AI request is aborted. Code between actions calls
`checkpoint()`, which blocks while paused and raises RunCancelled once cancelled.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

from aiw_otel.model import RunCancelled


@dataclass(frozen=True)
class Hooks:
    """What to do to one piece of in-flight work when the user steers; any may be None."""

    on_pause: Callable[[], None] | None = None
    on_resume: Callable[[], None] | None = None
    on_cancel: Callable[[], None] | None = None


class RunControl:
    """Thread-safe pause / resume / cancel state shared by the engine and its workers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._not_paused = threading.Event()
        self._not_paused.set()
        self._cancelled = threading.Event()
        self._hooks: dict[int, Hooks] = {}
        self._next_id = 0

    @property
    def paused(self) -> bool:
        return not self._not_paused.is_set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def pause(self) -> None:
        with self._lock:
            self._not_paused.clear()
            hooks = list(self._hooks.values())
        _call(h.on_pause for h in hooks)

    def resume(self) -> None:
        with self._lock:
            self._not_paused.set()
            hooks = list(self._hooks.values())
        _call(h.on_resume for h in hooks)

    def cancel(self) -> None:
        with self._lock:
            self._cancelled.set()
            self._not_paused.set()  # wake whoever waits at the gate so they can unwind
            hooks = list(self._hooks.values())
        _call(h.on_cancel for h in hooks)

    def checkpoint(self) -> None:
        """Block while paused; raise RunCancelled once cancelled. Call between units of work."""
        self._not_paused.wait()
        if self._cancelled.is_set():
            raise RunCancelled("cancelled by user")

    def wait(self, seconds: float) -> None:
        """Sleep (e.g. a retry backoff) that a cancel cuts short; raises RunCancelled if it does."""
        if self._cancelled.wait(seconds):
            raise RunCancelled("cancelled by user")

    @contextmanager
    def in_flight(self, hooks: Hooks) -> Iterator[None]:
        """Register hooks for the duration of a block. If already paused, on_pause runs at once."""
        with self._lock:
            key = self._next_id
            self._next_id += 1
            self._hooks[key] = hooks
            paused, cancelled = self.paused, self.cancelled
        if cancelled:
            _call([hooks.on_cancel])
        elif paused:
            _call([hooks.on_pause])
        try:
            yield
        finally:
            with self._lock:
                self._hooks.pop(key, None)


def _call(callbacks: Iterator[Callable[[], None] | None] | list[Callable[[], None] | None]) -> None:
    for callback in callbacks:
        if callback is not None:
            callback()
