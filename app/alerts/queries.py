"""Reading stored alerts: a page of them, filtered by state and relevance, newest first."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, RowMapping, func, or_, select

from app.storage.models import AlertRow

AL = AlertRow.__table__


def list_alerts(
    *,
    conn: Connection,
    city: str,
    active_at_ms: int | None,
    relevant: bool | None,
    in_force_at_ms: int | None = None,
    limit: int,
    offset: int,
) -> tuple[Sequence[RowMapping], int]:
    """A page of the city's alerts (newest first) and the total.

    `active_at_ms`: only those in force now (not replaced, not expired at that time); `in_force_at_ms`: those that
    were in force at a past instant (received by then, and neither replaced nor expired yet), for replay.
    """
    where = [AL.c.city == city, AL.c.msg_type.in_(("Alert", "Update"))]
    if active_at_ms is not None:
        where += [AL.c.state == "active", or_(AL.c.expires_ms.is_(None), AL.c.expires_ms > active_at_ms)]
    if in_force_at_ms is not None:
        at = in_force_at_ms
        where += [
            AL.c.received_ms <= at,
            or_(AL.c.ended_ms.is_(None), AL.c.ended_ms > at),
            or_(AL.c.expires_ms.is_(None), AL.c.expires_ms > at),
        ]
    if relevant is not None:
        where.append(AL.c.relevant.is_(relevant))
    total = conn.execute(select(func.count()).select_from(AL).where(*where)).scalar_one()
    rows = (
        conn.execute(select(AL).where(*where).order_by(AL.c.sent_ms.desc(), AL.c.id.desc()).limit(limit).offset(offset))
        .mappings()
        .all()
    )
    return rows, int(total)
