"""Live runs as the web page sees them: found, watched and steered through their control sockets.

The page is one more client of the control socket, like `aiw-otel ctl` and `watch`: the same
discovery (`control.sock` in the log dir or one folder below, the log dir's default path, and the
sockets named on the command line), the same requests, the same RunView (redacted by the run before
it leaves the run's process). A run is named to the page by an opaque id derived from its socket's
path, and only discovered sockets are ever connected to: a request cannot point the server at a
path of its choosing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generator, Sequence

from aiw_otel.control.client import ControlClient
from aiw_otel.control.paths import control_sockets, default_socket_path
from aiw_otel.control.protocol import ARGUMENT_KEYS

#: What the page may ask a run to do (`status`, `watch` and `help` are the server's own business).
CONTROL_COMMANDS = frozenset({"pause", "resume", "cancel", "context", "details"})
#: A run that does not answer a status request this fast is left out of the list.
PROBE_TIMEOUT_S = 2.0


class UnknownRun(LookupError):
    """No discovered run has this id (it ended, or the id was never one)."""


@dataclass(frozen=True)
class LiveRun:
    run: str  # the page's id for it
    socket: Path
    view: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        """What the run picker shows."""
        return {"run": self.run, "socket": str(self.socket), "plan_name": self.view.get("plan_name", ""),
                "state": self.view.get("state", ""), "started_ns": self.view.get("started_ns"),
                "run_id": self.view.get("run_id", "")}


class LiveRuns:
    """The runs listening in `log_dir` (and on `sockets`), each reached by a fresh connection per call."""

    def __init__(self, log_dir: Path, sockets: Sequence[Path] = ()) -> None:
        self.log_dir = log_dir
        self._named = [path.absolute() for path in sockets]

    def sockets(self) -> list[Path]:
        """Where a run may listen: the named sockets, then the log dir's, newest first (no duplicates)."""
        found = [*self._named, *control_sockets(self.log_dir), default_socket_path(self.log_dir)]
        return list(dict.fromkeys(found))

    def runs(self) -> list[LiveRun]:
        """The runs that answer now, with their current view."""
        live = []
        for path in self.sockets():
            try:
                reply = ControlClient(path, timeout_s=PROBE_TIMEOUT_S).request("status")
            except (OSError, ValueError):  # nothing listens (a run that ended), or not a run of ours
                continue
            if reply.get("ok") and isinstance(reply.get("data"), dict):
                live.append(LiveRun(run_id_of(path), path, reply["data"]))
        return live

    def by_run_id(self) -> dict[str, str]:
        """The runs that answer now: the run id each reports (`aiw.run.id` in its files) -> the
        page's id for it, so a running run read from the files can be linked to its Live view."""
        return {str(run.view["run_id"]): run.run for run in self.runs() if run.view.get("run_id")}

    def socket_of(self, run: str) -> Path:
        for path in self.sockets():
            if run_id_of(path) == run:
                return path
        raise UnknownRun(run)

    def client(self, run: str) -> ControlClient:
        return ControlClient(self.socket_of(run))

    def control(self, run: str, command: str, text: str = "") -> dict[str, Any]:
        """The run's reply `{"ok", "message", "data"}` to one of CONTROL_COMMANDS (ValueError for others)."""
        if command not in CONTROL_COMMANDS:
            raise ValueError(f"unknown command {command!r}; the page sends one of {', '.join(sorted(CONTROL_COMMANDS))}")
        return self.client(run).request(command, text if command in ARGUMENT_KEYS else None, source="web")


def page_events(client: ControlClient) -> Generator[tuple[str, dict[str, Any]], None, None]:
    """(event, page state) as the client's run changes: its whole current state first, `end` last."""
    for event in client.watch():
        view = event.get("data")
        if isinstance(view, dict):
            yield str(event.get("event", "update")), page_state(view)


def run_id_of(socket: Path) -> str:
    return hashlib.sha256(str(socket).encode()).hexdigest()[:16]


def page_state(view: dict[str, Any]) -> dict[str, Any]:
    """The run view plus what every front end shows the same way and the page should not re-derive:
    each step's label (its name, else its id, a long one shortened, as the console shows it)."""
    from aiw_otel.cli.ctl import step_labels  # `ctl status` and `watch` label steps with it too

    return {"view": view, "labels": step_labels(view.get("steps", []))}
