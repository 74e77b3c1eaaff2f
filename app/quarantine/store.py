"""Writes to the quarantine: a refused message kept with its reason, truncated to what the table holds.

The ingestor's writer calls this inside its batch transaction; it does not commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from app.storage.models import QuarantineRow

TOPIC_CHARS = 512
DETAIL_CHARS = 4000

_QUARANTINE = QuarantineRow.__table__


@dataclass(frozen=True, slots=True)
class Refused:
    """A message (or part of one) to keep, whole; `quarantine` truncates it."""

    received_ms: int
    city: str | None
    target: str | None
    topic: str
    reason: str
    detail: str
    payload: bytes


def quarantine(*, conn: Connection, refused: Sequence[Refused], payload_bytes: int) -> None:
    """Insert each refusal, its payload cut to `payload_bytes` and its full size kept beside it."""
    conn.execute(
        _QUARANTINE.insert(),
        [
            {
                "received_ms": r.received_ms,
                "city": r.city,
                "target": r.target,
                "topic": r.topic[:TOPIC_CHARS],
                "reason": r.reason,
                "detail": r.detail[:DETAIL_CHARS],
                "payload": bytes(r.payload[:payload_bytes]),
                "payload_size": len(r.payload),
            }
            for r in refused
        ],
    )
