"""The other end of the control socket: what `aiw-otel ctl` and `aiw-otel watch` (or a script) use."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any, Iterator

from aiw_otel.control.protocol import encode, request


class NoRunListening(ConnectionError):
    """Nothing answers at the socket path: no run, a finished one, or the wrong path."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"no run listens at {path} ({reason})")
        self.path = path


class ControlClient:
    """One connection per call: a request gets one reply; `watch()` yields events until the run ends."""

    def __init__(self, path: str | os.PathLike[str], timeout_s: float = 10.0) -> None:
        self.path = Path(path)
        self.timeout_s = timeout_s
        self._watching: socket.socket | None = None

    def request(self, command: str, argument: str | None = None, source: str | None = None) -> dict[str, Any]:
        """The reply `{"ok", "message", "data"}` to one command; `source` names the front end the run
        records it as coming from (`protocol.SOURCES`; default: the socket)."""
        with self._connect() as conn, conn.makefile("rb") as replies:
            conn.sendall(encode(request(command, argument, source)))
            return _decode(replies.readline())

    def watch(self) -> Iterator[dict[str, Any]]:
        """`{"event": "update"|"end", "data": <RunView dict>}` as the run changes; stops after `end`."""
        with self._connect() as conn, conn.makefile("rb") as events:
            self._watching = conn
            conn.sendall(encode(request("watch")))
            conn.settimeout(None)  # a long command changes nothing for minutes: that is not a dead run
            for line in events:
                yield _decode(line)

    def hang_up(self) -> None:
        """End a `watch()` waiting for the run's next change, from another thread (whoever read it
        left): its connection is shut, so it stops now rather than at the run's next change."""
        conn = self._watching
        if conn is not None:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _connect(self) -> socket.socket:
        _check_owner(self.path)
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.settimeout(self.timeout_s)
        try:
            conn.connect(str(self.path))
        except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError) as error:
            conn.close()
            raise NoRunListening(self.path, error.strerror or type(error).__name__) from error
        except PermissionError as error:
            conn.close()
            raise PermissionError(error.errno, f"permission denied on the control socket {self.path} "
                                  "(a run of another user?)") from None
        except OSError:
            conn.close()
            raise
        return conn


class ForeignSocket(PermissionError):
    """The socket (or the link at its path) belongs to another user: not a run of ours."""


def _check_owner(path: Path) -> None:
    """A run creates its socket itself, so it is ours; one of another user's at our path (a
    squatter in a shared directory) must not get our commands, context text included."""
    try:
        owner = path.lstat().st_uid
    except OSError:
        return  # connect() says what is wrong
    if owner != os.geteuid():
        raise ForeignSocket(f"the control socket {path} belongs to uid {owner}, not to you (uid {os.geteuid()}); "
                            "refusing to send anything to it")


def _decode(line: bytes) -> dict[str, Any]:
    if not line:
        raise ConnectionError("the run closed the connection without answering")
    message = json.loads(line)
    if not isinstance(message, dict):
        raise ValueError(f"unexpected answer from the run: {line[:200]!r}")
    return message
