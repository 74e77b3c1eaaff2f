"""What an after-action report is made of: the incident, its steps against their targets, one timeline of its
log with the linked alarms' and tickets' histories, and the readings of the linked sources around it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection

from app.alarms.queries import get_alarm, history
from app.incidents import queries as q
from app.profile import Profile
from app.readings.queries import bucketed, find_source_pk, plan_buckets, series_ids
from app.tickets.queries import get_ticket, ticket_events

BEFORE_MS = 60 * 60_000  # readings from an hour before the incident opened
MAX_BUCKETS = 48


@dataclass(frozen=True, slots=True)
class Moment:
    """One line of the timeline: when, from where (`incident`, `alarm`, `ticket`), who, what, and its fields."""

    at_ms: int
    origin: str
    ref: str
    actor: str | None
    what: str
    text: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Series:
    """A linked alarm's source and metric, bucketed (max per bucket) around the incident."""

    source_id: str
    metric: str
    bucket: str
    points: list[tuple[int, float]]  # (bucket start ms, max)


@dataclass
class AfterAction:
    incident: Mapping[Any, Any]
    steps: Sequence[Mapping[Any, Any]]
    links: Sequence[Mapping[Any, Any]]
    timeline: list[Moment]
    series: list[Series]
    end_ms: int  # closed, or now


def _series(conn: Connection, profile: Profile, alarm: Mapping[str, Any], start_ms: int, end_ms: int) -> Series | None:
    if not alarm["source_id"] or not alarm["metric"]:
        return None
    pk = find_source_pk(conn=conn, city=profile.city.id, source_id=alarm["source_id"])
    if pk is None:
        return None
    bucket = (
        "5m"
        if end_ms - start_ms <= MAX_BUCKETS * 300_000
        else "1h"
        if end_ms - start_ms <= MAX_BUCKETS * 3_600_000
        else "1d"
    )
    plan = plan_buckets(start_ms=start_ms, end_ms=end_ms, bucket=bucket, tz=profile.tz)
    ids = series_ids(conn=conn, city=profile.city.id, metric=alarm["metric"], source_pk=pk)
    points = [(b.start_s * 1000, b.value) for b in bucketed(conn=conn, ids=ids, plan=plan, agg="max")]
    return Series(alarm["source_id"], alarm["metric"], bucket, points)


def after_action(*, conn: Connection, profile: Profile, incident_id: int, now_ms: int) -> AfterAction | None:
    """The report's material for one incident of the profile's city; None when there is no such incident."""
    city = profile.city.id
    inc = q.get_incident(conn=conn, city=city, incident_id=incident_id)
    if inc is None:
        return None
    end_ms = inc["closed_ms"] or now_ms
    links = q.links_of(conn=conn, incident_id=incident_id)
    timeline = [
        Moment(e["at_ms"], "incident", str(incident_id), e["actor"], e["kind"], e["text"], orjson.loads(e["detail"]))
        for e in q.log_of(conn=conn, incident_id=incident_id)
    ]
    series: list[Series] = []
    for k in links:
        if k["kind"] == "alarm":
            alarm = get_alarm(conn=conn, city=city, alarm_id=int(k["ref"]))
            if alarm is None:
                continue
            timeline += [
                Moment(
                    h["at_ms"],
                    "alarm",
                    k["ref"],
                    h["actor"],
                    h["action"],
                    h["comment"],
                    {"severity": h["severity"], "value": h["value"], "source_id": alarm["source_id"]},
                )
                for h in history(conn=conn, alarm_id=alarm["id"])
            ]
            s = _series(conn, profile, alarm, min(inc["opened_ms"], alarm["raised_ms"]) - BEFORE_MS, end_ms)
            if s is not None and all((s.source_id, s.metric) != (o.source_id, o.metric) for o in series):
                series.append(s)
        else:
            ticket = get_ticket(conn=conn, city=city, ticket_id=k["ref"])
            if ticket is None:
                continue
            timeline += [
                Moment(e["ts_ms"], "ticket", k["ref"], e["agency"], e["status"], e["title"], {"service": e["service"]})
                for e in ticket_events(conn=conn, ticket_pk=ticket["id"])
            ]
    timeline.sort(key=lambda m: m.at_ms)
    return AfterAction(inc, q.steps_of(conn=conn, incident_id=incident_id), links, timeline, series, end_ms)
