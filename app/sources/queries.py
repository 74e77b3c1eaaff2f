"""Sources and their health: the one place that decides online, stale or offline.

The health rule, for a source with expected reporting interval I:

- offline when it was never heard from (no `last_seen_ms`);
- offline when the last word on its status topic is `offline` and nothing was
  heard from it after that word (`status_ms >= last_seen_ms`: the ingestor
  moves `last_seen_ms` on every reading and every status message, both stamped
  with the receive time, so an equal time means the `offline` was the last
  thing heard);
- offline when silent for more than OFFLINE_AFTER_INTERVALS x I;
- stale when silent for more than STALE_AFTER_INTERVALS x I;
- online otherwise.

I is the source's own `interval_s` (set from the profile for registered
sources), else the smallest `expected_interval_s` of the catalogue metrics it
has reported, else DEFAULT_INTERVAL_S. "Silent" is measured from
`last_seen_ms`, the receive time of the last message of any kind.

The sources table is small (thousands of rows), so health is computed in
Python over one indexed read of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, select

from app.profile import Profile
from app.storage.models import SeriesRow, SourceRow

Health = Literal["online", "stale", "offline"]
HEALTH_STATES: tuple[Health, ...] = ("online", "stale", "offline")

STALE_AFTER_INTERVALS = 2
OFFLINE_AFTER_INTERVALS = 10
DEFAULT_INTERVAL_S = 300
# The rule in one line, for API descriptions.
HEALTH_RULE = (
    f"`offline`: never heard from, or its status topic's last word is `offline` with nothing heard since, "
    f"or silent for more than {OFFLINE_AFTER_INTERVALS}x its expected interval; "
    f"`stale`: silent for more than {STALE_AFTER_INTERVALS}x its expected interval; else `online`. "
    f"The expected interval is the source's own, else the smallest of its catalogue metrics', "
    f"else {DEFAULT_INTERVAL_S} s."
)


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """One source as the registry knows it, with its health at a given instant."""

    pk: int
    city: str
    source_id: str
    district: str | None
    district_registered: bool
    kind: str | None
    name: str | None
    lat: float | None
    lon: float | None
    registered: bool
    first_seen_ms: int | None
    last_seen_ms: int | None
    status_reported: str | None
    status_reported_ms: int | None
    expected_interval_s: int
    status: Health


def classify(
    *, last_seen_ms: int | None, reported: str | None, reported_ms: int | None, interval_s: int, now_ms: int
) -> Health:
    """The health of one source at `now_ms` (the rule in this module's docstring)."""
    if last_seen_ms is None:
        return "offline"
    if reported == "offline" and reported_ms is not None and reported_ms >= last_seen_ms:
        return "offline"
    silent_ms = now_ms - last_seen_ms
    if silent_ms > OFFLINE_AFTER_INTERVALS * interval_s * 1000:
        return "offline"
    if silent_ms > STALE_AFTER_INTERVALS * interval_s * 1000:
        return "stale"
    return "online"


def expected_interval_s(*, interval_s: int | None, metrics: Iterable[str], profile: Profile) -> int:
    """A source's expected reporting interval: its own, else its catalogue metrics' smallest, else the default."""
    if interval_s:
        return interval_s
    known = [m.expected_interval_s for m in map(profile.metric, metrics) if m is not None]
    return min(known) if known else DEFAULT_INTERVAL_S


def source_health(
    *,
    conn: Connection,
    profile: Profile,
    city: str,
    now_ms: int,
    district: str | None = None,
    kind: str | None = None,
    registered: bool | None = None,
    status: Health | None = None,
) -> list[SourceHealth]:
    """The city's sources with their health at `now_ms`, optionally filtered (by health too), by source id."""
    s = SourceRow.__table__.c
    q = select(SourceRow.__table__).where(s.city == city)
    if district is not None:
        q = q.where(s.district == district)
    if kind is not None:
        q = q.where(s.kind == kind)
    if registered is not None:
        q = q.where(s.registered.is_(registered))
    rows = conn.execute(q.order_by(s.source_id)).mappings().all()
    # Sources without an interval of their own: what they report decides it.
    unknown = [r["id"] for r in rows if not r["interval_s"]]
    reported: dict[int, list[str]] = {}
    if unknown:
        sr = SeriesRow.__table__.c
        for pk, metric in conn.execute(select(sr.source_pk, sr.metric).where(sr.source_pk.in_(unknown))):
            reported.setdefault(pk, []).append(metric)
    out = []
    for r in rows:
        interval = expected_interval_s(interval_s=r["interval_s"], metrics=reported.get(r["id"], ()), profile=profile)
        out.append(
            SourceHealth(
                pk=r["id"],
                city=r["city"],
                source_id=r["source_id"],
                district=r["district"],
                district_registered=r["district"] is not None and profile.has_district(r["district"]),
                kind=r["kind"],
                name=r["name"],
                lat=r["lat"],
                lon=r["lon"],
                registered=bool(r["registered"]),
                first_seen_ms=r["first_seen_ms"],
                last_seen_ms=r["last_seen_ms"],
                status_reported=r["status"],
                status_reported_ms=r["status_ms"],
                expected_interval_s=interval,
                status=classify(
                    last_seen_ms=r["last_seen_ms"],
                    reported=r["status"],
                    reported_ms=r["status_ms"],
                    interval_s=interval,
                    now_ms=now_ms,
                ),
            )
        )
    if status is not None:
        out = [src for src in out if src.status == status]
    return out


def health_counts(*, conn: Connection, profile: Profile, city: str, now_ms: int) -> dict[str, int]:
    """How many of the city's sources are online, stale and offline, and the total.

    The same rule as `source_health`, reading only the five columns it needs (the
    overview asks for this on every change; a city has thousands of sources).
    """
    s = SourceRow.__table__.c
    rows = conn.execute(select(s.id, s.interval_s, s.last_seen_ms, s.status, s.status_ms).where(s.city == city)).all()
    unknown = [r[0] for r in rows if not r[1]]
    reported: dict[int, list[str]] = {}
    if unknown:
        sr = SeriesRow.__table__.c
        for pk, metric in conn.execute(select(sr.source_pk, sr.metric).where(sr.source_pk.in_(unknown))):
            reported.setdefault(pk, []).append(metric)
    counts: dict[str, int] = {h: 0 for h in HEALTH_STATES}
    for pk, interval_s, last_seen_ms, reported_status, reported_ms in rows:
        interval = interval_s or expected_interval_s(interval_s=None, metrics=reported.get(pk, ()), profile=profile)
        health = classify(
            last_seen_ms=last_seen_ms,
            reported=reported_status,
            reported_ms=reported_ms,
            interval_s=interval,
            now_ms=now_ms,
        )
        counts[health] += 1
    counts["total"] = len(rows)
    return counts


SOURCE_FIELDS = ("name", "kind", "district", "lat", "lon", "interval_s")


def register_source(*, conn: Connection, city: str, source_id: str, fields: dict[str, Any], registered: bool) -> bool:
    """Create or update a source as an admin says; True when it was created."""
    tbl = SourceRow.__table__
    values = {k: v for k, v in fields.items() if k in SOURCE_FIELDS}
    values["registered"] = registered
    values["registered_by"] = "admin" if registered else None
    existing = conn.execute(select(tbl.c.id).where(tbl.c.city == city, tbl.c.source_id == source_id)).scalar()
    if existing is None:
        conn.execute(tbl.insert().values(city=city, source_id=source_id, **values))
        return True
    conn.execute(tbl.update().where(tbl.c.id == existing).values(**values))
    return False
