"""The batch writer on real SQLite and PostgreSQL: idempotence, rollups, tickets, quarantine, faults."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from app.profile import load_profile
from app.settings import Settings
from app.storage.engine import make_engine
from ingest.messages import Point, Reading, Rejected, SourceStatus, TicketEvent
from ingest.writer import BatchWriter, Item, Stopped
from tests.tcpproxy import TcpProxy

PROFILE = load_profile("morotai")
NOW = int(time.time() * 1000)
MIN = 60_000


def settings(url: str, **kw) -> Settings:
    return Settings(database_url=url, ingest_retry_initial_s=0.05, ingest_retry_max_s=0.2, **kw)


def reading(source: str, *points: tuple[str, int, float], **kw) -> Item:
    r = Reading("morotai", source, tuple(Point(m, ts, v) for m, ts, v in points), **kw)
    return Item(f"city/morotai/sensor/{source}", b"{}", NOW, r)


def ticket(agency: str, tid: str, status: str, ts: int, **kw) -> Item:
    return Item(f"city/morotai/service/{agency}", b"{}", NOW, TicketEvent("morotai", agency, tid, status, ts, **kw))


def q(engine: Engine, sql: str, **params) -> list[tuple]:
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(text(sql), params)]


def rollups_match_raw(engine: Engine) -> None:
    for table, width in (("rollup_1m", 60), ("rollup_1h", 3600)):
        raw = q(
            engine,
            f"SELECT series_id, (ts_ms / {width * 1000}) * {width} AS b, count(*), sum(value), min(value), max(value) "
            "FROM readings GROUP BY series_id, b ORDER BY series_id, b",
        )
        rolled = q(engine, f"SELECT series_id, bucket, count, sum, min, max FROM {table} ORDER BY series_id, bucket")
        assert [(s, b, c, pytest.approx(su), mn, mx) for s, b, c, su, mn, mx in raw] == rolled


@pytest.fixture
def writer(engine: Engine, db_url: str) -> BatchWriter:
    w = BatchWriter(engine, PROFILE, settings(db_url))
    yield w
    w.close()


def test_readings_are_stored_once_and_rolled_up_from_inserted_rows(writer: BatchWriter, engine: Engine) -> None:
    batch = [
        reading("awlr-sungai-pilowo", ("water_level_cm", NOW - 3 * MIN, 120.0), ("rain_mm_h", NOW - 3 * MIN, 4.0)),
        reading("awlr-sungai-pilowo", ("water_level_cm", NOW - 2 * MIN, 130.0)),
        reading("awlr-sungai-pilowo", ("water_level_cm", NOW - 2 * MIN + 10, 131.0)),
        reading("new-gauge", ("water_level_cm", NOW - MIN, 50.0), district="morotai-utara", lat=2.5, lon=128.6),
    ]
    first = writer.write(batch)
    assert (first.points_stored, first.points_duplicate) == (5, 0)
    # A redelivered batch, and the same message again inside one batch, change nothing.
    again = writer.write(batch + batch[:1])
    assert (again.points_stored, again.points_duplicate) == (0, 7)
    assert q(engine, "SELECT count(*) FROM readings") == [(5,)]
    rollups_match_raw(engine)
    assert q(engine, "SELECT sum(received), sum(stored), sum(quarantined) FROM ingest_minute") == [(9, 9, 0)]


def test_a_new_writer_dedupes_against_the_database_not_its_memory(engine: Engine, db_url: str) -> None:
    item = reading("s1", ("water_level_cm", NOW - MIN, 1.0))
    BatchWriter(engine, PROFILE, settings(db_url)).write([item])
    r = BatchWriter(engine, PROFILE, settings(db_url)).write([item])
    assert (r.points_stored, r.points_duplicate) == (0, 1)
    rollups_match_raw(engine)


def test_latest_value_is_the_newest_reading_even_out_of_order(writer: BatchWriter, engine: Engine) -> None:
    writer.write([reading("s1", ("water_level_cm", NOW - MIN, 200.0))])
    writer.write([reading("s1", ("water_level_cm", NOW - 5 * MIN, 100.0))])  # late arrival
    assert q(engine, "SELECT last_value, last_ts_ms FROM series") == [(200.0, NOW - MIN)]
    assert q(engine, "SELECT last FROM rollup_1h WHERE bucket = :b", b=(NOW - MIN) // 3_600_000 * 3600)[-1] in [
        (200.0,),
        (100.0,),
    ]
    rollups_match_raw(engine)


def test_sources_register_on_first_sight_and_keep_profile_data(writer: BatchWriter, engine: Engine) -> None:
    r = writer.write(
        [
            reading("awlr-sungai-pilowo", ("water_level_cm", NOW - MIN, 1.0)),
            reading("stranger", ("mystery_metric", NOW - MIN, 7.0), district="kecamatan-baru", lat=2.1, lon=128.3),
        ]
    )
    assert ("morotai", "stranger") in r.sources_new
    rows = dict(
        (sid, rest)
        for sid, *rest in q(engine, "SELECT source_id, registered, district, lat, kind FROM sources ORDER BY source_id")
    )
    assert rows["awlr-sungai-pilowo"] == [True, "morotai-selatan", 2.075, "water_level"]
    assert rows["stranger"] == [False, "kecamatan-baru", 2.1, None]  # unknown district kept, shown unregistered
    assert q(engine, "SELECT metric, registered FROM metrics WHERE metric = 'mystery_metric'") == [
        ("mystery_metric", False)
    ]
    # A source that moves (a drifting buoy) is updated.
    writer.write([reading("stranger", ("mystery_metric", NOW, 8.0), lat=2.2, lon=128.4)])
    assert q(engine, "SELECT district, lat, lon FROM sources WHERE source_id = 'stranger'") == [
        ("kecamatan-baru", 2.2, 128.4)
    ]


def test_status_topic_updates_source_and_an_older_word_loses(writer: BatchWriter, engine: Engine) -> None:
    st = lambda online, ts: Item("t", b"", NOW, SourceStatus("morotai", "buoy-selat-rao", online, ts))  # noqa: E731
    writer.write([st(False, NOW)])
    writer.write([st(True, NOW - MIN)])
    assert q(engine, "SELECT status, status_ms FROM sources WHERE source_id = 'buoy-selat-rao'") == [("offline", NOW)]


def test_ticket_lifecycle_from_events_in_any_order(writer: BatchWriter, engine: Engine) -> None:
    t0 = NOW - 90 * MIN
    writer.write([ticket("layanan-112", "112-1", "resolved", t0 + 40 * MIN)])  # arrives first
    writer.write(
        [
            ticket(
                "layanan-112", "112-1", "open", t0, service="ambulans", priority="critical", district="morotai-utara"
            ),
            ticket("layanan-112", "112-1", "assigned", t0 + 5 * MIN),
        ]
    )
    row = q(engine, "SELECT status, opened_ms, resolved_ms, due_ms, priority, service, district FROM tickets")
    assert row == [("resolved", t0, t0 + 40 * MIN, t0 + 60 * MIN, "critical", "ambulans", "morotai-utara")]
    # Republishing an event changes nothing; reopening clears the resolution.
    r = writer.write([ticket("layanan-112", "112-1", "assigned", t0 + 5 * MIN)])
    assert r.ticket_events_stored == 0 and r.tickets_changed == []
    writer.write([ticket("layanan-112", "112-1", "open", t0 + 50 * MIN)])
    assert q(engine, "SELECT status, resolved_ms FROM tickets") == [("open", None)]
    assert q(engine, "SELECT count(*) FROM ticket_events") == [(4,)]


def test_ticket_due_time_explicit_or_overridden(writer: BatchWriter, engine: Engine) -> None:
    writer.write(
        [
            ticket("pdam", "P-1", "open", NOW - MIN, service="air-mati", sla_minutes=30),
            ticket("dinas-pupr", "O311-9", "open", NOW - MIN, service="234", due_ms=NOW + 10 * MIN),
            ticket("dinas-pupr", "X-1", "open", NOW - MIN, service="not-in-profile"),
        ]
    )
    assert q(engine, "SELECT ticket_id, due_ms FROM tickets ORDER BY ticket_id") == [
        ("O311-9", NOW + 10 * MIN),
        ("P-1", NOW - MIN + 30 * MIN),
        ("X-1", None),
    ]


def test_refusals_are_quarantined_with_reason_and_counted(writer: BatchWriter, engine: Engine) -> None:
    bad = Item("city/morotai/sensor/x", b"\xff" * 10_000, NOW, Rejected("bad_encoding", "not UTF-8", "morotai", "x"))
    partial = Item(
        "city/morotai/sensor/s2",
        b"[...]",
        NOW,
        Reading("morotai", "s2", (Point("water_level_cm", NOW, 1.0),), refused=("entry 1 (v): out_of_range",)),
    )
    r = writer.write([bad, partial])
    assert [x.rejected.reason for x in r.refusals] == ["bad_encoding", "partial"]
    rows = q(engine, "SELECT reason, target, length(payload), payload_size FROM quarantine ORDER BY reason")
    assert rows == [("bad_encoding", "x", 4096, 10_000), ("partial", "s2", 5, 5)]
    assert q(engine, "SELECT received, stored, quarantined FROM ingest_minute") == [(2, 1, 1)]
    assert r.points_stored == 1


def test_a_message_the_database_refuses_is_found_and_quarantined(writer: BatchWriter, engine: Engine) -> None:
    good = [reading(f"s{i}", ("water_level_cm", NOW - i, float(i))) for i in range(7)]
    poison = ticket("layanan-112", "T-1", None, NOW)  # NOT NULL violation: a bug the parser should never let by
    r = writer.write([*good[:3], poison, *good[3:]])
    assert r.points_stored == 7
    assert q(engine, "SELECT reason, topic FROM quarantine") == [("storage", "city/morotai/service/layanan-112")]
    assert q(engine, "SELECT count(*) FROM tickets") == [(0,)]


def test_sqlite_locked_database_is_retried_until_free(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'locked.db'}"
    from app.storage.migrate import upgrade

    upgrade(make_engine(url))
    engine = make_engine(url, sqlite_busy_timeout_ms=20)
    retries: list[str] = []
    w = BatchWriter(engine, PROFILE, settings(url))
    w.on_retry = lambda exc, delay: retries.append(type(exc).__name__)
    w.write([reading("s0", ("water_level_cm", NOW - 1, 0.0))])  # warm: connection and caches ready
    blocker = sqlite3.connect(tmp_path / "locked.db", isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(0.6, lambda: blocker.execute("COMMIT"))
    release.start()
    r = w.write([reading("s1", ("water_level_cm", NOW, 1.0))])
    release.join()
    assert r.points_stored == 1
    assert retries and set(retries) == {"OperationalError"}


def test_postgres_outage_is_retried_and_stop_gives_up_cleanly(pg_template: str) -> None:
    from tests.conftest import fresh_pg_database

    url, drop = fresh_pg_database(pg_template)
    u = make_url(url)
    proxy = TcpProxy(u.host or "127.0.0.1", u.port or 5432)
    via = u.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    engine = make_engine(via)
    try:
        retries: list[float] = []
        w = BatchWriter(engine, PROFILE, settings(via))
        w.on_retry = lambda exc, delay: retries.append(delay)
        w.write([reading("s0", ("water_level_cm", NOW - 1, 0.0))])
        proxy.cut()
        threading.Timer(1.0, proxy.restore).start()
        r = w.write([reading("s1", ("water_level_cm", NOW, 1.0))])
        assert r.points_stored == 1 and len(retries) >= 2
        assert retries == sorted(retries)  # backing off
        # Asked to stop while the database is away: nothing is claimed as committed.
        proxy.cut()
        stop = threading.Event()
        threading.Timer(0.3, stop.set).start()
        with pytest.raises(Stopped):
            w.write([reading("s2", ("water_level_cm", NOW, 2.0))], stop=stop)
        proxy.restore()
        w.close()
        assert q(make_engine(url), "SELECT count(*) FROM readings") == [(2,)]
    finally:
        engine.dispose()
        proxy.close()
        drop()
