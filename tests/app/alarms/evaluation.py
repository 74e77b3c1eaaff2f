"""What the alarm evaluation tests share: the Morotai profile, messages as the ingest writer takes them, a clock tick.

`settings` and `writer` are fixtures: a test module imports them to evaluate
rules on every write (the rule book re-read each time).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from app.alarms.clock_rules import evaluate_clock
from app.alarms.rulebook import RuleBook
from app.alarms.store import Change, Lifecycle
from app.profile import load_profile
from app.settings import Settings
from app.storage.engine import writing
from app.storage.migrate import upgrade
from ingest.committer import WritePath
from ingest.messages import Point, Reading, TicketEvent
from ingest.writer import BatchWriter, Item

PROFILE = load_profile("morotai")
NOW = int(time.time() * 1000)
MIN = 60_000
RIVER = "awlr-sungai-pilowo"  # a profile source reporting water_level_cm


def reading(source: str, ts: int, **values: float) -> Item:
    r = Reading("morotai", source, tuple(Point(m, ts, v) for m, v in values.items()))
    return Item(f"city/morotai/sensor/{source}", b"{}", NOW, r)


def ticket(tid: str, status: str, ts: int, **kw) -> Item:
    ev = TicketEvent("morotai", "bpbd", tid, status, ts, **kw)
    return Item("city/morotai/service/bpbd", b"{}", NOW, ev)


def level(writer: WritePath, value: float, ts: int) -> None:
    """One water level reading of the river gauge, written (and evaluated) at once."""
    r = Reading("morotai", RIVER, (Point("water_level_cm", ts, value),))
    writer.write([Item(f"city/morotai/sensor/{RIVER}", b"{}", NOW, r)])


def q(engine: Engine, sql: str, **params) -> list[tuple]:
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(text(sql), params)]


@pytest.fixture(name="settings")
def evaluating_settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, alarm_rules_refresh_s=0)


@pytest.fixture(name="writer")
def evaluating_writer(engine: Engine, settings: Settings) -> Iterator[WritePath]:
    upgrade(engine)
    w = WritePath(BatchWriter(engine, PROFILE, settings))
    yield w
    w.close()


def clock(engine: Engine, now_ms: int) -> list[Change]:
    with writing(engine) as conn:
        return evaluate_clock(conn, book=RuleBook(0), life=Lifecycle(PROFILE), city="morotai", now_ms=now_ms)
