"""Blocking network calls that a user's cancel interrupts at once.

Closing an HTTP client from another thread does not wake a thread blocked reading its socket (it
waits for the response or the timeout, which for a model can be a minute). So the call runs on a
worker thread and the caller waits for either its result or the cancel; the cancel also shuts the
call's sockets down (`shutdown(2)` does wake a blocked read) so the worker ends promptly too.
"""

from __future__ import annotations

import socket
import threading
import weakref
from contextlib import suppress
from typing import Any, Callable, TypeVar

from aiw_otel.model import RunCancelled
from aiw_otel.runner.control import Hooks, RunControl

T = TypeVar("T")

#: httpcore trace events whose return value is a connection's network stream.
_STREAM_EVENTS = (".connect_tcp.complete", ".connect_unix_socket.complete", ".start_tls.complete")


class ConnectionAborter:
    """Tracks the connections an httpx client opens, so that they can be shut down mid-read.

    Install `on_request` as the client's request event hook: it asks httpcore (through the
    standard `trace` request extension) for every connection it opens. `abort()` shuts down all
    of them, keep-alive ones included, since a request may be riding any of them; the pool drops
    a dead connection by itself.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: weakref.WeakSet[Any] = weakref.WeakSet()

    def on_request(self, request: Any) -> None:
        request.extensions["trace"] = self._trace

    def _trace(self, event: str, info: dict[str, Any]) -> None:
        stream = info.get("return_value") if event.endswith(_STREAM_EVENTS) else None
        if stream is not None:
            with self._lock:
                self._streams.add(stream)

    def abort(self) -> None:
        with self._lock:
            streams = list(self._streams)
        for stream in streams:
            sock = stream.get_extra_info("socket")
            if isinstance(sock, socket.socket):
                # The base-class method: on a TLS socket it shuts the descriptor down without
                # touching the SSL state the reading thread is using.
                with suppress(OSError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)


def run_abortable(work: Callable[[], T], control: RunControl, abort: Callable[[], None]) -> T:
    """`work()` on a worker thread; a cancel calls `abort` and raises RunCancelled here at once."""
    done = threading.Event()
    outcome: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            outcome.append((True, work()))
        except BaseException as error:  # handed to the caller, who re-raises it
            outcome.append((False, error))
        finally:
            done.set()

    def on_cancel() -> None:
        abort()
        done.set()

    with control.in_flight(Hooks(on_cancel=on_cancel)):
        if not control.cancelled:
            threading.Thread(target=run, name="aiw-abortable-call", daemon=True).start()
        done.wait()
    if control.cancelled:
        raise RunCancelled("cancelled by user")
    succeeded, value = outcome[0]
    if not succeeded:
        raise value
    return value  # type: ignore[no-any-return]
