"""Faults against a real Mosquitto and real databases: nothing lost, nothing stored twice.

(a) the ingestor is SIGKILLed mid-stream and restarted; (b) the database goes
away for a while (SQLite locked, PostgreSQL connection cut); (c) the broker
restarts; (d) SIGTERM drains, commits, acknowledges and exits cleanly.
Every test ends by checking that each published reading is stored exactly
once: the readings count, and the rollups (a reading counted twice would show
there, since readings themselves are keyed).
"""

from __future__ import annotations

import re
import signal
import sqlite3
import threading
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import Broker, fresh_pg_database, spawn_satupintu, wait_for_log
from tests.mqtt_helpers import Db, Publisher, reading_payload, stream, wait_until
from tests.tcpproxy import TcpProxy

pytestmark = pytest.mark.slow
FENCE_CITY = "fence"  # not served: see fence()
# How long a step may take before the test calls it a hang: a guard, not a speed claim. A restarted
# ingestor whose session holds thousands of messages reads its SUBACK only after paho's network
# thread gets queue room, and drains the queue on SIGTERM; on a loaded 2-core machine either can
# take longer than 20 s.
HANG_S = 120


def ingest_settings(db_url: str, broker: Broker, client_id: str, **extra: str) -> dict[str, str]:
    return {
        "database_url": db_url,
        "mqtt_url": broker.url,
        "mqtt_client_id": client_id,
        "ingest_batch_max_age_ms": "20",
        "ingest_retry_initial_s": "0.1",
        "ingest_retry_max_s": "0.5",
        "mqtt_reconnect_max_s": "1",
        **extra,
    }


def start_ingestor(tmp_path: Path, name: str, settings: dict[str, str]):
    log = tmp_path / f"{name}.log"
    proc = spawn_satupintu(["ingest"], log, **settings)
    try:
        wait_for_log(proc, log, "subscribed", timeout=HANG_S)
    except BaseException:
        proc.kill()  # the caller never gets it to stop: do not leave an ingestor behind
        proc.wait(10)
        raise
    return proc, log


def fence(pub: Publisher, db: Db, timeout: float = 60) -> None:
    """Publish a marker behind everything `pub` sent and wait until the ingestor has committed it.

    The broker delivers one publisher's messages to the ingestor's session in
    order (redeliveries first) and the ingestor commits them in arrival order,
    so once the marker is committed so is every message before it, and any
    duplicate of one would have been too. The marker names a city this
    deployment does not serve: it lands in quarantine, never in the readings,
    and counts in `ingest_minute` under its own city.
    """
    topic = f"city/{FENCE_CITY}/status/fence-{uuid.uuid4().hex[:12]}"
    pub.publish(topic, b"online")
    wait_until(
        lambda: db.one(f"SELECT count(*) FROM quarantine WHERE topic = '{topic}'") == 1, timeout, "the fence committed"
    )


def refused_commits(log: Path) -> int:
    """How many times the writer has been refused by the database so far (it logs each retry)."""
    return log.read_text(errors="replace").count("database unavailable")


def assert_each_stored_once(db: Db, pub: Publisher, n: int, timeout: float = 120) -> None:
    wait_until(lambda: db.readings() >= n, timeout, f"{n} readings stored")
    fence(pub, db)  # every message sent before this point is committed: a late duplicate would show now
    assert db.readings() == n
    assert db.one("SELECT sum(count) FROM rollup_1m") == n
    assert db.one("SELECT sum(count) FROM rollup_1h") == n


def stop(proc) -> None:
    if proc.poll() is None:
        proc.terminate()
        assert proc.wait(20) == 0


def test_a_sigkill_mid_stream_then_restart_stores_every_message_once(
    broker: Broker, db_url: str, tmp_path: Path
) -> None:
    n = 20_000
    settings = ingest_settings(db_url, broker, "fault-kill")
    ing, _ = start_ingestor(tmp_path, "first", settings)
    db, pub = Db(db_url), Publisher(broker.port)
    try:
        sender = threading.Thread(target=stream, args=(pub, 0, n, time.time() - 3600))
        sender.start()
        wait_until(lambda: db.readings() >= 3000, 60, "the first 3000 readings")
        ing.send_signal(signal.SIGKILL)
        ing.wait(10)
        killed_at = db.readings()
        sender.join()
        pub.wait_all(n)  # the broker holds the rest for the ingestor's session
        ing, _ = start_ingestor(tmp_path, "second", settings)
        assert_each_stored_once(db, pub, n)
        assert killed_at < n, "the kill must land mid-stream"
        assert db.one("SELECT sum(received) FROM ingest_minute") >= n
    finally:
        pub.close()
        db.close()
        stop(ing)


def test_b_sqlite_locked_for_a_while_then_everything_is_stored(broker: Broker, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    n = 5000
    ing, log = start_ingestor(
        tmp_path, "ingest", ingest_settings(url, broker, "fault-lock", sqlite_busy_timeout_ms="50")
    )
    db, pub = Db(url), Publisher(broker.port)
    try:
        base = time.time() - 600
        stream(pub, 0, 1000, base)
        wait_until(lambda: db.readings() >= 1000, 30, "first 1000 readings")
        blocker = sqlite3.connect(tmp_path / "db.sqlite", isolation_level=None, check_same_thread=False)
        blocker.execute("BEGIN EXCLUSIVE")
        stream(pub, 1000, n, base)
        wait_for_log(ing, log, "database unavailable")
        held = db.readings()
        refused = refused_commits(log)
        wait_until(lambda: refused_commits(log) >= refused + 3, 30, "three more commits refused by the lock")
        assert db.readings() == held == 1000, "nothing is committed while the database is locked"
        blocker.execute("COMMIT")
        blocker.close()
        pub.wait_all(n)
        assert_each_stored_once(db, pub, n)
    finally:
        pub.close()
        db.close()
        stop(ing)


def test_b_postgres_unreachable_for_a_while_then_everything_is_stored(
    broker: Broker, pg_template: str, tmp_path: Path
) -> None:
    url, drop = fresh_pg_database(pg_template)
    u = make_url(url)
    proxy = TcpProxy(u.host or "127.0.0.1", u.port or 5432)
    via = u.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    n = 5000
    ing, log = start_ingestor(tmp_path, "ingest", ingest_settings(via, broker, "fault-pg"))
    db, pub = Db(url), Publisher(broker.port)
    try:
        base = time.time() - 600
        stream(pub, 0, 1000, base)
        wait_until(lambda: db.readings() >= 1000, 30, "first 1000 readings")
        proxy.cut()
        stream(pub, 1000, n, base)
        wait_for_log(ing, log, "database unavailable")
        refused = refused_commits(log)
        wait_until(lambda: refused_commits(log) >= refused + 3, 30, "three more commits refused while away")
        assert db.readings() == 1000, "nothing is committed while the database is away"
        assert ing.poll() is None, "the ingestor waits for the database; it does not exit"
        proxy.restore()
        pub.wait_all(n)
        assert_each_stored_once(db, pub, n)
    finally:
        pub.close()
        db.close()
        stop(ing)
        proxy.close()
        drop()


def test_c_broker_restart_the_ingestor_reconnects_and_resubscribes_by_itself(
    broker: Broker, db_url: str, tmp_path: Path
) -> None:
    n = 6000
    ing, log = start_ingestor(tmp_path, "ingest", ingest_settings(db_url, broker, "fault-broker"))
    db, pub = Db(db_url), Publisher(broker.port)
    try:
        base = time.time() - 600
        stream(pub, 0, 3000, base)
        pub.wait_all(3000)
        broker.restart()
        wait_until(lambda: log.read_text().count("subscribed") >= 2, 30, "the ingestor to resubscribe")
        stream(pub, 3000, n, base)
        pub.wait_all(n)
        assert_each_stored_once(db, pub, n)
        assert "session present: True" in " ".join(log.read_text().split())
    finally:
        pub.close()
        db.close()
        stop(ing)


def test_d_sigterm_drains_commits_acks_and_exits_cleanly(broker: Broker, db_url: str, tmp_path: Path) -> None:
    n = 8000
    settings = ingest_settings(db_url, broker, "fault-term")
    ing, log = start_ingestor(tmp_path, "first", settings)
    db, pub = Db(db_url), Publisher(broker.port)
    try:
        sender = threading.Thread(target=stream, args=(pub, 0, n, time.time() - 600))
        sender.start()
        wait_until(lambda: db.readings() >= 1500, 60, "1500 readings")
        ing.send_signal(signal.SIGTERM)
        assert ing.wait(HANG_S) == 0
        text = " ".join(log.read_text().split())
        m = re.search(r"stopped after (\d+) messages: (\d+) readings stored", text)
        assert m, text[-2000:]
        processed = int(m.group(1))
        assert processed == db.readings(), "everything taken in was committed before exit"
        sender.join()
        pub.wait_all(n)
        ing, _ = start_ingestor(tmp_path, "second", settings)
        assert_each_stored_once(db, pub, n)
        # Every message the first ingestor processed was acknowledged: none came back a second time.
        assert db.one(f"SELECT sum(received) FROM ingest_minute WHERE city <> '{FENCE_CITY}'") == n
    finally:
        pub.close()
        db.close()
        stop(ing)


def test_a_sigkill_mid_stream_of_two_cities_then_restart_stores_every_message_once_in_its_city(
    broker: Broker, db_url: str, tmp_path: Path
) -> None:
    """Issue 15: the promise holds for a deployment of several cities (one ingestor, each city's profile)."""
    n = 10_000
    settings = ingest_settings(db_url, broker, "fault-kill-cities", profile="morotai,ternate")
    ing, _ = start_ingestor(tmp_path, "first", settings)
    db, pub = Db(db_url), Publisher(broker.port)
    base = time.time() - 3600

    def two_cities() -> None:
        for i in range(n):
            city = ("morotai", "ternate")[i % 2]
            pub.publish(f"city/{city}/sensor/src-{i % 50}", reading_payload(i, base))

    try:
        sender = threading.Thread(target=two_cities)
        sender.start()
        wait_until(lambda: db.readings() >= 2000, 60, "the first 2000 readings")
        ing.send_signal(signal.SIGKILL)
        ing.wait(10)
        killed_at = db.readings()
        sender.join()
        pub.wait_all(n)
        ing, _ = start_ingestor(tmp_path, "second", settings)
        assert_each_stored_once(db, pub, n)
        assert killed_at < n, "the kill must land mid-stream"
        per_city = db.all(
            "SELECT s.city, count(*) FROM readings r JOIN series x ON x.id = r.series_id "
            "JOIN sources s ON s.id = x.source_pk GROUP BY s.city ORDER BY s.city"
        )
        assert per_city == [("morotai", n // 2), ("ternate", n // 2)]
    finally:
        pub.close()
        db.close()
        stop(ing)
