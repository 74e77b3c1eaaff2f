"""The supervisor's `--secure` logins: files created when missing, fresh passwords for up's own logins at each
start, integrators' passwords kept; checked against a real broker."""

from __future__ import annotations

import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from satupintu.broker import free_port, start_broker
from satupintu.integrators import INGEST_USER, CredentialStore
from satupintu.supervisor import _secure_logins


def connects(port: int, user: str | None, password: str | None) -> bool:
    answered, ok = threading.Event(), []
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{user}", protocol=mqtt.MQTTv311)
    if user:
        c.username_pw_set(user, password)
    c.on_connect = lambda _c, _u, _f, rc, _p: (ok.append(not rc.is_failure), answered.set())
    c.connect("127.0.0.1", port)
    c.loop_start()
    try:
        assert answered.wait(10)
    finally:
        c.disconnect()
        c.loop_stop()
    return ok[0]


def login(url: str) -> tuple[str, str]:
    u = urlsplit(url)
    return unquote(u.username), unquote(u.password)


def test_secure_logins_create_the_files_and_renew_only_ups_own_passwords(tmp_path: Path) -> None:
    auth, port = tmp_path / "auth", free_port()
    store = CredentialStore(auth)
    first_ingest, first_demo = _secure_logins(auth, "morotai", "127.0.0.1", port)
    assert store.passwd.is_file() and store.acl.is_file()
    assert first_ingest.startswith(f"mqtt://{INGEST_USER}:") and first_demo.startswith("mqtt://simulator:")
    assert first_ingest.endswith(f"@127.0.0.1:{port}")
    bpbd = store.add_integrator("bpbd-awlr", city="morotai", agencies=["bpbd"]).password
    ingest, demo = _secure_logins(auth, "morotai", "127.0.0.1", port)  # the next start
    assert login(ingest) != login(first_ingest) and login(demo) != login(first_demo)
    assert "topic write city/morotai/sensor/+" in store.acl.read_text()  # the simulator publishes every source

    broker = start_broker(port=port, data_dir=tmp_path / "mosquitto", password_file=store.passwd, acl_file=store.acl)
    try:
        assert connects(port, *login(ingest)) and connects(port, *login(demo))
        assert connects(port, "bpbd-awlr", bpbd)  # an integrator keeps its password
        assert not connects(port, *login(first_ingest))  # the previous start's password is gone
        assert not connects(port, None, None)  # anonymous clients are refused
    finally:
        broker.terminate()
        broker.wait(10)


def test_up_starts_its_broker_with_the_bridge_that_bridge_init_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Smart Province (issue 15): the regency's broker forwards to the province once `bridge init` has run."""
    from app.settings import Settings
    from satupintu.bridge import BridgeConfig, parse_remote, write_config
    from satupintu.supervisor import start_or_find_broker

    monkeypatch.chdir(tmp_path)  # `up` keeps its broker's data in ./data/mosquitto
    auth, port, province = tmp_path / "auth", free_port(), free_port()
    remote = parse_remote(f"mqtt://127.0.0.1:{province}")
    write_config(BridgeConfig(remote=remote, cities=["morotai"], queue_messages=1000).render(), auth / "bridge.conf")
    plan = start_or_find_broker(Settings(mqtt_url=f"mqtt://127.0.0.1:{port}"), auth)
    try:
        assert plan.proc is not None and plan.proc.poll() is None
        conf = (tmp_path / "data" / "mosquitto" / "mosquitto.conf").read_text()
        assert "connection satupintu-morotai" in conf and f"address 127.0.0.1:{province}" in conf
        assert connects(port, None, None)
    finally:
        assert plan.proc is not None
        plan.proc.terminate()
        plan.proc.wait(10)


def test_secure_logins_for_a_province_let_the_simulator_publish_for_every_city(tmp_path: Path) -> None:
    """`up --secure` with SATUPINTU_PROFILE=maluku-utara: the demo login's ACL covers each city of the deployment."""
    from app.profile import load_deployment
    from app.settings import Settings
    from ingest.simulator import run_simulator

    province = load_deployment("maluku-utara")
    auth, port = tmp_path / "auth", free_port()
    ingest, demo = _secure_logins(auth, province.ids, "127.0.0.1", port)
    store = CredentialStore(auth)
    for city in province.ids:
        assert f"topic write city/{city}/sensor/+" in store.acl.read_text()
    broker = start_broker(port=port, data_dir=tmp_path / "mosquitto", password_file=store.passwd, acl_file=store.acl)
    got: list[str] = []
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="t-province-sub", protocol=mqtt.MQTTv311)
    sub.username_pw_set(*login(ingest))
    subscribed = threading.Event()
    sub.on_connect = lambda c, *_: c.subscribe("city/+/sensor/#", qos=1)
    sub.on_subscribe = lambda *_: subscribed.set()
    sub.on_message = lambda _c, _u, m: got.append(m.topic.split("/")[1])
    try:
        sub.connect("127.0.0.1", port)
        sub.loop_start()
        assert subscribed.wait(10)
        stats = run_simulator(Settings(mqtt_url=demo, database_url="sqlite:///:memory:"), province, rate=500, count=200)
        assert stats.undelivered == 0
        deadline = threading.Event()
        for _ in range(100):  # the broker forwards what it took; a bound against a hang
            if set(got) == set(province.ids):
                break
            deadline.wait(0.1)
        assert set(got) == set(province.ids)  # the ACL let every city's traffic through
    finally:
        sub.disconnect()
        sub.loop_stop()
        broker.terminate()
        broker.wait(10)
