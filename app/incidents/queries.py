"""Reading incidents: the list (now, or as they were at a past instant), one with its steps, links and log,
and the regent's summary over a period. The caller owns the connection."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, RowMapping, and_, func, or_, select

from app.incidents.store import OPEN_STATES, ST, G, I, L


def list_incidents(
    *, conn: Connection, city: str, states: Sequence[str], at_ms: int | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """A page of incidents, newest first, and their total.

    With `at_ms`: those open at that instant, each with the state it had then (from its log), for the replay.
    """
    where = [I.c.city == city]
    if at_ms is not None:
        where += [I.c.opened_ms <= at_ms, or_(I.c.closed_ms.is_(None), I.c.closed_ms > at_ms)]
    elif states:
        where.append(I.c.state.in_(states))
    total = conn.execute(select(func.count()).select_from(I).where(*where)).scalar_one()
    rows = [
        dict(r)
        for r in conn.execute(select(I).where(*where).order_by(I.c.id.desc()).limit(limit).offset(offset)).mappings()
    ]
    if at_ms is not None:
        for r in rows:
            r.update(state_at(conn=conn, incident_id=r["id"], at_ms=at_ms))
    return rows, int(total)


def state_at(*, conn: Connection, incident_id: int, at_ms: int) -> dict[str, Any]:
    """The incident's state and owner at a past instant, from its log."""
    entries = conn.execute(
        select(G.c.kind, G.c.detail)
        .where(G.c.incident_id == incident_id, G.c.at_ms <= at_ms, G.c.kind.in_(("opened", "state", "handover")))
        .order_by(G.c.at_ms, G.c.id)
    ).all()
    out: dict[str, Any] = {"state": "open"}
    for kind, detail in entries:
        d = orjson.loads(detail)
        if kind == "state":
            out["state"] = d["state"]
        elif kind == "handover":
            out["owner"] = d["to"]
    return out


def get_incident(*, conn: Connection, city: str, incident_id: int) -> RowMapping | None:
    return conn.execute(select(I).where(I.c.id == incident_id, I.c.city == city)).mappings().first()


def steps_of(*, conn: Connection, incident_id: int) -> list[RowMapping]:
    """The incident's checklist, in order."""
    return list(conn.execute(select(ST).where(ST.c.incident_id == incident_id).order_by(ST.c.seq)).mappings())


def links_of(*, conn: Connection, incident_id: int) -> list[RowMapping]:
    """What is linked to the incident, in the order it was linked."""
    return list(conn.execute(select(L).where(L.c.incident_id == incident_id).order_by(L.c.id)).mappings())


def log_of(*, conn: Connection, incident_id: int) -> list[RowMapping]:
    """The incident's log, oldest first."""
    return list(conn.execute(select(G).where(G.c.incident_id == incident_id).order_by(G.c.at_ms, G.c.id)).mappings())


def open_for(*, conn: Connection, city: str, kind: str, ref: str) -> list[int]:
    """The open incidents an alarm or ticket is linked to."""
    q = (
        select(I.c.id)
        .join(L, L.c.incident_id == I.c.id)
        .where(I.c.city == city, I.c.state.in_(OPEN_STATES), and_(L.c.kind == kind, L.c.ref == ref))
    )
    return list(conn.execute(q).scalars())


# --- the regent's summary --------------------------------------------------------------


def _pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1], 1)


@dataclass
class Summary:
    """Incidents opened in a period: how many, of what and where, how fast the first action and the close."""

    total: int = 0
    open: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    by_district: dict[str, int] = field(default_factory=dict)
    by_state: dict[str, int] = field(default_factory=dict)
    first_action_median_min: float | None = None
    first_action_p90_min: float | None = None
    close_median_min: float | None = None
    close_p90_min: float | None = None
    steps_total: int = 0
    steps_late: int = 0


def summary(*, conn: Connection, city: str, start_ms: int, end_ms: int) -> Summary:
    """The summary of the incidents opened in [start_ms, end_ms)."""
    rows = list(
        conn.execute(select(I).where(I.c.city == city, I.c.opened_ms >= start_ms, I.c.opened_ms < end_ms)).mappings()
    )
    out = Summary(total=len(rows))
    if not rows:
        return out
    out.open = sum(r["state"] in OPEN_STATES for r in rows)
    out.by_type = dict(Counter(r["type"] for r in rows).most_common())
    out.by_district = dict(Counter(r["district"] or "-" for r in rows).most_common())
    out.by_state = dict(Counter(r["state"] for r in rows).most_common())
    first = [(r["first_action_ms"] - r["opened_ms"]) / 60_000 for r in rows if r["first_action_ms"] is not None]
    closed = [(r["closed_ms"] - r["opened_ms"]) / 60_000 for r in rows if r["state"] == "closed"]
    out.first_action_median_min = round(statistics.median(first), 1) if first else None
    out.first_action_p90_min = _pct(first, 90)
    out.close_median_min = round(statistics.median(closed), 1) if closed else None
    out.close_p90_min = _pct(closed, 90)
    ids = [r["id"] for r in rows]
    out.steps_total, out.steps_late = conn.execute(
        select(func.count(), func.count(ST.c.late_ms)).where(ST.c.incident_id.in_(ids))
    ).one()
    return out
