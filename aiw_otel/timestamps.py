"""The seed's timestamp text (`2024-05-01T12:00:00.123Z`), made from nanoseconds since the epoch.

A module of its own, importing nothing but `time`: `aiw-otel logs --json` formats a time per record
and must not load the model (dataclasses, enums) or the text exporter to do it.
"""

from __future__ import annotations

import time

#: (second, its "YYYY-MM-DDTHH:MM:SS" text) of the last timestamp made: records come many a second.
_last_second: tuple[int, str] = (-1, "")


def utc_timestamp(time_ns: int | None = None) -> str:
    """ISO-8601 UTC with milliseconds and a `Z`, the seed's timestamp format.

    Called for every LogMessage, so the date and time of day are formatted once per second and
    only the milliseconds each time. The millisecond is the one the instant lies in, computed on
    integers (a float of the seconds since 1970 is only good to ~0.25 µs, so going through one
    could put an instant less than a microsecond before a millisecond boundary after it).
    """
    global _last_second
    second, nanos = divmod(time.time_ns() if time_ns is None else time_ns, 1_000_000_000)
    cached_second, text = _last_second
    if second != cached_second:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _last_second = (second, text)
    return f"{text}.{nanos // 1_000_000:03d}Z"


def iso_ms(time_ns: int | None) -> str:
    """A record's time as the seed's timestamp (the same text, to the millisecond, as LogMessage's)."""
    return utc_timestamp(time_ns) if time_ns else "-"
