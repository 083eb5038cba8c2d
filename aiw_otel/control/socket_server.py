"""The control socket: the relay, reachable from other processes (`aiw-otel ctl`, `aiw-otel watch`).

A Unix domain socket, not TCP, so that only the filesystem decides who may steer a run: it is
created 0600 (chmod before listen(), so no one can connect in between). One thread accepts and
one thread serves each client, none of them on the engine's path: a watcher only ever holds the
latest change flag, so a slow or stuck one costs its own thread (and is dropped after a send
timeout), never the run. See `protocol` for the wire format.
"""

from __future__ import annotations

import itertools
import json
import os
import select
import socket
import stat
import threading
import time
from pathlib import Path
from typing import Any, Iterator

from typing_extensions import Self

from aiw_otel.control.paths import MAX_SOCKET_PATH_BYTES
from aiw_otel.control.protocol import MAX_REQUEST_BYTES, command_line, encode, source_of
from aiw_otel.control.relay import FrontDoor
from aiw_otel.model import State
from aiw_otel.runview import RunView

#: Watch updates are coalesced to at most one per interval (4/s): a person cannot read faster.
UPDATE_INTERVAL_S = 0.25
#: A client that takes longer than this to accept one line is dropped.
SEND_TIMEOUT_S = 5.0
#: Clients served at once (each is a thread and a descriptor); the next is refused with a reply.
MAX_CLIENTS = 32
_TERMINAL = frozenset(s.value for s in State if s.is_terminal)


class ControlSocketError(ValueError):
    """The socket cannot be created (path taken by a live run, not a socket, too long...)."""


class SocketInUse(ControlSocketError):
    """Another live run listens on the path."""


class _Client:
    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        #: Set on every change of the run's view (and by close()); the only state a watcher buffers.
        self.changed = threading.Event()
        self.watching = False
        self.thread: threading.Thread | None = None

    def send(self, message: dict[str, Any]) -> bool:
        try:
            self.conn.sendall(encode(message))
            return True
        except OSError:  # gone, or not reading (send timeout)
            return False

    def hung_up(self, wait_s: float) -> bool:
        """Wait up to `wait_s` for the client to leave; input sent while watching is ignored."""
        try:
            readable, _, _ = select.select([self.conn], [], [], wait_s)
            return bool(readable) and not self.conn.recv(65536)
        except OSError:
            return True

    def shutdown(self) -> None:
        try:
            self.conn.shutdown(socket.SHUT_RDWR)  # wakes this client's thread out of recv()
        except OSError:
            pass


class ControlServer:
    """Serve the relay on a Unix socket at `path` from construction until `close()`."""

    def __init__(self, relay: FrontDoor, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).absolute()
        self._relay = relay
        self._listener = _listen(self.path)
        self._inode = self.path.stat().st_ino
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._clients: set[_Client] = set()
        self._accepter = threading.Thread(target=self._accept, name="aiw-otel-control", daemon=True)
        self._accepter.start()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self, timeout_s: float = 2.0) -> None:
        """Send watchers their `end`, disconnect everyone and remove the socket file. Idempotent."""
        if self._closing.is_set():
            return
        self._closing.set()
        deadline = time.monotonic() + timeout_s
        self._accepter.join(timeout_s)
        self._listener.close()
        self._remove_socket_file()
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            client.changed.set()
            if not client.watching:
                client.shutdown()
        for client in clients:
            if client.thread is not None:
                client.thread.join(max(0.0, deadline - time.monotonic()))
            client.shutdown()

    def _remove_socket_file(self) -> None:
        try:
            if self.path.stat().st_ino == self._inode:  # never someone else's socket at the same path
                self.path.unlink()
        except OSError:
            pass

    # -- serving --------------------------------------------------------------------------
    def _accept(self) -> None:
        self._listener.settimeout(UPDATE_INTERVAL_S)  # notice close() without a wake-up connection
        while not self._closing.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:  # out of descriptors, say: back off rather than spin, then try again
                self._closing.wait(UPDATE_INTERVAL_S)
                continue
            with self._lock:
                full = len(self._clients) >= MAX_CLIENTS
            if full:  # each client costs a thread and a descriptor: say why, and hang up
                _refuse(conn, f"too many clients (at most {MAX_CLIENTS}); try again later")
                continue
            conn.settimeout(SEND_TIMEOUT_S)
            client = _Client(conn)
            client.thread = threading.Thread(target=self._serve, args=(client,), name="aiw-otel-control-client",
                                             daemon=True)
            with self._lock:
                self._clients.add(client)
            client.thread.start()

    def _serve(self, client: _Client) -> None:
        try:
            for line in _lines(client, self._closing):
                if line is None:
                    client.send(_reply(False, f"request longer than {MAX_REQUEST_BYTES} bytes"))
                    return
                if not line.strip():
                    continue
                try:
                    message = json.loads(line)
                    command = command_line(message)
                except ValueError as error:  # bad JSON or a malformed request: say so, keep the connection
                    client.send(_reply(False, f"bad request: {error}"))
                    continue
                except RecursionError:  # JSON nested deeper than the parser goes: no request of ours is
                    client.send(_reply(False, "bad request: JSON nested too deeply"))
                    continue
                if command.lower() == "watch":
                    self._watch(client)
                    return
                reply = self._relay.submit(command, source=source_of(message))
                client.send(_reply(reply.ok, reply.message, reply.data))
        finally:
            with self._lock:
                self._clients.discard(client)
            client.conn.close()

    def _watch(self, client: _Client) -> None:
        client.watching = True
        client.changed.set()  # the current view first
        unsubscribe = self._relay.subscribe(client.changed.set)
        try:
            shown = None
            while True:
                if client.changed.wait(1.0):
                    client.changed.clear()
                    view = self._relay.snapshot()
                    if self._closing.is_set() or _finished(view):
                        client.send({"event": "end", "data": view.to_dict()})
                        return
                    if view.version != shown:
                        if not client.send({"event": "update", "data": view.to_dict()}):
                            return
                        shown = view.version
                if client.hung_up(UPDATE_INTERVAL_S):
                    return
        finally:
            unsubscribe()


def _finished(view: RunView) -> bool:
    """The plan and every step are final. Not the plan alone: a cancel makes the plan Cancelled at
    once, while the engine is still unwinding and recording the remaining steps."""
    return view.state in _TERMINAL and all(step.state in _TERMINAL for step in view.steps)


def _refuse(conn: socket.socket, message: str) -> None:
    """One error reply without waiting on the client, then close."""
    try:
        conn.setblocking(False)
        conn.send(encode(_reply(False, message)))
    except OSError:
        pass
    finally:
        conn.close()


def _reply(ok: bool, message: str, data: Any = None) -> dict[str, Any]:
    return {"ok": ok, "message": message, "data": data}


def _lines(client: _Client, closing: threading.Event) -> Iterator[bytes | None]:
    """The client's request lines as they arrive; None for one over the size limit (then stop)."""
    pending = b""
    while not closing.is_set():
        try:
            chunk = client.conn.recv(65536)
        except TimeoutError:  # an idle client is fine; close() wakes us with a shutdown
            continue
        except OSError:
            return
        if not chunk:
            if pending:
                yield pending
            return
        pending += chunk
        *lines, pending = pending.split(b"\n")
        yield from lines
        if len(pending) > MAX_REQUEST_BYTES:
            yield None
            return


#: Numbers the staging names of one process, so two servers started at once in it never share one.
_staged = itertools.count()


def _listen(path: Path) -> socket.socket:
    """A listening socket at `path`, made at a staging name and hard-linked into place: whatever is
    at `path` is always listening, so a run starting at the same moment never takes a socket bound a
    microsecond ago for one a killed run left (and removes it), and only one of two gets the path."""
    staging = path.with_name(f".{os.getpid()}.{next(_staged)}.s")
    size = max(len(os.fsencode(path)), len(os.fsencode(staging)))
    if size > MAX_SOCKET_PATH_BYTES:
        raise ControlSocketError(f"control socket path is {size} bytes, at most {MAX_SOCKET_PATH_BYTES} "
                                 f"are possible: {path} (choose a shorter one with --control-socket)")
    _remove_stale(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        staging.unlink(missing_ok=True)  # left by an earlier process of this pid, killed right here
        listener.bind(str(staging))
        os.chmod(staging, 0o600)  # before listen(): until then a connect is refused, so no window
        listener.listen(16)
        os.link(staging, path)
    except FileExistsError as error:  # another run started at the same moment got there first
        listener.close()
        raise SocketInUse(_IN_USE.format(path=path)) from error
    except OSError as error:
        listener.close()
        raise ControlSocketError(f"cannot create the control socket {path}: {error.strerror or error}") from error
    finally:
        staging.unlink(missing_ok=True)
    return listener


def remove_stale(paths: list[Path]) -> None:
    """Remove the sockets among `paths` that no run listens on any more (left by killed runs)."""
    for path in paths:
        try:
            _remove_stale(path)
        except ControlSocketError:  # live, or not ours to judge
            pass


def _remove_stale(path: Path) -> None:
    """Remove a socket left by a run that died; refuse a live one, or anything that is not a socket."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ControlSocketError(f"{path} exists and is not a socket; choose another path with --control-socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(SEND_TIMEOUT_S)
    try:
        probe.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        path.unlink(missing_ok=True)
        return
    except OSError as error:
        raise ControlSocketError(f"cannot check the control socket {path}: {error.strerror or error}") from error
    finally:
        probe.close()
    raise SocketInUse(_IN_USE.format(path=path))


_IN_USE = "another run is listening on {path}; give this one its own socket with --control-socket PATH"
