"""Late SOP steps: found on the clock, marked, logged, and escalated to the duty rota through the webhook outbox.

A step with a target (`within_min` from the incident's start) that is still
open past it is late: once, with one guarded UPDATE (so two clocks never
escalate it twice), a `late` log entry, an audit row, and one outbox delivery
per contact on duty for the step's agency at the rota's level 1
(app.alarms.webhooks sends them, with retries). Still open
`level2_after_min` after that (copied from the SOP: the step's
`escalate_level2_after_min`, else the SOP's, 30 by default), it goes the same
way, once, to the rota's level 2. The clock is the caller's `now_ms`: the
ingestor's alarm clock passes the wall clock, a test the instant it wants.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import orjson
from sqlalchemy import Connection, RowMapping, select, update

from app.alarms.webhooks import enqueue
from app.auth.audit import record
from app.incidents.store import OPEN_STATES, ST, I, log_entry
from app.live.notices import IncidentMoved, iso_ms
from app.profile import Profile
from app.rota import Contact, on_duty

OnDuty = Callable[[datetime, str | None, int], Sequence[Contact]]  # (at, the step's agency, level) -> who to tell
ACTOR = "satupintu"  # the audit log's name for the system's own steps (as alarm management's)


def rota_on_duty(profile: Profile) -> OnDuty:
    """The profile's duty rota at a level: the step's agency's contacts on duty (the rota's default agency's
    when the step names none, or nobody of the agency is on duty)."""

    def ask(at: datetime, agency: str | None, level: int) -> list[Contact]:
        return on_duty(profile, at, agency=agency, level=level) if profile.duty_rota else []

    return ask


def late_payload(
    inc: dict[str, object], step: dict[str, object], contact: Contact, at_ms: int, level: int = 1
) -> dict[str, object]:
    """What a late step's escalation POSTs (contract v1: fields are only ever added)."""
    return {
        "v": 1,
        "kind": "incident.step_late",
        "at": iso_ms(at_ms),
        "city": inc["city"],
        "incident_id": inc["id"],
        "incident_type": inc["type"],
        "title": inc["title"],
        "severity": inc["severity"],
        "district": inc["district"],
        "owner": inc["owner"],
        "step": step["step_id"],
        "step_text": step["text_id"],
        "step_text_en": step["text_en"],
        "agency": step["agency"],
        "within_min": step["within_min"],
        "level": level,
        "due_at": iso_ms(int(inc["opened_ms"]) + int(step["within_min"]) * 60_000),  # type: ignore[call-overload]
        "contact": {
            "id": contact.id,
            "name": contact.name,
            "agency": contact.agency,
            "channel": contact.channel,
            "phone": contact.phone,
        },
    }


def _due(conn: Connection, city: str, now_ms: int, level: int) -> list[RowMapping]:
    """The city's open steps of running incidents due for escalation at `level` at `now_ms`."""
    if level == 1:
        due = I.c.opened_ms + ST.c.within_min * 60_000
        todo = [ST.c.late_ms.is_(None), ST.c.within_min.is_not(None)]
    else:
        due = ST.c.late_ms + ST.c.level2_after_min * 60_000
        todo = [ST.c.late_ms.is_not(None), ST.c.late2_ms.is_(None), ST.c.level2_after_min.is_not(None)]
    return list(
        conn.execute(
            select(ST, I.c.city, I.c.type, I.c.title, I.c.severity, I.c.district, I.c.owner, I.c.opened_ms)
            .join(I, I.c.id == ST.c.incident_id)
            .where(I.c.city == city, I.c.state.in_(OPEN_STATES), ST.c.status == "open", *todo, due <= now_ms)
            .order_by(ST.c.incident_id, ST.c.seq)
        ).mappings()
    )


def _escalate(conn: Connection, r: RowMapping, *, on_duty: OnDuty, now_ms: int, level: int) -> bool:
    """Mark one step escalated at `level` (guarded: False when another clock took it), queue one delivery per
    contact on duty, log and audit it."""
    mark = ST.c.late_ms if level == 1 else ST.c.late2_ms
    if conn.execute(update(ST).where(ST.c.id == r["id"], mark.is_(None)).values({mark: now_ms})).rowcount != 1:
        return False
    at = datetime.fromtimestamp(now_ms / 1000, tz=UTC)
    contacts = list(on_duty(at, r["agency"], level))
    inc = {"id": r["incident_id"], **{k: r[k] for k in ("city", "type", "title", "severity", "district", "owner")}}
    inc["opened_ms"] = r["opened_ms"]
    posts = [(c.address, orjson.dumps(late_payload(inc, dict(r), c, now_ms, level)).decode()) for c in contacts]
    enqueue(conn, posts, now_ms=now_ms, incident_id=r["incident_id"])
    detail = {"step": r["step_id"], "within_min": r["within_min"], "level": level}
    to = [c.name for c in contacts]
    log_entry(conn, r["incident_id"], at_ms=now_ms, actor=None, kind="late", text=None, **detail, escalated_to=to)
    record(
        conn=conn,
        actor=ACTOR,
        role=None,
        action="incident.step.late",
        target=str(r["incident_id"]),
        detail=orjson.dumps({**detail, "escalated_to": [c.id for c in contacts]}).decode(),
        ts_ms=now_ms,
    )
    return True


def escalate_late(*, conn: Connection, city: str, on_duty: OnDuty, now_ms: int) -> list[IncidentMoved]:
    """Mark and escalate the city's steps past their target at `now_ms` (the rota's level 1), and those late
    and still open past their level-2 delay (level 2); the incidents that moved."""
    moved: set[int] = set()
    for level in (1, 2):
        for r in _due(conn, city, now_ms, level):
            if _escalate(conn, r, on_duty=on_duty, now_ms=now_ms, level=level):
                moved.add(r["incident_id"])
    out: list[IncidentMoved] = []
    for incident_id in sorted(moved):
        conn.execute(update(I).where(I.c.id == incident_id).values(updated_ms=now_ms))
        state = conn.execute(select(I.c.state).where(I.c.id == incident_id)).scalar_one()
        out.append(IncidentMoved(city=city, incident_id=incident_id, state=state))
    return out
