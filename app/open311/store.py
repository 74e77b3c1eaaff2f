"""Open311 requests in storage: the token of each POST, its personal data kept apart, and requests as tickets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, delete, select, update

from app.storage.models import Open311RequestRow, TicketRow
from app.tickets.lifecycle import TERMINAL
from app.tickets.queries import ACTIVE

T = TicketRow.__table__
R = Open311RequestRow.__table__
PERSONAL = ("first_name", "last_name", "email", "phone")
OPEN311_STATUS = {s: "open" for s in ACTIVE} | {s: "closed" for s in TERMINAL}


@dataclass(frozen=True, slots=True)
class RequestFilter:
    """GET requests' parameters, checked: ids, service codes, requested between [start, end), open/closed."""

    city: str
    start_ms: int
    end_ms: int
    ids: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()  # our statuses
    hidden_agencies: tuple[str, ...] = ()


def add_request(*, conn: Connection, row: dict[str, Any]) -> None:
    """Keep a POST's token, ticket id, address, media URL and personal data (before its event is published)."""
    conn.execute(R.insert().values(**row))


def drop_request(*, conn: Connection, token: str) -> None:
    """Forget a POST whose event could not be published (nothing was created, so nothing personal stays)."""
    conn.execute(delete(R).where(R.c.token == token))


def token_ticket(*, conn: Connection, city: str, token: str) -> tuple[str, bool] | None:
    """The ticket id a token asked for and whether the ingestor has stored it; None for an unknown token."""
    row = conn.execute(
        select(R.c.ticket_id, T.c.id)
        .select_from(R.outerjoin(T, (T.c.city == R.c.city) & (T.c.ticket_id == R.c.ticket_id)))
        .where(R.c.city == city, R.c.token == token)
    ).first()
    return None if row is None else (row[0], row[1] is not None)


def list_requests(*, conn: Connection, f: RequestFilter, limit: int) -> list[RowMapping]:
    """Tickets as Open311 requests (with the address and media URL of those that came by Open311), newest first."""
    conds = [T.c.city == f.city]
    if f.ids:
        conds.append(T.c.ticket_id.in_(f.ids))  # the spec: ids override the other filters
    else:
        conds += [T.c.opened_ms >= f.start_ms, T.c.opened_ms < f.end_ms]
        if f.codes:
            conds.append(T.c.service.in_(f.codes))
        if f.statuses:
            conds.append(T.c.status.in_(f.statuses))
    if f.hidden_agencies:
        conds.append(T.c.agency.not_in(f.hidden_agencies))
    stmt = (
        select(T, R.c.address, R.c.media_url)
        .select_from(T.outerjoin(R, (R.c.city == T.c.city) & (R.c.ticket_id == T.c.ticket_id)))
        .where(*conds)
        .order_by(T.c.opened_ms.desc(), T.c.id.desc())
        .limit(limit)
    )
    return list(conn.execute(stmt).mappings())


def personal_data(*, conn: Connection, city: str, ticket_id: str) -> RowMapping | None:
    """The citizen's own data for a ticket that came by Open311 (None: no such request)."""
    cols = [R.c.ticket_id, R.c.agency, R.c.created_ms, R.c.erased_ms, *(R.c[c] for c in PERSONAL)]
    return conn.execute(select(*cols).where(R.c.city == city, R.c.ticket_id == ticket_id)).mappings().first()


def erase_personal_data(*, conn: Connection, older_than_ms: int, now_ms: int) -> int:
    """Erase the personal data of requests made before `older_than_ms`; how many were erased."""
    return conn.execute(
        update(R)
        .where(R.c.created_ms < older_than_ms, R.c.erased_ms.is_(None))
        .values(erased_ms=now_ms, **dict.fromkeys(PERSONAL))
    ).rowcount


def erase_past_retention(*, engine: Engine, days: int, now_ms: int) -> int:
    """Erase, in its own transaction, the personal data kept longer than `days` (retention turn, `db prune`)."""
    with engine.begin() as conn:
        return erase_personal_data(conn=conn, older_than_ms=now_ms - days * 86_400_000, now_ms=now_ms)


def status_of(row: RowMapping | dict[str, Any]) -> str:
    """Our status in the spec's two words."""
    return OPEN311_STATUS.get(row["status"], "open")


def our_statuses(words: Sequence[str]) -> tuple[str, ...]:
    """The spec's `open`/`closed` as our statuses."""
    return tuple(s for s, w in OPEN311_STATUS.items() if w in words)
