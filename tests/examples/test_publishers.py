"""The examples/ publishers (shell, Python, Node), run as an integrator would: with its own credentials,
against a real Mosquitto with login and ACL and the ingestor: a dry run on the sandbox, then live."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from satupintu.broker import free_port, start_broker
from satupintu.integrators import INGEST_USER, CredentialStore
from tests.conftest import spawn_satupintu, wait_for_log
from tests.mqtt_helpers import Db, wait_until

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
SOURCES = {"shell": "awlr-sungai-pilowo", "python": "awlr-sungai-wayabula", "node": "awlr-sungai-sangowo"}


@dataclass
class City:
    port: int
    password: str
    db: Db

    def env(self, source: str, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "BROKER": "127.0.0.1",
            "PORT": str(self.port),
            "CITY": "morotai",
            "SOURCE": source,
            "MQTT_USER": "vendor",
            "MQTT_PASSWORD": self.password,
            **extra,
        }

    def stored(self, source: str) -> int:
        return int(
            self.db.one(
                "SELECT count(*) FROM readings r JOIN series x ON x.id = r.series_id JOIN sources s ON s.id = x.source_pk "
                f"WHERE s.source_id = '{source}'"
            )
        )


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    tmp = tmp_path_factory.mktemp("examples")
    store = CredentialStore(tmp / "auth")
    passwords = store.init_platform()
    vendor = store.add_integrator("vendor", city="morotai", sources=list(SOURCES.values())).password
    port = free_port()
    broker = start_broker(port=port, data_dir=tmp / "mosquitto", password_file=store.passwd, acl_file=store.acl)
    url = f"sqlite:///{tmp / 'db.sqlite'}"
    log = tmp / "ingest.log"
    ing = spawn_satupintu(
        ["ingest"],
        log,
        database_url=url,
        mqtt_url=f"mqtt://{INGEST_USER}:{passwords[INGEST_USER]}@127.0.0.1:{port}",
        mqtt_client_id="t-examples",
        ingest_batch_max_age_ms="20",
    )
    db = Db(url)
    try:
        wait_for_log(ing, log, "subscribed")
        yield City(port, vendor, db)
    finally:
        db.close()
        ing.terminate()
        ing.wait(15)
        broker.terminate()
        broker.wait(10)


def run(cmd: list[str], env: dict[str, str], cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=90)


def check_published(city: City, out: subprocess.CompletedProcess, source: str) -> None:
    assert out.returncode == 0, out.stdout + out.stderr
    assert (
        '"ok":true' in out.stdout.replace(" ", "") and f"published live on city/morotai/sensor/{source}" in out.stdout
    )
    wait_until(lambda: city.stored(source) == 2, 30, f"the live readings of {source}")  # two metrics, once


def test_shell_publisher(city: City) -> None:
    source = SOURCES["shell"]
    check_published(city, run(["bash", str(EXAMPLES / "shell" / "publish.sh")], city.env(source)), source)
    refused = run(
        ["bash", str(EXAMPLES / "shell" / "publish.sh")],
        city.env(source, PAYLOAD='{"values": {"water_level_cm": 99999}}'),
    )
    assert refused.returncode == 1 and "out_of_range" in refused.stdout
    assert city.stored(source) == 2  # the refused dry run stored nothing


def test_python_publisher(city: City) -> None:
    source = SOURCES["python"]
    check_published(city, run([sys.executable, str(EXAMPLES / "python" / "publish.py")], city.env(source)), source)


def test_node_publisher(city: City) -> None:
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "Node and npm are needed for examples/node (scripts/lib.sh ensure_node_examples)"
    if not (EXAMPLES / "node" / "node_modules" / "mqtt").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=EXAMPLES / "node", check=True, timeout=300)
    source = SOURCES["node"]
    check_published(city, run([node, "publish.js"], city.env(source), cwd=EXAMPLES / "node"), source)
