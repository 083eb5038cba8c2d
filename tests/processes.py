"""Looking at real processes from tests: poll with a deadline, find by command line, read the state."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable

DEADLINE_S = 10.0


def until(condition: Callable[[], Any], what: str, seconds: float = DEADLINE_S) -> Any:
    """Poll until `condition()` is truthy and return it; fail naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def process_state(pid: int) -> str | None:
    """Field 3 of /proc/<pid>/stat (R, S, T, Z ...), None once the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def process_with(marker: str, *, shells: bool = True) -> int | None:
    """The pid of a process whose command line holds `marker` (never the runner or tmux itself).

    The topmost one: a shell running a loop forks children that carry its command line until they
    exec (`sleep`), and such a child, gone a moment later, must not be mistaken for the command.
    """
    found: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if marker not in cmdline or "aiw_otel.cli" in cmdline or cmdline.startswith("tmux"):
            continue
        if not shells and cmdline.startswith("/bin/sh"):
            continue
        found[int(entry)] = cmdline
    for pid in sorted(found):
        if _parent_of(pid) not in found:
            return pid
    return None


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def pid_of(marker: str, seconds: float = DEADLINE_S) -> int:
    """Wait for a process (not a shell) whose command line holds `marker`; its pid."""
    return until(lambda: process_with(marker, shells=False), f"a process running {marker!r}", seconds)
