"""The MQTT sandbox, bad topics and live warnings, with real clients against a real Mosquitto and the ingestor."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import orjson
import pytest

from ingest.sandbox import route
from tests.conftest import Broker, spawn_satupintu, wait_for_log
from tests.mqtt_helpers import Db, Publisher, Subscriber, wait_until


@pytest.mark.parametrize(
    ("topic", "way"),
    [
        ("city/morotai/sensor/a", "live"),
        ("city/morotai/sensors/a", "live"),  # not ours: quarantined as bad_topic
        ("city/morotai", "live"),
        ("city/morotai/test/sensor/a", "test"),
        ("city/morotai/test-result/a", "ours"),
        ("city/morotai/rejected/a", "ours"),
        ("city/morotai/changes", "ours"),
        ("city/morotai/catalogue", "ours"),
        ("city/morotai/alarm/12", "ours"),
    ],
)
def test_route(topic: str, way: str) -> None:
    assert route(topic) == way


def mosquitto_pub(port: int, topic: str, message: str) -> None:
    subprocess.run(
        ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-t", topic, "-m", message],
        check=True,
        timeout=20,
    )


def notices(sub: Subscriber, prefix: str) -> list[tuple[str, dict]]:
    return [(t, orjson.loads(p)) for t, p in list(sub.messages) if t.startswith(prefix)]


@pytest.mark.slow
def test_sandbox_bad_topics_and_live_warnings_through_real_mosquitto(broker: Broker, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    ing = spawn_satupintu(
        ["ingest"],
        tmp_path / "ingest.log",
        database_url=url,
        mqtt_url=broker.url,
        mqtt_client_id="t-sandbox",
        ingest_batch_max_age_ms="20",
        feedback_warning_interval_s="3600",
    )
    wait_for_log(ing, tmp_path / "ingest.log", "subscribed")
    sub = Subscriber(broker.port, "city/+/#")
    pub = Publisher(broker.port)
    db = Db(url)
    try:
        # 1. The sandbox, from the shell: checked, answered on test-result, stored nowhere.
        mosquitto_pub(broker.port, "city/morotai/test/sensor/awlr-tes", '{"values": {"waterlevel": 120}}')
        old = {
            "ticket_id": "112-2026-9",
            "service": "ambulans",
            "status": "open",
            "priority": "critical",
            "ts": time.time() - 14 * 86400,
        }
        mosquitto_pub(broker.port, "city/morotai/test/service/layanan-112", orjson.dumps(old).decode())
        mosquitto_pub(broker.port, "city/morotai/test/service/layanan-112", '{"ticket_id": "x", "status": "opened"}')
        wait_until(lambda: len(notices(sub, "city/morotai/test-result/")) >= 3, 20, "three sandbox answers")
        (t1, a1), (t2, a2), (_t3, a3) = notices(sub, "city/morotai/test-result/")
        assert t1 == "city/morotai/test-result/awlr-tes" and a1["ok"] is True and a1["kind"] == "reading"
        assert a1["warnings"][0]["reason"] == "unknown_metric" and a1["warnings"][0]["nearest"] == ["water_level_cm"]
        assert t2 == "city/morotai/test-result/layanan-112" and a2["ok"] is True
        assert [w["reason"] for w in a2["warnings"]] == ["time_skew"]
        assert a3["ok"] is False and a3["errors"][0]["path"] == "$.status"

        # 2. A topic of no kind we know: quarantined as bad_topic, answered on the city's rejected/_invalid.
        mosquitto_pub(broker.port, "city/morotai/sensors/awlr-tes", '{"values": {"water_level_cm": 1}}')
        wait_until(lambda: notices(sub, "city/morotai/rejected/_invalid"), 20, "the bad_topic answer")
        [(_, bad)] = notices(sub, "city/morotai/rejected/_invalid")
        assert (
            bad["reason"] == "bad_topic"
            and bad["quarantined"] is True
            and bad["topic"] == "city/morotai/sensors/awlr-tes"
        )

        # 3. Live, the typo: stored, and answered with a warning naming the catalogue's metric.
        pub.publish("city/morotai/sensor/awlr-sungai-pilowo", orjson.dumps({"values": {"waterlevel": 121}}))
        pub.publish(
            "city/morotai/sensor/awlr-sungai-pilowo",
            orjson.dumps({"ts": time.time() + 1, "values": {"waterlevel": 122}}),
        )
        pub.publish("city/morotai/sensor/arg-daruba", orjson.dumps({"values": {"rainfall": 3}}))
        pub.wait_all(3)
        wait_until(lambda: notices(sub, "city/morotai/rejected/arg-daruba"), 20, "the second source's warning")
        [(_, warn)] = notices(sub, "city/morotai/rejected/awlr-sungai-pilowo")  # rate-limited: one per source
        assert warn["quarantined"] is False and warn["reason"] == "unknown_metric"
        assert "water_level_cm" in warn["detail"] and warn["warnings"][0]["nearest"] == ["water_level_cm"]
        wait_until(lambda: db.readings() >= 3, 20, "the live readings")
        assert db.all("SELECT DISTINCT metric FROM series ORDER BY metric") == [("rainfall",), ("waterlevel",)]

        # 5. The catalogue, retained: what the city accepts, for those with MQTT only.
        wait_until(lambda: notices(sub, "city/morotai/catalogue"), 20, "the retained catalogue")
        doc = notices(sub, "city/morotai/catalogue")[0][1]
        assert "water_level_cm" in {m["id"] for m in doc["metrics"]} and "reading" in doc["schemas"]

        # 4. Nothing of the dry runs anywhere: readings, tickets, alarms, quarantine, sources.
        assert db.readings() == 3
        assert db.one("SELECT count(*) FROM tickets") == 0
        assert db.one("SELECT count(*) FROM alarms") == 0
        assert db.all("SELECT reason FROM quarantine") == [("bad_topic",)]
        assert db.one("SELECT count(*) FROM sources WHERE source_id = 'awlr-tes'") == 0
        assert ing.poll() is None
    finally:
        pub.close()
        sub.close()
        db.close()
        ing.terminate()
        assert ing.wait(15) == 0
