"""Steps as people name them: the label a step is shown by, and the step a typed word means.

AIWhisperer subtasks have UUIDs for ids and a readable `name`. A step is shown by its name; by its
id when it has none; and an id that is a UUID (or as long as one) by its shortest unique prefix,
at least 8 characters, or, where ids share a long prefix (`a1f0c2d4-0001-4000-...`), by `…` and
its shortest unique ending.

Wherever a step is named (console `details`, `ctl details`, `logs --step`) the name, the id, the
label, or any unique prefix of them is accepted, ignoring case; a word that fits several steps is
refused with the candidates listed. Used by every front end, so what one shows another accepts.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from dataclasses import dataclass
from typing import Iterable, Sequence

#: An id at least this long is shown in a short form (a UUID is 36).
LONG_ID = 24
_SHORT_PREFIX = 8
#: A unique prefix longer than this is no short form: use the id's ending instead.
_SHORT_MAX = 12
_SUFFIX_MIN = 4
ELLIPSIS = "…"
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
#: Candidates listed in a refusal.
_LISTED = 8


@dataclass(frozen=True)
class StepRef:
    step_id: str
    name: str | None = None


def is_long_id(step_id: str) -> bool:
    return bool(_UUID.match(step_id)) or len(step_id) >= LONG_ID


def short_ids(ids: Iterable[str]) -> dict[str, str]:
    """Each long id's short, unique form (others map to themselves)."""
    unique = list(dict.fromkeys(ids))
    prefix = _unique_lengths(unique)
    suffix = _unique_lengths([step_id[::-1] for step_id in unique])
    shown: dict[str, str] = {}
    for step_id in unique:
        shown[step_id] = _short(step_id, prefix[step_id], suffix[step_id[::-1]]) if is_long_id(step_id) else step_id
    return shown


def _unique_lengths(texts: Sequence[str]) -> dict[str, int]:
    """How long a prefix of each text tells it from all others (neighbours in sorted order suffice)."""
    ordered = sorted(texts)
    lengths = {text: 1 for text in ordered}
    for before, after in zip(ordered, ordered[1:]):
        common = len(os.path.commonprefix((before, after)))
        lengths[before] = max(lengths[before], common + 1)
        lengths[after] = max(lengths[after], common + 1)
    return lengths


def _short(step_id: str, prefix: int, suffix: int) -> str:
    if max(prefix, _SHORT_PREFIX) <= _SHORT_MAX:
        length = max(prefix, _SHORT_PREFIX)
        return step_id[:length] + (ELLIPSIS if length < len(step_id) else "")
    if max(suffix, _SUFFIX_MIN) <= _SHORT_MAX:
        return ELLIPSIS + step_id[-max(suffix, _SUFFIX_MIN):]
    return step_id


def labels(steps: Iterable[StepRef]) -> dict[str, str]:
    """step id -> what it is shown as: its name, else its (short) id. A name two steps share gets
    the short id after it, so no two labels are alike. (A copy: the caller may change it.)"""
    return dict(_labels(tuple(steps)))


@lru_cache(maxsize=16)
def _labels(refs: tuple[StepRef, ...]) -> dict[str, str]:
    """Cached: the console asks on every frame, for the same steps."""
    short = short_ids(ref.step_id for ref in refs)
    names: dict[str, int] = {}
    for ref in refs:
        if ref.name:
            names[ref.name] = names.get(ref.name, 0) + 1
    shown: dict[str, str] = {}
    for ref in refs:
        if ref.name and names[ref.name] == 1:
            shown[ref.step_id] = ref.name
        elif ref.name:
            shown[ref.step_id] = f"{ref.name} ({short[ref.step_id]})"
        else:
            shown[ref.step_id] = short[ref.step_id]
    return shown


class StepNotFound(ValueError):
    """No step, or more than one, fits what was typed; the message lists what would."""

    def __init__(self, message: str, candidates: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.candidates = tuple(candidates)


def resolve(typed: str, steps: Iterable[StepRef]) -> str:
    """The id of the one step `typed` names (id, name, label, or a unique prefix of one).

    An exact id, name or label wins over prefixes (`check` is the step `check` even when
    `check_style` exists); then a case-insensitive prefix; `…1234` or `...1234` is an id's ending.
    Raises StepNotFound with the candidates (or the known steps) in its message.
    """
    refs = list(dict.fromkeys(steps))
    shown = labels(refs)
    word = typed.strip()
    if not word:
        raise StepNotFound("no step named: give a step's name, id or a prefix of one")
    exact = [r for r in refs if word in (r.step_id, r.name, shown[r.step_id])]
    if len(exact) == 1:
        return exact[0].step_id
    folded = word.casefold()
    if not exact:
        exact = [r for r in refs if folded in (r.step_id.casefold(), (r.name or "").casefold(),
                                               shown[r.step_id].casefold())]
        if len(exact) == 1:
            return exact[0].step_id
    matches = exact or _prefix_matches(folded, refs, shown)
    if len(matches) == 1:
        return matches[0].step_id
    if matches:
        listed = [_described(r, shown) for r in matches[:_LISTED]]
        more = f", and {len(matches) - _LISTED} more" if len(matches) > _LISTED else ""
        raise StepNotFound(f"'{word}' fits {len(matches)} steps: {', '.join(listed)}{more}; type more of it",
                           [r.step_id for r in matches])
    known = [_described(r, shown) for r in refs[:_LISTED]]
    more = ", ..." if len(refs) > _LISTED else ""
    raise StepNotFound(f"no step '{word}'" + (f" (steps: {', '.join(known)}{more})" if refs else " (no steps)"))


def _prefix_matches(folded: str, refs: Sequence[StepRef], shown: dict[str, str]) -> list[StepRef]:
    ending = next((folded[len(mark):] for mark in (ELLIPSIS, "...") if folded.startswith(mark)), None)
    if ending is not None:
        return [r for r in refs if ending and r.step_id.casefold().endswith(ending)]
    return [r for r in refs
            if any(text.casefold().startswith(folded) for text in (r.step_id, r.name or "", shown[r.step_id]))]


def _described(ref: StepRef, shown: dict[str, str]) -> str:
    """`name [id]` in a list of candidates (the short id when the id is long), or the id alone."""
    label = shown[ref.step_id]
    if not ref.name or label != ref.name:
        return label
    return f"{label} [{short_ids(shown)[ref.step_id]}]"


def completions(typed: str, steps: Iterable[StepRef]) -> list[str]:
    """What Tab may complete `typed` to: the labels, then the ids, that start with it (ignoring case)."""
    refs = list(dict.fromkeys(steps))
    shown = labels(refs)
    folded = typed.casefold()
    found: list[str] = []
    for text in [shown[r.step_id] for r in refs] + [r.step_id for r in refs]:
        if text.casefold().startswith(folded) and text not in found:
            found.append(text)
    return found
