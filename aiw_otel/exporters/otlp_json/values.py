"""The JSON text of OTLP values: strings, doubles, AnyValue and attribute lists, and their caches.

Every record is mostly values, so this is where the encoding time goes. Strings go through the
stdlib's C string encoder; the common scalar types are dispatched on their exact type; what
recurs from record to record (attribute keys, and keys with a short string value) is encoded once
and cached. Whatever a caller passes (a broken `__str__`, a self-referencing list, an int beyond
64 bits) still encodes: a value never costs its record.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping, Sequence
from json.encoder import encode_basestring
from types import MappingProxyType
from typing import Any, TypeVar

from opentelemetry.attributes import BoundedAttributes

_V = TypeVar("_V")

# The C encoder: escapes quotes, backslashes and control characters (NUL too), keeps the rest as is.
json_string: Callable[[str], str] = encode_basestring

# 64-bit integers (times, counts, intValue) are decimal strings in OTLP/JSON, other integers numbers.
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_MAX_DEPTH = 32
_NONFINITE = {float("inf"): '"Infinity"', float("-inf"): '"-Infinity"'}

_TEXT_CACHE_SIZE = 4096
_SHORT = 64  # keys and string values up to this many characters are worth caching


def remember(cache: dict[Any, _V], key: Any, value: _V, size: int = _TEXT_CACHE_SIZE) -> _V:
    """Stores value and returns it; a full cache starts over, so unique values cannot grow it."""
    if len(cache) >= size:
        cache.clear()
    cache[key] = value
    return value


def sized(text: str) -> tuple[str, int]:
    """The text as it can be written (lone surrogates become U+FFFD) and its UTF-8 size.

    isascii() is O(1) in CPython, so the usual all-ASCII record costs no encoding here; the C string
    encoder passes lone surrogates through, and this is the one place that repairs them.
    """
    if text.isascii():
        return text, len(text)
    try:
        return text, len(text.encode("utf-8"))
    except UnicodeEncodeError:
        # Through UTF-16 valid surrogate pairs join into one character and lone ones are replaced.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
        return text, len(text.encode("utf-8"))


def json_object(members: list[str]) -> str:
    return "{" + ",".join(members) + "}"


def json_double(value: Any) -> str:
    """A double's JSON; JSON has no NaN or infinities, so OTLP/JSON spells them as strings."""
    value = float(value)
    if value - value == 0.0:
        return repr(value)  # what json.dumps writes: the shortest text that reads back exact
    return _NONFINITE.get(value, '"NaN"')


def as_text(value: Any) -> str:
    """Names and keys must be JSON strings whatever the caller passed."""
    if type(value) is str:
        return value
    if isinstance(value, str):
        return str.__str__(value)  # the value itself, not an Enum's "Class.MEMBER"
    try:
        return str(value)
    except Exception:  # a broken __str__ must not lose the record
        return f"<unprintable {type(value).__name__}>"


def any_value(value: Any, depth: int = 0) -> str:
    """AnyValue, with the common scalar types dispatched on their exact type first (the hot path)."""
    kind = type(value)
    if kind is str:
        return '{"stringValue":' + json_string(value) + "}"
    if kind is bool:  # before int: bool is an int
        return '{"boolValue":true}' if value else '{"boolValue":false}'
    if kind is int:
        if _INT64_MIN <= value <= _INT64_MAX:
            return '{"intValue":"%d"}' % value
        return '{"stringValue":"%d"}' % value  # no int64 holds it; a string keeps every digit
    if kind is float:
        return '{"doubleValue":' + (repr(value) if value - value == 0.0 else json_double(value)) + "}"
    return _any_other(value, depth)


def _any_other(value: Any, depth: int) -> str:
    if value is None:
        return "{}"  # an empty AnyValue, as the proto encoder sends for None
    if isinstance(value, str):
        return any_value(str.__str__(value))
    if isinstance(value, int):
        return any_value(int(value))
    if isinstance(value, float):
        return any_value(float(value))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return '{"bytesValue":"' + base64.b64encode(value).decode("ascii") + '"}'
    if depth < _MAX_DEPTH:  # deeper (or self-referencing) structures end as text
        if isinstance(value, Mapping):
            return '{"kvlistValue":{"values":' + key_values(value.items(), depth + 1) + "}}"
        if isinstance(value, Sequence):
            return '{"arrayValue":{"values":[' + ",".join([any_value(item, depth + 1) for item in value]) + "]}}"
    return any_value(as_text(value))


_COPIED = (BoundedAttributes, MappingProxyType)
_KEYS: dict[str, str] = {}
_PAIRS: dict[tuple[str, str], str] = {}


def key_values(items: Iterable[tuple[Any, Any]], depth: int = 0) -> str:
    """A KeyValue list.

    Attribute names are a small set that recurs on every record, so each key's text is cached; a key
    with a short string value (a component, action, state or model name) mostly recurs as a pair, so
    the pair's whole text is cached too. Only exact str keys are stored, so a lookup by another type
    of key (1 and True are equal) never finds an entry it does not own.
    """
    parts = []
    for key, value in items:
        if type(value) is str and len(value) <= _SHORT:
            parts.append(_PAIRS.get((key, value)) or _short_pair(key, value))
        else:
            parts.append((_KEYS.get(key) or _key(key)) + any_value(value, depth) + "}")
    return "[" + ",".join(parts) + "]"


def _key(key: Any) -> str:
    """A KeyValue's text up to its value."""
    if type(key) is not str:
        return '{"key":' + json_string(as_text(key)) + ',"value":'
    head = '{"key":' + json_string(key) + ',"value":'
    return remember(_KEYS, key, head) if len(key) <= _SHORT else head


def _short_pair(key: Any, value: str) -> str:
    """A key with a short string value not cached yet: encoded, and cached when its key is a short str."""
    text = (_KEYS.get(key) or _key(key)) + any_value(value) + "}"
    return remember(_PAIRS, (key, value), text) if type(key) is str and len(key) <= _SHORT else text


def add_attributes(
    members: list[str], attributes: Mapping[str, Any] | None, dropped: int, key: str = "attributes"
) -> None:
    """Adds attributes and their dropped count, leaving out what is empty (receivers read both)."""
    if type(attributes) in _COPIED:
        # BoundedAttributes (a span's comes in a mappingproxy) iterates through the Mapping ABC, a
        # Python call per key under a lock; its copy() is one C-level dict copy.
        try:
            attributes = attributes.copy()  # type: ignore[union-attr]
        except AttributeError:  # a mappingproxy over a mapping without copy(): read it as it is
            pass
    if attributes:
        members.append('"' + key + '":' + key_values(attributes.items()))
    if dropped:
        members.append('"droppedAttributesCount":%d' % dropped)
