"""Webhook delivery routes on both databases: dead letters listed for admins and sent again."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.app.conftest import auth


def test_dead_letters_are_listed_for_admins_and_can_be_sent_again(client: TestClient, tokens) -> None:
    engine = client.app.state.engine
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO webhook_deliveries (alarm_id, url, payload, status, attempts, next_ms, claimed_until_ms, "
                "last_error, created_ms, done_ms) VALUES (1, 'http://127.0.0.1:9/x', '{}', 'dead', 8, 0, 0, 'refused', 0, 1)"
            )
        )
    assert client.get("/api/v1/alarm-webhooks", headers=auth(tokens["operator"])).status_code == 403
    dead = client.get("/api/v1/alarm-webhooks?status=dead", headers=auth(tokens["admin"])).json()
    assert dead["total"] == 1 and dead["items"][0]["last_error"] == "refused"
    d = dead["items"][0]["id"]
    assert client.post(f"/api/v1/alarm-webhooks/{d}/retry", headers=auth(tokens["admin"])).status_code == 204
    assert client.get("/api/v1/alarm-webhooks?status=pending", headers=auth(tokens["admin"])).json()["total"] == 1
    assert client.post(f"/api/v1/alarm-webhooks/{d}/retry", headers=auth(tokens["admin"])).status_code == 404
