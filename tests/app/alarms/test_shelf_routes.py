"""Shelf routes on both databases: an admin shelves with a reason, and the shelved source raises nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.app.alarms.evaluation import NOW, RIVER, level
from tests.app.conftest import auth


def test_shelving_a_source_needs_an_admin_and_a_reason_and_stops_new_alarms(client: TestClient, tokens, writer) -> None:
    shelf = {"source_id": RIVER, "minutes": 60, "reason": "kalibrasi sensor"}
    assert client.post("/api/v1/alarm-shelves", json=shelf, headers=auth(tokens["operator"])).status_code == 403
    assert (
        client.post(
            "/api/v1/alarm-shelves", json={"minutes": 5, "reason": "xyz"}, headers=auth(tokens["admin"])
        ).status_code
        == 422
    )
    r = client.post("/api/v1/alarm-shelves", json=shelf, headers=auth(tokens["admin"]))
    assert r.status_code == 201 and r.json()["by"] == "test-admin"
    level(writer, 300, NOW)
    assert client.get("/api/v1/alarms", headers=auth(tokens["viewer"])).json()["total"] == 0
    listed = client.get("/api/v1/alarm-shelves", headers=auth(tokens["viewer"])).json()
    assert [s["reason"] for s in listed] == ["kalibrasi sensor"]
    assert client.delete(f"/api/v1/alarm-shelves/{listed[0]['id']}", headers=auth(tokens["admin"])).status_code == 204
    assert client.get("/api/v1/alarm-shelves", headers=auth(tokens["viewer"])).json() == []
