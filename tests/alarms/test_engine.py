"""The alarm engine on both databases: through the ingest writer (after commit) and the clock (time rules)."""

from __future__ import annotations

import threading
import time

import orjson
import pytest
from sqlalchemy import Engine, text

from app.alarms.engine import RuleBook, evaluate_clock, sync_rules
from app.alarms.store import Lifecycle
from app.profile import load_profile
from app.settings import Settings
from app.storage.engine import writing
from app.storage.migrate import upgrade
from ingest.messages import Point, Reading, TicketEvent
from ingest.committer import WritePath
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


def q(engine: Engine, sql: str, **params) -> list[tuple]:
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(text(sql), params)]


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, alarm_rules_refresh_s=0)


@pytest.fixture
def writer(engine: Engine, settings: Settings) -> BatchWriter:
    upgrade(engine)
    w = WritePath(BatchWriter(engine, PROFILE, settings))  # with its post-commit alarm step
    yield w
    w.close()


def clock(engine: Engine, now_ms: int) -> list:
    with writing(engine) as conn:
        return evaluate_clock(conn, book=RuleBook(0), life=Lifecycle(PROFILE), city="morotai", now_ms=now_ms)


def test_profile_source_reports_water_level() -> None:
    assert "water_level_cm" in PROFILE.source(RIVER).metrics


def test_a_river_raises_escalates_and_clears_with_history_and_payloads(writer: BatchWriter, engine: Engine) -> None:
    actions = []
    for i, level in enumerate([100, 190, 260, 100]):
        res = writer.write([reading(RIVER, NOW - (10 - i) * MIN, water_level_cm=level)])
        actions += [(c.action, c.state) for c in res.alarm_changes if b'"threshold.water_level_cm"' in c.payload]
    assert actions == [("raised", "active"), ("escalated", "active"), ("cleared", "cleared")]
    (alarm_id, sev, state, district), = q(
        engine, "SELECT id, severity, state, district FROM alarms WHERE rule_id = 'threshold.water_level_cm'"
    )
    assert (sev, state, district) == ("critical", "cleared", PROFILE.source(RIVER).district)
    assert [a for a, in q(engine, "SELECT action FROM alarm_events WHERE alarm_id = :i ORDER BY id", i=alarm_id)] == [
        "raised", "escalated", "cleared",
    ]  # fmt: skip
    body = orjson.loads(next(c.payload for c in res.alarm_changes if c.alarm_id == alarm_id))
    assert body["id"] == alarm_id and body["rule"] == "threshold.water_level_cm" and body["state"] == "cleared"
    assert "Tinggi muka air" in body["message"] and "Water level" in body["message_en"]


def test_ten_thousand_flapping_readings_raise_exactly_one_alarm(writer: BatchWriter, engine: Engine) -> None:
    start = NOW - 20_000 * 1000
    for b in range(10):
        items = [
            reading(RIVER, start + (b * 1000 + i) * 1000, water_level_cm=250 + (3 if i % 2 else -3)) for i in range(1000)
        ]
        writer.write(items)
    assert q(engine, "SELECT count(*), max(severity) FROM alarms") == [(1, "critical")]
    assert q(engine, "SELECT count(*) FROM readings") == [(10_000,)]


def test_two_writers_sharing_one_sources_readings_raise_one_alarm(engine: Engine, settings: Settings) -> None:
    upgrade(engine)
    a, b = WritePath(BatchWriter(engine, PROFILE, settings)), WritePath(BatchWriter(engine, PROFILE, settings))
    try:
        for i in range(20):
            (a if i % 2 else b).write([reading(RIVER, NOW - (30 - i) * 1000, water_level_cm=200 + i)])
    finally:
        a.close()
        b.close()
    assert q(engine, "SELECT count(*) FROM alarms WHERE rule_id = 'threshold.water_level_cm'") == [(1,)]


def test_a_minimum_duration_is_kept_between_batches_in_the_database(engine: Engine, db_url: str) -> None:
    upgrade(engine)
    with writing(engine) as conn:
        sync_rules(conn=conn, profile=PROFILE)
        conn.execute(
            text("UPDATE alarm_rules SET params = :p, version = 2 WHERE rule_id = 'threshold.water_level_cm'"),
            {"p": orjson.dumps({"op": "above", "levels": [{"severity": "major", "value": 180}], "hysteresis": 10,
                                "duration_s": 120, "reraise_after_s": None, "metric": "water_level_cm"}).decode()},
        )  # fmt: skip
    w = WritePath(BatchWriter(engine, PROFILE, Settings(database_url=db_url, alarm_rules_refresh_s=0)))
    try:
        w.write([reading(RIVER, NOW - 5 * MIN, water_level_cm=200)])
        w.write([reading(RIVER, NOW - 4 * MIN, water_level_cm=200)])
        assert q(engine, "SELECT count(*) FROM alarms WHERE kind = 'threshold'") == [(0,)]
        assert q(engine, "SELECT since_ms FROM alarm_pending") == [(NOW - 5 * MIN,)]
        w.write([reading(RIVER, NOW - 3 * MIN, water_level_cm=200)])
        assert q(engine, "SELECT count(*) FROM alarms WHERE kind = 'threshold'") == [(1,)]
        assert q(engine, "SELECT count(*) FROM alarm_pending") == [(0,)]
    finally:
        w.close()


def test_a_fast_rise_raises_a_rate_alarm(writer: BatchWriter, engine: Engine) -> None:
    for i, level in enumerate([60, 70, 85, 110]):
        writer.write([reading(RIVER, NOW - (10 - i * 3) * MIN, water_level_cm=level)])
    assert q(engine, "SELECT rule_id, severity, state FROM alarms") == [("rate.water_level_rise", "major", "active")]
    writer.write([reading(RIVER, NOW + 30 * MIN, water_level_cm=112)])  # the window moved on: no rise left
    assert q(engine, "SELECT state FROM alarms WHERE rule_id = 'rate.water_level_rise'") == [("cleared",)]


def test_a_silent_source_goes_stale_then_offline_then_clears_when_it_reports(writer: BatchWriter, engine: Engine) -> None:
    writer.write([reading(RIVER, NOW, water_level_cm=50)])
    interval = 60_000  # the profile's expected interval for water_level_cm
    assert clock(engine, NOW + interval) == []
    stale = clock(engine, NOW + 3 * interval)
    assert [(c.action, c.state) for c in stale if b'"awlr-sungai-pilowo"' in c.payload] == [("raised", "active")]
    offline = clock(engine, NOW + 11 * interval)
    assert ("escalated", "active") in [(c.action, c.state) for c in offline if b'"awlr-sungai-pilowo"' in c.payload]
    rows = q(engine, "SELECT severity, state FROM alarms WHERE rule_id = 'silence.sources' AND subject = :s", s=RIVER)
    assert rows == [("major", "active")]
    # Sources the profile lists but that never reported raise nothing (not started yet).
    assert q(engine, "SELECT count(*) FROM alarms WHERE rule_id = 'silence.sources'") == [(1,)]
    later = NOW + 12 * interval
    item = reading(RIVER, later, water_level_cm=50)
    item.received_ms = later  # the writer stamps last_seen with the receive time
    writer.write([item])
    clock(engine, later + 1000)
    assert q(engine, "SELECT state FROM alarms WHERE rule_id = 'silence.sources'") == [("cleared",)]


def test_an_overdue_ticket_raises_an_sla_alarm_until_it_is_resolved(writer: BatchWriter, engine: Engine) -> None:
    writer.write([ticket("T-1", "open", NOW - 10 * MIN, service="banjir", priority="critical", sla_minutes=5)])
    changes = clock(engine, NOW)
    assert [(c.action, orjson.loads(c.payload)["severity"]) for c in changes] == [("raised", "critical")]
    assert clock(engine, NOW + 1000) == []  # raised once
    writer.write([ticket("T-1", "resolved", NOW - MIN)])
    assert [c.action for c in clock(engine, NOW + 2000)] == ["cleared"]


def test_more_than_n_critical_tickets_in_a_district_raise_one_alarm_for_the_district(writer: BatchWriter, engine: Engine) -> None:
    for i in range(4):
        writer.write([ticket(f"K-{i}", "open", NOW - MIN, service="banjir", priority="critical", district="morotai-utara")])
    clock(engine, NOW - MIN + 1000)  # before any SLA is due
    assert q(engine, "SELECT subject, severity FROM alarms WHERE rule_id = 'tickets.critical_cluster'") == [
        ("morotai-utara", "critical")
    ]


def test_two_clocks_at_once_raise_each_alarm_once(writer: BatchWriter, engine: Engine) -> None:
    for i in range(6):
        writer.write([ticket(f"S-{i}", "open", NOW - 60 * MIN, service="banjir", priority="high", sla_minutes=5)])
    results: list[list] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(clock(engine, NOW))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(len(r) for r in results) == 6  # each transition reported by exactly one clock
    assert q(engine, "SELECT count(*) FROM alarms WHERE rule_id = 'sla.overdue'") == [(6,)]


def test_a_shelved_source_raises_nothing_until_the_shelf_ends(writer: BatchWriter, engine: Engine) -> None:
    with writing(engine) as conn:
        conn.execute(
            text("INSERT INTO alarm_shelves (city, source_id, from_ms, until_ms, actor, reason) "
                 "VALUES ('morotai', :s, :f, :u, 'test', 'maintenance')"),
            {"s": RIVER, "f": NOW - 10 * MIN, "u": NOW + 10 * MIN},
        )  # fmt: skip
    writer.write([reading(RIVER, NOW - MIN, water_level_cm=300)])
    assert q(engine, "SELECT count(*) FROM alarms") == [(0,)]
    with writing(engine) as conn:
        conn.execute(text("UPDATE alarm_shelves SET ended_ms = :t"), {"t": NOW})
    writer.write([reading(RIVER, NOW, water_level_cm=300)])
    assert q(engine, "SELECT severity FROM alarms") == [("critical",)]


def test_an_acknowledged_alarm_that_outlasts_its_rule_is_active_again(writer: BatchWriter, engine: Engine) -> None:
    for i in range(4):
        writer.write([ticket(f"R-{i}", "open", NOW - MIN, service="banjir", priority="critical", district="morotai-timur")])
    clock(engine, NOW - MIN + 1000)
    (alarm_id,), = q(engine, "SELECT id FROM alarms WHERE rule_id = 'tickets.critical_cluster'")
    with writing(engine) as conn:
        Lifecycle(PROFILE).acknowledge(conn, alarm_id, by="op", comment="on it", now_ms=NOW)
    assert [c.action for c in clock(engine, NOW + 1000) if c.alarm_id == alarm_id] == []
    after = clock(engine, NOW + 3600_000)  # the profile rule re-raises after an hour
    assert [c.action for c in after if c.alarm_id == alarm_id] == ["reraised"]
    assert q(engine, "SELECT state FROM alarms WHERE id = :i", i=alarm_id) == [("active",)]


def test_the_profile_updates_its_own_rules_but_never_an_admins(engine: Engine) -> None:
    upgrade(engine)
    with writing(engine) as conn:
        sync_rules(conn=conn, profile=PROFILE)
        conn.execute(text("UPDATE alarm_rules SET updated_by = 'admin-1', version = 2, params = '{}' WHERE rule_id = 'threshold.tide_cm'"))
    edited = PROFILE.model_copy(
        update={"alarm_rules": [dict(r, count=9) if r["rule_id"] == "tickets.critical_cluster" else r for r in PROFILE.alarm_rules]}
    )
    with writing(engine) as conn:
        sync_rules(conn=conn, profile=edited)
    rows = dict(q(engine, "SELECT rule_id, params FROM alarm_rules WHERE rule_id IN ('threshold.tide_cm', 'tickets.critical_cluster')"))
    assert orjson.loads(rows["tickets.critical_cluster"])["count"] == 9  # the profile's own rule follows the file
    assert rows["threshold.tide_cm"] == "{}"  # the admin's edit stands
