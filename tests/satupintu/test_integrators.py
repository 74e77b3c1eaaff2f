"""Integrator credentials: the ACL text, the files, the CLI, and a real Mosquitto enforcing them."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from typer.testing import CliRunner

from satupintu import integrators
from satupintu.broker import free_port, render_config, start_broker
from satupintu.cli_integrator import integrator_cli
from satupintu.integrators import (
    INGEST_USER,
    VIEWER_USER,
    CredentialStore,
    Grant,
    IntegratorError,
    UserBlock,
    parse_acl,
    render_acl,
)
from tests.conftest import spawn_satupintu, wait_for_log
from tests.mqtt_helpers import Db, wait_until

NOT_AUTHORIZED = 0x87

# --- ACL text -----------------------------------------------------------------


def test_grant_lines_allow_publishing_and_reading_own_refusals_only() -> None:
    assert Grant("morotai", "agency", "bpbd").lines() == [
        "topic write city/morotai/service/bpbd",
        "topic read city/morotai/rejected/bpbd",
        "topic write city/morotai/test/service/bpbd",
        "topic read city/morotai/test-result/bpbd",
    ]
    assert Grant("morotai", "source", "awlr-1").lines() == [
        "topic write city/morotai/sensor/awlr-1",
        "topic write city/morotai/status/awlr-1",
        "topic read city/morotai/rejected/awlr-1",
        "topic write city/morotai/test/sensor/awlr-1",
        "topic write city/morotai/test/status/awlr-1",
        "topic read city/morotai/test-result/awlr-1",
    ]


def test_rendered_acl_has_everyone_patterns_platform_users_and_integrators() -> None:
    acl = parse_acl("")
    acl.users["acme"] = UserBlock("acme", {Grant("morotai", "source", "s2"), Grant("morotai", "agency", "bpbd")})
    for name in (INGEST_USER, VIEWER_USER):
        acl.users[name] = UserBlock(name)
    text = render_acl(acl)
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    everyone = ["topic read city/+/alarm/#", "topic read city/+/changes", "topic read city/+/catalogue"]
    assert lines == [
        f"user {INGEST_USER}",
        "topic read city/#",
        "topic write city/+/rejected/#",
        "topic write city/+/alarm/#",
        "topic write city/+/changes",
        "topic write city/+/test-result/#",
        "topic write city/+/catalogue",
        "topic write city/+/alert/+",  # regional warnings: `satupintu feeds` as the platform user
        "topic write city/+/status/+",
        "topic write city/+/service/#",  # citizen services: Open311 POSTs published by the web process
        *everyone,
        f"user {VIEWER_USER}",
        "topic read city/+/sensor/#",
        "topic read city/+/service/#",
        "topic read city/+/status/#",
        *everyone,
        "user acme",
        "topic write city/morotai/service/bpbd",
        "topic read city/morotai/rejected/bpbd",
        "topic write city/morotai/test/service/bpbd",
        "topic read city/morotai/test-result/bpbd",
        "topic write city/morotai/sensor/s2",
        "topic write city/morotai/status/s2",
        "topic read city/morotai/rejected/s2",
        "topic write city/morotai/test/sensor/s2",
        "topic write city/morotai/test/status/s2",
        "topic read city/morotai/test-result/s2",
        *everyone,
    ]
    assert parse_acl(text) == acl


def test_parse_keeps_hand_written_lines_and_never_widens_them() -> None:
    text = (
        "pattern read $SYS/broker/uptime\n"
        "user acme\n"
        "topic write city/morotai/sensor/s1\n# a comment\n"
        "topic write city/morotai/sensor/#\n"  # hand-written: kept as is, not read as a grant
        "topic read city/morotai/rejected/s1\ntopic read city/morotai/rejected/extra\n"
    )
    acl = parse_acl(text)
    assert acl.preamble == ["pattern read $SYS/broker/uptime"]
    assert acl.users["acme"].grants == {Grant("morotai", "source", "s1")}
    assert acl.users["acme"].extra == ["topic write city/morotai/sensor/#", "topic read city/morotai/rejected/extra"]
    again = parse_acl(render_acl(acl))
    assert again == acl


def test_all_wildcard_is_one_whole_level_and_listed_once() -> None:
    block = UserBlock("gw", {Grant("morotai", "source", "+"), Grant("morotai", "agency", "+")})
    assert block.lines() == [
        "topic write city/morotai/service/+",
        "topic read city/morotai/rejected/+",
        "topic write city/morotai/test/service/+",
        "topic read city/morotai/test-result/+",
        "topic write city/morotai/sensor/+",
        "topic write city/morotai/status/+",
        "topic write city/morotai/test/sensor/+",
        "topic write city/morotai/test/status/+",
        "topic read city/+/alarm/#",
        "topic read city/+/changes",
        "topic read city/+/catalogue",
    ]


def test_the_shipped_example_is_what_the_command_writes() -> None:
    example = (Path(__file__).resolve().parents[2] / "mosquitto" / "acl.example").read_text()
    acl = parse_acl(example)
    assert acl.preamble == [] and all(not b.extra for b in acl.users.values())
    assert acl.users["bpbd-awlr"].grants == {
        Grant("morotai", "agency", "bpbd"),
        Grant("morotai", "source", "awlr-sungai-pilowo"),
        Grant("morotai", "source", "arg-daruba"),
    }

    def rules(text: str) -> list[str]:
        return [ln for ln in text.splitlines() if ln and not ln.startswith("#")]

    assert rules(render_acl(acl)) == rules(example)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Acme"}, "integrator name"),
        ({"name": INGEST_USER}, "platform user"),
        ({"sources": ["awlr-*"]}, "source id"),
        ({"sources": ["a/b"]}, "source id"),
        ({"sources": ["#"]}, "source id"),
        ({"agencies": ["BPBD"]}, "agency"),
        ({"city": "+"}, "city"),
        ({"sources": [], "agencies": []}, "at least one"),
        ({"password": "short"}, "at least 8"),
        ({"password": "has:colon-inside"}, "':'"),
        ({"password": "has space inside"}, "':'"),
    ],
)
def test_bad_requests_are_refused_and_write_nothing(tmp_path: Path, kwargs: dict, message: str) -> None:
    store = CredentialStore(tmp_path)
    args = {"name": "acme", "city": "morotai", "sources": ["s1"], **kwargs}
    with pytest.raises(IntegratorError, match=message):
        store.add_integrator(args.pop("name"), **args)
    assert list(tmp_path.iterdir()) == []


# --- the files ----------------------------------------------------------------


def test_add_is_idempotent_and_keeps_the_password(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path)
    first = store.add_integrator("acme", city="morotai", agencies=["bpbd"], sources=["s1"])
    assert first.created and first.password and len(first.password) >= 20
    acl_text, passwd_text = store.acl.read_text(), store.passwd.read_text()
    again = store.add_integrator("acme", city="morotai", agencies=["bpbd"], sources=["s1"])
    assert not again.created and again.password is None
    assert (store.acl.read_text(), store.passwd.read_text()) == (acl_text, passwd_text)
    # the plain password is nowhere on disk, and no temporary file is left behind
    assert first.password not in acl_text + passwd_text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["acl", "passwd"]
    assert passwd_text.startswith("acme:$7$")
    assert (store.passwd.stat().st_mode & 0o777) == 0o600


def test_add_merges_grants_replace_sets_them_remove_deletes(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path)
    store.add_integrator("acme", city="morotai", sources=["s1"])
    store.add_integrator("acme", city="morotai", sources=["s2"])
    store.add_integrator("acme", city="ternate", agencies=["bpbd"])
    assert store.read_acl().users["acme"].grants == {
        Grant("morotai", "source", "s1"),
        Grant("morotai", "source", "s2"),
        Grant("ternate", "agency", "bpbd"),
    }
    changed = store.add_integrator("acme", city="morotai", sources=["s3"], replace=True, new_password=True)
    assert changed.password
    assert store.read_acl().users["acme"].grants == {
        Grant("morotai", "source", "s3"),
        Grant("ternate", "agency", "bpbd"),
    }
    store.add_integrator("other", city="morotai", sources=["s9"])
    assert store.remove("acme")
    assert not store.remove("acme")
    assert set(store.read_acl().users) == {INGEST_USER, VIEWER_USER, "other"}
    assert store.users_with_password() == {"other"}
    with pytest.raises(IntegratorError):
        store.remove(INGEST_USER)


def test_init_creates_platform_users_once(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path)
    created = store.init_platform()
    assert set(created) == {INGEST_USER, VIEWER_USER}
    assert store.init_platform() == {}
    assert set(store.init_platform(reset=True)) == {INGEST_USER, VIEWER_USER}


def test_missing_mosquitto_passwd_fails_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(integrators, "passwd_binary", lambda: None)
    with pytest.raises(IntegratorError, match="mosquitto_passwd was not found"):
        CredentialStore(tmp_path).add_integrator("acme", city="morotai", sources=["s1"])


def test_render_config_switches_auth_on_only_when_asked(tmp_path: Path) -> None:
    plain = render_config(port=1884, data_dir=tmp_path / "a").read_text()
    assert "\nallow_anonymous true" in plain
    assert "\npassword_file" not in plain and "\nacl_file" not in plain
    conf = render_config(
        port=1884, data_dir=tmp_path / "b", password_file=tmp_path / "passwd", acl_file=tmp_path / "acl"
    ).read_text()
    assert "\nallow_anonymous false" in conf and "\nallow_anonymous true" not in conf
    assert f"\npassword_file {tmp_path / 'passwd'}\n" in conf
    assert f"\nacl_file {tmp_path / 'acl'}\n" in conf


def test_cli_add_prints_the_password_once_and_list_never(tmp_path: Path) -> None:
    runner = CliRunner()
    d = str(tmp_path / "auth")
    out = runner.invoke(integrator_cli, ["add", "acme", "--city", "morotai", "-a", "bpbd", "-s", "s1", "--dir", d])
    assert out.exit_code == 0, out.output
    password = next(ln.split(": ", 1)[1] for ln in out.output.splitlines() if ln.strip().startswith("password:"))
    assert "topic write city/morotai/sensor/s1" in out.output
    assert "allow_anonymous false" in out.output and f"password_file {tmp_path / 'auth' / 'passwd'}" in out.output
    again = runner.invoke(integrator_cli, ["add", "acme", "--city", "morotai", "-s", "s2", "--dir", d])
    assert again.exit_code == 0 and password not in again.output and "unchanged" in again.output
    listed = runner.invoke(integrator_cli, ["list", "--dir", d])
    assert "acme\tcity morotai; agencies bpbd; sources s1 s2" in listed.output and password not in listed.output
    bad = runner.invoke(integrator_cli, ["add", "Acme", "--city", "morotai", "-s", "s1", "--dir", d])
    assert bad.exit_code == 2
    assert runner.invoke(integrator_cli, ["remove", "acme", "--dir", d]).exit_code == 0
    assert runner.invoke(integrator_cli, ["remove", "acme", "--dir", d]).exit_code == 1


# --- a real Mosquitto with the files -----------------------------------------


class Client:
    """An MQTT 5 client with credentials that records CONNACK, PUBACK reason codes and messages."""

    def __init__(self, port: int, user: str | None, password: str | None = None) -> None:
        self.connack: mqtt.ReasonCode | None = None
        self.messages: list[tuple[str, bytes]] = []
        self.pubacks: dict[int, int] = {}
        self._connacked, self._subscribed = threading.Event(), threading.Event()
        self.c = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"t-{user}-{time.monotonic_ns()}", protocol=mqtt.MQTTv5
        )
        if user is not None:
            self.c.username_pw_set(user, password)
        self.c.on_connect = self._on_connect
        self.c.on_message = lambda _c, _u, m: self.messages.append((m.topic, m.payload))
        self.c.on_publish = lambda _c, _u, mid, rc, _p: self.pubacks.__setitem__(mid, rc.value)
        self.c.on_subscribe = lambda *_a: self._subscribed.set()
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        assert self._connacked.wait(10), "no CONNACK"

    def _on_connect(self, _c, _u, _flags, rc, _props) -> None:
        if self.connack is None:
            self.connack = rc
        self._connacked.set()
        if rc.is_failure:
            self.c.disconnect()  # no reconnect loop with refused credentials

    @property
    def accepted(self) -> bool:
        return self.connack is not None and not self.connack.is_failure

    def subscribe(self, *filters: str) -> Client:
        self._subscribed.clear()
        self.c.subscribe([(f, 1) for f in filters])
        assert self._subscribed.wait(10), "SUBACK missing"
        return self

    def publish(self, topic: str, payload: str = "x", retain: bool = False) -> int:
        """Publish at QoS 1 and return the PUBACK reason code.

        0 = accepted, 0x10 = accepted but nobody subscribes, 0x87 = not authorized.
        """
        info = self.c.publish(topic, payload, qos=1, retain=retain)
        wait_until(lambda: info.mid in self.pubacks, 10, f"PUBACK for {topic}", every=0.01)
        return self.pubacks[info.mid]

    def topics(self) -> list[str]:
        return [t for t, _ in self.messages]

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


@dataclass
class AuthBroker:
    port: int
    store: CredentialStore
    proc: object
    log: Path
    passwords: dict[str, str]

    def client(self, user: str | None, password: str | None = None) -> Client:
        c = Client(self.port, user, self.passwords.get(user) if password is None and user else password)
        self._clients.append(c)
        return c

    def reload(self) -> None:
        """SIGHUP: mosquitto rereads the password file and ACL (callers wait for the effect)."""
        os.kill(self.proc.pid, signal.SIGHUP)

    def eventually_connects(self, user: str, password: str | None = None, accepted: bool = True) -> Client:
        def attempt() -> bool:
            self.last = self.client(user, password)
            return self.last.accepted == accepted

        wait_until(attempt, 10, f"{user} {'accepted' if accepted else 'refused'}", every=0.1)
        return self.last


@pytest.fixture
def auth_broker(tmp_path: Path) -> Iterator[AuthBroker]:
    """Mosquitto with the project's config, authentication and the ACL on; two integrators."""
    store = CredentialStore(tmp_path / "auth")
    passwords = store.init_platform()
    passwords["bpbd-awlr"] = store.add_integrator(
        "bpbd-awlr", city="morotai", agencies=["bpbd"], sources=["awlr-1", "awlr-2"]
    ).password
    passwords["rsud-app"] = store.add_integrator(
        "rsud-app", city="morotai", agencies=["rsud"], sources=["ecg-1"]
    ).password
    data, port = tmp_path / "mosquitto", free_port()
    proc = start_broker(
        port=port, data_dir=data, password_file=store.passwd, acl_file=store.acl, extra="log_type debug\n"
    )
    b = AuthBroker(port, store, proc, data / "mosquitto.log", passwords)
    b._clients = []
    yield b
    for c in b._clients:
        c.close()
    proc.terminate()
    proc.wait(timeout=10)


def test_anonymous_unknown_and_wrong_password_are_refused_at_connect(auth_broker: AuthBroker) -> None:
    assert auth_broker.client("bpbd-awlr").accepted
    for refused in (
        auth_broker.client(None),
        auth_broker.client("bpbd-awlr", "wrong-password-123"),
        auth_broker.client("nobody", "whatever-123"),
        auth_broker.client("bpbd-awlr", auth_broker.passwords["rsud-app"]),
    ):
        assert not refused.accepted
        assert refused.connack.value in (0x86, 0x87), refused.connack  # bad user name or password / not authorized


def test_integrator_publishes_its_own_topics(auth_broker: AuthBroker) -> None:
    ingest = auth_broker.client(INGEST_USER).subscribe("city/+/sensor/#", "city/+/service/#", "city/+/status/#")
    shared = auth_broker.client(INGEST_USER).subscribe("$share/ingest/city/+/sensor/#")
    pub = auth_broker.client("bpbd-awlr")
    own = [
        "city/morotai/sensor/awlr-1",
        "city/morotai/sensor/awlr-2",
        "city/morotai/service/bpbd",
        "city/morotai/status/awlr-1",
    ]
    for topic in own:
        assert pub.publish(topic, retain=topic.endswith("status/awlr-1")) == 0
    wait_until(lambda: len(ingest.messages) >= 4, 10, "the ingestor receives all four")
    assert sorted(ingest.topics()) == sorted(own)
    wait_until(lambda: len(shared.messages) >= 2, 10, "the shared subscription receives the readings")


def test_integrator_cannot_publish_anyone_elses_topics(auth_broker: AuthBroker) -> None:
    ingest = auth_broker.client(INGEST_USER).subscribe("city/#")
    pub = auth_broker.client("bpbd-awlr")
    foreign = [
        "city/morotai/sensor/ecg-1",  # another integrator's source
        "city/morotai/status/ecg-1",
        "city/morotai/service/rsud",  # another agency
        "city/morotai/sensor/awlr-3",  # a source never granted
        "city/morotai/sensor/awlr-1/extra",  # below its own topic
        "city/ternate/sensor/awlr-1",  # its source id in another city
        "city/morotai/rejected/awlr-1",  # our feedback topics
        "city/morotai/alarm/1",
        "city/morotai/changes",
    ]
    for topic in foreign:
        assert pub.publish(topic) == NOT_AUTHORIZED, topic
    # Ordered delivery: once this allowed message arrives, a leaked one would have arrived before it.
    assert pub.publish("city/morotai/sensor/awlr-1", "sentinel") == 0
    wait_until(lambda: ingest.messages, 10, "the sentinel")
    assert ingest.messages == [("city/morotai/sensor/awlr-1", b"sentinel")]
    log = auth_broker.log.read_text(errors="replace")
    assert "Denied PUBLISH" in log and "'city/morotai/service/rsud'" in log


def test_refusals_reach_only_their_owner_and_alarms_reach_everyone(auth_broker: AuthBroker) -> None:
    bpbd = auth_broker.client("bpbd-awlr").subscribe(
        "city/morotai/rejected/#", "city/morotai/rejected/ecg-1", "city/+/alarm/#"
    )
    viewer = auth_broker.client(VIEWER_USER).subscribe("city/#")
    ingest = auth_broker.client(INGEST_USER)
    for topic in ("city/morotai/rejected/ecg-1", "city/morotai/rejected/rsud", "city/morotai/rejected/_invalid"):
        assert ingest.publish(topic, "theirs") == 0
    assert ingest.publish("city/morotai/rejected/awlr-2", "mine") == 0
    assert ingest.publish("city/morotai/rejected/bpbd", "mine") == 0
    assert ingest.publish("city/morotai/alarm/a-1", "raised") == 0
    assert ingest.publish("city/morotai/changes", "changed") == 0
    wait_until(lambda: len(bpbd.messages) >= 3, 10, "own refusals and the alarm")
    assert bpbd.topics() == ["city/morotai/rejected/awlr-2", "city/morotai/rejected/bpbd", "city/morotai/alarm/a-1"]
    wait_until(lambda: len(viewer.messages) >= 2, 10, "the viewer's alarm and change")
    assert viewer.topics() == ["city/morotai/alarm/a-1", "city/morotai/changes"]  # not the refusals
    assert viewer.publish("city/morotai/sensor/awlr-1") == NOT_AUTHORIZED


def test_changes_take_effect_when_the_broker_reloads(auth_broker: AuthBroker) -> None:
    added = auth_broker.store.add_integrator("dishub", city="morotai", agencies=["dinas-perhubungan"])
    assert not auth_broker.client("dishub", added.password).accepted  # not yet reloaded
    auth_broker.reload()
    ingest = auth_broker.client(INGEST_USER).subscribe("city/+/service/#")
    dishub = auth_broker.eventually_connects("dishub", added.password)
    assert dishub.publish("city/morotai/service/dinas-perhubungan") == 0
    assert dishub.publish("city/morotai/service/bpbd") == NOT_AUTHORIZED
    wait_until(lambda: ingest.messages, 10, "the new integrator's ticket")
    assert auth_broker.client("rsud-app").accepted
    assert auth_broker.store.remove("rsud-app")
    auth_broker.reload()
    auth_broker.eventually_connects("rsud-app", accepted=False)


@pytest.mark.slow
def test_the_ingestor_works_with_its_credentials_and_feeds_back_to_the_integrator(
    auth_broker: AuthBroker, tmp_path: Path
) -> None:
    db_url = f"sqlite:///{tmp_path / 'satupintu.db'}"
    log = tmp_path / "ingest.log"
    url = f"mqtt://{INGEST_USER}:{auth_broker.passwords[INGEST_USER]}@127.0.0.1:{auth_broker.port}"
    ing = spawn_satupintu(
        ["ingest"],
        log,
        database_url=db_url,
        mqtt_url=url,
        mqtt_client_id="t-ingest",
        mqtt_shared_group="ingest",
        ingest_batch_max_age_ms="20",
    )
    db = Db(db_url)
    try:
        wait_for_log(ing, log, "subscribed")
        bpbd = auth_broker.client("bpbd-awlr").subscribe("city/morotai/rejected/#")
        now = time.time()
        assert (
            bpbd.publish("city/morotai/sensor/awlr-1", orjson.dumps({"ts": now, "values": {"water_level_cm": 120}}))
            == 0
        )
        assert (
            bpbd.publish("city/morotai/sensor/awlr-2", orjson.dumps({"ts": now, "values": {"water_level_cm": 99999}}))
            == 0
        )
        wait_until(lambda: db.readings() >= 1, 30, "the reading stored")

        def refusals() -> list[tuple[str, dict]]:  # awlr-1's first sight is a warning on its rejected topic too
            return [(t, n) for t, n in ((t, orjson.loads(p)) for t, p in bpbd.messages) if n.get("quarantined")]

        wait_until(refusals, 30, "the refusal delivered to its integrator")
        topic, notice = refusals()[0]
        assert topic == "city/morotai/rejected/awlr-2" and notice["reason"] == "out_of_range"
        stored = "SELECT s.source_id FROM readings r JOIN series x ON x.id = r.series_id JOIN sources s ON s.id = x.source_pk"
        assert db.all(stored) == [("awlr-1",)]
        # The sandbox with the integrator's own credentials: its test topics, answered on its test-result only.
        tests = auth_broker.client("bpbd-awlr").subscribe("city/morotai/test-result/#")
        assert tests.publish("city/morotai/test/sensor/awlr-1", '{"values": {"waterlevel": 1}}') == 0
        assert tests.publish("city/morotai/test/service/bpbd", '{"ticket_id": "t1", "status": "open"}') == 0
        assert tests.publish("city/morotai/test/sensor/ecg-1", '{"values": {"water_level_cm": 1}}') == NOT_AUTHORIZED
        wait_until(lambda: len(tests.messages) >= 2, 30, "two sandbox answers")
        assert sorted(tests.topics()) == ["city/morotai/test-result/awlr-1", "city/morotai/test-result/bpbd"]
        assert db.readings() == 1
    finally:
        db.close()
        ing.terminate()
        assert ing.wait(15) == 0


# --- ids of sources and agencies never collide (issue 16, part 8) -----------------


def test_a_source_id_equal_to_an_agency_id_is_refused_and_the_reverse(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path)
    store.add_integrator("pupr", city="morotai", agencies=["dinas-pupr"])
    with pytest.raises(IntegratorError, match="already an agency id"):
        store.add_integrator("vendor", city="morotai", sources=["dinas-pupr"])
    store.add_integrator("vendor", city="morotai", sources=["awlr-1"])
    with pytest.raises(IntegratorError, match="already a source id"):
        store.add_integrator("other", city="morotai", agencies=["awlr-1"])
    with pytest.raises(IntegratorError, match="already an agency id"):  # the profile's agencies count too
        store.add_integrator("x", city="morotai", sources=["bpbd"], known_agencies=["bpbd"])
    with pytest.raises(IntegratorError, match="already a source id"):
        store.add_integrator("x", city="morotai", agencies=["arg-daruba"], known_sources=["arg-daruba"])
    store.add_integrator("ternate-gw", city="ternate", sources=["dinas-pupr"])  # another city: other topics
    store.add_integrator("gw", city="morotai", sources=["+"], agencies=["+"])  # `+` is no id
    acl = store.read_acl()
    assert "x" not in acl.users and "other" not in acl.users


def test_cli_add_refuses_a_profile_agency_as_a_source_and_prints_an_integrator_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from app.settings import get_settings
    from satupintu.web import create_app

    monkeypatch.setenv("SATUPINTU_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    get_settings.cache_clear()
    runner, d = CliRunner(), str(tmp_path / "auth")
    bad = runner.invoke(integrator_cli, ["add", "acme", "-s", "dinas-kesehatan", "--dir", d])
    assert bad.exit_code == 2 and "already an agency id" in bad.output
    out = runner.invoke(integrator_cli, ["add", "acme", "-s", "awlr-x", "--token", "--dir", d])
    assert out.exit_code == 0, out.output
    token = re.search(r"API token .*: (sp_\S+)", out.output).group(1)
    try:
        with TestClient(create_app(get_settings())) as c:
            h = {"Authorization": f"Bearer {token}"}
            ok = c.post(
                "/api/v1/validate", params={"topic": "city/morotai/sensor/awlr-x"}, content=b"online", headers=h
            )
            assert ok.status_code == 200
            assert c.get("/api/v1/catalogue", headers=h).status_code == 200
            assert c.get("/api/v1/sources", headers=h).status_code == 403
    finally:
        get_settings.cache_clear()
