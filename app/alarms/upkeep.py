"""Alarm management on the alarm clock (ingest.alarm_clock calls `upkeep` each tick, after the time rules):
the flood's start and end in the audit log, chattering alarms shelved, unacknowledged alarms escalated.

None of this runs in the ingest path: a storm of readings costs the batch commit nothing more. Each part
takes `now_ms`, so a test drives it with a controlled clock; the caller commits, then announces the changes
and dispatches the webhook outbox (where the escalations wait, as every alarm webhook does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
from sqlalchemy import Connection, and_, func, select

from app.alarms.messages import message
from app.alarms.shelves import add_shelf, shelved_at
from app.alarms.situation_store import CHATTERING, picture
from app.alarms.store import Change, Lifecycle
from app.auth.audit import record
from app.i18n import t
from app.live.notices import iso_ms
from app.profile import Profile
from app.rota import on_duty
from app.storage.models import AlarmEventRow, AlarmRow, AuditRow

A = AlarmRow.__table__
E = AlarmEventRow.__table__
AUD = AuditRow.__table__
ACTOR = "satupintu"  # the audit log's name for the system's own steps
FLOOD_START, FLOOD_END = "alarm.flood.start", "alarm.flood.end"


@dataclass(slots=True)
class Upkept:
    """What one tick did."""

    changes: list[Change] = field(default_factory=list)  # alarm transitions to announce (escalations)
    flood: str | None = None  # "start" or "end" when the flood state changed this tick
    shelved: list[tuple[str, str]] = field(default_factory=list)  # (rule_id, source_id) shelved for chattering
    paged: list[tuple[int, int]] = field(default_factory=list)  # (alarm_id, level)


def upkeep(*, conn: Connection, life: Lifecycle, profile: Profile, now_ms: int) -> Upkept:
    """Flood, chattering and escalation for the profile's city at `now_ms`."""
    out = Upkept()
    out.flood = flood_transition(conn=conn, profile=profile, now_ms=now_ms)
    out.shelved = shelve_chattering(conn=conn, profile=profile, now_ms=now_ms)
    for ch, level in escalate(conn=conn, life=life, profile=profile, now_ms=now_ms):
        out.changes.append(ch)
        out.paged.append((ch.alarm_id, level))
    return out


# --- the flood ------------------------------------------------------------------------------------------


def flood_in_audit(*, conn: Connection, city: str) -> bool:
    """Whether the audit log's last flood event of the city is a start (a flood in progress)."""
    last = conn.execute(
        select(AUD.c.action)
        .where(AUD.c.action.in_((FLOOD_START, FLOOD_END)), AUD.c.target == city)
        .order_by(AUD.c.id.desc())
        .limit(1)
    ).scalar()
    return last == FLOOD_START


def flood_transition(*, conn: Connection, profile: Profile, now_ms: int) -> str | None:
    """Audit the flood's start or end when it differs from what the audit log last said; which, or None."""
    city = profile.city.id
    flood = picture(conn=conn, profile=profile, now_ms=now_ms).flood
    if flood.active == flood_in_audit(conn=conn, city=city):
        return None
    am = profile.alarm_management
    detail = {
        "count": flood.count,
        "threshold": am.flood_count,
        "window_s": am.flood_window_s,
        "since": iso_ms(flood.since_ms) if flood.since_ms is not None else None,
        "suppress_below": am.flood_suppress_below,
        "suppressed": len(flood.suppressed),
        "at": iso_ms(now_ms),
    }
    action = FLOOD_START if flood.active else FLOOD_END
    record(
        conn=conn,
        actor=ACTOR,
        role=None,
        action=action,
        target=city,
        detail=orjson.dumps(detail).decode(),
        ts_ms=now_ms,
    )
    return "start" if flood.active else "end"


# --- chattering -------------------------------------------------------------------------------------------


def shelve_chattering(*, conn: Connection, profile: Profile, now_ms: int) -> list[tuple[str, str]]:
    """Shelve each rule+source raised `chatter_count` times within `chatter_window_s` (reason "chattering",
    audited); with `chatter_shelve_minutes: 0` only the audit log flags it. The pairs newly caught."""
    am = profile.alarm_management
    city = profile.city.id
    since = now_ms - am.chatter_window_s * 1000
    q = (
        select(A.c.rule_id, A.c.source_id, func.count())
        .where(A.c.city == city, A.c.source_id.is_not(None), A.c.raised_ms > since, A.c.raised_ms <= now_ms)
        .group_by(A.c.rule_id, A.c.source_id)
        .having(func.count() >= am.chatter_count)
        .order_by(A.c.rule_id, A.c.source_id)
    )
    pairs = [(r, s, n) for r, s, n in conn.execute(q) if s is not None]
    if not pairs:
        return []
    shelved = shelved_at(conn=conn, city=city, now_ms=now_ms)
    caught: list[tuple[str, str]] = []
    for rule_id, source_id, n in pairs:
        if shelved.covers(rule_id, source_id) or _flagged(conn, city, rule_id, source_id, since):
            continue
        if am.chatter_shelve_minutes:
            add_shelf(
                conn=conn,
                city=city,
                rule_id=rule_id,
                source_id=source_id,
                minutes=am.chatter_shelve_minutes,
                by=ACTOR,
                reason=CHATTERING,
                now_ms=now_ms,
            )
        detail = {"raised": n, "window_s": am.chatter_window_s, "shelved_minutes": am.chatter_shelve_minutes}
        record(
            conn=conn,
            actor=ACTOR,
            role=None,
            action="alarm.chattering",
            target=f"{rule_id}|{source_id}",
            detail=orjson.dumps(detail).decode(),
            ts_ms=now_ms,
        )
        caught.append((rule_id, source_id))
    return caught


def _flagged(conn: Connection, city: str, rule_id: str, source_id: str, since_ms: int) -> bool:
    """Already reported within the window (flag-only mode: no shelf to tell)."""
    return (
        conn.execute(
            select(AUD.c.id).where(
                AUD.c.action == "alarm.chattering", AUD.c.target == f"{rule_id}|{source_id}", AUD.c.ts_ms > since_ms
            )
        ).first()
        is not None
    )


# --- escalation -------------------------------------------------------------------------------------------


def escalate(*, conn: Connection, life: Lifecycle, profile: Profile, now_ms: int) -> list[tuple[Change, int]]:
    """Page the rota for each alarm still active past its severity's `escalate_after_s` (level 1) and
    `escalate_level2_after_s` (level 2), once per level; each page audited. (change, level) pairs."""
    am = profile.alarm_management
    if not am.escalate_after_s:
        return []
    city = profile.city.id
    shortest = min(am.escalate_after_s.values())
    paged = (
        select(E.c.alarm_id, func.max(E.c.value).label("level")).where(E.c.action == "paged").group_by(E.c.alarm_id)
    ).subquery()
    rows = conn.execute(
        select(A, func.coalesce(paged.c.level, 0).label("paged_level"))
        .outerjoin(paged, and_(paged.c.alarm_id == A.c.id))
        .where(
            A.c.city == city,
            A.c.state == "active",
            A.c.severity.in_(list(am.escalate_after_s)),
            A.c.raised_ms <= now_ms - shortest * 1000,
        )
        .order_by(A.c.raised_ms, A.c.id)
    ).mappings()
    at = datetime.fromtimestamp(now_ms / 1000, tz=UTC)
    out: list[tuple[Change, int]] = []
    for row in list(rows):
        sev = row["severity"]
        due = [(1, am.escalate_after_s.get(sev)), (2, am.escalate_level2_after_s.get(sev))]
        level = max(
            (lv for lv, after in due if after is not None and now_ms - row["raised_ms"] >= after * 1000), default=0
        )
        if level <= int(row["paged_level"]):
            continue
        contacts = on_duty(profile, at, agency=am.escalate_agency.get(row["rule_id"]), level=level)
        minutes = max(1, (now_ms - row["raised_ms"]) // 60_000)
        detail = orjson.loads(row["detail"])
        texts = tuple(
            t(
                "alarm.escalation.text",
                lang,
                severity=t(f"dash.sev.{sev}", lang).upper(),
                message=message(row["kind"], detail, lang, profile),
                minutes=minutes,
                level=level,
            )
            for lang in ("id", "en")
        )
        ch = life.page(
            conn,
            row["id"],
            level=level,
            seen_updated_ms=row["updated_ms"],
            contacts=contacts,
            texts=(texts[0], texts[1]),
            now_ms=now_ms,
        )
        if ch is None:
            continue
        record(
            conn=conn,
            actor=ACTOR,
            role=None,
            action="alarm.escalate",
            target=str(row["id"]),
            detail=orjson.dumps(
                {"level": level, "contacts": [c.id for c in contacts], "after_s": (now_ms - row["raised_ms"]) // 1000}
            ).decode(),
            ts_ms=now_ms,
        )
        out.append((ch, level))
    return out
