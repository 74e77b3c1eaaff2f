"""POST /api/v1/validate: the dry run over HTTP on the real app, on both databases; nothing is stored."""

from __future__ import annotations

import time
from collections.abc import Iterator

import orjson
import pytest
from fastapi.testclient import TestClient

from app.auth.tokens import ROLES, create_token
from app.settings import Settings
from satupintu.web import create_app

TABLES = ("readings", "tickets", "ticket_events", "quarantine", "alarms")


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    s = Settings(database_url=db_url, mqtt_url="mqtt://127.0.0.1:1", api_cache_s=0)
    with TestClient(create_app(s)) as c:
        yield c


@pytest.fixture
def tokens(client: TestClient) -> dict[str, str]:
    with client.app.state.engine.begin() as conn:
        return {role: create_token(conn=conn, name=f"test-{role}", role=role) for role in ROLES}


def counts(client: TestClient) -> dict[str, int]:
    with client.app.state.engine.connect() as conn:
        return {t: conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar_one() for t in TABLES}


def post(client: TestClient, token: str, topic: str, body: bytes, ctype: str = "application/json"):
    return client.post(
        "/api/v1/validate",
        params={"topic": topic},
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": ctype},
    )


def test_every_error_of_a_payload_with_two_mistakes(client: TestClient, tokens: dict[str, str]) -> None:
    body = orjson.dumps({"ticket_id": "112-9", "status": "opened", "priority": "urgent", "service": "ambulans"})
    r = post(client, tokens["integrator"], "city/morotai/service/layanan-112", body, "text/plain")
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["ok"] is False and out["kind"] == "ticket"
    assert [(e["reason"], e["path"]) for e in out["errors"]] == [("bad_field", "$.status"), ("bad_field", "$.priority")]
    assert all(e["detail"] and e["detail_id"] for e in out["errors"])


def test_dry_runs_store_nothing_and_warn_of_a_first_sight(client: TestClient, tokens: dict[str, str]) -> None:
    before = counts(client)
    old = time.time() - 14 * 86400  # the docs' old example: it once raised an SLA alarm on the wall
    ticket = {"ticket_id": "112-1", "service": "ambulans", "status": "open", "priority": "critical", "ts": old}
    t = post(client, tokens["integrator"], "city/morotai/service/layanan-112", orjson.dumps(ticket)).json()
    assert t["ok"] is True and [w["reason"] for w in t["warnings"]] == ["time_skew"]
    r = post(client, tokens["integrator"], "city/morotai/sensor/awlr-tes", orjson.dumps({"values": {"waterlevel": 1}}))
    out = r.json()
    assert out["ok"] is True
    assert [w["reason"] for w in out["warnings"]] == ["unknown_metric", "first_sight"]
    assert out["warnings"][0]["nearest"] == ["water_level_cm"]
    bad = post(client, tokens["integrator"], "city/morotai/sensor/awlr-tes", b"{nope").json()
    assert bad["ok"] is False and bad["errors"][0]["reason"] == "bad_json"
    assert counts(client) == before
    with client.app.state.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM sources WHERE source_id = 'awlr-tes'").scalar_one() == 0
    # A source of the profile is known: no first-sight warning.
    known = post(
        client, tokens["viewer"], "city/morotai/sensor/awlr-sungai-pilowo", b'{"values": {"water_level_cm": 3}}'
    )
    assert known.json()["warnings"] == []


def test_validate_needs_a_token_and_refuses_what_it_cannot_read(client: TestClient, tokens: dict[str, str]) -> None:
    assert (
        client.post("/api/v1/validate", params={"topic": "city/morotai/status/a"}, content=b"online").status_code == 401
    )
    r = post(client, tokens["integrator"], "city/morotai/status/a", b"x" * (64 * 1024 + 1))
    assert r.status_code == 413 and "too_large" in r.json()["detail"]
    assert post(client, tokens["integrator"], "x" * 600, b"{}").status_code == 422
    no_topic = client.post("/api/v1/validate", content=b"{}", headers={"Authorization": f"Bearer {tokens['admin']}"})
    assert no_topic.status_code == 422


def test_an_integrator_token_reads_nothing_else(client: TestClient, tokens: dict[str, str]) -> None:
    h = {"Authorization": f"Bearer {tokens['integrator']}"}
    for path in ("/api/v1/overview", "/api/v1/sources", "/api/v1/tickets", "/api/v1/quarantine", "/api/v1/tokens"):
        assert client.get(path, headers=h).status_code == 403, path


def test_a_city_token_dry_runs_its_own_city_only(db_url: str) -> None:
    """Smart Province: a Ternate integrator cannot learn through the dry run which sources Morotai knows."""
    s = Settings(database_url=db_url, mqtt_url="mqtt://127.0.0.1:1", api_cache_s=0, profile="morotai,ternate")
    with TestClient(create_app(s)) as c:
        with c.app.state.engine.begin() as conn:
            ternate = create_token(conn=conn, name="tte-int", role="integrator", city="ternate")
        body = orjson.dumps({"values": {"water_level_cm": 120}})
        refused = post(c, ternate, "city/morotai/sensor/awlr-x", body)
        assert refused.status_code == 403 and "ternate" in refused.json()["detail"]
        own = post(c, ternate, "city/ternate/sensor/awlr-x", body)
        assert own.status_code == 200, own.text
        assert own.json()["ok"] is True
