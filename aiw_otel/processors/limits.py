"""Attribute value length limits, applied after redaction instead of by the SDK before it.

The SDK cuts a string attribute to OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT the moment it is set, before
any processor sees it: a secret across the cut loses the end that made it recognisable, and its
prefix goes out. So `configure()` tells the SDK "no limit" and the pipeline applies the same
limit itself, to the redacted values (spans, their events and links, log records). The limits
are read with the rest of the environment (config_env.py), which warns about a bad value.
"""

from __future__ import annotations

from typing import Any, Mapping


def _cut(value: Any, limit: int) -> Any:
    if isinstance(value, str):
        return value[:limit] if len(value) > limit else value
    if isinstance(value, (list, tuple)) and any(isinstance(v, str) and len(v) > limit for v in value):
        return type(value)(v[:limit] if isinstance(v, str) else v for v in value)
    return value


def cut_attributes(attributes: Mapping[str, Any] | None, limit: int) -> dict[str, Any] | None:
    """A copy with every string (and string element) cut to `limit`; None when nothing was longer."""
    if not attributes:
        return None
    changed: dict[str, Any] | None = None
    for key, value in attributes.items():
        new = _cut(value, limit)
        if new is not value:
            if changed is None:
                changed = dict(attributes)
            changed[key] = new
    return changed
