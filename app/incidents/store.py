"""What operators do to incidents, in the caller's transaction: open, tick or skip a step, note, link,
hand over, move through the lifecycle. Each write adds a log entry and returns the change to announce.

The lifecycle is `open -> responding -> monitoring -> closed`, with `cancelled`
from any state that is not final; `monitoring` may go back to `responding`.
Closing needs every mandatory step done, or skipped with a reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from sqlalchemy import Connection, RowMapping, func, select, update

from app.alarms.queries import get_alarm
from app.incidents.sops import Sop
from app.live.notices import IncidentMoved
from app.storage.dialect import insert_for
from app.storage.models import IncidentLinkRow, IncidentLogRow, IncidentRow, IncidentStepRow
from app.tickets.queries import get_ticket

I = IncidentRow.__table__  # noqa: E741 - the table, as A is the alarms' table in app.alarms
ST = IncidentStepRow.__table__
L = IncidentLinkRow.__table__
G = IncidentLogRow.__table__

State = Literal["open", "responding", "monitoring", "closed", "cancelled"]
STATES: tuple[State, ...] = ("open", "responding", "monitoring", "closed", "cancelled")
OPEN_STATES: tuple[State, ...] = ("open", "responding", "monitoring")
NEXT: dict[str, frozenset[str]] = {
    "open": frozenset({"responding", "monitoring", "closed", "cancelled"}),
    "responding": frozenset({"monitoring", "closed", "cancelled"}),
    "monitoring": frozenset({"responding", "closed", "cancelled"}),
    "closed": frozenset(),
    "cancelled": frozenset(),
}
LinkKind = Literal["alarm", "ticket"]


class IncidentNotFound(LookupError):
    pass


class IncidentConflict(RuntimeError):
    """The incident's state forbids the operation (closing with open mandatory steps, ticking a closed one)."""


class BadLink(ValueError):
    """A link names an alarm or ticket the city does not have."""


@dataclass(frozen=True, slots=True)
class Opening:
    """What an operator gives to open an incident (already validated against the profile)."""

    city: str
    type: str
    title: str
    severity: str
    district: str | None
    lat: float | None
    lon: float | None
    agencies: Sequence[str]
    alarm_ids: Sequence[int]
    ticket_ids: Sequence[str]
    note: str | None = None
    situation_id: str | None = None  # the situation its alarms came from, noted in their link entries


def log_entry(
    conn: Connection, incident_id: int, *, at_ms: int, actor: str | None, kind: str, text: str | None, **detail: Any
) -> None:
    conn.execute(
        G.insert().values(
            incident_id=incident_id,
            at_ms=at_ms,
            actor=actor,
            kind=kind,
            text=text,
            detail=orjson.dumps(detail).decode(),
        )
    )


def _row(conn: Connection, city: str, incident_id: int) -> RowMapping:
    row = conn.execute(select(I).where(I.c.id == incident_id, I.c.city == city)).mappings().first()
    if row is None:
        raise IncidentNotFound(incident_id)
    return row


def _moved(conn: Connection, city: str, incident_id: int, now_ms: int) -> IncidentMoved:
    conn.execute(update(I).where(I.c.id == incident_id).values(updated_ms=now_ms))
    state = conn.execute(select(I.c.state).where(I.c.id == incident_id)).scalar_one()
    return IncidentMoved(city=city, incident_id=incident_id, state=state)


def resolve_links(
    *, conn: Connection, city: str, alarm_ids: Sequence[int], ticket_ids: Sequence[str]
) -> list[tuple[LinkKind, str, RowMapping]]:
    """The alarms and tickets to link, with their rows; BadLink naming the first the city does not have."""
    out: list[tuple[LinkKind, str, RowMapping]] = []
    for a in dict.fromkeys(alarm_ids):
        alarm = get_alarm(conn=conn, city=city, alarm_id=a)
        if alarm is None:
            raise BadLink(f"no alarm {a}")
        out.append(("alarm", str(a), alarm))  # type: ignore[arg-type]
    for t in dict.fromkeys(ticket_ids):
        ticket = get_ticket(conn=conn, city=city, ticket_id=t)
        if ticket is None:
            raise BadLink(f"no ticket {t!r}")
        out.append(("ticket", t, ticket))
    return out


def _add_links(
    conn: Connection,
    incident_id: int,
    links: Sequence[tuple[LinkKind, str, Any]],
    *,
    by: str,
    now_ms: int,
    situation_id: str | None = None,
) -> int:
    """Link what is not linked yet, each logged (with the situation it came with, if one); how many were new."""
    via = {"situation": situation_id} if situation_id else {}
    new = 0
    for kind, ref, _ in links:
        ins = (
            insert_for(conn, L)
            .values(incident_id=incident_id, kind=kind, ref=ref, linked_ms=now_ms, linked_by=by)
            .on_conflict_do_nothing(index_elements=[L.c.incident_id, L.c.kind, L.c.ref])
            .returning(L.c.id)
        )
        if conn.execute(ins).scalar() is not None:  # rowcount of an upsert is not reliable on every driver
            new += 1
            log_entry(conn, incident_id, at_ms=now_ms, actor=by, kind="link", text=None, link=kind, ref=ref, **via)
    return new


def open_incident(*, conn: Connection, o: Opening, sop: Sop, sop_version: int, by: str, now_ms: int) -> IncidentMoved:
    """A new incident with its SOP's steps copied and its links made; BadLink for an unknown alarm or ticket."""
    links = resolve_links(conn=conn, city=o.city, alarm_ids=o.alarm_ids, ticket_ids=o.ticket_ids)
    district, lat, lon = o.district, o.lat, o.lon
    for _kind, _ref, row in links:  # where it is, from what it was opened from, when not given
        district = district or row["district"]
        if lat is None and row["lat"] is not None:
            lat, lon = row["lat"], row["lon"]
    agencies = list(dict.fromkeys([*o.agencies, *(s.agency for s in sop.steps if s.agency)]))
    incident_id = conn.execute(
        I.insert()
        .values(
            city=o.city,
            type=o.type,
            title=o.title,
            severity=o.severity,
            state="open",
            district=district,
            lat=lat,
            lon=lon,
            agencies=orjson.dumps(agencies).decode(),
            owner=by,
            opened_by=by,
            sop_version=sop_version,
            opened_ms=now_ms,
            updated_ms=now_ms,
        )
        .returning(I.c.id)
    ).scalar_one()
    conn.execute(
        ST.insert(),
        [
            {
                "incident_id": incident_id,
                "seq": n,
                "step_id": s.id,
                "text_id": s.text.id,
                "text_en": s.text.en,
                "agency": s.agency,
                "mandatory": s.mandatory,
                "within_min": s.within_min,
                "level2_after_min": sop.level2_after_min(s),
                "status": "open",
            }
            for n, s in enumerate(sop.steps, start=1)
        ],
    )
    log_entry(
        conn,
        incident_id,
        at_ms=now_ms,
        actor=by,
        kind="opened",
        text=o.note,
        state="open",
        sop=sop.id,
        sop_version=sop_version,
    )
    _add_links(conn, incident_id, links, by=by, now_ms=now_ms, situation_id=o.situation_id)
    return IncidentMoved(city=o.city, incident_id=incident_id, state="open")


def _first_action(conn: Connection, incident_id: int, now_ms: int) -> None:
    conn.execute(update(I).where(I.c.id == incident_id, I.c.first_action_ms.is_(None)).values(first_action_ms=now_ms))


def work_step(
    *,
    conn: Connection,
    city: str,
    incident_id: int,
    step_id: str,
    outcome: Literal["done", "skip"],
    note: str | None,
    by: str,
    now_ms: int,
) -> IncidentMoved:
    """Tick a step done (note optional) or skip it (with a reason); IncidentConflict once it is not open."""
    inc = _row(conn, city, incident_id)
    if inc["state"] not in OPEN_STATES:
        raise IncidentConflict(f"incident {incident_id} is {inc['state']}: its steps cannot change")
    step = conn.execute(select(ST).where(ST.c.incident_id == incident_id, ST.c.step_id == step_id)).mappings().first()
    if step is None:
        raise IncidentNotFound(f"incident {incident_id} has no step {step_id!r}")
    if outcome == "skip" and not note:
        raise ValueError("skipping a step needs a reason (note)")
    status = "done" if outcome == "done" else "skipped"
    n = conn.execute(
        update(ST)
        .where(ST.c.id == step["id"], ST.c.status == "open")
        .values(status=status, done_ms=now_ms, done_by=by, note=note)
    ).rowcount
    if n != 1:
        raise IncidentConflict(f"step {step_id!r} is already {step['status']} (by {step['done_by']})")
    late = step["within_min"] is not None and now_ms > inc["opened_ms"] + step["within_min"] * 60_000
    log_entry(conn, incident_id, at_ms=now_ms, actor=by, kind="step", text=note, step=step_id, status=status, late=late)
    _first_action(conn, incident_id, now_ms)
    return _moved(conn, city, incident_id, now_ms)


def open_mandatory(*, conn: Connection, incident_id: int) -> list[str]:
    """The mandatory steps still open, in checklist order."""
    q = select(ST.c.step_id).where(ST.c.incident_id == incident_id, ST.c.mandatory, ST.c.status == "open")
    return list(conn.execute(q.order_by(ST.c.seq)).scalars())


def move(
    *, conn: Connection, city: str, incident_id: int, to: State, note: str | None, by: str, now_ms: int
) -> IncidentMoved:
    """Move the incident to `to`; IncidentConflict when the lifecycle forbids it or mandatory steps are open."""
    inc = _row(conn, city, incident_id)
    if to not in NEXT[inc["state"]]:
        raise IncidentConflict(f"incident {incident_id} is {inc['state']}: it cannot become {to}")
    if to == "closed" and (left := open_mandatory(conn=conn, incident_id=incident_id)):
        raise IncidentConflict(
            f"incident {incident_id} has open mandatory steps {left}: tick them, or skip them with a reason"
        )
    if to == "cancelled" and not note:
        raise ValueError("cancelling an incident needs a reason (note)")
    values: dict[str, Any] = {"state": to}
    if to in ("closed", "cancelled"):
        values["closed_ms"] = now_ms
    n = conn.execute(update(I).where(I.c.id == incident_id, I.c.state == inc["state"]).values(**values)).rowcount
    if n != 1:
        raise IncidentConflict(f"incident {incident_id} changed meanwhile; read it again")
    log_entry(conn, incident_id, at_ms=now_ms, actor=by, kind="state", text=note, state=to, was=inc["state"])
    if to == "responding":
        _first_action(conn, incident_id, now_ms)
    return _moved(conn, city, incident_id, now_ms)


def note(*, conn: Connection, city: str, incident_id: int, text: str, by: str, now_ms: int) -> IncidentMoved:
    """A free-text log entry."""
    _row(conn, city, incident_id)
    log_entry(conn, incident_id, at_ms=now_ms, actor=by, kind="note", text=text)
    return _moved(conn, city, incident_id, now_ms)


def link(
    *,
    conn: Connection,
    city: str,
    incident_id: int,
    alarm_ids: Sequence[int],
    ticket_ids: Sequence[str],
    by: str,
    now_ms: int,
    situation_id: str | None = None,
) -> IncidentMoved:
    """Link more alarms and tickets (those already linked are left as they are)."""
    _row(conn, city, incident_id)
    links = resolve_links(conn=conn, city=city, alarm_ids=alarm_ids, ticket_ids=ticket_ids)
    _add_links(conn, incident_id, links, by=by, now_ms=now_ms, situation_id=situation_id)
    return _moved(conn, city, incident_id, now_ms)


def hand_over(
    *, conn: Connection, city: str, incident_id: int, to: str, text: str | None, by: str, now_ms: int
) -> IncidentMoved:
    """Give the incident to another operator (at shift change), with a note."""
    inc = _row(conn, city, incident_id)
    if inc["state"] not in OPEN_STATES:
        raise IncidentConflict(f"incident {incident_id} is {inc['state']}: nobody holds it any more")
    conn.execute(update(I).where(I.c.id == incident_id).values(owner=to))
    log_entry(conn, incident_id, at_ms=now_ms, actor=by, kind="handover", text=text, was=inc["owner"], to=to)
    return _moved(conn, city, incident_id, now_ms)


def count_open(*, conn: Connection, city: str) -> int:
    """Incidents not closed nor cancelled."""
    q = select(func.count()).select_from(I).where(I.c.city == city, I.c.state.in_(OPEN_STATES))
    return int(conn.execute(q).scalar_one())
