"""One ingestor, many cities (issue 15): each city's message judged by its own profile, on both databases.

The parse rules take each city's own catalogue and names; the writer syncs
every city's profile and dates each ticket by its own city's SLAs; the alarm
clock runs each city's own rule book; and one `satupintu ingest` behind one
Mosquitto stores two cities side by side.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import orjson
import pytest
from sqlalchemy import Engine, text

from app.catalogue.service import catalogue
from app.profile import Deployment, Metric, load_deployment, load_profile
from app.settings import Settings
from ingest.alarm_clock import AlarmClock
from ingest.committer import InlineCommitter, WritePath
from ingest.feedback import advise
from ingest.messages import Point, Reading, Rejected, TicketEvent
from ingest.parser import ParseRules, parse
from ingest.sandbox import answer
from ingest.validate import check
from ingest.writer import BatchWriter, Item, WriteResult
from tests.conftest import Broker, spawn_satupintu, wait_for_log
from tests.mqtt_helpers import Db, Publisher, Subscriber, wait_until

MOROTAI, TERNATE = load_profile("morotai"), load_profile("ternate")
TWO = load_deployment("morotai,ternate")
NOW = int(time.time() * 1000)
MIN = 60_000
QUARANTINE_UNKNOWN = Settings(_env_file=None, ingest_unknown_metric="quarantine")  # type: ignore[call-arg]


def _reading(city: str, source: str, **values: float) -> bytes:
    return orjson.dumps({"ts": NOW / 1000, "values": values})


def q(engine: Engine, sql: str, **params) -> list[tuple]:
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(text(sql), params)]


# --- parse rules: each city's own catalogue ----------------------------------------------------------------


def test_a_metric_of_one_city_catalogue_is_quarantined_only_in_the_city_that_lacks_it() -> None:
    rules = ParseRules.from_deployment(TWO, QUARANTINE_UNKNOWN)
    assert rules.cities == frozenset({"morotai", "ternate"})
    assert MOROTAI.metric("water_pressure_bar") and not TERNATE.metric("water_pressure_bar")
    body = _reading("x", "pdam-1", water_pressure_bar=2.5)
    at_morotai = parse("city/morotai/sensor/pdam-1", body, NOW, rules)
    at_ternate = parse("city/ternate/sensor/pdam-1", body, NOW, rules)
    assert type(at_morotai) is Reading and [p.metric for p in at_morotai.points] == ["water_pressure_bar"]
    assert type(at_ternate) is Rejected and at_ternate.reason == "unknown_metric"
    assert (at_ternate.city, at_ternate.target) == ("ternate", "pdam-1")
    # A metric both catalogues hold is taken in both.
    for city in ("morotai", "ternate"):
        assert type(parse(f"city/{city}/sensor/awlr-1", _reading(city, "a", water_level_cm=120), NOW, rules)) is Reading
    # A city the deployment does not serve is refused as before, naming it.
    other = parse("city/halmahera-utara/sensor/awlr-1", _reading("h", "a", water_level_cm=1), NOW, rules)
    assert type(other) is Rejected and other.reason == "unknown_city" and "halmahera-utara" in other.detail


def test_each_city_valid_range_is_its_own() -> None:
    # Ternate's gauge reads against a narrower plausible range than Morotai's (a profile says so).
    narrow = [m.model_copy(update={"valid": (0.0, 100.0)}) if m.id == "water_level_cm" else m for m in TERNATE.metrics]
    ternate = TERNATE.model_copy(update={"metrics": [Metric.model_validate(m.model_dump()) for m in narrow]})
    rules = ParseRules.from_deployment(Deployment(cities=(MOROTAI, ternate)), Settings(_env_file=None))  # type: ignore[call-arg]
    body = _reading("x", "a", water_level_cm=250)
    assert type(parse("city/morotai/sensor/awlr-1", body, NOW, rules)) is Reading
    refused = parse("city/ternate/sensor/awlr-1", body, NOW, rules)
    assert type(refused) is Rejected and refused.reason == "out_of_range"


def test_one_city_deployment_gives_exactly_the_profile_rules() -> None:
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    one = ParseRules.from_deployment(load_deployment("morotai"), s)
    assert one == ParseRules.from_profile(MOROTAI, s) and one.by_city is None
    assert one.for_city("ternate") is one


def test_warnings_and_the_sandbox_speak_of_the_message_city() -> None:
    rules = ParseRules.from_deployment(TWO, QUARANTINE_UNKNOWN)
    # A Morotai district named in a Ternate message is unknown there, and known at home.
    body = orjson.dumps({"ts": NOW / 1000, "values": {"water_level_cm": 50}, "district": "morotai-selatan"})
    home = check("city/morotai/sensor/awlr-sungai-pilowo", body, rules, received_ms=NOW)
    away = check("city/ternate/sensor/awlr-kali-toboko", body, rules, received_ms=NOW)
    assert home["ok"] and away["ok"]
    assert "unknown_district" not in [w["reason"] for w in home["warnings"]]
    [w] = [w for w in away["warnings"] if w["reason"] == "unknown_district"]
    assert w["nearest"] and set(w["nearest"]) <= {d.id for d in TERNATE.districts}  # the nearest are Ternate's
    # The live path's warnings, the same way: per city of the batch.
    items = [
        Item(t, body, NOW, parse(t, body, NOW, rules))
        for t in ("city/morotai/sensor/awlr-sungai-pilowo", "city/ternate/sensor/awlr-kali-toboko")
    ]
    advice = advise(items, WriteResult(), rules)
    assert [(a.city, [w.reason for w in a.warnings]) for a in advice] == [("ternate", ["unknown_district"])]
    # The MQTT sandbox checks a city's message with that city's catalogue.
    to, result = answer("city/ternate/test/sensor/pdam-1", _reading("t", "p", water_pressure_bar=2), NOW, rules)
    assert to == "city/ternate/test-result/pdam-1" and orjson.loads(result)["errors"][0]["reason"] == "unknown_metric"
    to, result = answer("city/morotai/test/sensor/pdam-1", _reading("m", "p", water_pressure_bar=2), NOW, rules)
    assert orjson.loads(result)["ok"] is True


# --- the writer: every city's profile --------------------------------------------------------------------------


def _ticket(city: str, agency: str, tid: str, service: str) -> Item:
    ev = TicketEvent(city, agency, tid, "open", NOW - MIN, service=service, priority="normal")
    return Item(f"city/{city}/service/{agency}", b"{}", NOW, ev)


def test_the_writer_syncs_every_city_and_dates_each_ticket_by_its_own_city_sla(engine: Engine, db_url: str) -> None:
    w = BatchWriter(engine, TWO, Settings(database_url=db_url))
    try:
        # Jalan rusak: 10080 minutes in Morotai, 7200 in Ternate (each profile's standar pelayanan).
        assert MOROTAI.service("jalan-rusak").sla_minutes != TERNATE.service("jalan-rusak").sla_minutes  # type: ignore[union-attr]
        w.write(
            [
                _ticket("morotai", "dinas-pupr", "M-1", "jalan-rusak"),
                _ticket("ternate", "dinas-pupr", "T-1", "jalan-rusak"),
            ]
        )
        due = dict(q(engine, "SELECT city, due_ms FROM tickets"))
        assert due == {
            "morotai": NOW - MIN + 10080 * MIN,
            "ternate": NOW - MIN + 7200 * MIN,
        }
        # Both cities' profile sources are registered, each under its own city.
        listed = q(
            engine, "SELECT city, count(*) FROM sources WHERE registered_by = 'profile' GROUP BY city ORDER BY city"
        )
        assert listed == [("morotai", len(MOROTAI.sources)), ("ternate", len(TERNATE.sources))]
        # ... and each city's alarm rules: Ternate's silence rule is its own (offline is Siaga there).
        sev = q(engine, "SELECT city, params FROM alarm_rules WHERE rule_id = 'silence.sources' ORDER BY city")
        assert [(c, orjson.loads(d)["severity_offline"]) for c, d in sev] == [
            ("morotai", "minor"),
            ("ternate", "major"),
        ]
    finally:
        w.close()


# --- the alarm clock: every city with its own rules ------------------------------------------------------------


def test_one_alarm_clock_ticks_every_city_with_its_own_rule_book(engine: Engine, db_url: str) -> None:
    settings = Settings(database_url=db_url, alarm_rules_refresh_s=0)
    w = WritePath(BatchWriter(engine, TWO, settings))
    published: list[tuple[str, bytes]] = []
    try:
        # One river gauge in each city reports once, then falls silent.
        for city, source in (("morotai", "awlr-sungai-pilowo"), ("ternate", "awlr-kali-toboko")):
            r = Reading(city, source, (Point("water_level_cm", NOW, 50.0),))
            w.write([Item(f"city/{city}/sensor/{source}", b"{}", NOW, r)])
        clock = AlarmClock(engine, TWO, settings, lambda t, p: published.append((t, p)) or True)
        assert clock.tick(NOW + MIN) == []
        stale = clock.tick(NOW + 3 * MIN)  # both are stale: each city's own severity
        assert sorted((c.city, orjson.loads(c.payload)["severity"]) for c in stale) == [
            ("morotai", "warning"),  # Morotai: stale is Perhatian
            ("ternate", "minor"),  # Ternate: stale is Waspada
        ]
        assert {t.split("/")[1] for t, _ in published if "/alarm/" in t} == {"morotai", "ternate"}
        offline = clock.tick(NOW + 11 * MIN)
        assert sorted((c.city, c.action) for c in offline) == [("morotai", "escalated"), ("ternate", "escalated")]
        rows = q(engine, "SELECT city, severity FROM alarms WHERE rule_id = 'silence.sources' ORDER BY city")
        assert rows == [("morotai", "minor"), ("ternate", "major")]
    finally:
        w.close()


def test_one_city_failing_tick_does_not_stop_the_other_cities_clock(
    engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from ingest import alarm_clock

    settings = Settings(database_url=db_url, alarm_rules_refresh_s=0)
    w = WritePath(BatchWriter(engine, TWO, settings))
    try:
        for city, source in (("morotai", "awlr-sungai-pilowo"), ("ternate", "awlr-kali-toboko")):
            r = Reading(city, source, (Point("water_level_cm", NOW, 50.0),))
            w.write([Item(f"city/{city}/sensor/{source}", b"{}", NOW, r)])
    finally:
        w.close()
    real = alarm_clock.evaluate_clock

    def broken_in_morotai(conn, *, city: str, **kw):
        if city == "morotai":
            raise RuntimeError("morotai's rule book is broken")
        return real(conn, city=city, **kw)

    monkeypatch.setattr(alarm_clock, "evaluate_clock", broken_in_morotai)
    clock = AlarmClock(engine, TWO, settings, lambda t, p: True)
    stale = clock.tick(NOW + 3 * MIN)
    assert [(c.city, c.action) for c in stale] == [("ternate", "raised")]  # Ternate's clock went on
    assert "alarm clock tick of morotai failed: morotai's rule book is broken" in caplog.text
    assert clock.ticks == 1
    # One city alone: the failure is the tick's, as it always was (the thread logs it and tries again).
    single = AlarmClock(engine, MOROTAI, settings, lambda t, p: True)
    with pytest.raises(RuntimeError, match="broken"):
        single.tick(NOW + 3 * MIN)


# --- one broker, one ingestor, two cities --------------------------------------------------------------------------


@pytest.mark.slow
def test_one_ingestor_behind_one_broker_stores_two_cities_each_by_its_own_profile(
    broker: Broker, db_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "ingest.log"
    ing = spawn_satupintu(
        ["ingest"],
        log,
        database_url=db_url,
        mqtt_url=broker.url,
        mqtt_client_id="t-cities",
        profile="morotai,ternate",
        ingest_unknown_metric="quarantine",
        ingest_batch_max_age_ms="20",
    )
    catalogues = Subscriber(broker.port, "city/+/catalogue")
    rejected = Subscriber(broker.port, "city/+/rejected/#")
    pub = Publisher(broker.port)
    db = Db(db_url)
    try:
        wait_for_log(ing, log, "subscribed")
        assert "ingesting for morotai, ternate" in log.read_text()
        n = 40
        for i in range(n):
            ts = time.time() - 60 + i
            for city, source in (("morotai", "awlr-sungai-pilowo"), ("ternate", "awlr-kali-toboko")):
                body = orjson.dumps({"ts": ts, "values": {"water_level_cm": 100 + i}})
                pub.publish(f"city/{city}/sensor/{source}", body)
        both = orjson.dumps({"ts": time.time() - 1, "values": {"water_pressure_bar": 2.5}})
        pub.publish("city/morotai/sensor/pdam-reservoir-1", both)  # in Morotai's catalogue
        pub.publish("city/ternate/sensor/pdam-reservoir-1", both)  # not in Ternate's: quarantined there only
        pub.publish("city/halmahera-utara/sensor/awlr-sungai-tiabo", orjson.dumps({"values": {"water_level_cm": 1}}))
        ticket = {"ticket_id": "PUPR-1", "service": "jalan-rusak", "status": "open", "ts": time.time() - 5}
        pub.publish("city/ternate/service/dinas-pupr", orjson.dumps({**ticket, "district": "ternate-tengah"}))
        pub.publish("city/morotai/service/dinas-pupr", orjson.dumps({**ticket, "district": "morotai-selatan"}))
        pub.wait_all(2 * n + 5)
        wait_until(lambda: db.readings() >= 2 * n + 1, 60, "both cities' readings")
        wait_until(lambda: db.one("SELECT count(*) FROM quarantine") >= 2, 30, "quarantine rows")
        wait_until(lambda: db.one("SELECT count(*) FROM tickets") >= 2, 30, "both tickets")
        by_city = db.all(
            "SELECT s.city, count(*) FROM readings r JOIN series x ON x.id = r.series_id "
            "JOIN sources s ON s.id = x.source_pk GROUP BY s.city ORDER BY s.city"
        )
        assert by_city == [("morotai", n + 1), ("ternate", n)]
        assert sorted(db.all("SELECT city, reason FROM quarantine")) == [
            ("halmahera-utara", "unknown_city"),
            ("ternate", "unknown_metric"),
        ]
        due = dict(db.all("SELECT city, due_ms - opened_ms FROM tickets"))
        assert due == {"morotai": 10080 * MIN, "ternate": 7200 * MIN}  # each city's own SLA
        # Every city's profile registered, each city's catalogue retained on its own topic.
        assert sorted(db.all("SELECT DISTINCT city FROM sources WHERE registered_by = 'profile'")) == [
            ("morotai",),
            ("ternate",),
        ]
        wait_until(lambda: len(catalogues.messages) >= 2, 10, "retained catalogues")
        got = dict(catalogues.messages)
        assert got["city/ternate/catalogue"] == orjson.dumps(catalogue(TERNATE))
        assert got["city/morotai/catalogue"] == orjson.dumps(catalogue(MOROTAI))
        wait_until(
            lambda: any(t == "city/ternate/rejected/pdam-reservoir-1" for t, _ in rejected.messages), 10, "refusal"
        )
        assert ing.poll() is None
    finally:
        pub.close()
        catalogues.close()
        rejected.close()
        db.close()
        ing.terminate()
        assert ing.wait(15) == 0


def test_inline_committer_takes_a_deployment(engine: Engine, db_url: str) -> None:
    """What `satupintu ingest` builds with SATUPINTU_INGEST_WRITER=inline: the same cities, in this process."""
    s = Settings(database_url=db_url, ingest_unknown_metric="quarantine")
    c = InlineCommitter(BatchWriter(engine, TWO, s), ParseRules.from_deployment(TWO, s))
    try:
        body = _reading("x", "p", water_pressure_bar=2.0)
        r = c.commit([("city/morotai/sensor/p1", body, NOW), ("city/ternate/sensor/p1", body, NOW)], threading.Event())
        assert r.points_stored == 1 and [x.rejected.city for x in r.refusals] == ["ternate"]
    finally:
        c.close()
