"""Late SOP steps: found on the clock, marked, logged, and escalated to the duty rota through the webhook outbox.

A step with a target (`within_min` from the incident's start) that is still
open past it is late: once, with one guarded UPDATE (so two clocks never
escalate it twice), a `late` log entry, and one outbox delivery per contact on
duty for the step's agency (app.alarms.webhooks sends them, with retries). The
clock is the caller's `now_ms`: the ingestor's alarm clock passes the wall
clock, a test the instant it wants.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import orjson
from sqlalchemy import Connection, select, update

from app.incidents.store import OPEN_STATES, ST, I, log_entry
from app.live.notices import IncidentMoved, iso_ms
from app.profile import Profile
from app.rota import Contact, on_duty
from app.storage.models import WebhookDeliveryRow

W = WebhookDeliveryRow.__table__


OnDuty = Callable[[datetime, str | None], Sequence[Contact]]  # (at, the step's agency) -> who to tell


def rota_on_duty(profile: Profile) -> OnDuty:
    """The profile's duty rota at level 1: the step's agency's contacts on duty (the rota's default agency's
    when the step names none, or nobody of the agency is on duty)."""

    def ask(at: datetime, agency: str | None) -> list[Contact]:
        return on_duty(profile, at, agency=agency, level=1) if profile.duty_rota else []

    return ask


def late_payload(inc: dict[str, object], step: dict[str, object], contact: Contact, at_ms: int) -> dict[str, object]:
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
        "due_at": iso_ms(int(inc["opened_ms"]) + int(step["within_min"]) * 60_000),  # type: ignore[call-overload]
        "contact": {
            "id": contact.id,
            "name": contact.name,
            "agency": contact.agency,
            "channel": contact.channel,
            "phone": contact.phone,
        },
    }


def escalate_late(*, conn: Connection, city: str, on_duty: OnDuty, now_ms: int) -> list[IncidentMoved]:
    """Mark and escalate the city's steps that are past their target at `now_ms`; the incidents that moved."""
    due = I.c.opened_ms + ST.c.within_min * 60_000
    rows = conn.execute(
        select(ST, I.c.city, I.c.type, I.c.title, I.c.severity, I.c.district, I.c.owner, I.c.opened_ms)
        .join(I, I.c.id == ST.c.incident_id)
        .where(
            I.c.city == city,
            I.c.state.in_(OPEN_STATES),
            ST.c.status == "open",
            ST.c.late_ms.is_(None),
            ST.c.within_min.is_not(None),
            due <= now_ms,
        )
        .order_by(ST.c.incident_id, ST.c.seq)
    ).mappings()
    moved: dict[int, IncidentMoved] = {}
    for r in list(rows):
        n = conn.execute(update(ST).where(ST.c.id == r["id"], ST.c.late_ms.is_(None)).values(late_ms=now_ms)).rowcount
        if n != 1:
            continue  # another clock took it
        at = datetime.fromtimestamp(now_ms / 1000, tz=UTC)
        contacts = list(on_duty(at, r["agency"]))
        inc = {
            "id": r["incident_id"],
            **{k: r[k] for k in ("city", "type", "title", "severity", "district", "owner", "opened_ms")},
        }
        step = dict(r)
        if contacts:
            conn.execute(
                W.insert(),
                [
                    {
                        "alarm_id": None,
                        "incident_id": r["incident_id"],
                        "url": c.address,
                        "payload": orjson.dumps(late_payload(inc, step, c, now_ms)).decode(),
                        "status": "pending",
                        "attempts": 0,
                        "next_ms": now_ms,
                        "claimed_until_ms": 0,
                        "created_ms": now_ms,
                    }
                    for c in contacts
                ],
            )
        log_entry(
            conn,
            r["incident_id"],
            at_ms=now_ms,
            actor=None,
            kind="late",
            text=None,
            step=r["step_id"],
            within_min=r["within_min"],
            escalated_to=[c.name for c in contacts],
        )
        moved[r["incident_id"]] = IncidentMoved(city=city, incident_id=r["incident_id"], state="")
    for incident_id in moved:
        conn.execute(update(I).where(I.c.id == incident_id).values(updated_ms=now_ms))
        state = conn.execute(select(I.c.state).where(I.c.id == incident_id)).scalar_one()
        moved[incident_id] = IncidentMoved(city=city, incident_id=incident_id, state=state)
    return list(moved.values())
