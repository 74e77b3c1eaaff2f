"""`satupintu up` end to end: a subprocess on free ports with its own broker and a temp SQLite database.

It must print the URL, what the broker allows and, on the first run, a ready sign-in
link holding the admin token (printed by `up` alone, in no child's output), serve
live demo data through the API within 30 s of the command, and stop every process it
started (the ingestor's writer process too) on Ctrl-C (SIGINT). Once with an open
broker (the README's first run), once with a password file and ACL in the auth
directory, where the broker `up` starts must use them and each part logs in, and once
with `--secure`, which creates those files itself and refuses anonymous clients.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import psutil
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from satupintu.broker import free_port
from satupintu.integrators import INGEST_USER, CredentialStore
from tests.conftest import satupintu_env, wait_for_log

pytestmark = pytest.mark.slow
LIVE_WITHIN_S = 30


def get(url: str, token: str | None = None) -> dict | None:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(req, timeout=2) as resp:  # noqa: S310 - loopback
            return json.loads(resp.read())
    except OSError:
        return None


def live_data(base: str, token: str) -> bool:
    overview = get(f"{base}/api/v1/overview", token)
    latest = get(f"{base}/api/v1/readings/latest", token)
    return bool(
        overview
        and overview["readings_last_minute"] > 0
        and overview["sources"]["online"] > 0
        and latest
        and latest["items"]
    )


def process_tree(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def anonymous_connect(port: int) -> str:
    """Connect without a login; the broker's CONNACK reason."""
    import threading

    answered, reason = threading.Event(), []
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="t-anonymous", protocol=mqtt.MQTTv311)
    c.on_connect = lambda _c, _u, _f, rc, _p: (reason.append(str(rc)), answered.set())
    c.connect("127.0.0.1", port)
    c.loop_start()
    try:
        assert answered.wait(10), "the broker did not answer CONNECT"
    finally:
        c.disconnect()
        c.loop_stop()
    return reason[0]


def signs_in(link: str) -> bool:
    """The first-run link: the page trades the token for the session cookie (a redirect without the token)."""
    import http.client
    from urllib.parse import urlsplit

    u = urlsplit(link)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    try:
        conn.request("GET", f"{u.path}?{u.query}")
        resp = conn.getresponse()
        return resp.status in (302, 303) and "satupintu_token=" in (resp.getheader("set-cookie") or "")
    finally:
        conn.close()


@pytest.mark.parametrize("auth", ["open", "files", "secure"], ids=["open-broker", "login-and-acl", "secure"])
def test_up_prints_url_and_token_serves_live_data_and_ctrl_c_stops_every_child(
    tmp_path: Path, auth: str, record_property: Callable[[str, object], None]
) -> None:
    mqtt_port, web_port = free_port(), free_port()
    settings = {"mqtt_url": f"mqtt://127.0.0.1:{mqtt_port}"}
    if auth == "files":  # what `satupintu integrator init` and `add` write, in up's default auth directory
        store = CredentialStore(tmp_path / "data" / "mosquitto")
        ingest_pw = store.init_platform()[INGEST_USER]
        demo_pw = store.add_integrator("simulator", city="morotai", sources=["+"], agencies=["+"]).password
        settings = {
            "mqtt_url": f"mqtt://{INGEST_USER}:{ingest_pw}@127.0.0.1:{mqtt_port}",
            "demo_mqtt_url": f"mqtt://simulator:{demo_pw}@127.0.0.1:{mqtt_port}",
        }
    # `up` starts `satupintu feeds` too; the tests stay on loopback: no BMKG address to poll (the feeds idle).
    settings |= {"bmkg_quake_urls": "[]", "bmkg_nowcast_url": ""}
    log = tmp_path / "up.log"
    t0 = time.monotonic()
    with open(log, "ab") as out:
        up = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "satupintu",
                "up",
                "--port",
                str(web_port),
                "--rate",
                "50",
                *(["--secure"] if auth == "secure" else []),
            ],
            cwd=tmp_path,  # the default SQLite database and broker data go to tmp_path/data
            env=satupintu_env(**settings),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    tree: list[psutil.Process] = []
    try:
        wait_for_log(up, log, "admin token: ", timeout=LIVE_WITHIN_S)
        text = log.read_text()
        base = f"http://127.0.0.1:{web_port}"
        assert f"Open: {base}/" in text
        token = re.search(r"admin token: (\S+)", text).group(1)
        assert text.count(token) == 2, text  # the sign-in link and the token line of `up`; no child printed it
        link = re.search(r"sign in: (\S+)", text).group(1)
        assert link == f"{base}/?token={token}" and signs_in(link)
        said = " ".join(text.split())
        assert ("accepts anonymous publishers" in said and "satupintu up --secure" in said) == (auth == "open"), said
        while not live_data(base, token):
            assert up.poll() is None, log.read_text()[-3000:]
            time.sleep(0.5)  # polling; a hang ends at pytest's timeout
        record_property("up_live_data_s", round(time.monotonic() - t0, 1))  # reported, not asserted
        conf = (tmp_path / "data" / "mosquitto" / "mosquitto.conf").read_text()
        assert ("\nallow_anonymous false" in conf and "\nacl_file " in conf) == (auth != "open")
        assert (anonymous_connect(mqtt_port) == "Success") == (auth == "open")

        tree = process_tree(up.pid)
        cmdlines = [" ".join(p.cmdline()) for p in tree]
        for part in ("mosquitto -c", "satupintu ingest", "satupintu web", "satupintu simulate", "satupintu feeds"):
            assert any(part in c for c in cmdlines), (part, cmdlines)
        assert len(tree) >= 5, cmdlines  # and the ingestor's writer process

        up.send_signal(signal.SIGINT)
        assert up.wait(60) == 0, log.read_text()[-3000:]
        _gone, alive = psutil.wait_procs(tree, timeout=10)
        alive = [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
        assert not alive, [(p.pid, p.cmdline()) for p in alive]
        assert "SatuPintu stopped." in log.read_text()
    finally:
        for p in [up, *tree]:
            with contextlib.suppress(psutil.NoSuchProcess, ProcessLookupError):
                p.kill()
        up.wait(10)


# --- what `up` says when it cannot start (in process, nothing is spawned) ------


@pytest.fixture
def up_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Run `satupintu up` in this process, in tmp_path, with a broker URL where nothing listens."""
    from typer.testing import CliRunner

    from app.settings import get_settings
    from satupintu.cli import cli

    monkeypatch.chdir(tmp_path)
    for k in [k for k in __import__("os").environ if k.startswith("SATUPINTU_")]:
        monkeypatch.delenv(k)

    def run(*args: str, **settings: str):
        for k, v in settings.items():
            monkeypatch.setenv(f"SATUPINTU_{k.upper()}", v)
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(cli, ["up", *args])
        finally:
            get_settings.cache_clear()

    return run


def test_up_says_how_to_install_mosquitto_when_it_is_missing(up_here, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("satupintu.broker.mosquitto_binary", lambda: None)
    result = up_here("--port", str(free_port()), mqtt_url=f"mqtt://127.0.0.1:{free_port()}")
    assert result.exit_code == 2, result.output
    assert "sudo apt-get install -y mosquitto" in result.output and "SATUPINTU_MQTT_URL" in result.output


def test_up_wants_a_login_in_the_url_when_the_broker_will_want_one(up_here, tmp_path: Path) -> None:
    CredentialStore(tmp_path / "data" / "mosquitto").init_platform()
    result = up_here("--port", str(free_port()), mqtt_url=f"mqtt://127.0.0.1:{free_port()}")
    assert result.exit_code == 2, result.output
    assert "SATUPINTU_MQTT_URL=mqtt://satupintu-ingest:PASSWORD@" in result.output


def test_up_refuses_a_web_port_that_is_taken(up_here) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = up_here("--port", str(taken.getsockname()[1]), mqtt_url=f"mqtt://127.0.0.1:{free_port()}")
    assert result.exit_code == 2 and "is taken" in result.output, result.output
