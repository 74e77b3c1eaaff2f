"""Threshold and rate rules on both databases, through the ingest writer (evaluated after each commit)."""

from __future__ import annotations

import orjson
from sqlalchemy import Engine, text

from app.alarms.rule_store import sync_rules
from app.settings import Settings
from app.storage.engine import writing
from app.storage.migrate import upgrade
from ingest.committer import WritePath
from ingest.writer import BatchWriter
from tests.app.alarms.evaluation import MIN, NOW, PROFILE, RIVER, evaluating_settings, evaluating_writer, q, reading

__all__ = ["evaluating_settings", "evaluating_writer"]  # the `settings` and `writer` fixtures of this module


def test_profile_source_reports_water_level() -> None:
    assert "water_level_cm" in PROFILE.source(RIVER).metrics


def test_a_river_raises_escalates_and_clears_with_history_and_payloads(writer: WritePath, engine: Engine) -> None:
    actions = []
    for i, level in enumerate([100, 190, 260, 100]):
        res = writer.write([reading(RIVER, NOW - (10 - i) * MIN, water_level_cm=level)])
        actions += [(c.action, c.state) for c in res.alarm_changes if b'"threshold.water_level_cm"' in c.payload]
    assert actions == [("raised", "active"), ("escalated", "active"), ("cleared", "cleared")]
    ((alarm_id, sev, state, district),) = q(
        engine, "SELECT id, severity, state, district FROM alarms WHERE rule_id = 'threshold.water_level_cm'"
    )
    assert (sev, state, district) == ("critical", "cleared", PROFILE.source(RIVER).district)
    assert [a for (a,) in q(engine, "SELECT action FROM alarm_events WHERE alarm_id = :i ORDER BY id", i=alarm_id)] == [
        "raised",
        "escalated",
        "cleared",
    ]
    body = orjson.loads(next(c.payload for c in res.alarm_changes if c.alarm_id == alarm_id))
    assert body["id"] == alarm_id and body["rule"] == "threshold.water_level_cm" and body["state"] == "cleared"
    assert "Tinggi muka air" in body["message"] and "Water level" in body["message_en"]


def test_ten_thousand_flapping_readings_raise_exactly_one_alarm(writer: WritePath, engine: Engine) -> None:
    start = NOW - 20_000 * 1000
    for b in range(10):
        items = [
            reading(RIVER, start + (b * 1000 + i) * 1000, water_level_cm=250 + (3 if i % 2 else -3))
            for i in range(1000)
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
            {
                "p": orjson.dumps(
                    {
                        "op": "above",
                        "levels": [{"severity": "major", "value": 180}],
                        "hysteresis": 10,
                        "duration_s": 120,
                        "reraise_after_s": None,
                        "metric": "water_level_cm",
                    }
                ).decode()
            },
        )
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


def test_a_fast_rise_raises_a_rate_alarm(writer: WritePath, engine: Engine) -> None:
    for i, level in enumerate([60, 70, 85, 110]):
        writer.write([reading(RIVER, NOW - (10 - i * 3) * MIN, water_level_cm=level)])
    assert q(engine, "SELECT rule_id, severity, state FROM alarms") == [("rate.water_level_rise", "minor", "active")]
    writer.write([reading(RIVER, NOW + 30 * MIN, water_level_cm=112)])  # the window moved on: no rise left
    assert q(engine, "SELECT state FROM alarms WHERE rule_id = 'rate.water_level_rise'") == [("cleared",)]


def test_a_shelved_source_raises_nothing_until_the_shelf_ends(writer: WritePath, engine: Engine) -> None:
    with writing(engine) as conn:
        conn.execute(
            text(
                "INSERT INTO alarm_shelves (city, source_id, from_ms, until_ms, actor, reason) "
                "VALUES ('morotai', :s, :f, :u, 'test', 'maintenance')"
            ),
            {"s": RIVER, "f": NOW - 10 * MIN, "u": NOW + 10 * MIN},
        )
    writer.write([reading(RIVER, NOW - MIN, water_level_cm=300)])
    assert q(engine, "SELECT count(*) FROM alarms") == [(0,)]
    with writing(engine) as conn:
        conn.execute(text("UPDATE alarm_shelves SET ended_ms = :t"), {"t": NOW})
    writer.write([reading(RIVER, NOW, water_level_cm=300)])
    assert q(engine, "SELECT severity FROM alarms") == [("critical",)]
