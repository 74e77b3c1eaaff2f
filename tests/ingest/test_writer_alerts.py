"""Alerts through the batch writer on SQLite and PostgreSQL: once by (sender, identifier), Update and Cancel, warning alarms."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import Engine, text

from app.profile import load_profile
from app.settings import Settings
from ingest.messages import Alert
from ingest.parser import ParseRules, parse
from ingest.writer import BatchWriter, Item
from tests.app.alerts.capdocs import BMKG, cap, quake

PROFILE = load_profile("morotai")


@pytest.fixture
def writer(engine: Engine, db_url: str) -> BatchWriter:
    w = BatchWriter(engine, PROFILE, Settings(database_url=db_url))
    yield w
    w.close()


def item(xml: bytes, publisher: str = "bmkg") -> Item:
    topic = f"city/morotai/alert/{publisher}"
    now = int(time.time() * 1000)
    return Item(topic, xml, now, parse(topic, xml, now, ParseRules.from_profile(PROFILE, Settings())))


def q(engine: Engine, sql: str) -> list[tuple]:
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(text(sql))]


def test_a_nowcast_over_a_district_raises_a_warning_alarm_and_its_cancel_clears_it(
    writer: BatchWriter, engine: Engine
) -> None:
    first = item(cap("n-1", severity="Severe"))
    assert type(first.parsed) is Alert
    r = writer.write([first, item(cap("n-1", severity="Severe"))])  # the same document twice in one batch
    assert len(r.alerts_stored) == 1
    assert [(c.action, c.state) for c in r.alarm_changes] == [("raised", "active")]
    again = writer.write([item(cap("n-1", severity="Severe"))])  # and polled again later
    assert again.alerts_stored == [] and again.alarm_changes == []
    assert q(engine, "SELECT count(*) FROM alerts") == [(1,)]
    alarm = q(engine, "SELECT kind, rule_id, severity, district, source_id, state FROM alarms")
    alert_id = q(engine, "SELECT id FROM alerts")[0][0]
    assert alarm == [("warning", "warning", "major", "morotai-utara", f"alert:{alert_id}", "active")]

    cancel = cap("n-1-cancel", msg_type="Cancel", references=f"{BMKG},n-1,2026-02-16T22:50:00+07:00")
    r = writer.write([item(cancel)])
    assert [c.action for c in r.alarm_changes] == ["cleared"]
    assert q(engine, "SELECT identifier, state FROM alerts ORDER BY id") == [
        ("n-1", "cancelled"),
        ("n-1-cancel", "cancelled"),
    ]
    assert q(engine, "SELECT state FROM alarms") == [("cleared",)]


def test_an_update_escalates_the_same_alarm(writer: BatchWriter, engine: Engine) -> None:
    writer.write([item(cap("n-2", severity="Moderate"))])
    r = writer.write([item(cap("n-2b", severity="Extreme", msg_type="Update", references=f"{BMKG},n-2,x"))])
    assert [(c.action, c.state) for c in r.alarm_changes] == [("escalated", "active")]
    assert q(engine, "SELECT count(*), max(severity) FROM alarms") == [(1, "critical")]
    assert q(engine, "SELECT identifier, state FROM alerts ORDER BY id") == [("n-2", "updated"), ("n-2b", "active")]


def test_far_away_samples_are_stored_but_raise_nothing(writer: BatchWriter, engine: Engine) -> None:
    from pathlib import Path

    banten = (Path(__file__).parents[1] / "vectors" / "bmkg" / "nowcast_cap_banten.xml").read_bytes()
    pekalongan = quake("pekalongan", magnitude="5.4", tsunami=False, lat=-6.89, lon=109.67)
    r = writer.write([item(banten), item(pekalongan)])
    assert len(r.alerts_stored) == 2 and r.alarm_changes == []
    assert q(engine, "SELECT relevant FROM alerts") == [(False,), (False,)]


def test_a_near_quake_with_tsunami_potential_is_an_awas_warning(writer: BatchWriter, engine: Engine) -> None:
    r = writer.write([item(quake("q-1", magnitude="6.1", tsunami=True))])
    assert [c.action for c in r.alarm_changes] == ["raised"]
    assert q(engine, "SELECT severity, value FROM alarms") == [("critical", 6.1)]


def test_malformed_and_hostile_documents_are_quarantined_with_their_reason(writer: BatchWriter, engine: Engine) -> None:
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&x;</identifier></alert>'
    )
    r = writer.write([item(b"<alert><oops"), item(xxe)])
    assert r.alerts_stored == []
    assert sorted(x[0] for x in q(engine, "SELECT reason FROM quarantine")) == ["bad_xml", "bad_xml"]


def test_a_cancel_that_arrives_before_its_alert_still_cancels_it(writer: BatchWriter, engine: Engine) -> None:
    cancel = cap("late_1-c", msg_type="Cancel", references=f"{BMKG},late_1,2026-02-16T22:50:00+07:00")
    writer.write([item(cancel)])
    r = writer.write([item(cap("late_1", severity="Extreme"))])  # the alert itself, after its Cancel
    assert len(r.alerts_stored) == 1 and r.alarm_changes == []
    assert q(engine, "SELECT identifier, state FROM alerts ORDER BY id") == [
        ("late_1-c", "cancelled"),
        ("late_1", "cancelled"),
    ]
    # An identifier that only looks alike (LIKE's '_' is not a wildcard here) is not cancelled.
    r = writer.write([item(cap("lateX1", severity="Extreme"))])
    assert [c.action for c in r.alarm_changes] == ["raised"]
