"""Alarms end to end: real Mosquitto, the real ingestor process, the real web app, both databases.

publish readings -> alarm active (on city/{city}/alarm/{id}) -> operator acks through the API
-> values return to normal -> cleared; and a source that stops publishing raises a silence alarm
that clears when it reports again (timing constants as settings: no long sleeps).
"""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from sqlalchemy import text

from app.auth.tokens import create_token
from app.settings import Settings
from app.storage.engine import make_engine
from tests.app.live.test_live import WebServer
from tests.conftest import Broker, spawn_satupintu, wait_for_log
from tests.mqtt_helpers import Publisher, Subscriber, wait_until

RIVER = "awlr-sungai-pilowo"


class AlarmWatcher:
    """Every message on city/morotai/alarm/#, decoded."""

    def __init__(self, port: int) -> None:
        self.sub = Subscriber(port, "city/morotai/alarm/#")

    def seen(self) -> list[dict]:
        return [orjson.loads(p) for _, p in list(self.sub.messages)]

    def wait(self, what: str, cond, timeout: float = 20) -> dict:
        found: list[dict] = []

        def check() -> bool:
            found[:] = [m for m in self.seen() if cond(m)]
            return bool(found)

        wait_until(check, timeout, what)
        return found[0]


@pytest.fixture
def pipeline(broker: Broker, db_url: str, tmp_path: Path) -> Iterator[tuple]:
    web = WebServer(Settings(database_url=db_url, mqtt_url=broker.url))
    wait_until(lambda: web.hub.live, 10, "the live hub subscribed")
    log = tmp_path / "ingest.log"
    ing = spawn_satupintu(
        ["ingest"],
        log,
        database_url=db_url,
        mqtt_url=broker.url,
        mqtt_client_id=f"t-alarm-{uuid.uuid4().hex[:8]}",
        ingest_batch_max_age_ms="20",
        alarm_clock_interval_s="0.3",
        alarm_rules_refresh_s="0",
    )
    watcher = AlarmWatcher(broker.port)
    pub = Publisher(broker.port, client_id=f"t-pub-{uuid.uuid4().hex[:8]}")
    try:
        wait_for_log(ing, log, "subscribed")
        yield web, pub, watcher, ing, log
    finally:
        pub.close()
        watcher.sub.close()
        ing.send_signal(signal.SIGTERM)
        ing.wait(20)
        web.stop()


def test_raise_ack_clear_through_the_broker_the_ingestor_and_the_api(pipeline, db_url: str) -> None:
    web, pub, watcher, _ing, _log = pipeline
    from fastapi.testclient import TestClient

    with make_engine(db_url).begin() as conn:
        op = create_token(conn=conn, name="operator-1", role="operator")
    t0 = time.time()
    for i, level in enumerate((120, 195, 198)):
        pub.publish(
            f"city/morotai/sensor/{RIVER}", orjson.dumps({"ts": t0 - 60 + i, "values": {"water_level_cm": level}})
        )
    raised = watcher.wait(
        "the threshold alarm raised", lambda m: m["rule"] == "threshold.water_level_cm" and m["action"] == "raised"
    )
    assert (raised["severity"], raised["state"], raised["source_id"]) == ("major", "active", RIVER)
    assert "Tinggi muka air" in raised["message"] and raised["message_en"].startswith("Water level")

    client = TestClient(web.app)  # no lifespan: the server's own hub publishes
    r = client.post(
        f"/api/v1/alarms/{raised['id']}/ack",
        json={"comment": "petugas ke lokasi"},
        headers={"Authorization": f"Bearer {op}"},
    )
    assert r.status_code == 200, r.text
    acked = watcher.wait("the ack announced", lambda m: m["id"] == raised["id"] and m["action"] == "acknowledged")
    assert (acked["by"], acked["comment"], acked["state"]) == ("operator-1", "petugas ke lokasi", "acknowledged")

    pub.publish(f"city/morotai/sensor/{RIVER}", orjson.dumps({"ts": t0, "values": {"water_level_cm": 150}}))
    cleared = watcher.wait("cleared by the values", lambda m: m["id"] == raised["id"] and m["action"] == "cleared")
    assert cleared["state"] == "cleared" and cleared["by"] is None
    history = client.get(f"/api/v1/alarms/{raised['id']}", headers={"Authorization": f"Bearer {op}"}).json()["history"]
    assert [h["action"] for h in history] == ["raised", "acknowledged", "cleared"]


def test_a_source_that_stops_publishing_raises_a_silence_alarm_that_clears_when_it_reports(
    pipeline, db_url: str
) -> None:
    _web, pub, watcher, _ing, _log = pipeline
    engine = make_engine(db_url)
    try:
        # A source with a 1 s reporting interval: stale after 2 s of silence.
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO sources (city, source_id, kind, name, district, registered, registered_by, interval_s) "
                    "VALUES ('morotai', 'pju-test-1', 'street_light', 'PJU Uji', 'morotai-selatan', true, 'admin', 1)"
                )
            )
        pub.publish("city/morotai/sensor/pju-test-1", orjson.dumps({"values": {"battery_v": 12.6}}))
        silent = watcher.wait(
            "the silence alarm", lambda m: m["rule"] == "silence.sources" and m["source_id"] == "pju-test-1", timeout=15
        )
        assert silent["action"] == "raised" and silent["severity"] == "warning"
        pub.publish("city/morotai/sensor/pju-test-1", orjson.dumps({"values": {"battery_v": 12.6}}))
        watcher.wait("cleared when it reported", lambda m: m["id"] == silent["id"] and m["action"] == "cleared")
    finally:
        engine.dispose()
