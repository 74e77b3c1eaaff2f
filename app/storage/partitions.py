"""Time partitions of the raw readings and the per-minute rollup, on PostgreSQL (declarative range partitioning).

A province's readings grow by tens of millions of rows a day; deleting a day of
them row by row is the slowest thing the database does, and leaves the table to
vacuum. Partitioned by time, retention drops whole partitions instead (a
catalogue change, milliseconds), and queries for a period scan only its
partitions.

- `readings` is partitioned by `ts_ms` (epoch ms), one partition per UTC day;
  `rollup_1m` by `bucket` (epoch s), one per 7 days (it is kept for a year).
- The partitions live in their own schema (`partitions`), out of the way of
  the application's tables (and of the schema comparison in the tests).
- A DEFAULT partition catches any row outside the partitions made so far (the
  ingestor away for longer than `partition_ahead_days`, an old reading accepted
  under a longer retention): nothing is ever refused for want of a partition.
  When a partition is made for a range, the rows the DEFAULT holds in it move in.
- The maintenance turn (`maintain`, on the ingestor's retention turn) makes the
  partitions from the retention cut to `ahead_days` ahead; retention
  (`drop_before`) drops the partitions wholly before the cut.

pg_partman does the same job as an extension; it is not in every managed
PostgreSQL (nor in the official docker image), so this is the few statements it
would run. SQLite has no partitioning: every function here is a no-op there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection

SCHEMA = "partitions"
DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Spec:
    """How one table is partitioned: by which time column, in which unit, in spans of how many days."""

    table: str
    column: str
    per_day: int  # key units in a day: 86_400_000 for epoch ms, 86_400 for epoch seconds
    span_days: int
    fillfactor: int | None = None

    @property
    def span(self) -> int:
        return self.per_day * self.span_days

    def key(self, ms: int) -> int:
        """The partition key of an instant in epoch ms."""
        return ms * self.per_day // DAY_MS

    def floor(self, key: int) -> int:
        """The lower bound of the partition that holds key."""
        return key - key % self.span

    def name(self, lower: int) -> str:
        day = datetime.fromtimestamp(lower / self.per_day * 86_400, UTC)
        return f"{self.table}_{day:%Y%m%d}"

    @property
    def default(self) -> str:
        return f"{self.table}_default"

    @property
    def storage(self) -> str:
        return f" WITH (fillfactor = {self.fillfactor})" if self.fillfactor else ""


READINGS = Spec("readings", "ts_ms", DAY_MS, 1)
ROLLUP_1M = Spec("rollup_1m", "bucket", 86_400, 7, fillfactor=70)  # updated in place: room for HOT updates
SPECS = (READINGS, ROLLUP_1M)
_BOUND = re.compile(r"FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)")


@dataclass(frozen=True, slots=True)
class Partition:
    name: str
    lower: int
    upper: int


def is_partitioned(conn: Connection, table: str) -> bool:
    """True when `table` is a partitioned table (PostgreSQL after migration 0012)."""
    if conn.dialect.name != "postgresql":
        return False
    kind = conn.exec_driver_sql(
        "SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relname = %(t)s AND n.nspname = current_schema()",
        {"t": table},
    ).scalar()
    return kind == "p"


def partitions(conn: Connection, spec: Spec) -> list[Partition]:
    """The range partitions of a table, oldest first (not the DEFAULT one)."""
    rows = conn.exec_driver_sql(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
        "JOIN pg_namespace n ON n.oid = p.relnamespace WHERE p.relname = %(t)s AND n.nspname = current_schema()",
        {"t": spec.table},
    ).all()
    out = []
    for name, bound in rows:
        m = _BOUND.search(bound or "")
        if m:
            out.append(Partition(name, int(m[1]), int(m[2])))
    return sorted(out, key=lambda p: p.lower)


def create_default(conn: Connection, spec: Spec) -> None:
    """The DEFAULT partition, the net under every range partition."""
    conn.exec_driver_sql(
        f'CREATE TABLE IF NOT EXISTS {SCHEMA}."{spec.default}" PARTITION OF "{spec.table}" DEFAULT{spec.storage}'
    )


def create(conn: Connection, spec: Spec, lower: int) -> str:
    """Make the partition [lower, lower + span), moving into it what the DEFAULT partition holds of that range.

    ATTACH takes only a SHARE UPDATE EXCLUSIVE lock on the parent: the ingestor keeps writing meanwhile.
    """
    name, upper, col = spec.name(lower), lower + spec.span, spec.column
    conn.exec_driver_sql(
        f'CREATE TABLE {SCHEMA}."{name}" (LIKE "{spec.table}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS){spec.storage}'
    )
    conn.exec_driver_sql(
        f'WITH moved AS (DELETE FROM {SCHEMA}."{spec.default}" WHERE {col} >= {lower} AND {col} < {upper} '  # noqa: S608 - identifiers from SPECS and our own partitions' names, numbers as ints: no value spliced in
        f'RETURNING *) INSERT INTO {SCHEMA}."{name}" SELECT * FROM moved'
    )
    conn.exec_driver_sql(
        f'ALTER TABLE "{spec.table}" ATTACH PARTITION {SCHEMA}."{name}" FOR VALUES FROM ({lower}) TO ({upper})'
    )
    return name


def ensure(conn: Connection, spec: Spec, *, from_ms: int, to_ms: int) -> list[str]:
    """Make every missing partition that covers [from_ms, to_ms]; returns the names made."""
    have = partitions(conn, spec)
    made = []
    lower = spec.floor(spec.key(from_ms))
    while lower <= spec.key(to_ms):
        upper = lower + spec.span
        if not any(p.lower < upper and lower < p.upper for p in have):
            made.append(create(conn, spec, lower))
        lower = upper
    return made


def drop_before(conn: Connection, spec: Spec, cut_key: int) -> int:
    """Drop the partitions wholly before cut_key and delete the DEFAULT partition's rows before it; rows gone."""
    gone = 0
    for p in partitions(conn, spec):
        if p.upper > cut_key:
            break
        rows = conn.exec_driver_sql(f'SELECT count(*) FROM {SCHEMA}."{p.name}"')  # noqa: S608 - identifiers from SPECS and our own partitions' names, numbers as ints: no value spliced in
        gone += int(rows.scalar() or 0)
        conn.exec_driver_sql(f'DROP TABLE {SCHEMA}."{p.name}"')
    left = f'DELETE FROM {SCHEMA}."{spec.default}" WHERE {spec.column} < {int(cut_key)}'  # noqa: S608 - identifiers from SPECS and our own partitions' names, numbers as ints: no value spliced in
    deleted = conn.exec_driver_sql(left)
    return gone + deleted.rowcount


def maintain(conn: Connection, *, now_ms: int, keep_days: dict[str, int], ahead_days: int) -> list[str]:
    """Make the partitions from each table's retention cut to ahead_days ahead; returns the names made."""
    made: list[str] = []
    for spec in SPECS:
        if is_partitioned(conn, spec.table):
            made += ensure(
                conn, spec, from_ms=now_ms - keep_days[spec.table] * DAY_MS, to_ms=now_ms + ahead_days * DAY_MS
            )
    return made


def convert(conn: Connection, spec: Spec, *, now_ms: int, behind_days: int, ahead_days: int) -> None:
    """Turn a plain table into a partitioned one with the same columns, key and rows (migration 0012).

    Partitions are made from the oldest row (but no further back than behind_days) to ahead_days ahead;
    older rows land in the DEFAULT partition, which retention empties. Needs room for a second copy of
    the table while it runs.
    """
    old, t = f"{spec.table}_unpartitioned", spec.table
    conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    conn.exec_driver_sql(f'ALTER TABLE "{t}" RENAME TO "{old}"')
    conn.exec_driver_sql(f'ALTER TABLE "{old}" RENAME CONSTRAINT "pk_{t}" TO "pk_{old}"')
    conn.exec_driver_sql(
        f'CREATE TABLE "{t}" (LIKE "{old}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE ({spec.column})'
    )
    conn.exec_driver_sql(f'ALTER TABLE "{t}" ADD CONSTRAINT "pk_{t}" PRIMARY KEY (series_id, {spec.column})')
    create_default(conn, spec)
    oldest = conn.exec_driver_sql(f'SELECT min({spec.column}) FROM "{old}"').scalar()  # noqa: S608 - identifiers from SPECS and our own partitions' names, numbers as ints: no value spliced in
    earliest = now_ms - behind_days * DAY_MS
    if oldest is not None:
        earliest = max(earliest, int(oldest) * DAY_MS // spec.per_day)
    ensure(conn, spec, from_ms=earliest, to_ms=now_ms + ahead_days * DAY_MS)
    conn.exec_driver_sql(f'INSERT INTO "{t}" SELECT * FROM "{old}"')  # noqa: S608 - identifiers from SPECS and our own partitions' names, numbers as ints: no value spliced in
    conn.exec_driver_sql(f'DROP TABLE "{old}"')


def unconvert(conn: Connection, spec: Spec) -> None:
    """Back to a plain table with the same rows (migration 0012's downgrade)."""
    t, plain = spec.table, f"{spec.table}_plain"
    conn.exec_driver_sql(f'CREATE TABLE "{plain}" (LIKE "{t}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS){spec.storage}')
    conn.exec_driver_sql(f'INSERT INTO "{plain}" SELECT * FROM "{t}"')  # noqa: S608 - identifiers from SPECS and our own partitions' names, numbers as ints: no value spliced in
    conn.exec_driver_sql(f'DROP TABLE "{t}"')  # its partitions go with it
    conn.exec_driver_sql(f'ALTER TABLE "{plain}" RENAME TO "{t}"')
    conn.exec_driver_sql(f'ALTER TABLE "{t}" ADD CONSTRAINT "pk_{t}" PRIMARY KEY (series_id, {spec.column})')
