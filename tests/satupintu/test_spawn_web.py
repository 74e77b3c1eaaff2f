"""The tests' own harness: `spawn_web` starts the web process again when its port was taken before it bound."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

import tests.conftest as harness
from satupintu.broker import free_port


def test_a_port_taken_before_the_web_process_binds_it_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    ports = iter([taken.getsockname()[1], free_port()])
    monkeypatch.setattr(harness, "free_port", lambda: next(ports))
    log = tmp_path / "web.log"
    try:
        web, base = harness.spawn_web(log, database_url=f"sqlite:///{tmp_path / 'w.db'}", mqtt_url="mqtt://127.0.0.1:1")
        try:
            assert base != f"http://127.0.0.1:{taken.getsockname()[1]}"
            assert httpx.get(base + "/api/health", timeout=5).status_code == 200
            assert "is taken" in log.read_text()  # the first try, on the taken port (web's own check said so)
        finally:
            web.terminate()
            web.wait(15)
    finally:
        taken.close()
