"""Retention pruning on both databases: old raw readings go, rollups stay longer, recent data stays."""

from __future__ import annotations

import time

from sqlalchemy import Engine, text

from app.profile import load_profile
from app.settings import Settings
from app.storage.retention import DAY_MS, prune
from ingest.messages import Point, Reading
from ingest.writer import BatchWriter, Item

NOW = int(time.time() * 1000)


def test_prune_keeps_recent_readings_and_longer_lived_rollups(engine: Engine, db_url: str) -> None:
    s = Settings(database_url=db_url, retention_raw_days=400)  # the writer accepts the old rows below
    w = BatchWriter(engine, load_profile("morotai"), s)
    ages_days = [0, 1, 29, 31, 200, 399]
    w.write(
        [
            Item(
                "t",
                b"",
                NOW,
                Reading("morotai", src, tuple(Point("water_level_cm", NOW - d * DAY_MS, float(d)) for d in ages_days)),
            )
            for src in ("a", "b")
        ]
    )
    w.close()
    pruned = prune(engine=engine, now_ms=NOW, raw_days=30, rollup_days=365)
    assert (pruned.readings, pruned.rollup_1m, pruned.rollup_1h) == (6, 2, 2)
    with engine.connect() as c:
        left = sorted(v for (v,) in c.execute(text("SELECT DISTINCT value FROM readings")))
        rolled = sorted(v for (v,) in c.execute(text("SELECT DISTINCT last FROM rollup_1h")))
    assert left == [0.0, 1.0, 29.0]
    assert rolled == [0.0, 1.0, 29.0, 31.0, 200.0]
    assert prune(engine=engine, now_ms=NOW, raw_days=30, rollup_days=365).readings == 0
