"""Read-only access to the plain dict behind the SDK's attribute mappings (and to a span's event
and link lists), for the hot path.

Processors look up a handful of keys on every span and log record. Through the SDK's public
properties each span's `attributes` is a new `MappingProxyType` over a `BoundedAttributes`, whose
`get` and `in` are Python-level Mapping methods (a missing key costs a raised and caught
KeyError): ten times a dict lookup. The dict behind them holds the same, already cleaned, values.

Read-only, and only where nobody else can be writing: a span in `on_start` (not yet returned to
its caller) or `on_end` (ended: the SDK ignores later writes), a log record in `on_emit`. Any
other shape (a future SDK, a test double) falls back to the public mapping, so this is never
wrong, at worst slower; `tests/test_pipeline.py` checks the fast path is taken with the SDK in use.
"""

from __future__ import annotations

import collections
from types import MappingProxyType
from typing import Any, Mapping, Sequence

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.util import BoundedList

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def span_attributes(span: Any) -> Mapping[str, Any]:
    """The attributes of an SDK span (live or ended) as a plain mapping; never None."""
    stored = getattr(span, "_attributes", _EMPTY)
    kind = type(stored)
    if kind is BoundedAttributes:
        inner = getattr(stored, "_dict", None)
        if type(inner) is dict:
            return inner
    elif kind is dict:
        return stored  # a ReadableSpan built with a plain dict (a redacted copy)
    elif stored is None:
        return _EMPTY
    return span.attributes or _EMPTY


def plain_attributes(attributes: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """A log record's or event's attributes as a plain mapping; never None."""
    if type(attributes) is BoundedAttributes:
        inner = getattr(attributes, "_dict", None)
        if type(inner) is dict:
            return inner
    return attributes or _EMPTY


def span_events(span: Any) -> Sequence[Any]:
    """An ended span's events without a copy (`span.events` takes the list's lock and copies it
    twice on every read, empty or not): an ended span's list no longer changes."""
    stored = _stored(span, "_events")
    return span.events if stored is None else stored


def span_links(span: Any) -> Sequence[Any]:
    """An ended span's links, like `span_events` (most spans have none)."""
    stored = _stored(span, "_links")
    return span.links if stored is None else stored


def _stored(span: Any, name: str) -> Sequence[Any] | None:
    """The sequence the SDK stores (the deque inside its BoundedList); None: read the public way."""
    stored: Any = getattr(span, name, None)
    if type(stored) is BoundedList:
        stored = getattr(stored, "_dq", None)
    if type(stored) in (collections.deque, tuple, list):
        found: Sequence[Any] = stored
        return found
    return None
