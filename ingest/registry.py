"""The writer's id registry: the sources, metrics and series it knows exist, so a batch asks only about new ones.

Ids learned inside a batch's transaction are `Pending` until it commits
(`keep`); when a transaction fails the writer forgets everything (`forget`),
since a rolled-back registration may have left ids in no table. The
statements live with their tables (app.sources.store, app.readings.store).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection

from app.readings.store import SeriesKey, add_unregistered_metrics, register_series
from app.sources.store import (
    Moved,
    Place,
    SourceKey,
    SourceRef,
    add_unregistered_sources,
    find_sources,
    move_sources,
    set_first_seen,
)
from ingest.bulk import Row
from ingest.messages import Reading


@dataclass(slots=True)
class Pending:
    """Ids learned in the current transaction; kept only if it commits."""

    sources: dict[SourceKey, SourceRef] = field(default_factory=dict)
    series: dict[SeriesKey, int] = field(default_factory=dict)
    metrics: set[str] = field(default_factory=set)


class Registry:
    """Known ids of one writer's connection: (city, source_id) -> source, (source pk, metric) -> series, metrics."""

    def __init__(self) -> None:
        self._sources: dict[SourceKey, SourceRef] = {}
        self._series: dict[SeriesKey, int] = {}
        self._metrics: set[str] = set()

    def keep(self, pending: Pending) -> None:
        """Remember what a committed transaction registered."""
        self._sources.update(pending.sources)
        self._series.update(pending.series)
        self._metrics |= pending.metrics

    def forget(self) -> None:
        """Forget every id: the next batches ask the database again."""
        self._sources.clear()
        self._series.clear()
        self._metrics.clear()

    def source(self, key: SourceKey, pending: Pending) -> SourceRef | None:
        """The known source `key` (the committed entry first), or None."""
        return self._sources.get(key) or pending.sources.get(key)

    def see_sources(
        self, conn: Connection, pending: Pending, seen: Mapping[SourceKey, int], where: Mapping[SourceKey, Place]
    ) -> list[SourceKey]:
        """Register the sources of `seen` that are new and move those whose place changed; returns the first-time ones.

        `seen` is the receive time of each source's newest message in the batch
        (its first sight when it is new); `where` is the place a message gave.
        """
        new: list[SourceKey] = []
        missing = [k for k in seen if k not in self._sources]
        if missing:
            add_unregistered_sources(conn=conn, places=[(k, where.get(k, Place(None, None, None))) for k in missing])
            first_seen = []
            for f in find_sources(conn=conn, keys=missing):
                pending.sources[f.key] = f.ref
                if f.first_seen_ms is None:  # never heard from before (new, or listed in the profile but silent so far)
                    new.append(f.key)
                    first_seen.append((f.ref.pk, seen[f.key]))
            if first_seen:
                set_first_seen(conn=conn, seen=first_seen)
        moved = []
        for key, (d, lat, lon) in where.items():
            info = self.source(key, pending)
            if info is not None and (
                (d is not None and d != info.district) or (lat is not None and (lat, lon) != (info.lat, info.lon))
            ):
                nd = d if d is not None else info.district
                nlat, nlon = (lat, lon) if lat is not None else (info.lat, info.lon)
                moved.append(Moved(info.pk, nd, nlat, nlon))
                pending.sources[key] = SourceRef(info.pk, nd, nlat, nlon)
        if moved:
            move_sources(conn=conn, moved=moved)
        return new

    def series_rows(self, conn: Connection, pending: Pending, readings: Sequence[tuple[int, Reading]]) -> list[Row]:
        """(series id, ts_ms, value) for every point of `readings` (source pk, reading), registering new metrics and series."""
        series = self._series
        missing: dict[SeriesKey, str | None] = {}
        for pk, r in readings:
            for pt in r.points:
                k = (pk, pt.metric)
                if k not in series and k not in missing:
                    missing[k] = pt.unit
        if missing:
            new_metrics = {m: u for (_, m), u in missing.items() if m not in self._metrics}
            if new_metrics:
                add_unregistered_metrics(conn=conn, units=new_metrics, now_ms=int(time.time() * 1000))
                pending.metrics.update(new_metrics)
            pending.series.update(register_series(conn=conn, keys=list(missing)))
        learned = pending.series
        return [
            (series.get((pk, pt.metric)) or learned[(pk, pt.metric)], pt.ts_ms, pt.value)
            for pk, r in readings
            for pt in r.points
        ]
