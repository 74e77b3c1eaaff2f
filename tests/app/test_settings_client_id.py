"""The ingestor's default MQTT client id: one persistent session per host and database."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import pytest

from app.settings import Settings
from tests.conftest import Broker, spawn_satupintu, wait_for_log


def client_id(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    for k in ("SATUPINTU_MQTT_CLIENT_ID", "SATUPINTU_DATABASE_URL"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(f"SATUPINTU_{k.upper()}", v)
    return Settings(_env_file=None).mqtt_client_id


def test_two_databases_on_one_host_get_two_ids_and_a_restart_keeps_its_id(monkeypatch: pytest.MonkeyPatch) -> None:
    a = client_id(monkeypatch, database_url="postgresql+psycopg://satu:pw@db.example/kota_a")
    b = client_id(monkeypatch, database_url="postgresql+psycopg://satu:pw@db.example/kota_b")
    host = "".join(c for c in socket.gethostname().lower() if c.isalnum() or c == "-")[:40]
    assert a != b
    assert a.startswith(f"satupintu-ingest-{host}-") and b.startswith(f"satupintu-ingest-{host}-")
    assert a == client_id(monkeypatch, database_url="postgresql+psycopg://satu:pw@db.example/kota_a")  # restart
    # The password is not part of it (a rotated password keeps the session), and the URL's spelling neither.
    assert a == client_id(monkeypatch, database_url="postgres://satu:new-pw@db.example/kota_a")
    assert "pw" not in a.removeprefix(f"satupintu-ingest-{host}-")


def test_one_relative_sqlite_url_in_two_data_directories_gets_two_ids(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ids = []
    for d in ("one", "two"):
        (tmp_path / d).mkdir()
        monkeypatch.chdir(tmp_path / d)
        ids.append(client_id(monkeypatch, database_url="sqlite:///./data/satupintu.db"))
    assert ids[0] != ids[1]


def test_an_explicit_client_id_still_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    assert client_id(monkeypatch, database_url="sqlite:///x.db", mqtt_client_id="ingest-gedung-a") == "ingest-gedung-a"


@pytest.mark.slow
def test_a_fresh_database_on_the_same_host_starts_a_fresh_session(broker: Broker, tmp_path: Path) -> None:
    """Seen before: a second ingestor with its own database connected with "session present: True"."""
    for name, present in (("first", "False"), ("second", "False"), ("first", "True")):
        log = tmp_path / f"{name}-{present}.log"
        ing = spawn_satupintu(
            ["ingest"],
            log,
            database_url=f"sqlite:///{tmp_path / name / 'satupintu.db'}",
            mqtt_url=broker.url,
            ingest_writer="inline",
        )
        try:
            wait_for_log(ing, log, "session present", timeout=60)
            assert f"session present: {present}" in " ".join(log.read_text().split()), (name, log.read_text())
            ing.send_signal(signal.SIGTERM)
            assert ing.wait(30) == 0
        finally:
            if ing.poll() is None:
                ing.kill()
                ing.wait(10)
