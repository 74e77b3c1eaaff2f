"""Ticket queries: the filtered list, one ticket with its lifecycle, and what a ticket row means to a reader.

Two SLA words, kept apart on purpose:

- `overdue`: the ticket is still open (not resolved/closed/cancelled) and its
  due time has passed. It is a state *now*, what the operator acts on.
- `breached`: the ticket missed its SLA, whether still open past due or
  resolved/closed after its due time. It is a verdict, what a report counts.
  A cancelled ticket is never breached (nothing was delivered late), the same
  rule that keeps cancellations out of the SLA percentage.

A ticket without a due time (no SLA known) is neither.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, Connection, RowMapping, and_, case, false, func, literal, not_, or_, select

from app.profile import Profile
from app.storage.models import ACTIVE_WHERE, TicketEventRow, TicketRow
from app.tickets.lifecycle import RANK, TERMINAL

STATUSES: tuple[str, ...] = tuple(RANK)
ACTIVE: tuple[str, ...] = tuple(s for s in STATUSES if s not in TERMINAL)
RESOLVED: tuple[str, ...] = ("resolved", "closed")  # terminal and delivered: what SLA verdicts count
# Keep in step with ingest.messages.TICKET_PRIORITIES (a test checks); app may not import ingest.
PRIORITIES: tuple[str, ...] = ("low", "normal", "high", "critical")
# Pseudo-statuses a filter may use besides the real ones.
STATUS_GROUPS: dict[str, tuple[str, ...]] = {"active": ACTIVE, "terminal": tuple(sorted(TERMINAL))}
_ACTIVE_IN = "status IN (" + ", ".join(f"'{s}'" for s in ACTIVE) + ")"
if _ACTIVE_IN != ACTIVE_WHERE:  # an import-time check that `python -O` keeps
    raise RuntimeError("the partial index on active tickets (ACTIVE_WHERE) must name the active set")

T = TicketRow.__table__


@dataclass(frozen=True, slots=True)
class TicketFilter:
    """What a ticket list or export asks for; empty fields do not filter."""

    city: str
    statuses: tuple[str, ...] = ()
    agency: str | None = None
    service: str | None = None
    district: str | None = None
    priority: str | None = None
    overdue: bool | None = None
    breached: bool | None = None
    opened_from_ms: int | None = None
    opened_to_ms: int | None = None
    stage_late: bool | None = None  # SP4N-LAPOR!: still open and past its stage's working-day target


def is_active() -> ColumnElement[bool]:
    """SQL for 'still open', in the words of the partial index `ix_tickets_active`: the values inline, not bound,
    or neither SQLite nor a prepared PostgreSQL statement can tell that the index covers the query."""
    return T.c.status.in_([literal(s, literal_execute=True) for s in ACTIVE])


def overdue_clause(now_ms: int) -> ColumnElement[bool]:
    """SQL for 'still open and past its due time'."""
    return and_(is_active(), T.c.due_ms.is_not(None), T.c.due_ms < now_ms)


def stage_late_clause(now_ms: int) -> ColumnElement[bool]:
    """SQL for 'still open and past the target of its LAPOR! stage'."""
    return and_(is_active(), T.c.stage_due_ms.is_not(None), T.c.stage_due_ms < now_ms)


def _not_overdue(now_ms: int) -> ColumnElement[bool]:
    # Spelled out rather than NOT(...): a NULL due time must count as 'not overdue', not as unknown.
    return or_(T.c.status.not_in(ACTIVE), T.c.due_ms.is_(None), T.c.due_ms >= now_ms)


def _late_resolution() -> ColumnElement[bool]:
    return and_(T.c.status.in_(RESOLVED), T.c.due_ms.is_not(None), T.c.resolved_ms > T.c.due_ms)


def _where(f: TicketFilter, now_ms: int) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [T.c.city == f.city]
    if f.statuses:
        conds.append(is_active() if set(f.statuses) == set(ACTIVE) else T.c.status.in_(f.statuses))
    for col, value in (
        (T.c.agency, f.agency),
        (T.c.service, f.service),
        (T.c.district, f.district),
        (T.c.priority, f.priority),
    ):
        if value is not None:
            conds.append(col == value)
    if f.overdue is not None:
        conds.append(overdue_clause(now_ms) if f.overdue else _not_overdue(now_ms))
    if f.breached is True:
        conds.append(or_(overdue_clause(now_ms), _late_resolution()))
    elif f.breached is False:
        conds.append(and_(_not_overdue(now_ms), not_(func.coalesce(_late_resolution(), false()))))
    if f.stage_late is not None:
        late = stage_late_clause(now_ms)
        conds.append(late if f.stage_late else not_(func.coalesce(late, false())))
    if f.opened_from_ms is not None:
        conds.append(T.c.opened_ms >= f.opened_from_ms)
    if f.opened_to_ms is not None:
        conds.append(T.c.opened_ms < f.opened_to_ms)
    return conds


def list_tickets(
    *, conn: Connection, filters: TicketFilter, now_ms: int, limit: int, offset: int
) -> tuple[list[RowMapping], int]:
    """One page of tickets matching `filters`, newest opened first, and how many match in all."""
    conds = _where(filters, now_ms)
    total = conn.execute(select(func.count()).select_from(T).where(*conds)).scalar_one()
    rows = (
        conn.execute(select(T).where(*conds).order_by(T.c.opened_ms.desc(), T.c.id.desc()).limit(limit).offset(offset))
        .mappings()
        .all()
    )
    return list(rows), total


def iter_tickets(*, conn: Connection, filters: TicketFilter, now_ms: int) -> Iterator[RowMapping]:
    """Every ticket matching `filters`, newest opened first, fetched in chunks (for exports)."""
    stmt = select(T).where(*_where(filters, now_ms)).order_by(T.c.opened_ms.desc(), T.c.id.desc())
    yield from conn.execution_options(yield_per=1000).execute(stmt).mappings()


def stage_counts(*, conn: Connection, city: str, now_ms: int) -> list[tuple[str, str, int, int]]:
    """Open tickets per agency and SP4N-LAPOR! stage: (agency, stage, in the stage, late in it)."""
    late = func.sum(case((T.c.stage_due_ms < now_ms, 1), else_=0))
    rows = conn.execute(
        select(T.c.agency, T.c.stage, func.count(), late)
        .where(T.c.city == city, is_active(), T.c.stage.is_not(None))
        .group_by(T.c.agency, T.c.stage)
    )
    return [(a, s, int(n), int(k or 0)) for a, s, n, k in rows]


def get_ticket(*, conn: Connection, city: str, ticket_id: str) -> RowMapping | None:
    """One ticket by its city and id, or None."""
    return conn.execute(select(T).where(T.c.city == city, T.c.ticket_id == ticket_id)).mappings().first()


def ticket_events(*, conn: Connection, ticket_pk: int) -> list[RowMapping]:
    """A ticket's events in lifecycle order (time, then the later status first on a tie, as the derivation does)."""
    rows = conn.execute(select(TicketEventRow.__table__).where(TicketEventRow.ticket_pk == ticket_pk)).mappings()
    return sorted(rows, key=lambda e: (e["ts_ms"], RANK.get(e["status"], 0), e["id"]))


def id_in_tickets(*, conn: Connection, city: str, column: Literal["agency", "service", "district"], value: str) -> bool:
    """Whether any ticket of `city` names `value` as its agency, service or district."""
    return conn.execute(select(T.c.id).where(T.c.city == city, T.c[column] == value).limit(1)).first() is not None


def is_overdue(row: RowMapping | dict[str, Any], now_ms: int) -> bool:
    """Still open and past its due time (see the module docstring)."""
    return row["status"] in ACTIVE and row["due_ms"] is not None and row["due_ms"] < now_ms


def is_breached(row: RowMapping | dict[str, Any], now_ms: int) -> bool:
    """Missed its SLA: open past due, or resolved/closed after due; never when cancelled."""
    if is_overdue(row, now_ms):
        return True
    due = row["due_ms"]
    return row["status"] in RESOLVED and due is not None and row["resolved_ms"] > due


def is_stage_late(row: RowMapping | dict[str, Any], now_ms: int) -> bool:
    """Still open and past the working-day target of its LAPOR! stage."""
    due = row.get("stage_due_ms")
    return row["status"] in ACTIVE and due is not None and due < now_ms


def ticket_view(row: RowMapping | dict[str, Any], profile: Profile, now_ms: int) -> dict[str, Any]:
    """A ticket row as readers see it: stored columns, profile labels, effective SLA and the SLA verdicts."""
    agency = next((a for a in profile.agencies if a.id == row["agency"]), None)
    service = profile.service(row["service"]) if row["service"] else None
    sla = row["sla_minutes"] if row["sla_minutes"] is not None else (service.sla_minutes if service else None)
    return {
        "ticket_id": row["ticket_id"],
        "city": row["city"],
        "agency": row["agency"],
        "agency_name": agency.short if agency else None,
        "agency_registered": agency is not None,
        "service": row["service"],
        "service_name": service.name.id if service else None,
        "status": row["status"],
        "priority": row["priority"],
        "district": row["district"],
        "title": row["title"],
        "description": row["description"],
        "opened_ms": row["opened_ms"],
        "resolved_ms": row["resolved_ms"],
        "due_ms": row["due_ms"],
        "updated_ms": row["updated_ms"],
        "overdue": is_overdue(row, now_ms),
        "breached": is_breached(row, now_ms),
        "sla_minutes": sla,
        "lat": row["lat"],
        "lon": row["lon"],
        "sla_working_days": service.sla_working_days if service and row["sla_minutes"] is None else None,
        "stage": row.get("stage"),
        "stage_since_ms": row.get("stage_since_ms"),
        "stage_due_ms": row.get("stage_due_ms"),
        "stage_late": is_stage_late(row, now_ms),
    }
