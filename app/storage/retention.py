"""Retention: raw readings are pruned after `retention_raw_days`, rollups after `retention_rollup_days`.

Deletion walks the series and deletes by primary key range (series, time), in
short transactions, so it never scans the whole table nor holds SQLite's
write lock long enough to stall ingestion. A table partitioned by time
(PostgreSQL, app.storage.partitions) loses whole partitions instead: the ones
wholly before the cut, so up to one partition's span more than the retention
stays until the next turn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, delete, select

from app.storage import partitions
from app.storage.models import ReadingRow, RollupHourRow, RollupMinuteRow, SeriesRow

DAY_MS = 86_400_000
SERIES_PER_TRANSACTION = 200


@dataclass
class Pruned:
    readings: int = 0
    rollup_1m: int = 0
    rollup_1h: int = 0


def prune(
    *,
    engine: Engine,
    now_ms: int,
    raw_days: int,
    rollup_days: int,
    ahead_days: int = 7,
    progress: Callable[[int, int], None] | None = None,
) -> Pruned:
    """Delete readings older than raw_days and rollups older than rollup_days; returns the counts.

    Where the tables are partitioned, first make the partitions up to ahead_days ahead (the maintenance turn).
    """
    raw_cut = now_ms - raw_days * DAY_MS
    rollup_cut_s = (now_ms - rollup_days * DAY_MS) // 1000
    out = Pruned()
    with engine.begin() as conn:
        split = {spec.table: partitions.is_partitioned(conn, spec.table) for spec in partitions.SPECS}
        partitions.maintain(
            conn, now_ms=now_ms, keep_days={"readings": raw_days, "rollup_1m": rollup_days}, ahead_days=ahead_days
        )
        if split["readings"]:
            out.readings = partitions.drop_before(conn, partitions.READINGS, raw_cut)
        if split["rollup_1m"]:
            out.rollup_1m = partitions.drop_before(conn, partitions.ROLLUP_1M, rollup_cut_s)
        ids = [sid for (sid,) in conn.execute(select(SeriesRow.id).order_by(SeriesRow.id))]
    for start in range(0, len(ids), SERIES_PER_TRANSACTION):
        chunk = ids[start : start + SERIES_PER_TRANSACTION]
        with engine.begin() as conn:
            for sid in chunk:
                if not split["readings"]:
                    out.readings += conn.execute(
                        delete(ReadingRow).where(ReadingRow.series_id == sid, ReadingRow.ts_ms < raw_cut)
                    ).rowcount
                if not split["rollup_1m"]:
                    out.rollup_1m += conn.execute(
                        delete(RollupMinuteRow).where(
                            RollupMinuteRow.series_id == sid, RollupMinuteRow.bucket < rollup_cut_s
                        )
                    ).rowcount
                out.rollup_1h += conn.execute(
                    delete(RollupHourRow).where(RollupHourRow.series_id == sid, RollupHourRow.bucket < rollup_cut_s)
                ).rowcount
        if progress:
            progress(min(start + SERIES_PER_TRANSACTION, len(ids)), len(ids))
    return out
