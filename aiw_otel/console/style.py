"""Short formats shared by the panels, so tokens, a cost and a cut text read the same everywhere.

Colours, states and the duration format are `aiw_otel.present`'s (shared with `logs`, the plain
output and `ctl`), and the panels flatten text with `terminal_text.one_line`: each imported from
where it is defined.
"""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size
from rich.text import Text

from aiw_otel.present import state_style


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


#: A name cut to make room for what follows it (a time, an outcome) keeps at least this many cells.
NAME_MIN = 12


def cut(text: str, width: int) -> str:
    """At most `width` cells: a longer text is cut with an ellipsis (wide characters count as two)."""
    if cell_len(text) <= width:
        return text
    return set_cell_size(text, max(0, width - 1)) + "…"


def cut_before(name: str, after: str, width: int) -> str:
    """`name` cut so that `after` (its time, its outcome: what says how it went) still fits in
    `width` cells beside it; it keeps at least NAME_MIN cells (then `after` is what the row's end cuts)."""
    return cut(name, max(NAME_MIN, width - cell_len(after)))
