"""Remembering which spans are still open, so shutdown can end them instead of losing them.

A process stopped by SIGTERM or an uncaught error leaves its plan, step and command spans open;
the SDK would silently drop them. Ending them (children first) with an `interrupted` error keeps
the trace whole and says what happened.
"""

from __future__ import annotations

from typing import Callable

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import Status, StatusCode

from aiw_otel import conventions as sc

InterruptHook = Callable[[str], None]


class OpenSpanTracker(SpanProcessor):
    """Tracks started-but-not-ended spans; `interrupt_all` ends them, innermost first."""

    def __init__(self) -> None:
        self._open: dict[int, Span] = {}
        #: By the live span itself (hashed by identity): no span id to read when a hook is set.
        self._hooks: dict[Span, InterruptHook] = {}

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self._open[span.context.span_id] = span

    def on_end(self, span: ReadableSpan) -> None:
        live = self._open.pop(span.context.span_id, None)  # `span` is the SDK's ended copy of it
        if live is not None:
            self._hooks.pop(live, None)

    def set_interrupt_hook(self, span: Span, hook: InterruptHook) -> None:
        """Let the owner of a span end it its own way (a step records its state first); the hook must end it."""
        self._hooks[span] = hook

    def open_count(self) -> int:
        return len(self._open)

    def interrupt_all(self, reason: str) -> int:
        """End every open span, newest first (children before parents); returns how many."""
        # dict.copy() is atomic under the GIL: spans starting or ending on other threads meanwhile
        # cannot break the iteration (on_start / on_end stay lock-free on the hot path).
        spans = sorted(self._open.copy().values(), key=lambda s: s.start_time or 0, reverse=True)
        for span in spans:
            hook = self._hooks.pop(span, None)
            try:
                if hook is not None:
                    hook(reason)
                elif span.is_recording():
                    interrupt_span(span, reason)
            except Exception:  # one bad span must not keep the others open
                continue
        return len(spans)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    def shutdown(self) -> None:
        return None


def interrupt_span(span: Span, reason: str) -> None:
    span.set_attribute(sc.ERROR_TYPE, sc.ERROR_INTERRUPTED)
    span.set_status(Status(StatusCode.ERROR, reason))
    span.end()
