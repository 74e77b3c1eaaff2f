"""Ticket events in the batch transaction: store each once, then re-derive the tickets they touch."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Connection, RowMapping, select, tuple_, update

from app.services.rollup import TICKET_COLUMNS, Delta
from app.storage.dialect import insert_for
from app.storage.models import TicketEventRow, TicketRow
from app.tickets.lifecycle import FIELDS, Deadlines, derive_ticket
from ingest.messages import TicketEvent


def apply_ticket_events(
    conn: Connection, events: list[TicketEvent], deadlines_of: Callable[[str], Deadlines]
) -> tuple[int, list[tuple[str, str]]]:
    """Store new events (keyed by ticket, status, ts) and update their tickets; returns (stored, changed tickets).

    `deadlines_of(city)` is the city's profile: each ticket's due times follow its own city's SLAs and calendar.
    """
    tt, et = TicketRow.__table__, TicketEventRow.__table__
    first: dict[tuple[str, str], TicketEvent] = {}
    for e in events:
        first.setdefault((e.city, e.ticket_id), e)
    # What the tickets counted in the per-day rollup before this batch (new tickets: nothing).
    before = {
        (r["city"], r["ticket_id"]): r
        for r in conn.execute(
            select(tt.c.ticket_id, *(tt.c[c] for c in TICKET_COLUMNS)).where(
                tuple_(tt.c.city, tt.c.ticket_id).in_(list(first))
            )
        ).mappings()
    }
    # A placeholder row for new tickets; its columns are derived below.
    conn.execute(
        insert_for(conn, tt).on_conflict_do_nothing(index_elements=[tt.c.city, tt.c.ticket_id]),
        [
            {
                "city": c,
                "ticket_id": t,
                "agency": e.agency,
                "status": e.status,
                "opened_ms": e.ts_ms,
                "updated_ms": e.ts_ms,
            }
            for (c, t), e in first.items()
        ],
    )
    pks = {
        (c, t): pk
        for pk, c, t in conn.execute(
            select(tt.c.id, tt.c.city, tt.c.ticket_id).where(tuple_(tt.c.city, tt.c.ticket_id).in_(list(first)))
        )
    }
    ins = (
        insert_for(conn, et)
        .on_conflict_do_nothing(index_elements=[et.c.ticket_pk, et.c.status, et.c.ts_ms])
        .returning(et.c.id)
    )
    now = int(time.time() * 1000)
    stored = 0
    dirty: dict[int, tuple[str, str]] = {}
    for e in events:
        key = (e.city, e.ticket_id)
        row = {"ticket_pk": pks[key], "status": e.status, "ts_ms": e.ts_ms, "received_ms": now}
        row.update({f: getattr(e, f) for f in FIELDS})
        if conn.execute(ins, row).first() is None:
            continue  # a redelivered or republished event: changes nothing
        stored += 1
        dirty[pks[key]] = key
    if not dirty:
        return 0, []
    history: dict[int, list[RowMapping]] = {pk: [] for pk in dirty}
    for ev in conn.execute(select(et).where(et.c.ticket_pk.in_(list(dirty)))).mappings():
        history[ev["ticket_pk"]].append(ev)
    rollup = Delta()
    for pk, key in dirty.items():
        row = derive_ticket(history[pk], deadlines_of(key[0]))
        conn.execute(update(TicketRow).where(TicketRow.id == pk).values(**row))
        rollup.add(before.get(key), -1)
        rollup.add({"city": key[0], "service": None, **row})
    rollup.write(conn)
    return stored, list(dirty.values())
