"""Reading alarms: lists with filters (now, or as they stood at a past instant), detail with history, counts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, case, func, select

from app.alarms.rules import SEVERITY_RANK
from app.alarms.store import OPEN_STATES
from app.profile import SEVERITIES
from app.storage.models import AlarmEventRow, AlarmRow

A = AlarmRow.__table__
E = AlarmEventRow.__table__


@dataclass(frozen=True, slots=True)
class AlarmFilter:
    city: str
    states: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    source_id: str | None = None
    district: str | None = None
    rule_id: str | None = None
    kind: str | None = None
    at_ms: int | None = None  # alarms open at this past instant, in the state they had then


def _where(f: AlarmFilter) -> list:
    w = [A.c.city == f.city]
    if f.at_ms is not None:
        w += [A.c.raised_ms <= f.at_ms, (A.c.cleared_ms.is_(None)) | (A.c.cleared_ms > f.at_ms)]
    elif f.states:
        w.append(A.c.state.in_(f.states))
    if f.severities:
        w.append(A.c.severity.in_(f.severities))
    if f.source_id is not None:
        w.append(A.c.source_id == f.source_id)
    if f.district is not None:
        w.append(A.c.district == f.district)
    if f.rule_id is not None:
        w.append(A.c.rule_id == f.rule_id)
    if f.kind is not None:
        w.append(A.c.kind == f.kind)
    return w


def list_alarms(*, conn: Connection, f: AlarmFilter, order: str, limit: int, offset: int) -> tuple[list[Mapping], int]:
    """A page of alarms and the total; `order` is `recent` (newest first) or `severity` (worst, then newest)."""
    where = _where(f)
    total = conn.execute(select(func.count()).select_from(A).where(*where)).scalar_one()
    q = select(A).where(*where)
    if order == "severity":
        rank = case({s: r for s, r in SEVERITY_RANK.items()}, value=A.c.severity, else_=0)
        q = q.order_by(rank.desc(), A.c.raised_ms.desc(), A.c.id.desc())
    else:
        q = q.order_by(A.c.raised_ms.desc(), A.c.id.desc())
    rows = conn.execute(q.limit(limit).offset(offset)).mappings().all()
    if f.at_ms is not None:
        rows = [as_of(r, f.at_ms) for r in rows]
        if f.states:
            rows = [r for r in rows if r["state"] in f.states]
    return rows, total


def as_of(row: Mapping, at_ms: int) -> dict:
    """An alarm as it stood at `at_ms` (open then): acknowledged only if that happened by then."""
    r = dict(row)
    acked = r["acked_ms"] is not None and r["acked_ms"] <= at_ms
    r["state"] = "acknowledged" if acked else "active"
    if not acked:
        r["acked_ms"] = r["acked_by"] = None
    r["cleared_ms"] = r["cleared_by"] = None
    return r


def get_alarm(*, conn: Connection, city: str, alarm_id: int) -> Mapping | None:
    return conn.execute(select(A).where(A.c.id == alarm_id, A.c.city == city)).mappings().first()


def history(*, conn: Connection, alarm_id: int) -> list[Mapping]:
    return conn.execute(select(E).where(E.c.alarm_id == alarm_id).order_by(E.c.at_ms, E.c.id)).mappings().all()


def open_counts(*, conn: Connection, city: str) -> dict[str, int]:
    """Open (active or acknowledged) alarms by severity, with `total` and `unacknowledged`."""
    counts = dict.fromkeys(SEVERITIES, 0)
    unacked = 0
    for sev, state, n in conn.execute(
        select(A.c.severity, A.c.state, func.count())
        .where(A.c.city == city, A.c.state.in_(OPEN_STATES))
        .group_by(A.c.severity, A.c.state)
    ):
        counts[sev] = counts.get(sev, 0) + n
        if state == "active":
            unacked += n
    counts["total"] = sum(counts[s] for s in SEVERITIES)
    counts["unacknowledged"] = unacked
    return counts
