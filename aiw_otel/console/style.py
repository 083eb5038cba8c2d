"""Short number formats shared by the panels, so a cost reads the same everywhere; colours and durations
are `present`'s."""

from __future__ import annotations

from rich.text import Text

#: Re-exported: the panels flatten every line with the one shared function (terminal_text).
from aiw_otel.terminal_text import one_line as one_line

#: States, their colours and the duration format come from `present`, shared with `logs`, the plain
#: output and `ctl`: the console only re-exports what its panels use.
from aiw_otel.present import LEVEL_STYLES as LEVEL_STYLES
from aiw_otel.present import LIVE_STATE_NAMES as LIVE_STATES
from aiw_otel.present import duration_between as duration
from aiw_otel.present import state_style as state_style

__all__ = ["LEVEL_STYLES", "LIVE_STATES", "cost", "duration", "one_line", "state_style", "state_text", "tokens"]


def state_text(state: str) -> Text:
    return Text(state, style=state_style(state))


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
