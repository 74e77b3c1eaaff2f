"""Time rules on both databases: silence, SLA, ticket counts and re-raise, ticked by hand at chosen instants."""

from __future__ import annotations

import threading

import orjson
from sqlalchemy import Engine

from app.alarms.store import Lifecycle
from app.storage.engine import writing
from ingest.committer import WritePath
from tests.app.alarms.evaluation import (
    MIN,
    NOW,
    PROFILE,
    RIVER,
    clock,
    evaluating_settings,
    evaluating_writer,
    q,
    reading,
    ticket,
)

__all__ = ["evaluating_settings", "evaluating_writer"]  # the `settings` and `writer` fixtures of this module


def test_a_silent_source_goes_stale_then_offline_then_clears_when_it_reports(writer: WritePath, engine: Engine) -> None:
    writer.write([reading(RIVER, NOW, water_level_cm=50)])
    interval = 60_000  # the profile's expected interval for water_level_cm
    assert clock(engine, NOW + interval) == []
    stale = clock(engine, NOW + 3 * interval)
    assert [(c.action, c.state) for c in stale if b'"awlr-sungai-pilowo"' in c.payload] == [("raised", "active")]
    offline = clock(engine, NOW + 11 * interval)
    assert ("escalated", "active") in [(c.action, c.state) for c in offline if b'"awlr-sungai-pilowo"' in c.payload]
    rows = q(engine, "SELECT severity, state FROM alarms WHERE rule_id = 'silence.sources' AND subject = :s", s=RIVER)
    assert rows == [("minor", "active")]  # the profile: stale is Perhatian, offline Waspada
    # Sources the profile lists but that never reported raise nothing (not started yet).
    assert q(engine, "SELECT count(*) FROM alarms WHERE rule_id = 'silence.sources'") == [(1,)]
    later = NOW + 12 * interval
    item = reading(RIVER, later, water_level_cm=50)
    item.received_ms = later  # the writer stamps last_seen with the receive time
    writer.write([item])
    clock(engine, later + 1000)
    assert q(engine, "SELECT state FROM alarms WHERE rule_id = 'silence.sources'") == [("cleared",)]


def test_an_overdue_ticket_raises_an_sla_alarm_until_it_is_resolved(writer: WritePath, engine: Engine) -> None:
    writer.write([ticket("T-1", "open", NOW - 10 * MIN, service="banjir", priority="critical", sla_minutes=5)])
    changes = clock(engine, NOW)
    assert [(c.action, orjson.loads(c.payload)["severity"]) for c in changes] == [
        ("raised", "major")
    ]  # the profile: a late critical ticket is Siaga
    assert clock(engine, NOW + 1000) == []  # raised once
    writer.write([ticket("T-1", "resolved", NOW - MIN)])
    assert [c.action for c in clock(engine, NOW + 2000)] == ["cleared"]


def test_more_than_n_critical_tickets_in_a_district_raise_one_alarm_for_the_district(
    writer: WritePath, engine: Engine
) -> None:
    for i in range(4):
        writer.write(
            [ticket(f"K-{i}", "open", NOW - MIN, service="banjir", priority="critical", district="morotai-utara")]
        )
    clock(engine, NOW - MIN + 1000)  # before any SLA is due
    assert q(engine, "SELECT subject, severity FROM alarms WHERE rule_id = 'tickets.critical_cluster'") == [
        ("morotai-utara", "critical")
    ]


def test_two_clocks_at_once_raise_each_alarm_once(writer: WritePath, engine: Engine) -> None:
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


def test_an_acknowledged_alarm_that_outlasts_its_rule_is_active_again(writer: WritePath, engine: Engine) -> None:
    for i in range(4):
        writer.write(
            [ticket(f"R-{i}", "open", NOW - MIN, service="banjir", priority="critical", district="morotai-timur")]
        )
    clock(engine, NOW - MIN + 1000)
    ((alarm_id,),) = q(engine, "SELECT id FROM alarms WHERE rule_id = 'tickets.critical_cluster'")
    with writing(engine) as conn:
        Lifecycle(PROFILE).acknowledge(conn, alarm_id, by="op", comment="on it", now_ms=NOW)
    assert [c.action for c in clock(engine, NOW + 1000) if c.alarm_id == alarm_id] == []
    after = clock(engine, NOW + 3600_000)  # the profile rule re-raises after an hour
    assert [c.action for c in after if c.alarm_id == alarm_id] == ["reraised"]
    assert q(engine, "SELECT state FROM alarms WHERE id = :i", i=alarm_id) == [("active",)]
