"""Set-based storage of a batch of readings, one implementation per database.

A batch of (series_id, ts_ms, value) rows is staged in a temporary table with
the driver's fastest path (sqlite3 executemany; PostgreSQL COPY), then a few
statements run inside the database: insert the rows that are new, and fold
exactly those rows into the per-minute and per-hour rollups and the series'
latest value. A redelivered message therefore changes nothing. This is
hand-written SQL rather than SQLAlchemy Core because Core's executemany costs
3x (SQLite) to 4x (PostgreSQL, against COPY) on the hottest path
(see ../shared/CEILINGS.md); everything else uses Core.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import Connection

Row = tuple[int, int, float]

_ROLLUPS = (("rollup_1m", 60), ("rollup_1h", 3600))


class ReadingsBulk(Protocol):
    def store(self, conn: Connection, rows: Sequence[Row]) -> int:
        """Insert new rows, update rollups and latest values; return how many rows were new."""

    def touch_sources(self, conn: Connection, seen: Sequence[tuple[int, int]]) -> None:
        """Move each source's last_seen_ms forward to the given time (source pk, epoch ms)."""


class SqliteBulk:
    """SQLite: the writer holds the database's write lock (BEGIN IMMEDIATE), so no races."""

    _stage = (
        "CREATE TEMP TABLE IF NOT EXISTS stage_readings (series_id INTEGER NOT NULL, ts_ms INTEGER NOT NULL, "
        "value REAL NOT NULL, PRIMARY KEY (series_id, ts_ms)) WITHOUT ROWID"
    )

    def store(self, conn: Connection, rows: Sequence[Row]) -> int:
        if not rows:
            return 0
        raw = conn.connection.driver_connection
        raw.execute(self._stage)
        raw.execute("DELETE FROM stage_readings")
        # First copy of a key within the batch wins, as it would across batches.
        raw.executemany("INSERT OR IGNORE INTO stage_readings VALUES (?, ?, ?)", rows)
        raw.execute(
            "DELETE FROM stage_readings WHERE EXISTS (SELECT 1 FROM readings r "
            "WHERE r.series_id = stage_readings.series_id AND r.ts_ms = stage_readings.ts_ms)"
        )
        inserted = raw.execute(
            "INSERT INTO readings (series_id, ts_ms, value) SELECT series_id, ts_ms, value FROM stage_readings"
        ).rowcount
        if inserted == 0:
            return 0
        for table, width in _ROLLUPS:
            raw.execute(
                f"INSERT INTO {table} (series_id, bucket, count, sum, min, max, last, last_ts_ms) "  # noqa: S608 - table names and widths come from _ROLLUPS, a constant; values are never spliced in
                "SELECT g.series_id, g.bucket, g.c, g.s, g.mn, g.mx, "
                "(SELECT s2.value FROM stage_readings s2 WHERE s2.series_id = g.series_id AND s2.ts_ms = g.lt), g.lt "
                f"FROM (SELECT series_id, (ts_ms / {width * 1000}) * {width} AS bucket, count(*) AS c, "
                "sum(value) AS s, min(value) AS mn, max(value) AS mx, max(ts_ms) AS lt "
                "FROM stage_readings GROUP BY series_id, bucket) AS g WHERE true "
                "ON CONFLICT (series_id, bucket) DO UPDATE SET "
                f"count = {table}.count + excluded.count, sum = {table}.sum + excluded.sum, "
                f"min = min({table}.min, excluded.min), max = max({table}.max, excluded.max), "
                f"last = CASE WHEN excluded.last_ts_ms >= {table}.last_ts_ms THEN excluded.last ELSE {table}.last END, "
                f"last_ts_ms = max({table}.last_ts_ms, excluded.last_ts_ms)"
            )
        raw.execute(
            "UPDATE series SET last_ts_ms = g.lt, last_value = "
            "(SELECT s2.value FROM stage_readings s2 WHERE s2.series_id = g.series_id AND s2.ts_ms = g.lt) "
            "FROM (SELECT series_id, max(ts_ms) AS lt FROM stage_readings GROUP BY series_id) AS g "
            "WHERE series.id = g.series_id AND (series.last_ts_ms IS NULL OR g.lt >= series.last_ts_ms)"
        )
        return inserted

    def touch_sources(self, conn: Connection, seen: Sequence[tuple[int, int]]) -> None:
        conn.connection.driver_connection.executemany(
            "UPDATE sources SET last_seen_ms = ?2 WHERE id = ?1 AND (last_seen_ms IS NULL OR last_seen_ms < ?2)", seen
        )


def _pg_rollup_cte(table: str, width: int) -> str:
    return (
        f"{table}_up AS (INSERT INTO {table} (series_id, bucket, count, sum, min, max, last, last_ts_ms) "  # noqa: S608 - table names and widths come from _ROLLUPS, a constant; values are never spliced in
        f"SELECT series_id, (ts_ms / {width * 1000}) * {width} AS bucket, count(*), sum(value), min(value), "
        "max(value), (array_agg(value ORDER BY ts_ms DESC))[1], max(ts_ms) "
        "FROM ins GROUP BY series_id, bucket ORDER BY series_id, bucket "
        "ON CONFLICT (series_id, bucket) DO UPDATE SET "
        f"count = {table}.count + excluded.count, sum = {table}.sum + excluded.sum, "
        f"min = least({table}.min, excluded.min), max = greatest({table}.max, excluded.max), "
        f"last = CASE WHEN excluded.last_ts_ms >= {table}.last_ts_ms THEN excluded.last ELSE {table}.last END, "
        f"last_ts_ms = greatest({table}.last_ts_ms, excluded.last_ts_ms))"
    )


class PostgresBulk:
    """PostgreSQL: COPY into a temp table, then one statement of data-modifying CTEs.

    Safe with several ingestors at once: `ON CONFLICT DO NOTHING ... RETURNING`
    yields only the rows this transaction inserted, so each row is rolled up
    once; rollup upserts run in key order to keep lock order stable, and a
    deadlock that still happens aborts the batch, which the writer retries.
    """

    _stage = (
        "CREATE TEMP TABLE IF NOT EXISTS stage_readings (series_id bigint NOT NULL, ts_ms bigint NOT NULL, "
        "value double precision NOT NULL) ON COMMIT DELETE ROWS"
    )
    _merge = (
        "WITH ins AS (INSERT INTO readings (series_id, ts_ms, value) "  # noqa: S608 - table names and widths come from _ROLLUPS, a constant; values are never spliced in
        "SELECT series_id, ts_ms, value FROM stage_readings ORDER BY series_id, ts_ms "
        "ON CONFLICT DO NOTHING RETURNING series_id, ts_ms, value), "
        + ", ".join(_pg_rollup_cte(t, w) for t, w in _ROLLUPS)
        + ", latest AS (UPDATE series SET last_ts_ms = x.ts_ms, last_value = x.value "
        "FROM (SELECT DISTINCT ON (series_id) series_id, ts_ms, value FROM ins ORDER BY series_id, ts_ms DESC) x "
        "WHERE series.id = x.series_id AND (series.last_ts_ms IS NULL OR x.ts_ms >= series.last_ts_ms)) "
        "SELECT count(*) FROM ins"
    )

    def store(self, conn: Connection, rows: Sequence[Row]) -> int:
        if not rows:
            return 0
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            cur.execute(self._stage)
            with cur.copy("COPY stage_readings (series_id, ts_ms, value) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute(self._merge)
            (inserted,) = cur.fetchone()
        return int(inserted)

    def touch_sources(self, conn: Connection, seen: Sequence[tuple[int, int]]) -> None:
        # One statement for the batch: executemany would pay a server round of work per source.
        pks, ms = zip(*seen, strict=False)
        with conn.connection.driver_connection.cursor() as cur:
            cur.execute(
                "UPDATE sources SET last_seen_ms = v.ms FROM unnest(%s::bigint[], %s::bigint[]) AS v(pk, ms) "
                "WHERE sources.id = v.pk AND (sources.last_seen_ms IS NULL OR sources.last_seen_ms < v.ms)",
                (list(pks), list(ms)),
            )


def bulk_for(dialect_name: str) -> ReadingsBulk:
    return SqliteBulk() if dialect_name == "sqlite" else PostgresBulk()
