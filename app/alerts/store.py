"""Alerts in the database: stored once by (city, sender, identifier), Update and Cancel applied through `references`.

`store_alert` runs in the ingest batch's transaction; `reconcile_warnings`
(in the same transaction, and on the alarm clock for expiry) turns the
active relevant alerts into open `warning` alarms through the existing
lifecycle (app.alarms.store): raised, escalated or eased by an Update,
cleared when the alert is cancelled, replaced without a successor, expired,
or (an earthquake without tsunami potential) older than the hold time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, and_, func, or_, select, update

from app.alarms.rules import reconcile
from app.alarms.store import OPEN_STATES, Change, Lifecycle
from app.alerts.cap import CapDoc
from app.alerts.relevance import Relevance, is_quake, tsunami_possible
from app.storage.dialect import insert_for
from app.storage.models import AlarmRow, AlertRow

AL = AlertRow.__table__
A = AlarmRow.__table__
RULE_ID = "warning"
KIND = "warning"


@dataclass(frozen=True, slots=True)
class Incoming:
    """One parsed CAP document on its way into the store."""

    city: str
    publisher: str  # the topic's {sender} id
    doc: CapDoc
    xml: bytes
    received_ms: int
    relevance: Relevance


def subject_of(thread_id: int) -> str:
    """The warning alarm's subject and source id for an alert thread (the brief: the source id names the alert)."""
    return f"alert:{thread_id}"


def store_alert(*, conn: Connection, alert: Incoming) -> int | None:
    """Store `alert` and apply what it updates or cancels; its id, or None when it was stored before (a repeat)."""
    d, rel = alert.doc, alert.relevance
    state = {"Alert": "active", "Update": "active", "Cancel": "cancelled"}.get(d.msg_type, "closed")
    ended = None if state == "active" else alert.received_ms
    new_id = conn.execute(
        insert_for(conn, AL)
        .values(
            city=alert.city,
            sender=d.sender,
            identifier=d.identifier,
            publisher=alert.publisher,
            state=state,
            msg_type=d.msg_type,
            status=d.status,
            scope=d.scope,
            refs=orjson.dumps(d.references).decode(),
            event=d.event[:255] if d.event else None,
            category=d.category,
            severity=d.severity,
            urgency=d.urgency,
            certainty=d.certainty,
            headline=d.headline,
            description=d.description,
            parameters=orjson.dumps(d.parameters).decode(),
            areas=orjson.dumps(d.geojson()).decode(),
            sent_ms=d.sent_ms,
            effective_ms=d.effective_ms,
            expires_ms=d.expires_ms,
            received_ms=alert.received_ms,
            ended_ms=ended,
            relevant=rel.relevant and d.msg_type in ("Alert", "Update"),
            distance_km=rel.distance_km,
            districts=orjson.dumps(rel.districts).decode(),
            alarm_severity=rel.severity,
            xml=alert.xml.decode("utf-8", "replace"),
        )
        .on_conflict_do_nothing(index_elements=[AL.c.city, AL.c.sender, AL.c.identifier])
        .returning(AL.c.id)
    ).scalar()
    if new_id is None:
        return None
    thread = new_id
    if d.references:
        keys = or_(*(and_(AL.c.sender == s, AL.c.identifier == i) for s, i in d.references))
        where = and_(AL.c.city == alert.city, AL.c.id != new_id, keys)
        threads = [t for t in conn.execute(select(AL.c.thread_id).where(where)).scalars() if t is not None]
        if threads:
            thread = min(threads)
        replaced = "cancelled" if d.msg_type == "Cancel" else "updated"
        if d.msg_type in ("Update", "Cancel"):
            conn.execute(
                update(AL).where(where, AL.c.state != "cancelled").values(state=replaced, ended_ms=alert.received_ms)
            )
    values: dict[str, Any] = {"thread_id": thread}
    if state == "active":
        later = _replaced_before(conn=conn, city=alert.city, sender=d.sender, identifier=d.identifier, new_id=new_id)
        if later is not None:  # an Update or Cancel of this alert came first (out of order): it is replaced already
            values |= {"state": later[0], "ended_ms": later[1]}
    conn.execute(update(AL).where(AL.c.id == new_id).values(**values))
    return int(new_id)


def _replaced_before(
    *, conn: Connection, city: str, sender: str, identifier: str, new_id: int
) -> tuple[str, int] | None:
    """(state, when) when an Update or Cancel stored earlier names (sender, identifier) in its references."""
    escaped = identifier.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = conn.execute(
        select(AL.c.msg_type, AL.c.refs, AL.c.received_ms).where(
            AL.c.city == city,
            AL.c.id != new_id,
            AL.c.msg_type.in_(("Update", "Cancel")),
            AL.c.refs.like(f"%{escaped}%", escape="\\"),  # a coarse filter; the references are checked below
        )
    ).all()
    hits = [r for r in rows if [sender, identifier] in orjson.loads(r.refs)]
    if not hits:
        return None
    cancelled = any(r.msg_type == "Cancel" for r in hits)
    return ("cancelled" if cancelled else "updated"), min(r.received_ms for r in hits)


def _deadline(row: Any, quake_hold_ms: int) -> int | None:
    """When the warning of an active alert ends by itself (None: only a Cancel or an operator ends it)."""
    params = [tuple(p) for p in orjson.loads(row.parameters)]
    if is_quake(params):
        if tsunami_possible(params, f"{row.headline or ''} {row.description or ''}"):
            return None
        start = int(row.effective_ms or row.sent_ms)
        return min(start + quake_hold_ms, int(row.expires_ms or start + quake_hold_ms))
    return int(row.expires_ms) if row.expires_ms is not None else None


def reconcile_warnings(
    *, conn: Connection, life: Lifecycle, city: str, now_ms: int, quake_hold_ms: int
) -> list[Change]:
    """Bring the city's open `warning` alarms in line with its active, relevant, actual alerts at `now_ms`."""
    rows = conn.execute(
        select(AL).where(
            AL.c.city == city,
            AL.c.state == "active",
            AL.c.relevant.is_(True),
            AL.c.status == "Actual",
            or_(AL.c.expires_ms.is_(None), AL.c.expires_ms > now_ms),
        )
    ).all()
    latest: dict[str, Any] = {}
    for r in rows:
        end = _deadline(r, quake_hold_ms)
        if end is not None and end <= now_ms:
            continue
        subject = subject_of(r.thread_id or r.id)
        if subject not in latest or r.sent_ms >= latest[subject].sent_ms:
            latest[subject] = r
    if latest:
        # A thread whose alarm was cleared (by an operator) after its latest alert arrived is not raised again.
        cleared = conn.execute(
            select(A.c.subject, func.max(A.c.cleared_ms))
            .where(A.c.city == city, A.c.rule_id == RULE_ID, A.c.state == "cleared", A.c.subject.in_(list(latest)))
            .group_by(A.c.subject)
        ).all()
        for subject, cleared_ms in cleared:
            if cleared_ms is not None and cleared_ms >= latest[subject].received_ms:
                del latest[subject]
    opened = {
        r.subject: (r.id, r.severity)
        for r in conn.execute(
            select(A.c.id, A.c.subject, A.c.severity).where(
                A.c.city == city, A.c.rule_id == RULE_ID, A.c.state.in_(OPEN_STATES)
            )
        )
    }
    wanted = {s: r.alarm_severity or "warning" for s, r in latest.items()}
    changes: list[Change] = []
    for subject, step in reconcile({k: v[1] for k, v in opened.items()}, wanted):
        if step.action == "clear":
            ch = life.clear(conn, opened[subject][0], now_ms=now_ms)
        elif step.action == "raise":
            ch = life.raise_(
                conn,
                city=city,
                rule_id=RULE_ID,
                kind=KIND,
                subject=subject,
                severity=step.severity,
                now_ms=now_ms,
                **_alarm_fields(subject, latest[subject]),
            )
        else:
            f = _alarm_fields(subject, latest[subject])
            ch = life.change_severity(
                conn, opened[subject][0], severity=step.severity, value=f["value"], detail=f["detail"], now_ms=now_ms
            )
        if ch is not None:
            changes.append(ch)
    return changes


def _alarm_fields(subject: str, row: Any) -> dict[str, Any]:
    """The place, value and detail of the warning alarm of an alert."""
    params = dict(orjson.loads(row.parameters))
    districts = orjson.loads(row.districts)
    lat = lon = None
    for f in orjson.loads(row.areas)["features"]:
        g = f["geometry"]
        if g["type"] == "Point":
            lon, lat = g["coordinates"]
            break
        if lat is None and g["type"] == "Polygon":
            ring = g["coordinates"][0]
            lon = sum(p[0] for p in ring) / len(ring)
            lat = sum(p[1] for p in ring) / len(ring)
    try:
        magnitude = float(params.get("magnitude", ""))
    except ValueError:
        magnitude = None
    return {
        "value": magnitude,
        "source_id": subject,
        "district": districts[0] if districts else None,
        "lat": lat,
        "lon": lon,
        "detail": {
            "alert_id": row.id,
            "sender": row.sender,
            "identifier": row.identifier,
            "event": row.event,
            "headline": row.headline,
            "category": row.category,
            "cap_severity": row.severity,
            "districts": districts,
            "distance_km": row.distance_km,
            "magnitude": magnitude,
            "depth_km": params.get("depth_km"),
            "tsunami": params.get("tsunami") == "true",
            "expires_ms": row.expires_ms,
        },
    }
