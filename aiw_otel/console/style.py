"""Colours and short number formats shared by the panels, so a state or a cost reads the same everywhere."""

from __future__ import annotations

from rich.text import Text

#: Re-exported: the panels flatten every line with the one shared function (terminal_text).
from aiw_otel.terminal_text import one_line as one_line

#: Seed 5.2's colours; states that are over without a verdict of their own are dim.
STATE_STYLES = {
    "Pending": "",
    "Running": "yellow",
    "Paused": "dark_orange",
    "Completed": "green",
    "Failed": "red",
    "Cancelled": "dim",
    "Skipped": "dim",
}
STATE_ORDER = tuple(STATE_STYLES)
LIVE_STATES = frozenset({"Running", "Paused"})

LEVEL_STYLES = {"DEBUG": "dim", "WARN": "yellow", "WARNING": "yellow", "ERROR": "red", "FATAL": "bold red",
                "CRITICAL": "bold red"}


def state_text(state: str) -> Text:
    return Text(state, style=STATE_STYLES.get(state, ""))


def duration(started_ns: int | None, ended_ns: int | None, now_ns: int) -> str:
    """`42s`, `3m05s`, `1h02m`; empty before the start."""
    if started_ns is None:
        return ""
    seconds = max(0, ((ended_ns or now_ns) - started_ns) // 1_000_000_000)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def tokens(count: int) -> str:
    if count < 1000:
        return str(count)
    if count < 1_000_000:
        return f"{count / 1000:.1f}k"
    return f"{count / 1_000_000:.1f}M"


def cost(usd: float) -> str:
    if not usd:
        return ""
    return f"${usd:.4f}" if usd < 1 else f"${usd:.2f}"
