"""`satupintu web` believes X-Forwarded-For only from SATUPINTU_TRUSTED_PROXIES (none by default).

Seen through the sign-in brake's client address, which the audit log records
for each failed sign-in: a local caller that rotates X-Forwarded-For must stay
one client, or it is never braked.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from app.storage.engine import make_engine
from app.storage.migrate import upgrade
from app.storage.models import AuditRow
from satupintu.broker import free_port
from tests.conftest import spawn_satupintu

pytestmark = pytest.mark.slow


def _clients_seen(tmp_path: Path, **settings: str) -> list[str]:
    db_url = f"sqlite:///{tmp_path / 'satupintu.db'}"
    engine = make_engine(db_url)
    upgrade(engine)
    port = free_port()
    web = spawn_satupintu(
        ["web", "--port", str(port)],
        tmp_path / "web.log",
        database_url=db_url,
        mqtt_url="mqtt://127.0.0.1:1",
        **settings,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/api/health", timeout=2)
                break
            except httpx.HTTPError:
                if web.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((tmp_path / "web.log").read_text(errors="replace")[-3000:]) from None
                time.sleep(0.2)
        for i in range(2):
            r = httpx.post(
                base + "/api/v1/auth/login",
                json={"username": "nobody", "password": "x"},
                headers={"X-Forwarded-For": f"203.0.113.{i + 1}"},
                timeout=10,
            )
            assert r.status_code == 401
    finally:
        web.terminate()
        web.wait(15)
    with engine.connect() as conn:
        rows = conn.execute(select(AuditRow.detail).where(AuditRow.action == "auth.login_failed")).scalars().all()
    engine.dispose()
    return sorted(rows)


def test_forwarded_addresses_are_ignored_unless_the_proxy_is_trusted(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert _clients_seen(tmp_path / "a") == ["client 127.0.0.1", "client 127.0.0.1"]
    trusted = _clients_seen(tmp_path / "b", trusted_proxies="127.0.0.1")
    assert trusted == ["client 203.0.113.1", "client 203.0.113.2"]
