"""Registration of metrics and series on the ingest path: the ids readings are stored under.

The ingestor's writer calls these inside its batch transaction; none commits.
The readings themselves and their rollups are stored by ingest.bulk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Connection, select, tuple_

from app.storage.dialect import insert_for
from app.storage.models import MetricRow, SeriesRow

SeriesKey = tuple[int, str]  # (source pk, metric)

_METRICS = MetricRow.__table__
_SERIES = SeriesRow.__table__


def add_unregistered_metrics(*, conn: Connection, units: Mapping[str, str | None], now_ms: int) -> None:
    """Insert metrics outside the catalogue with the unit first seen; known ones are left alone."""
    conn.execute(
        insert_for(conn, _METRICS).on_conflict_do_nothing(index_elements=[_METRICS.c.metric]),
        [{"metric": m, "unit": u, "registered": False, "first_seen_ms": now_ms} for m, u in units.items()],
    )


def register_series(*, conn: Connection, keys: Sequence[SeriesKey]) -> dict[SeriesKey, int]:
    """The series id of each (source pk, metric), inserting the series that do not exist yet."""
    c = _SERIES.c
    conn.execute(
        insert_for(conn, _SERIES).on_conflict_do_nothing(index_elements=[c.source_pk, c.metric]),
        [{"source_pk": pk, "metric": m} for pk, m in keys],
    )
    rows = conn.execute(select(c.id, c.source_pk, c.metric).where(tuple_(c.source_pk, c.metric).in_(keys)))
    return {(pk, m): sid for sid, pk, m in rows}
