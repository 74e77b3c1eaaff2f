"""Partitioned PostgreSQL benchmark: dropping a day of readings, and reads under 20 clients, before and after.

    .venv/bin/python bench/partitions.py [--regencies 10] [--sources 50] [--interval-s 600] [--days 30]
                                         [--clients 20] [--seconds 10]

A province of --regencies regencies x --sources sources (one metric each), a
reading every --interval-s over --days whole UTC days ending today, and one
per-minute rollup row per reading, written straight into two fresh PostgreSQL
databases (on SATUPINTU_BENCH_PG_URL) at schema revision 0007 ("before":
plain tables) and at head ("after": 0012's partitions). On each it prints:

1. the time to drop the oldest day of readings through retention
   (app.storage.retention.prune: row deletes by series before, DROP TABLE of
   the day's partition after), and how many rows went;
2. p50/p95 of two reads with --clients concurrent clients for --seconds: a
   source's per-minute rollup over the last 24 hours (the series route's
   query), and the readings of the last hour across every source of one
   regency (a raw read that partition pruning narrows to today).

The issue's full scale (10 x 500 sources, 30 days at a reading a minute:
216M rows) takes hours to fill on a 2-core machine; the figures in the README
name the scale they ran at.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
import uuid

from alembic import command
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from app.storage import partitions
from app.storage.migrate import alembic_config
from app.storage.retention import DAY_MS, SERIES_PER_TRANSACTION, prune

ADMIN = os.environ.get("SATUPINTU_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def fresh(revision: str) -> tuple[str, Engine]:
    name = f"satupintu_partbench_{uuid.uuid4().hex[:8]}"
    with create_engine(ADMIN, isolation_level="AUTOCOMMIT").connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(ADMIN).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url, pool_size=32, max_overflow=0)
    cfg = alembic_config(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    return name, engine


def drop_database(name: str) -> None:
    with create_engine(ADMIN, isolation_level="AUTOCOMMIT").connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def fill(engine: Engine, a: argparse.Namespace, day0_ms: int) -> int:
    """Sources, series, readings and minute rollups, set-based; returns the readings written."""
    n = a.regencies * a.sources
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO sources (city, source_id, registered) SELECT 'kab-' || (i % :r), 'src-' || i, false "
                "FROM generate_series(0, :n - 1) AS i"
            ),
            {"r": a.regencies, "n": n},
        )
        c.execute(text("INSERT INTO series (source_pk, metric) SELECT id, 'water_level_cm' FROM sources"))
        step_ms, end_ms = a.interval_s * 1000, day0_ms + a.days * DAY_MS
        c.execute(
            text(
                "INSERT INTO readings (series_id, ts_ms, value) SELECT s.id, t, (t / 1000 % 997)::float "
                "FROM series s, generate_series(CAST(:a AS bigint), CAST(:b AS bigint), CAST(:st AS bigint)) AS t"
            ),
            {"a": day0_ms, "b": end_ms - 1, "st": step_ms},
        )
        c.execute(
            text(
                "INSERT INTO rollup_1m (series_id, bucket, count, sum, min, max, last, last_ts_ms) "
                "SELECT series_id, ts_ms / 60000 * 60, 1, value, value, value, value, ts_ms FROM readings"
            )
        )
        total = int(c.execute(text("SELECT count(*) FROM readings")).scalar() or 0)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE"))
    return total


def load(engine: Engine, sql: str, params: dict[str, object], clients: int, seconds: float) -> tuple[float, float]:
    """p50 and p95 (ms) of `sql` run by `clients` threads in a closed loop for `seconds`."""
    lat: list[float] = []
    stop = time.monotonic() + seconds

    def worker() -> None:
        mine = []
        with engine.connect() as c:
            while time.monotonic() < stop:
                t = time.perf_counter()
                c.execute(text(sql), params).all()
                mine.append((time.perf_counter() - t) * 1000)
        lat.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    q = statistics.quantiles(lat, n=20)
    return statistics.median(lat), q[18]


def drop_oldest_day(engine: Engine, cut_ms: int) -> int:
    """The readings part of retention alone: row deletes series by series (as prune does), or the partition dropped."""
    with engine.begin() as c:
        if partitions.is_partitioned(c, "readings"):
            return partitions.drop_before(c, partitions.READINGS, cut_ms)
        ids = list(c.execute(text("SELECT id FROM series ORDER BY id")).scalars())
    gone = 0
    for start in range(0, len(ids), SERIES_PER_TRANSACTION):
        with engine.begin() as c:
            for sid in ids[start : start + SERIES_PER_TRANSACTION]:
                gone += c.execute(
                    text("DELETE FROM readings WHERE series_id = :s AND ts_ms < :cut"), {"s": sid, "cut": cut_ms}
                ).rowcount
    return gone


def run(label: str, revision: str, a: argparse.Namespace) -> None:
    today = int(time.time() * 1000) // DAY_MS * DAY_MS
    day0 = today - a.days * DAY_MS
    name, engine = fresh(revision)
    try:
        t = time.perf_counter()
        total = fill(engine, a, day0)
        print(f"[{label}] filled {total:,} readings and minute rollups in {time.perf_counter() - t:.1f}s", flush=True)
        with engine.connect() as c:
            sid = c.execute(text("SELECT max(id) FROM series")).scalar()
        end_s = (day0 + a.days * DAY_MS) // 1000
        q1 = (
            "SELECT bucket, sum / count FROM rollup_1m WHERE series_id = :sid AND bucket >= :a AND bucket < :b "
            "ORDER BY bucket"
        )
        q2 = (
            "SELECT count(*), avg(r.value) FROM readings r JOIN series s ON s.id = r.series_id "
            "JOIN sources o ON o.id = s.source_pk WHERE o.city = 'kab-3' AND r.ts_ms >= :a AND r.ts_ms < :b"
        )
        for what, sql, params in (
            ("rollup_1m, one source, 24 h", q1, {"sid": sid, "a": end_s - 86_400, "b": end_s}),
            ("readings, one regency, last hour", q2, {"a": (end_s - 3600) * 1000, "b": end_s * 1000}),
        ):
            load(engine, sql, params, a.clients, 1.0)  # warm up
            p50, p95 = load(engine, sql, params, a.clients, a.seconds)
            print(f"[{label}] {what}: p50 {p50:.1f} ms, p95 {p95:.1f} ms ({a.clients} clients)", flush=True)
        cut = day0 + DAY_MS
        t = time.perf_counter()
        gone = drop_oldest_day(engine, cut)
        print(f"[{label}] dropping the oldest day of readings: {gone:,} rows in {time.perf_counter() - t:.3f}s")
        t = time.perf_counter()
        pruned = prune(engine=engine, now_ms=today + DAY_MS, raw_days=a.days - 1, rollup_days=400)
        print(
            f"[{label}] the whole retention turn a day later (app.storage.retention.prune; the hour rollups are "
            f"deleted row by row in both): {pruned.readings:,} readings in {time.perf_counter() - t:.2f}s",
            flush=True,
        )
    finally:
        engine.dispose()
        drop_database(name)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--regencies", type=int, default=10)
    p.add_argument("--sources", type=int, default=50, help="per regency")
    p.add_argument("--interval-s", type=int, default=600)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--seconds", type=float, default=10.0)
    a = p.parse_args()
    print(
        f"province: {a.regencies} regencies x {a.sources} sources, a reading every {a.interval_s}s, {a.days} days",
        flush=True,
    )
    run("before: plain tables", "0007", a)
    run("after: partitioned", "head", a)


if __name__ == "__main__":
    main()
