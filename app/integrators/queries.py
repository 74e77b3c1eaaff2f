"""The integrator health page's reads: traffic per hour, refusals by reason, the last refusal."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, func, select

from app.storage.models import QuarantineRow, SourceRow, TrafficRow


def traffic(*, conn: Connection, city: str, since_ms: int) -> list[Row[Any]]:
    """Rows (target, bucket, messages, warnings, last_ms) of the hours from `since_ms` on."""
    t = TrafficRow
    q = select(t.target, t.bucket, t.messages, t.warnings, t.last_ms).where(t.city == city, t.bucket >= since_ms)
    return list(conn.execute(q))


def refusals(*, conn: Connection, city: str, since_ms: int) -> list[Row[Any]]:
    """Rows (target, reason, n): messages (or parts) quarantined since `since_ms`, per target and reason."""
    q = QuarantineRow
    stmt = (
        select(q.target, q.reason, func.count().label("n"))
        .where(q.city == city, q.received_ms >= since_ms, q.target.is_not(None))
        .group_by(q.target, q.reason)
    )
    return list(conn.execute(stmt))


def last_refusals(*, conn: Connection, city: str, since_ms: int) -> list[Row[Any]]:
    """Rows (target, received_ms, reason, detail, topic): each target's latest refusal since `since_ms`."""
    q = QuarantineRow
    latest = (
        select(func.max(q.id).label("id"))
        .where(q.city == city, q.received_ms >= since_ms, q.target.is_not(None))
        .group_by(q.target)
        .subquery()
    )
    stmt = select(q.target, q.received_ms, q.reason, q.detail, q.topic).join(latest, latest.c.id == q.id)
    return list(conn.execute(stmt))


def source_ids(*, conn: Connection, city: str) -> dict[str, int | None]:
    """Every source the city has seen or registered -> its last message (epoch ms)."""
    s = SourceRow
    return {
        r.source_id: r.last_seen_ms for r in conn.execute(select(s.source_id, s.last_seen_ms).where(s.city == city))
    }
