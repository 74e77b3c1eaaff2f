"""Retention: raw readings are pruned after `retention_raw_days`, rollups after `retention_rollup_days`.

Deletion walks the series and deletes by primary key range (series, time), in
short transactions, so it never scans the whole table nor holds SQLite's
write lock long enough to stall ingestion.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, delete, select

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
    progress: Callable[[int, int], None] | None = None,
) -> Pruned:
    """Delete readings older than raw_days and rollups older than rollup_days; returns the counts."""
    raw_cut = now_ms - raw_days * DAY_MS
    rollup_cut_s = (now_ms - rollup_days * DAY_MS) // 1000
    with engine.connect() as conn:
        ids = [sid for (sid,) in conn.execute(select(SeriesRow.id).order_by(SeriesRow.id))]
    out = Pruned()
    for start in range(0, len(ids), SERIES_PER_TRANSACTION):
        chunk = ids[start : start + SERIES_PER_TRANSACTION]
        with engine.begin() as conn:
            for sid in chunk:
                out.readings += conn.execute(
                    delete(ReadingRow).where(ReadingRow.series_id == sid, ReadingRow.ts_ms < raw_cut)
                ).rowcount
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
