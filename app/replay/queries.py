"""The city at a past instant, read from what is stored: source health, open tickets, ticket events, the pulse.

Source health at T uses the per-minute rollups (the last reading time of
each series up to T; the hourly rollups further back), so it needs no raw
readings and survives their pruning. A ticket is open at T when it was
opened by T and not yet resolved, closed or cancelled; its status at T is
that of its latest event up to T.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, RowMapping, and_, func, or_, select

from app.profile import Profile
from app.sources.queries import HEALTH_STATES, SourceHealth, classify, source_health
from app.storage.models import (
    IngestMinuteRow,
    RollupHourRow,
    RollupMinuteRow,
    SeriesRow,
    TicketEventRow,
    TicketRow,
)

MINUTE_LOOKBACK_S = 2 * 3600  # per-minute rollups this far back; hourly ones beyond
HOUR_LOOKBACK_S = 2 * 86_400  # silent longer than this before T: offline for any interval the profile uses
MAX_TICKETS = 2000


@dataclass(frozen=True, slots=True)
class TicketAt:
    """A ticket as it stood at the instant."""

    ticket_id: str
    agency: str
    service: str | None
    status: str
    priority: str
    district: str | None
    title: str | None
    lat: float | None
    lon: float | None
    opened_ms: int
    due_ms: int | None
    overdue: bool


@dataclass(frozen=True, slots=True)
class TicketStep:
    """A ticket opened or resolved: a line of the feed as it was."""

    at_ms: int
    ticket_id: str
    agency: str
    service: str | None
    district: str | None
    title: str | None
    priority: str
    status: str  # "open" when it was opened, else its terminal status


def _last_seen(
    *,
    conn: Connection,
    rollup: type[RollupMinuteRow | RollupHourRow],
    series_pks: list[int],
    lo_s: int,
    hi_s: int,
    at_ms: int,
) -> dict[int, int]:
    r = rollup.__table__.c
    s = SeriesRow.__table__.c
    # One index range per series (the rollups' key is series, then bucket).
    last = (
        select(func.max(r.last_ts_ms))
        .where(r.series_id == s.id, r.bucket >= lo_s, r.bucket <= hi_s, r.last_ts_ms <= at_ms)
        .scalar_subquery()
    )
    rows = conn.execute(select(s.source_pk, last).where(s.source_pk.in_(series_pks)))
    out: dict[int, int] = {}
    for pk, ts in rows:
        if ts is not None and ts > out.get(pk, -1):
            out[pk] = ts
    return out


def sources_at(*, conn: Connection, profile: Profile, city: str, at_ms: int) -> list[SourceHealth]:
    """The city's sources known at `at_ms` (registered ones always), with their health at that instant."""
    now_view = source_health(conn=conn, profile=profile, city=city, now_ms=at_ms)
    # Registered sources (the profile's, an admin's) are listed at any instant; others from their first message.
    known = [s for s in now_view if s.registered or s.first_seen_ms is None or s.first_seen_ms <= at_ms]
    pks = [s.pk for s in known]
    at_s = at_ms // 1000
    seen: dict[int, int] = {}
    if pks:
        seen = _last_seen(
            conn=conn, rollup=RollupMinuteRow, series_pks=pks, lo_s=at_s - MINUTE_LOOKBACK_S, hi_s=at_s, at_ms=at_ms
        )
    if older := [pk for pk in pks if pk not in seen]:
        seen.update(
            _last_seen(
                conn=conn, rollup=RollupHourRow, series_pks=older, lo_s=at_s - HOUR_LOOKBACK_S, hi_s=at_s, at_ms=at_ms
            )
        )
    out = []
    for s in known:
        last = seen.get(s.pk)
        # A status word after T is not known at T; one before T counts if nothing was heard since.
        reported = s.status_reported if (s.status_reported_ms or 0) <= at_ms else None
        health = classify(
            last_seen_ms=last,
            reported=reported,
            reported_ms=s.status_reported_ms,
            interval_s=s.expected_interval_s,
            now_ms=at_ms,
        )
        out.append(
            SourceHealth(
                **{**{f: getattr(s, f) for f in SourceHealth.__slots__}, "last_seen_ms": last, "status": health}
            )
        )
    return out


def health_counts_at(sources: list[SourceHealth]) -> dict[str, int]:
    counts: dict[str, int] = {h: 0 for h in HEALTH_STATES}
    for s in sources:
        counts[s.status] += 1
    return {**counts, "total": len(sources)}


def tickets_open_at(*, conn: Connection, city: str, at_ms: int, limit: int = MAX_TICKETS) -> list[TicketAt]:
    """Tickets open at `at_ms` (opened by then, not yet finished), newest first, with their status then."""
    t = TicketRow.__table__.c
    rows = (
        conn.execute(
            select(TicketRow.__table__)
            .where(t.city == city, t.opened_ms <= at_ms, or_(t.resolved_ms.is_(None), t.resolved_ms > at_ms))
            .order_by(t.opened_ms.desc())
            .limit(limit)
        )
        .mappings()
        .all()
    )
    if not rows:
        return []
    e = TicketEventRow.__table__.c
    status: dict[int, tuple[int, str]] = {}
    for pk, ts, st in conn.execute(
        select(e.ticket_pk, e.ts_ms, e.status).where(e.ticket_pk.in_([r["id"] for r in rows]), e.ts_ms <= at_ms)
    ):
        if ts >= status.get(pk, (-1, ""))[0]:
            status[pk] = (ts, st)
    return [
        TicketAt(
            ticket_id=r["ticket_id"],
            agency=r["agency"],
            service=r["service"],
            status=status.get(r["id"], (0, "open"))[1],
            priority=r["priority"],
            district=r["district"],
            title=r["title"],
            lat=r["lat"],
            lon=r["lon"],
            opened_ms=r["opened_ms"],
            due_ms=r["due_ms"],
            overdue=r["due_ms"] is not None and r["due_ms"] < at_ms,
        )
        for r in rows
    ]


def ticket_steps(*, conn: Connection, city: str, start_ms: int, at_ms: int, limit: int = 40) -> list[TicketStep]:
    """Tickets opened or finished in (start_ms, at_ms], newest first: the feed as it was."""
    t = TicketRow.__table__.c
    opened = (
        conn.execute(
            select(TicketRow.__table__)
            .where(t.city == city, t.opened_ms > start_ms, t.opened_ms <= at_ms)
            .order_by(t.opened_ms.desc())
            .limit(limit)
        )
        .mappings()
        .all()
    )
    finished = (
        conn.execute(
            select(TicketRow.__table__)
            .where(t.city == city, and_(t.resolved_ms > start_ms, t.resolved_ms <= at_ms))
            .order_by(t.resolved_ms.desc())
            .limit(limit)
        )
        .mappings()
        .all()
    )

    def step(r: RowMapping, at: int, status: str) -> TicketStep:
        return TicketStep(
            at, r["ticket_id"], r["agency"], r["service"], r["district"], r["title"], r["priority"], status
        )

    steps = [step(r, r["opened_ms"], "open") for r in opened]
    steps += [
        step(r, r["resolved_ms"], r["status"] if r["status"] in ("closed", "cancelled") else "resolved")
        for r in finished
    ]
    steps.sort(key=lambda s: -s.at_ms)
    return steps[:limit]


def messages_around(*, conn: Connection, city: str, at_ms: int) -> int:
    """Messages received in the minute of `at_ms` and the one before (the overview's 'last minute' at that time)."""
    m = IngestMinuteRow.__table__.c
    minute = at_ms // 60_000 * 60
    return int(
        conn.execute(
            select(func.sum(m.received)).where(m.city == city, m.bucket >= minute - 60, m.bucket <= minute)
        ).scalar()
        or 0
    )
