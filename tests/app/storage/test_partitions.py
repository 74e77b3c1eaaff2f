"""Time partitions on PostgreSQL: made ahead, dropped behind by retention, a DEFAULT net; SQLite unchanged."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, text

from app.profile import load_profile
from app.settings import Settings
from app.storage import partitions
from app.storage.engine import make_engine
from app.storage.migrate import alembic_config, upgrade
from app.storage.retention import DAY_MS, prune
from ingest.messages import Point, Reading
from ingest.writer import BatchWriter, Item
from tests.conftest import fresh_pg_database

NOW = int(time.time() * 1000)


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    """Partitions are PostgreSQL's alone: a fresh, migrated PostgreSQL database."""
    url, drop = fresh_pg_database(pg_template)
    yield url
    drop()


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    eng = make_engine(pg_url)
    yield eng
    eng.dispose()


def _write(engine: Engine, db_url: str, ages_days: list[float], sources: tuple[str, ...] = ("a", "b")) -> None:
    s = Settings(database_url=db_url, retention_raw_days=400)  # the writer accepts the old rows below
    w = BatchWriter(engine, load_profile("morotai"), s)
    w.write(
        [
            Item(
                "t",
                b"",
                NOW,
                Reading(
                    "morotai", src, tuple(Point("water_level_cm", NOW - int(d * DAY_MS), float(d)) for d in ages_days)
                ),
            )
            for src in sources
        ]
    )
    w.close()


def _rows(engine: Engine, sql: str) -> list[tuple]:
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(text(sql))]


def test_on_postgresql_readings_and_minute_rollups_are_partitioned_by_time_and_sqlite_is_not(
    engine: Engine, db_url: str
) -> None:
    with engine.connect() as c:
        split = {t: partitions.is_partitioned(c, t) for t in ("readings", "rollup_1m", "rollup_1h")}
        if engine.dialect.name == "sqlite":
            assert split == {"readings": False, "rollup_1m": False, "rollup_1h": False}
            return
        assert split == {"readings": True, "rollup_1m": True, "rollup_1h": False}
        days = partitions.partitions(c, partitions.READINGS)
        weeks = partitions.partitions(c, partitions.ROLLUP_1M)
    today = partitions.READINGS.floor(NOW)
    assert [p.upper - p.lower for p in days] == [DAY_MS] * len(days)
    assert days[0].lower <= today - 30 * DAY_MS and days[-1].upper >= today + 7 * DAY_MS
    assert all(a.upper == b.lower for a, b in itertools.pairwise(days)), "no gaps between days"
    assert weeks[-1].upper >= (NOW // 1000) + 7 * 86_400 and weeks[0].lower <= (NOW // 1000) - 365 * 86_400
    # the partitions sit in their own schema: the application's table list is unchanged
    assert not any(t.startswith("readings_") for t in inspect(engine).get_table_names())


def test_rows_land_in_their_days_partition_and_outside_every_partition_in_the_default(
    pg_engine: Engine, pg_url: str
) -> None:
    engine = pg_engine
    _write(engine, pg_url, [0, 2, 100])
    day = partitions.READINGS.name(partitions.READINGS.floor(NOW - 2 * DAY_MS))
    assert _rows(engine, f'SELECT count(*) FROM partitions."{day}"') == [(2,)]
    assert _rows(engine, 'SELECT count(*) FROM partitions."readings_default"') == [(2,)]  # 100 days old
    # a partition made for a range moves the DEFAULT's rows of that range into it
    with engine.begin() as c:
        made = partitions.ensure(c, partitions.READINGS, from_ms=NOW - 100 * DAY_MS, to_ms=NOW - 100 * DAY_MS)
    assert len(made) == 1
    assert _rows(engine, f'SELECT count(*) FROM partitions."{made[0]}"') == [(2,)]
    assert _rows(engine, 'SELECT count(*) FROM partitions."readings_default"') == [(0,)]
    assert _rows(engine, "SELECT count(*) FROM readings") == [(6,)]


def test_retention_drops_whole_partitions_and_the_maintenance_turn_makes_them_ahead(
    pg_engine: Engine, pg_url: str
) -> None:
    engine = pg_engine
    _write(engine, pg_url, [0, 1, 29, 31, 32, 200])
    with engine.connect() as c:
        before = {p.name for p in partitions.partitions(c, partitions.READINGS)}
    pruned = prune(engine=engine, now_ms=NOW, raw_days=30, rollup_days=100, ahead_days=12)
    # the days 31 and 32 days ago go as whole partitions, the reading of 200 days ago from the DEFAULT one
    assert pruned.readings == 6
    assert sorted(v for (v,) in _rows(engine, "SELECT DISTINCT value FROM readings")) == [0.0, 1.0, 29.0]
    # the 200-day-old minutes go with their week's partition; the hour rollup (not partitioned) row by row
    assert (pruned.rollup_1m, pruned.rollup_1h) == (2, 2)
    with engine.connect() as c:
        after = partitions.partitions(c, partitions.READINGS)
    cut = NOW - 30 * DAY_MS
    assert all(p.upper > cut for p in after), "every partition wholly before the cut is dropped"
    assert after[0].lower <= cut, "the day the cut falls in stays"
    assert after[-1].upper >= NOW + 12 * DAY_MS, "the turn made the partitions 12 days ahead"
    assert {p.name for p in after} - before, "new partitions were made"
    assert prune(engine=engine, now_ms=NOW, raw_days=30, rollup_days=100) == type(pruned)()


def test_0012_converts_an_existing_database_keeping_every_row_and_goes_back(db_url: str) -> None:
    engine = create_engine(db_url)
    cfg = alembic_config(db_url)

    def to(revision: str, *, down: bool) -> None:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            (command.downgrade if down else command.upgrade)(cfg, revision)

    # the revision before 0012 (its place in the chain moves as migrations of other features land before it)
    before = ScriptDirectory.from_config(cfg).get_revision("0012").down_revision
    assert isinstance(before, str)
    try:
        to(before, down=True)
        with engine.connect() as c:
            assert not partitions.is_partitioned(c, "readings")
        _write(engine, db_url, [0, 3, 31, 90, 500])
        readings = _rows(engine, "SELECT series_id, ts_ms, value FROM readings ORDER BY 1, 2")
        minutes = _rows(engine, "SELECT * FROM rollup_1m ORDER BY 1, 2")
        to("0012", down=False)
        with engine.connect() as c:
            assert partitions.is_partitioned(c, "readings") == (engine.dialect.name == "postgresql")
        assert _rows(engine, "SELECT series_id, ts_ms, value FROM readings ORDER BY 1, 2") == readings
        assert _rows(engine, "SELECT * FROM rollup_1m ORDER BY 1, 2") == minutes
        _write(engine, db_url, [0, 3], sources=("a", "c"))  # a redelivery of a and a new source c
        assert len(_rows(engine, "SELECT * FROM readings")) == len(readings) + 2
        to(before, down=True)
        with engine.connect() as c:
            assert not partitions.is_partitioned(c, "readings")
        assert len(_rows(engine, "SELECT * FROM readings")) == len(readings) + 2
        upgrade(engine)
    finally:
        engine.dispose()
