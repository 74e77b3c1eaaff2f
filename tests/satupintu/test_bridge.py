"""Store-and-forward from a regency to its province: the bridge configuration, and two real brokers.

The end-to-end test runs what a province with one regency runs: the regency's
broker (with the bridge `satupintu bridge init` wrote) and ingestor, and the
province's broker and ingestor, each with its own database. Under a paced
stream at the regency the province broker is stopped for a while: the regency
keeps storing everything, and once the province broker is back every reading
reaches the province database exactly once.
"""

from __future__ import annotations

import stat
import subprocess
import threading
import time
import uuid
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from app.settings import get_settings
from satupintu.bridge import BridgeConfig, BridgeError, parse_remote
from satupintu.broker import free_port, start_broker
from satupintu.cli import cli
from tests.conftest import Broker
from tests.ingest.test_faults import ingest_settings, start_ingestor, stop
from tests.mqtt_helpers import Db, Publisher, Subscriber, reading_payload, wait_until

# --- the configuration ----------------------------------------------------------


def test_a_province_url_gives_a_qos1_persistent_bridge_of_the_citys_own_topics() -> None:
    text = BridgeConfig(
        remote=parse_remote("mqtt://morotai:s3cret@10.8.0.1:1884"), cities=["morotai"], queue_messages=200_000
    ).render()
    lines = text.splitlines()
    assert "connection satupintu-morotai" in lines
    assert "address 10.8.0.1:1884" in lines
    assert "remote_username morotai" in lines and "remote_password s3cret" in lines
    assert "cleansession false" in lines and "local_cleansession false" in lines
    assert "max_queued_messages 200000" in lines
    topics = [line for line in lines if line.startswith("topic ")]
    assert topics == [f"topic city/morotai/{k}/# out 1" for k in ("sensor", "service", "status", "alert")]
    assert not any("bridge_ca" in line for line in lines), "plain mqtt:// has no TLS"


def test_mqtts_turns_tls_on_with_the_system_cas_or_a_given_ca_and_port_8883_by_default(tmp_path: Path) -> None:
    plain = BridgeConfig(remote=parse_remote("mqtts://u:p@prov.example.go.id"), cities=["x"], queue_messages=1000)
    assert "address prov.example.go.id:8883" in plain.render()
    assert "bridge_capath /etc/ssl/certs" in plain.render()
    assert "bridge_insecure false" in plain.render()
    ca = tmp_path / "ca.pem"
    own = BridgeConfig(remote=parse_remote("mqtts://u:p@h:8884"), cities=["x"], queue_messages=1000, cafile=ca)
    assert f"bridge_cafile {ca}" in own.render() and "bridge_capath" not in own.render()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://h:1883", "mqtt:// or mqtts://"),
        ("mqtt://:1883", "no host"),
        ("mqtt://h:port", "not a number"),
        ("mqtt://u:p@h:1883/topic", "no path"),
        ("mqtt://u:pa%20ss@h:1883", "spaces or '#'"),
        ("mqtt://u:pa%23ss@h:1883", "spaces or '#'"),
    ],
)
def test_a_url_that_cannot_make_a_bridge_is_refused_with_the_reason(url: str, says: str) -> None:
    with pytest.raises(BridgeError, match=says.replace("(", r"\(")):
        parse_remote(url)


def test_bridge_init_writes_the_section_for_the_profiles_city_readable_by_its_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SATUPINTU_MQTT_AUTH_DIR", str(tmp_path))
    monkeypatch.setenv("SATUPINTU_BRIDGE_QUEUE_MESSAGES", "12345")
    monkeypatch.setenv("SATUPINTU_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["bridge", "init", "--to", "mqtts://morotai:pw@province:8883"])
        assert result.exit_code == 0, result.output
        path = tmp_path / "bridge.conf"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        text = path.read_text()
        assert "topic city/morotai/sensor/# out 1" in text and "max_queued_messages 12345" in text
        bad = CliRunner().invoke(cli, ["bridge", "init", "--to", "https://province"])
        assert bad.exit_code == 2 and "mqtt:// or mqtts://" in bad.output
        shown = CliRunner().invoke(cli, ["bridge", "init", "--to", "mqtt://province:1883", "--stdout"])
        assert shown.exit_code == 0 and shown.stdout.startswith("# Written by `satupintu bridge init`")
    finally:
        get_settings.cache_clear()


def test_the_bridge_section_is_a_config_mosquitto_starts_with(tmp_path: Path) -> None:
    """mosquitto refuses a config line it does not know: start one with the section to prove every line valid."""
    section = BridgeConfig(
        remote=parse_remote(f"mqtt://u:p@127.0.0.1:{free_port()}"), cities=["morotai", "ternate"], queue_messages=5000
    ).render()
    port = free_port()
    proc = start_broker(port=port, data_dir=tmp_path / "b", extra=section)
    try:
        assert proc.poll() is None
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:  # once, under load, mosquitto was still busy with its bridge after 10 s
            proc.kill()
            proc.wait(10)


# --- two brokers, two ingestors --------------------------------------------------


def _readings_of(db: Db, source: str, *, negate: bool = False) -> int:
    """Readings stored for one source (or, negated, for every other)."""
    op = "<>" if negate else "="
    return int(
        db.one(
            "SELECT count(*) FROM readings r JOIN series s ON s.id = r.series_id JOIN sources o ON o.id = s.source_pk"
            f" WHERE o.source_id {op} '{source}'"
        )
    )


def _paced(pub: Publisher, *, start: int, stop_at: int, base_ts: float, per_s: float, sent: list[int]) -> None:
    """Publish readings start..stop_at at about per_s a second, as field devices do; sent[0] counts them."""
    t0 = time.monotonic()
    for i in range(start, stop_at):
        pub.publish(f"city/morotai/sensor/src-{i % 50}", reading_payload(i, base_ts))
        sent[0] = i + 1
        ahead = t0 + (i - start + 1) / per_s - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)  # pacing the stream, not waiting for a result


@pytest.mark.slow
def test_province_broker_down_regency_keeps_storing_and_province_gets_everything_exactly_once(
    db_url: str, tmp_path: Path, record_property
) -> None:
    n, per_s = 3000, 150.0
    prov_port, reg_port = free_port(), free_port()
    province = Broker(prov_port, start_broker(port=prov_port, data_dir=tmp_path / "prov-mq"), tmp_path / "prov-mq")
    section = BridgeConfig(
        remote=parse_remote(f"mqtt://127.0.0.1:{prov_port}"),
        cities=["morotai"],
        queue_messages=100_000,
        reconnect_max_s=1,
    ).render()
    regency = Broker(
        reg_port,
        start_broker(port=reg_port, data_dir=tmp_path / "reg-mq", extra=section + "sys_interval 1\n"),
        tmp_path / "reg-mq",
    )
    regency_url = f"sqlite:///{tmp_path / 'regency.db'}"
    from app.storage.engine import make_engine
    from app.storage.migrate import upgrade

    eng = make_engine(regency_url)
    upgrade(eng)
    eng.dispose()
    reg_ing, _ = start_ingestor(tmp_path, "regency", ingest_settings(regency_url, regency, "regency-ingest"))
    prov_ing, _ = start_ingestor(tmp_path, "province", ingest_settings(db_url, province, "province-ingest"))
    reg_db, prov_db = Db(regency_url), Db(db_url)
    pub = Publisher(reg_port)
    store = Subscriber(reg_port, "$SYS/broker/store/messages/count")
    base = time.time() - 600
    try:
        sent = [0]
        sender = threading.Thread(
            target=_paced, args=(pub,), kwargs={"start": 0, "stop_at": n, "base_ts": base, "per_s": per_s, "sent": sent}
        )
        sender.start()
        wait_until(lambda: prov_db.readings() >= 500, 60, "the province receives the first 500 readings")
        province.stop()
        cut_at, regency_at_cut, sent_at_cut = time.monotonic(), reg_db.readings(), sent[0]
        sender.join()
        pub.wait_all(n)
        # the regency stored everything while the province was away ...
        wait_until(lambda: reg_db.readings() == n, 60, "the regency stores all readings")
        province_while_down = prov_db.readings()
        assert regency_at_cut < n and province_while_down < n
        # ... and its broker holds at least what was published after the cut for the province (the $SYS store
        # count: every message it keeps, published once a second)
        wait_until(
            lambda: bool(store.messages) and int(store.messages[-1][1]) >= n - sent_at_cut,
            15,
            f"the regency broker holding the {n - sent_at_cut} readings published after the cut",
        )
        queued = int(store.messages[-1][1])
        down_s = time.monotonic() - cut_at
        province.restart()
        back = time.monotonic()
        marker = f"fence-{uuid.uuid4().hex[:8]}"
        pub.publish(f"city/morotai/sensor/{marker}", orjson.dumps({"values": {"water_level_cm": 1.0}}))
        wait_until(
            lambda: _readings_of(prov_db, marker) == 1,
            120,
            "the province stores the marker sent after everything else",
        )
        catch_up_s = time.monotonic() - back
        # the bridge forwards in order: the marker arrived, so did everything before it, and any resend too
        assert _readings_of(prov_db, marker, negate=True) == n
        assert prov_db.one("SELECT sum(count) FROM rollup_1m") == n + 1
        assert prov_db.one("SELECT sum(count) FROM rollup_1h") == n + 1
        assert reg_db.readings() == n + 1
        record_property("bridge_outage_s", round(down_s, 1))
        record_property("bridge_queued_messages", queued)
        record_property("bridge_catch_up_s", round(catch_up_s, 2))
        print(f"\nprovince down {down_s:.1f}s; regency broker held {queued} messages; caught up in {catch_up_s:.2f}s")
    finally:
        store.close()
        pub.close()
        reg_db.close()
        prov_db.close()
        stop(reg_ing)
        stop(prov_ing)
        regency.stop()
        province.stop()
