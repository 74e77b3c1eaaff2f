"""The overview's figures, each from a small indexed read: sources, tickets and the ingest pulse.

Windows over `ingest_minute` (per-minute counts keyed by the minute's start):
"last minute" is the previous full minute plus the current, partial one, so
the figure does not drop to zero at every minute boundary; "last hour" is the
60 previous full minutes plus the current one.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, case, func, select

from app.profile import Profile
from app.sources.queries import health_counts
from app.storage.models import IngestMinuteRow, TicketRow
from app.tickets.queries import is_active


@dataclass(frozen=True, slots=True)
class Overview:
    city: str
    now_ms: int
    sources: dict[str, int]
    open_tickets: int
    overdue_tickets: int
    messages_last_minute: int
    readings_last_minute: int
    quarantined_last_hour: int


def ticket_counts(*, conn: Connection, city: str, now_ms: int) -> tuple[int, int]:
    """How many of the city's tickets are open (not resolved, closed or cancelled), and how many of those are overdue."""
    t = TicketRow.__table__.c
    # `status IN (the active ones)`, not `NOT IN (the terminal ones)`: the same set, but only the first
    # lets the planner read the few open tickets from their partial index instead of scanning them all.
    row = conn.execute(
        select(func.count(), func.sum(case((t.due_ms < now_ms, 1), else_=0))).where(t.city == city, is_active())
    ).one()
    return int(row[0]), int(row[1] or 0)


def ingest_counts(*, conn: Connection, city: str, since_s: int) -> tuple[int, int, int]:
    """Messages received, stored and quarantined for the city in the minutes starting at or after `since_s`."""
    m = IngestMinuteRow.__table__.c
    row = conn.execute(
        select(func.sum(m.received), func.sum(m.stored), func.sum(m.quarantined)).where(
            m.city == city, m.bucket >= since_s
        )
    ).one()
    received, stored, quarantined = row
    return int(received or 0), int(stored or 0), int(quarantined or 0)


def overview(*, conn: Connection, profile: Profile, city: str, now_ms: int) -> Overview:
    """The city's overview at `now_ms`."""
    minute = now_ms // 60_000 * 60
    received, stored, _ = ingest_counts(conn=conn, city=city, since_s=minute - 60)
    _, _, quarantined = ingest_counts(conn=conn, city=city, since_s=minute - 3600)
    open_, overdue = ticket_counts(conn=conn, city=city, now_ms=now_ms)
    return Overview(
        city=city,
        now_ms=now_ms,
        sources=health_counts(conn=conn, profile=profile, city=city, now_ms=now_ms),
        open_tickets=open_,
        overdue_tickets=overdue,
        messages_last_minute=received,
        readings_last_minute=stored,
        quarantined_last_hour=quarantined,
    )
