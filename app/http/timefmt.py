"""Time at the API's edge: the store keeps epoch ms; the API speaks timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


@overload
def from_ms(ms: int) -> datetime: ...
@overload
def from_ms(ms: None) -> None: ...
def from_ms(ms: int | None) -> datetime | None:
    """Epoch milliseconds to an aware UTC datetime (None stays None)."""
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


def to_ms(dt: datetime) -> int:
    """An aware datetime to epoch milliseconds; naive datetimes are refused by the request models."""
    return int(dt.timestamp() * 1000)


def now_ms() -> int:
    return int(datetime.now(tz=UTC).timestamp() * 1000)
