"""Reads of sensor data that never touch the raw readings table.

The latest values come from `series` (one row per source and metric, kept
current by the ingestor). Time series come from the rollups: `1m` and `5m`
buckets from `rollup_1m`, `1h` and `1d` from `rollup_1h`, always through the
(series_id, bucket) primary key, so a query costs what it returns.

Bucket alignment: `1m`, `5m` and `1h` buckets start at multiples of their
width in UTC; `1d` buckets start at the city's local midnight (the profile's
time zone; Asia/Jayapura is UTC+9, so a day bucket starts at 15:00 UTC the day
before). The zone's UTC offset at the start of the range is used for the whole
range: right for zones without daylight saving time, as all of Indonesia's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Literal

from sqlalchemy import Connection, func, select

from app.profile import Profile
from app.storage.models import MetricRow, RollupHourRow, RollupMinuteRow, SeriesRow, SourceRow

Bucket = Literal["1m", "5m", "1h", "1d"]
Agg = Literal["avg", "min", "max", "sum", "count"]

# Bucket -> (width in seconds, the rollup it is built from).
BUCKETS: dict[str, tuple[int, str]] = {"1m": (60, "1m"), "5m": (300, "1m"), "1h": (3600, "1h"), "1d": (86400, "1h")}
MAX_POINTS = 10_000
_ROLLUPS = {"1m": RollupMinuteRow.__table__, "1h": RollupHourRow.__table__}


class TooManyPoints(ValueError):
    """The range holds more buckets than one answer may carry."""


@dataclass(frozen=True, slots=True)
class MetricInfo:
    metric: str
    unit: str | None
    in_catalogue: bool


@dataclass(frozen=True, slots=True)
class Latest:
    source_id: str
    metric: str
    value: float | None
    unit: str | None
    ts_ms: int
    district: str | None


@dataclass(frozen=True, slots=True)
class BucketPlan:
    """Which buckets a range covers: [first_s, stop_s) in epoch seconds, `points` buckets of `width_s`."""

    bucket: str
    width_s: int
    shift_s: int  # local = UTC + shift: only day buckets follow the city's clock
    first_s: int
    stop_s: int
    points: int
    rollup: str


@dataclass(frozen=True, slots=True)
class BucketValue:
    start_s: int
    value: float
    count: int


def metric_info(*, conn: Connection, profile: Profile, metric: str) -> MetricInfo | None:
    """A metric's unit (the catalogue's, else the one first seen in data), or None if it is unknown."""
    known = profile.metric(metric)
    if known is not None:
        return MetricInfo(metric, known.unit, True)
    row = conn.execute(select(MetricRow.unit).where(MetricRow.metric == metric)).first()
    return None if row is None else MetricInfo(metric, row.unit, False)


def find_source_pk(*, conn: Connection, city: str, source_id: str) -> int | None:
    """The primary key of a city's source, or None if there is no such source."""
    return conn.execute(select(SourceRow.id).where(SourceRow.city == city, SourceRow.source_id == source_id)).scalar()


def latest(
    *,
    conn: Connection,
    profile: Profile,
    city: str,
    limit: int,
    offset: int,
    source_pk: int | None = None,
    metric: str | None = None,
    district: str | None = None,
) -> tuple[list[Latest], int]:
    """The latest value of each matching series (by source id, then metric) and how many series match."""
    sr, so, mt = SeriesRow.__table__.c, SourceRow.__table__.c, MetricRow.__table__.c
    conds = [so.city == city, sr.last_ts_ms.is_not(None)]
    if source_pk is not None:
        conds.append(sr.source_pk == source_pk)
    if metric is not None:
        conds.append(sr.metric == metric)
    if district is not None:
        conds.append(so.district == district)
    joined = SeriesRow.__table__.join(SourceRow.__table__, so.id == sr.source_pk)
    total = conn.execute(select(func.count()).select_from(joined).where(*conds)).scalar_one()
    rows = conn.execute(
        select(so.source_id, sr.metric, sr.last_value, sr.last_ts_ms, so.district, mt.unit)
        .select_from(joined.outerjoin(MetricRow.__table__, mt.metric == sr.metric))
        .where(*conds)
        .order_by(so.source_id, sr.metric)
        .limit(limit)
        .offset(offset)
    ).all()
    items = []
    for r in rows:
        known = profile.metric(r.metric)
        items.append(
            Latest(r.source_id, r.metric, r.last_value, known.unit if known else r.unit, r.last_ts_ms, r.district)
        )
    return items, total


def plan_buckets(*, start_ms: int, end_ms: int, bucket: str, tz: tzinfo) -> BucketPlan:
    """The buckets covering [start, end): each bucket starting in the range, whole; TooManyPoints past MAX_POINTS."""
    width, rollup = BUCKETS[bucket]
    shift = 0
    if bucket == "1d":
        offset = datetime.fromtimestamp(start_ms / 1000, tz=UTC).astimezone(tz).utcoffset()
        shift = int(offset.total_seconds()) if offset else 0
    first = (start_ms // 1000 + shift) // width * width - shift
    stop = math.ceil((math.ceil(end_ms / 1000) + shift) / width) * width - shift
    points = (stop - first) // width
    if points > MAX_POINTS:
        raise TooManyPoints(
            f"the range holds {points} buckets of {bucket}; at most {MAX_POINTS} are returned: "
            "narrow the range or use a wider bucket"
        )
    return BucketPlan(bucket, width, shift, first, stop, points, rollup)


def series_ids(
    *, conn: Connection, city: str, metric: str, source_pk: int | None = None, district: str | None = None
) -> list[int]:
    """The ids of the series of `metric`: of one source, of a district's sources, or city-wide."""
    sr, so = SeriesRow.__table__.c, SourceRow.__table__.c
    q = select(sr.id).where(sr.metric == metric)
    if source_pk is not None:
        q = q.where(sr.source_pk == source_pk)
    else:
        q = q.join(SourceRow.__table__, so.id == sr.source_pk).where(so.city == city)
        if district is not None:
            q = q.where(so.district == district)
    return list(conn.execute(q.order_by(sr.id)).scalars())


def bucketed(*, conn: Connection, ids: list[int], plan: BucketPlan, agg: str) -> list[BucketValue]:
    """The rollups of the series `ids` folded into the plan's buckets, with `agg` of each (empty buckets omitted)."""
    if not ids:
        return []
    t = _ROLLUPS[plan.rollup].c
    key = ((t.bucket + plan.shift_s) // plan.width_s).label("k")
    rows = conn.execute(
        select(key, func.sum(t.count), func.sum(t.sum), func.min(t.min), func.max(t.max))
        .where(t.series_id.in_(ids), t.bucket >= plan.first_s, t.bucket < plan.stop_s)
        .group_by(key)
        .order_by(key)
    ).all()
    return [
        BucketValue(int(k) * plan.width_s - plan.shift_s, _pick(agg, int(count), total, low, high), int(count))
        for k, count, total, low, high in rows
    ]


def _pick(agg: str, count: int, total: float, low: float, high: float) -> float:
    if agg == "avg":
        return float(total) / count  # the mean of all readings, not the mean of per-bucket means
    if agg == "sum":
        return float(total)
    if agg == "min":
        return float(low)
    if agg == "max":
        return float(high)
    return float(count)
