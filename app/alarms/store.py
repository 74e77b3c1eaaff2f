"""The alarm lifecycle in the database: raise, change severity, acknowledge, comment, clear, re-raise.

Every transition is one guarded statement (the guard says which state it may
leave), an `alarm_events` row, and a webhook outbox row per configured URL,
all in the caller's transaction. The guards make concurrent evaluators safe:
at most one open alarm per (city, rule, subject) through the unique
`open_key`, and an UPDATE that finds the alarm already moved changes nothing
and reports nothing. A transition comes back as a `Change`, whose payload the
caller publishes on `city/{city}/alarm/{id}` once the transaction committed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import orjson
from sqlalchemy import Connection, select, update

from app.alarms.messages import message
from app.alarms.rules import SEVERITY_RANK
from app.alarms.webhooks import enqueue
from app.live.notices import iso_ms
from app.profile import Profile, Severity
from app.rota import Contact
from app.storage.dialect import insert_for
from app.storage.models import AlarmEventRow, AlarmRow, AlarmRuleRow

OPEN_STATES: tuple[str, ...] = ("active", "acknowledged")
STATES: tuple[str, ...] = ("active", "acknowledged", "cleared")
A = AlarmRow.__table__


class AlarmNotFound(LookupError):
    pass


class AlarmStateConflict(RuntimeError):
    """The alarm is not in a state the operation may leave (e.g. acknowledging a cleared alarm)."""


@dataclass(frozen=True, slots=True)
class Change:
    """One committed-to-be transition: what to publish on `city/{city}/alarm/{alarm_id}`."""

    city: str
    alarm_id: int
    state: str
    action: str
    payload: bytes


def open_key(city: str, rule_id: str, subject: str) -> str:
    return f"{city}|{rule_id}|{subject}"


@dataclass(slots=True)
class Lifecycle:
    """Transitions for one city profile; `severity_hooks` maps severities to webhook URLs (settings)."""

    profile: Profile
    severity_hooks: Mapping[Severity, str] = field(default_factory=dict)

    # --- engine transitions --------------------------------------------------

    def raise_(
        self,
        conn: Connection,
        *,
        city: str,
        rule_id: str,
        kind: str,
        subject: str,
        severity: str,
        value: float | None,
        detail: dict,
        now_ms: int,
        source_id: str | None = None,
        district: str | None = None,
        ticket_id: str | None = None,
        metric: str | None = None,
        lat: float | None = None,
        lon: float | None = None,
    ) -> Change | None:
        """A new active alarm, or None when one is already open for (city, rule, subject)."""
        ins = (
            insert_for(conn, A)
            .values(
                city=city,
                rule_id=rule_id,
                kind=kind,
                subject=subject,
                open_key=open_key(city, rule_id, subject),
                severity=severity,
                state="active",
                source_id=source_id,
                district=district,
                ticket_id=ticket_id,
                metric=metric,
                value=value,
                detail=orjson.dumps(detail).decode(),
                lat=lat,
                lon=lon,
                raised_ms=now_ms,
                updated_ms=now_ms,
            )
            .on_conflict_do_nothing(index_elements=[A.c.open_key])
            .returning(A.c.id)
        )
        alarm_id = conn.execute(ins).scalar()
        if alarm_id is None:
            return None
        return self._record(conn, alarm_id, "raised", now_ms, severity=severity, value=value)

    def change_severity(
        self, conn: Connection, alarm_id: int, *, severity: str, value: float | None, detail: dict | None, now_ms: int
    ) -> Change | None:
        """Escalate or de-escalate an open alarm; an escalated acknowledged alarm is active again."""
        row = conn.execute(select(A.c.severity, A.c.state).where(A.c.id == alarm_id)).first()
        if row is None or row.state == "cleared" or row.severity == severity:
            return None
        up = SEVERITY_RANK[severity] > SEVERITY_RANK[row.severity]
        values: dict = {"severity": severity, "value": value, "updated_ms": now_ms}
        if detail is not None:
            values["detail"] = orjson.dumps(detail).decode()
        if up:
            values["state"] = "active"  # worse than what was acknowledged: someone must look again
        n = conn.execute(
            update(A).where(A.c.id == alarm_id, A.c.state != "cleared", A.c.severity == row.severity).values(**values)
        ).rowcount
        if n != 1:
            return None
        return self._record(
            conn, alarm_id, "escalated" if up else "deescalated", now_ms, severity=severity, value=value
        )

    def clear(
        self,
        conn: Connection,
        alarm_id: int,
        *,
        now_ms: int,
        by: str | None = None,
        comment: str | None = None,
        value: float | None = None,
    ) -> Change | None:
        """Clear an open alarm (the condition ended, or an operator cleared it); None when already cleared."""
        values: dict = {
            "state": "cleared",
            "open_key": None,
            "cleared_ms": now_ms,
            "cleared_by": by,
            "updated_ms": now_ms,
        }
        if value is not None:
            values["value"] = value
        n = conn.execute(update(A).where(A.c.id == alarm_id, A.c.state != "cleared").values(**values)).rowcount
        if n != 1:
            return None
        return self._record(conn, alarm_id, "cleared", now_ms, by=by, comment=comment, value=value)

    def reraise(self, conn: Connection, alarm_id: int, *, now_ms: int) -> Change | None:
        """An acknowledged alarm whose condition outlasted the rule's patience: active again."""
        n = conn.execute(
            update(A).where(A.c.id == alarm_id, A.c.state == "acknowledged").values(state="active", updated_ms=now_ms)
        ).rowcount
        if n != 1:
            return None
        return self._record(conn, alarm_id, "reraised", now_ms)

    # --- operator transitions --------------------------------------------------

    def acknowledge(self, conn: Connection, alarm_id: int, *, by: str, comment: str | None, now_ms: int) -> Change:
        n = conn.execute(
            update(A)
            .where(A.c.id == alarm_id, A.c.state == "active")
            .values(state="acknowledged", acked_ms=now_ms, acked_by=by, updated_ms=now_ms)
        ).rowcount
        if n != 1:
            self._explain(conn, alarm_id, "acknowledge")
        return self._record(conn, alarm_id, "acknowledged", now_ms, by=by, comment=comment)

    def operator_clear(self, conn: Connection, alarm_id: int, *, by: str, comment: str | None, now_ms: int) -> Change:
        change = self.clear(conn, alarm_id, now_ms=now_ms, by=by, comment=comment)
        if change is None:
            self._explain(conn, alarm_id, "clear")
        return change

    def comment(self, conn: Connection, alarm_id: int, *, by: str, comment: str, now_ms: int) -> Change:
        if conn.execute(select(A.c.id).where(A.c.id == alarm_id)).first() is None:
            raise AlarmNotFound(alarm_id)
        conn.execute(update(A).where(A.c.id == alarm_id).values(updated_ms=now_ms))
        return self._record(conn, alarm_id, "comment", now_ms, by=by, comment=comment)

    def _explain(self, conn: Connection, alarm_id: int, what: str) -> None:
        row = conn.execute(select(A.c.state, A.c.acked_by).where(A.c.id == alarm_id)).first()
        if row is None:
            raise AlarmNotFound(alarm_id)
        if row.state == "acknowledged" and what == "acknowledge":
            raise AlarmStateConflict(f"alarm {alarm_id} is already acknowledged (by {row.acked_by})")
        raise AlarmStateConflict(f"alarm {alarm_id} is {row.state}: it cannot be {what}ed")

    # --- escalation by duty rota (issue 17 part 5) ------------------------------

    def page(
        self,
        conn: Connection,
        alarm_id: int,
        *,
        level: int,
        seen_updated_ms: int,
        contacts: Sequence[Contact],
        texts: tuple[str, str],
        now_ms: int,
    ) -> Change | None:
        """Escalate a still-active alarm to the on-duty `contacts` of rota `level`: a `paged` step in its history
        (value: the level) and one outbox delivery per contact; None when the alarm moved since it was read
        (acknowledged, cleared, or paged by another clock: the guard on `updated_ms` says so)."""
        n = conn.execute(
            update(A)
            .where(A.c.id == alarm_id, A.c.state == "active", A.c.updated_ms == seen_updated_ms)
            .values(updated_ms=max(now_ms, seen_updated_ms + 1))
        ).rowcount
        if n != 1:
            return None
        names = ", ".join(c.name for c in contacts) or "-"
        ch = self._record(conn, alarm_id, "paged", now_ms, comment=f"L{level}: {names}", value=float(level))
        alarm = orjson.loads(ch.payload)
        posts = [
            (c.address, orjson.dumps(escalation_payload(alarm, c, level, texts, now_ms)).decode()) for c in contacts
        ]
        enqueue(conn, posts, now_ms=now_ms, alarm_id=alarm_id)
        return ch

    # --- history, payload, outbox ---------------------------------------------

    def _record(
        self,
        conn: Connection,
        alarm_id: int,
        action: str,
        now_ms: int,
        *,
        by: str | None = None,
        comment: str | None = None,
        severity: str | None = None,
        value: float | None = None,
    ) -> Change:
        row = conn.execute(select(A).where(A.c.id == alarm_id)).mappings().one()
        conn.execute(
            AlarmEventRow.__table__.insert().values(
                alarm_id=alarm_id,
                at_ms=now_ms,
                action=action,
                actor=by,
                comment=comment,
                severity=severity or row["severity"],
                value=value,
            )
        )
        body = payload(row, self.profile, action=action, at_ms=now_ms, by=by, comment=comment)
        data = orjson.dumps(body)
        urls = self._hook_urls(conn, row["city"], row["rule_id"], row["severity"])
        enqueue(conn, [(u, data.decode()) for u in urls], now_ms=now_ms, alarm_id=alarm_id)
        return Change(city=row["city"], alarm_id=alarm_id, state=row["state"], action=action, payload=data)

    def _hook_urls(self, conn: Connection, city: str, rule_id: str, severity: Severity) -> list[str]:
        r = AlarmRuleRow.__table__.c
        rule_url = conn.execute(select(r.webhook_url).where(r.city == city, r.rule_id == rule_id)).scalar()
        urls = [u for u in (rule_url, self.severity_hooks.get(severity)) if u]
        return list(dict.fromkeys(urls))


def payload(row: Mapping, profile: Profile, *, action: str, at_ms: int, by: str | None, comment: str | None) -> dict:
    """The alarm as published on MQTT and POSTed to webhooks (contract v1: fields are only ever added)."""
    detail = orjson.loads(row["detail"])
    return {
        "v": 1,
        "id": row["id"],
        "city": row["city"],
        "rule": row["rule_id"],
        "kind": row["kind"],
        "severity": row["severity"],
        "state": row["state"],
        "action": action,
        "at": iso_ms(at_ms),
        "by": by,
        "comment": comment,
        "source_id": row["source_id"],
        "district": row["district"],
        "ticket_id": row["ticket_id"],
        "metric": row["metric"],
        "value": row["value"],
        "message": message(row["kind"], detail, "id", profile),
        "message_en": message(row["kind"], detail, "en", profile),
        "raised_at": iso_ms(row["raised_ms"]),
        "acknowledged_at": iso_ms(row["acked_ms"]) if row["acked_ms"] else None,
        "acknowledged_by": row["acked_by"],
        "cleared_at": iso_ms(row["cleared_ms"]) if row["cleared_ms"] else None,
        "cleared_by": row["cleared_by"],
    }


def escalation_payload(alarm: dict, contact: Contact, level: int, texts: tuple[str, str], at_ms: int) -> dict:
    """What a rota contact's webhook or gateway receives (contract v1: fields are only ever added)."""
    return {
        "v": 1,
        "type": "alarm.escalation",
        "level": level,
        "at": iso_ms(at_ms),
        "city": alarm["city"],
        "contact": {
            "id": contact.id,
            "name": contact.name,
            "agency": contact.agency,
            "channel": contact.channel,
            "phone": contact.phone,
        },
        "text": texts[0],
        "text_en": texts[1],
        "alarm": alarm,
    }
