"""Values the OTLP/JSON encoder cannot write, for the tests that a record holding one is skipped
and counted, never lost silently."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any


class Unreadable(Mapping[str, Any]):
    """An attribute value whose encoding raises: a mapping that fails as soon as it is read."""

    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("unreadable")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("unreadable")

    def __len__(self) -> int:
        return 1


@dataclass
class Summary:
    """A kind of metric data OTLP has no message for."""

    data_points: list[Any]
