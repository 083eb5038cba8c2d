"""The control socket's wire format, shared by the server and `aiw-otel ctl` so they cannot drift.

JSON lines, one object per line each way. A request is `{"command": NAME}` plus the argument of
the commands that take one (`{"command": "context", "text": "..."}`, `{"command": "details",
"step": "build"}`, `{"command": "output", "step": "build"}`); a reply is `{"ok": bool, "message": str, "data": object|null}`. After
`{"command": "watch"}` the server sends only events: `{"event": "update", "data": <RunView>}` on
changes (at most 4/s), then `{"event": "end", "data": <RunView>}` once the plan and all its steps are
final or the run's process closes the socket, and closes the connection.
"""

from __future__ import annotations

import json
from typing import Any

#: The request field that carries each command's argument.
ARGUMENT_KEYS = {"context": "text", "details": "step", "output": "step"}
#: A request line longer than this is refused (the connection is closed): nothing legitimate is near it.
MAX_REQUEST_BYTES = 1 << 20
#: The front ends a request may say it came through (`"source": "web"`), recorded on the run's trace
#: as `aiw.interaction.source`; any other request is recorded as from the `socket`.
SOURCES = frozenset({"socket", "web"})


def encode(message: dict[str, Any]) -> bytes:
    return (json.dumps(message, separators=(",", ":"), default=str) + "\n").encode()


def request(command: str, argument: str | None = None, source: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"command": command}
    if argument is not None:
        message[ARGUMENT_KEYS[command]] = argument
    if source is not None:
        message["source"] = source
    return message


def source_of(message: dict[str, Any]) -> str:
    """Who the run records a request as coming from: a known front end it names, else `socket`."""
    source = message.get("source")
    return source if isinstance(source, str) and source in SOURCES else "socket"


def command_line(message: Any) -> str:
    """The relay command line a request stands for; ValueError (with the reason) for a malformed one."""
    if not isinstance(message, dict) or not isinstance(message.get("command"), str):
        raise ValueError('expected an object such as {"command": "status"}')
    command = message["command"].strip()
    key = ARGUMENT_KEYS.get(command.lower())
    argument = message.get(key, "") if key else ""
    if not isinstance(argument, str):
        raise ValueError(f"{key!r} must be a string")
    return f"{command} {argument}".strip()
