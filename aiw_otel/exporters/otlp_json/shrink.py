"""Making a record too big for its line fit: cut its longest strings, then drop what OTLP counts.

Only a record over the limit (a megabyte, the Collector's) comes here, which a normal run never
produces; so rather than a second encoder, the record's text is parsed back into dicts, changed a
step at a time and re-encoded, stopping at the first step after which it fits. What goes is never
silent in the line itself: a cut string ends with a marker saying how many bytes it lost, and a
dropped event, link or attribute is added to its OTLP dropped count.

The steps per kind of record are listed at the end, mildest first.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Any

from aiw_otel.exporters.otlp_json.values import sized

Tree = dict[str, Any]
#: Changes a parsed record in place to save about `excess` bytes of its text (it may save less).
Step = Callable[[Tree, int], None]

# Writes what the text path would (the values module) for anything a parsed record holds.
_JSON = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, check_circular=False
).encode

_MARKER_COST = 48  # upper bound of a truncation marker's bytes, even base64-encoded inside bytesValue
_CUT_FLOOR = 1024  # first pass: strings keep at least this much before events or attributes go
# Any long string may be cut except a trace state (it must parse); ids, times and 64-bit numbers are
# shorter than the shortest string ever cut (_MARKER_COST), so they are never candidates.
_UNCUTTABLE = frozenset({"traceState"})


def shrink(text: str, size: int, budget: int, steps: Sequence[Step]) -> tuple[str, int]:
    """The text and size after as many steps as it takes to fit the budget (it may still not fit).

    Steps work on the parsed text, whose re-encoding is the same text: the rare record too big for
    its line needs no second encoder.
    """
    tree = json.loads(text)
    for step in steps:
        step(tree, size - budget)
        text, size = sized(_JSON(tree))
        if size <= budget:
            break
    return text, size


def _marker(removed: int) -> str:
    return f"…[TRUNCATED {removed} bytes]"


def _cut_strings(floor: int) -> Step:
    """Cuts the longest strings to one common length, just low enough to save `excess` bytes.

    Cutting them evenly keeps every value's start, rather than wiping one value while another keeps
    megabytes. Sizes are raw UTF-8 bytes: JSON escaping only adds, so the real saving is at least this.
    """

    def step(tree: Tree, excess: int) -> None:
        slots: list[tuple[dict[str, Any], str, int]] = []
        _collect_strings(tree, slots, floor + _MARKER_COST)
        if not slots:
            return
        cap = _water_level([size for _, _, size in slots], excess, floor)
        for owner, key, size in slots:
            if size > cap + _MARKER_COST:
                owner[key] = _truncate(owner[key], cap, key == "bytesValue")

    return step


def _collect_strings(node: Any, slots: list[tuple[dict[str, Any], str, int]], longer_than: int) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if type(value) is str:
                if key not in _UNCUTTABLE and len(value) * 4 > longer_than:  # 4: most bytes one character takes
                    size = len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))
                    if size > longer_than:
                        slots.append((node, key, size))
            else:
                _collect_strings(value, slots, longer_than)
    elif isinstance(node, list):
        for value in node:
            _collect_strings(value, slots, longer_than)


def _water_level(sizes: list[int], excess: int, floor: int) -> int:
    """The highest cap (not below floor) at which cutting every longer string saves `excess` bytes."""

    def saved(cap: int) -> int:
        return sum(size - cap - _MARKER_COST for size in sizes if size > cap + _MARKER_COST)

    low, high = floor, max(sizes)  # saved(high) is 0, below any excess
    if saved(low) < excess:
        return low
    while high - low > 1:
        middle = (low + high) // 2
        if saved(middle) >= excess:
            low = middle
        else:
            high = middle
    return low


def _truncate(value: str, cap: int, is_base64: bool) -> str:
    if is_base64:  # bytes keep a prefix of themselves, with the marker appended as bytes
        raw = base64.b64decode(value)
        kept = raw[: cap * 3 // 4]
        return base64.b64encode(kept + _marker(len(raw) - len(kept)).encode("utf-8")).decode("ascii")
    data = value.encode("utf-8", "surrogatepass")
    kept_text = data[:cap].decode("utf-8", "ignore")  # drops a character cut in half, and lone surrogates
    return kept_text + _marker(len(data) - len(kept_text.encode("utf-8")))


def _drop_tail(list_key: str, counter_key: str, owner_key: str | None = None) -> Step:
    """Drops entries from the end of a list (the latest events, the last attributes) and counts them."""

    def step(tree: Tree, excess: int) -> None:
        owner = tree[owner_key] if owner_key else tree
        entries = owner.get(list_key)
        if not entries:
            return
        saved = dropped = 0
        while entries and saved < excess + 32:  # 32: room for the counter this step adds
            saved += sized(_JSON(entries.pop()))[1] + 1
            dropped += 1
        if not entries:
            del owner[list_key]
        owner[counter_key] = owner.get(counter_key, 0) + dropped

    return step


def _collapse_body(tree: Tree, excess: int) -> None:
    """Last resort for a log body made of many small values: keep only how big it was."""
    tree["body"] = {"stringValue": _marker(sized(_JSON(tree.get("body", {})))[1])}


SPAN_STEPS = (
    _cut_strings(_CUT_FLOOR),
    _drop_tail("events", "droppedEventsCount"),
    _drop_tail("links", "droppedLinksCount"),
    _drop_tail("attributes", "droppedAttributesCount"),
    _cut_strings(0),
)
LOG_STEPS = (
    _cut_strings(_CUT_FLOOR),
    _drop_tail("attributes", "droppedAttributesCount"),
    _cut_strings(0),
    _collapse_body,
)
RESOURCE_STEPS = (_cut_strings(0), _drop_tail("attributes", "droppedAttributesCount", "resource"))
SCOPE_STEPS = (_cut_strings(0), _drop_tail("attributes", "droppedAttributesCount", "scope"))
METRIC_STEPS = (_cut_strings(0),)  # a metric frame, and each of its points: no dropped counts to keep
