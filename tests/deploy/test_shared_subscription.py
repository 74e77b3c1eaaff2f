"""The compose topology without Docker: two ingestors on one MQTT shared subscription.

Two `satupintu ingest` processes with the same SATUPINTU_MQTT_SHARED_GROUP and their
own client ids, against a private Mosquitto (the project's config) and a real
database, as docker-compose.yml runs them. 10,000 messages from 200 sources: each
is stored exactly once (readings and both rollups count every message once), and
the broker split the load so that each ingestor committed a fair share (read from
each one's Prometheus metrics, SATUPINTU_INGEST_METRICS_PORT).
"""

from __future__ import annotations

import re
import time
import urllib.request
from pathlib import Path

import pytest

from satupintu.broker import free_port
from tests.conftest import Broker, spawn_satupintu, wait_for_log
from tests.mqtt_helpers import Db, Publisher, stream, wait_until

pytestmark = pytest.mark.slow
N = 10_000


def received(metrics_port: int) -> int:
    """satupintu_ingest_messages_received_total: messages this ingestor took, committed and acknowledged."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    m = re.search(r"(?m)^satupintu_ingest_messages_received_total ([0-9.e+]+)$", text)
    return int(float(m.group(1))) if m else 0


def test_two_ingestors_on_a_shared_subscription_store_each_message_once_and_split_the_load(
    broker: Broker, db_url: str, tmp_path: Path
) -> None:
    procs, ports = [], []
    db, pub = Db(db_url), None
    try:
        for name in ("ingest-1", "ingest-2"):
            ports.append(free_port())
            log = tmp_path / f"{name}.log"
            proc = spawn_satupintu(
                ["ingest"],
                log,
                database_url=db_url,
                mqtt_url=broker.url,
                mqtt_client_id=f"satupintu-{name}",
                mqtt_shared_group="ingest",
                ingest_metrics_port=str(ports[-1]),
                ingest_batch_max_age_ms="20",
            )
            procs.append(proc)
            wait_for_log(proc, log, "subscribed")
        pub = Publisher(broker.port, client_id="shared-test-pub")
        stream(pub, 0, N, time.time() - 3600, sources=200)
        pub.wait_all(N)
        wait_until(lambda: db.readings() >= N, 120, f"{N} readings stored")
        wait_until(lambda: sum(received(p) for p in ports) >= N, 30, "both ingestors report their commits")
        time.sleep(0.5)  # a late duplicate would show up now
        assert db.readings() == N
        assert db.one("SELECT sum(count) FROM rollup_1m") == N
        assert db.one("SELECT sum(count) FROM rollup_1h") == N
        assert db.one("SELECT count(DISTINCT series_id) FROM readings") == 200
        shares = [received(p) for p in ports]
        assert sum(shares) == N, shares  # no message went to both
        assert min(shares) >= 0.3 * N, f"unfair split {shares}"
        print(f"load split between the two ingestors: {shares}")
    finally:
        if pub is not None:
            pub.close()
        db.close()
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            assert proc.wait(30) == 0
