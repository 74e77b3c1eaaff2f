"""The consumer: acks after commit (fake client), and the whole pipeline through a real Mosquitto."""

from __future__ import annotations

import re
import time
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import MQTTErrorCode

from app.catalogue.service import catalogue
from app.profile import load_profile
from app.settings import Settings
from app.storage.engine import make_engine
from app.storage.migrate import upgrade
from ingest.committer import InlineCommitter
from ingest.consumer import Ingestor
from ingest.parser import ParseRules
from ingest.replies import feedback_topic
from ingest.writer import BatchWriter
from tests.conftest import Broker, spawn_satupintu, wait_for_log
from tests.mqtt_helpers import Db, Publisher, Subscriber, stream, wait_until

PROFILE = load_profile("morotai")


class FakeClient:
    """Stands in for paho's Client: records acks and publishes."""

    def __init__(self, *_a, **_kw) -> None:
        self.acks: list[int] = []
        self.published: list[tuple[str, bytes]] = []

    def __getattr__(self, name: str):
        return lambda *a, **kw: None

    def ack(self, mid: int, qos: int) -> MQTTErrorCode:
        self.acks.append(mid)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False):
        self.published.append((topic, payload))
        return type("Info", (), {"rc": MQTTErrorCode.MQTT_ERR_SUCCESS})()


def fake_message(mid: int, topic: str, payload: bytes) -> mqtt.MQTTMessage:
    m = mqtt.MQTTMessage(mid=mid, topic=topic.encode())
    m.payload, m.qos = payload, 1
    return m


@pytest.fixture
def ingestor(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    s = Settings(database_url=url)
    acks_at_commit: list[int] = []

    class WatchingWriter(BatchWriter):
        def write(self, items, stop=None):
            acks_at_commit.append(len(ing._client.acks))
            return super().write(items, stop)

    committer = InlineCommitter(WatchingWriter(engine, PROFILE, s), ParseRules.from_profile(PROFILE, s))
    ing = Ingestor(s, committer, client_factory=FakeClient)
    ing.acks_at_commit = acks_at_commit
    yield ing
    engine.dispose()


def test_messages_are_acked_only_after_their_batch_commits(ingestor: Ingestor) -> None:
    now = time.time()
    ingestor._on_connect(
        ingestor._client,
        None,
        type("F", (), {"session_present": False})(),
        type("R", (), {"is_failure": False})(),
        None,
    )
    for mid in range(1, 6):
        payload = orjson.dumps({"ts": now, "values": {"water_level_cm": float(mid)}})
        ingestor._on_message(None, None, fake_message(mid, f"city/morotai/sensor/s{mid}", payload))
    ingestor._on_message(None, None, fake_message(6, "city/morotai/sensor/s6", b"{nope"))
    assert ingestor._client.acks == []
    batch = ingestor._take_batch()
    assert ingestor._process(batch)
    assert ingestor.acks_at_commit == [0]
    assert ingestor._client.acks == [1, 2, 3, 4, 5, 6]
    published = ingestor._client.published
    assert published[0] == ("city/morotai/catalogue", orjson.dumps(catalogue(PROFILE)))  # on connect, retained
    notices = [(t, orjson.loads(p)) for t, p in published[1:]]
    [(topic, refusal)] = [(t, n) for t, n in notices if n["quarantined"]]
    assert topic == "city/morotai/rejected/s6"
    assert refusal["reason"] == "bad_json"
    # The five new sources are stored and told of their first sight (a warning: not quarantined).
    assert sorted((t, n["reason"]) for t, n in notices if not n["quarantined"]) == [
        (f"city/morotai/rejected/s{i}", "first_sight") for i in range(1, 6)
    ]


def test_messages_from_an_earlier_connection_are_not_acked(ingestor: Ingestor) -> None:
    payload = orjson.dumps({"values": {"water_level_cm": 1.0}})
    ingestor._on_message(None, None, fake_message(7, "city/morotai/sensor/s1", payload))
    ingestor._on_disconnect(None, None, None, 0, None)
    assert ingestor._process(ingestor._take_batch())
    assert ingestor._client.acks == []


@pytest.mark.parametrize(
    ("city", "target", "topic"),
    [
        ("morotai", "s1", "city/morotai/rejected/s1"),
        ("jakarta", "s1", "city/jakarta/rejected/s1"),
        (None, None, "city/_invalid/rejected/_invalid"),
        ("morotai", "X'; DROP", "city/morotai/rejected/_invalid"),
    ],
)
def test_feedback_topic_never_echoes_an_invalid_id(city: str | None, target: str | None, topic: str) -> None:
    assert feedback_topic(city, target) == topic


@pytest.mark.slow
def test_pipeline_stores_valid_and_quarantines_bad_through_real_mosquitto(
    broker: Broker, db_url: str, tmp_path: Path
) -> None:
    ing = spawn_satupintu(
        ["ingest"],
        tmp_path / "ingest.log",
        database_url=db_url,
        mqtt_url=broker.url,
        mqtt_client_id="t-ingest",
        ingest_batch_max_age_ms="20",
    )
    wait_for_log(ing, tmp_path / "ingest.log", "subscribed")
    feedback = Subscriber(broker.port, "city/+/rejected/#")
    pub = Publisher(broker.port)
    db = Db(db_url)
    try:
        now = time.time()
        stream(pub, 0, 500, now - 60)
        bad = [
            ("city/morotai/sensor/s1", b"\xff\xfe"),
            ("city/morotai/sensor/s1", b'{"values": {"water_level_cm": NaN}}'),
            ("city/morotai/sensor/s1", orjson.dumps({"values": {"water_level_cm": 99999}})),
            ("city/morotai/sensor/s1", orjson.dumps({"ts": now + 3600, "values": {"water_level_cm": 1}})),
            ("city/morotai/sensor/" + "x" * 10_000, b"{}"),
            ("city/morotai/sensor/x'; DROP TABLE sources;--", b"{}"),
            ("city/jakarta/sensor/s1", orjson.dumps({"values": {"water_level_cm": 1}})),
            ("city/morotai/sensor/s1/extra", b"{}"),
            ("city/morotai/sensor/s1", b"[1, 2, 3]"),
            ("city/morotai/sensor/s1", b"x" * 70_000),
        ]
        for topic, payload in bad:
            pub.publish(topic, payload)
        senml = [
            {"bn": "urn:dev:buoy1:", "bt": now - 30, "n": "wave_height_m", "u": "m", "v": 1.5},
            {"n": "wave_height_m", "t": 1, "v": 999},  # out of range: refused alone
            {"n": "tide_cm", "u": "cm", "v": 80},
        ]
        pub.publish("city/morotai/sensor/buoy-selat-rao", orjson.dumps(senml))
        pub.publish(
            "city/morotai/service/layanan-112",
            orjson.dumps(
                {
                    "ticket_id": "112-2026-000123",
                    "service": "ambulans",
                    "status": "open",
                    "priority": "critical",
                    "district": "morotai-utara",
                    "ts": now - 5,
                }
            ),
        )
        pub.publish("city/morotai/status/src-1", "offline", retain=True)
        pub.wait_all(500 + len(bad) + 3)
        wait_until(lambda: db.one("SELECT count(*) FROM quarantine") >= len(bad) + 1, 30, "quarantine rows")
        wait_until(lambda: db.readings() >= 502, 30, "readings stored")
        assert db.readings() == 502  # 500 + the two good SenML records
        reasons = sorted(r for (r,) in db.all("SELECT reason FROM quarantine"))
        assert reasons == sorted(
            [
                "bad_encoding",
                "bad_json",
                "out_of_range",
                "bad_time",
                "bad_id",
                "bad_id",
                "unknown_city",
                "bad_topic",
                "bad_field",
                "too_large",
                "partial",
            ]
        )
        assert db.all("SELECT ticket_id, status, priority FROM tickets") == [("112-2026-000123", "open", "critical")]
        wait_until(lambda: db.one("SELECT status FROM sources WHERE source_id = 'src-1'") == "offline", 10, "status")

        def refusals() -> list[tuple[str, bytes]]:  # first-sight warnings of the new sources come here too
            return [(t, p) for t, p in feedback.messages if orjson.loads(p)["quarantined"]]

        wait_until(lambda: len(refusals()) >= len(bad) + 1, 10, "rejected notices")
        topics = {t for t, _ in refusals()}
        assert "city/morotai/rejected/s1" in topics and "city/morotai/rejected/buoy-selat-rao" in topics
        assert "city/jakarta/rejected/s1" in topics and "city/morotai/rejected/_invalid" in topics
        assert ing.poll() is None, "the ingestor must survive every bad message"
    finally:
        pub.close()
        feedback.close()
        db.close()
        ing.terminate()
        assert ing.wait(15) == 0


@pytest.mark.slow
def test_two_ingestors_on_a_shared_subscription_split_the_load_and_store_each_once(
    broker: Broker, pg_template: str, tmp_path: Path
) -> None:
    from tests.conftest import fresh_pg_database

    url, drop = fresh_pg_database(pg_template)
    common = {
        "database_url": url,
        "mqtt_url": broker.url,
        "mqtt_shared_group": "ingest",
        "ingest_batch_max_age_ms": "20",
    }
    a = spawn_satupintu(["ingest"], tmp_path / "a.log", mqtt_client_id="ing-a", **common)
    b = spawn_satupintu(["ingest"], tmp_path / "b.log", mqtt_client_id="ing-b", **common)
    db = Db(url)
    pub = Publisher(broker.port)
    try:
        wait_for_log(a, tmp_path / "a.log", "subscribed")
        wait_for_log(b, tmp_path / "b.log", "subscribed")
        n = 6000
        stream(pub, 0, n, time.time() - 600)
        pub.wait_all(n)
        wait_until(lambda: db.readings() >= n, 60, f"{n} readings")
        assert db.readings() == n
        assert db.one("SELECT sum(count) FROM rollup_1m") == n
        assert db.one("SELECT sum(received) FROM ingest_minute") == n  # nobody got a message twice
        a.terminate(), b.terminate()
        assert a.wait(15) == 0 and b.wait(15) == 0
        shares = []
        for f in ("a.log", "b.log"):
            m = re.search(r"stopped after (\d+) messages", " ".join((tmp_path / f).read_text().split()))
            assert m, (tmp_path / f).read_text()
            shares.append(int(m.group(1)))
        assert sum(shares) == n and min(shares) > n // 10, shares  # the load was split
    finally:
        pub.close()
        db.close()
        for p in (a, b):
            if p.poll() is None:
                p.kill()
        drop()
