"""Reads of the quarantine: refused messages, newest first, through the received_ms index."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from app.storage.models import QuarantineRow


@dataclass(frozen=True, slots=True)
class Quarantined:
    id: int
    received_ms: int
    city: str | None
    target: str | None
    topic: str
    reason: str
    detail: str
    payload: bytes
    payload_size: int


def quarantined(
    *,
    conn: Connection,
    since_ms: int,
    limit: int,
    offset: int,
    until_ms: int | None = None,
    reason: str | None = None,
    city: str | None = None,
    target: str | None = None,
) -> tuple[list[Quarantined], int]:
    """Quarantined messages received in [since, until), newest first, and how many match."""
    q = QuarantineRow.__table__.c
    conds = [q.received_ms >= since_ms]
    if until_ms is not None:
        conds.append(q.received_ms < until_ms)
    if reason is not None:
        conds.append(q.reason == reason)
    if city is not None:
        conds.append(q.city == city)
    if target is not None:
        conds.append(q.target == target)
    total = conn.execute(select(func.count()).select_from(QuarantineRow.__table__).where(*conds)).scalar_one()
    rows = conn.execute(
        select(q.id, q.received_ms, q.city, q.target, q.topic, q.reason, q.detail, q.payload, q.payload_size)
        .where(*conds)
        .order_by(q.received_ms.desc(), q.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return [Quarantined(*r[:7], bytes(r.payload), r.payload_size) for r in rows], total
