"""City scope (Smart Province, issue 15 part 3): a token or user scoped to another city gets nothing here.

The matrix walks every route of the OpenAPI document with an admin token scoped to `ternate` on this
Morotai deployment: each route that needs a token answers 403, never data. The same token is no caller for
the live WebSocket (closed 4401), and a user's city scope holds for their sign-in sessions.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from app.auth.passwords import hash_password
from app.auth.tokens import create_token
from app.auth.users import create_user
from tests.app.conftest import auth

SAMPLE = {"token_id": "1", "username": "sari", "name": "reading", "ticket_id": "112-1", "alarm_id": "1"}


@pytest.fixture
def scoped(client: TestClient) -> dict[str, str]:
    """Admin tokens scoped to another city, to this deployment's city, and to none (every city)."""
    with client.app.state.engine.begin() as conn:
        return {
            city or "all": create_token(conn=conn, name=f"admin {city}", role="admin", city=city)
            for city in ("ternate", "morotai", None)
        }


def _routes(client: TestClient) -> list[tuple[str, str]]:
    doc = client.get("/openapi.json").json()
    return [
        (m.upper(), path)
        for path, ops in doc["paths"].items()
        for m in ops
        if m in ("get", "post", "patch", "delete", "put")
    ]


def _concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE.get(m[1], "1"), path)


def test_every_route_answers_a_token_of_another_city_403_and_never_data(
    client: TestClient, scoped: dict[str, str]
) -> None:
    routes = _routes(client)
    assert len(routes) > 40
    checked = 0
    for method, path in routes:
        url = _concrete(path)
        anonymous = client.request(method, url, json={})
        if anonymous.status_code != 401:
            continue  # an open route (health, schemas, sign-in): it shows no city's data to anyone
        r = client.request(method, url, json={}, headers=auth(scoped["ternate"]))
        assert r.status_code == 403, (method, path, r.status_code, r.text[:200])
        assert "ternate" in r.json()["detail"]
        checked += 1
    assert checked > 40


def test_a_token_of_this_city_or_of_every_city_sees_it(client: TestClient, scoped: dict[str, str]) -> None:
    for key in ("morotai", "all"):
        r = client.get("/api/v1/overview", headers=auth(scoped[key]))
        assert r.status_code == 200 and r.json()["city"] == "morotai"
    listed = {t["name"]: t["city"] for t in client.get("/api/v1/tokens", headers=auth(scoped["all"])).json()}
    assert listed["admin ternate"] == "ternate" and listed["admin None"] is None


def test_the_live_websocket_closes_on_a_token_of_another_city(client: TestClient, scoped: dict[str, str]) -> None:
    with (
        client.websocket_connect(f"/api/v1/live/ws?token={scoped['ternate']}") as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.receive_text()
    assert closed.value.code == 4401


def test_a_users_city_scope_holds_for_their_sessions_and_the_admin_api_sets_it(
    client: TestClient, scoped: dict[str, str]
) -> None:
    with client.app.state.engine.begin() as conn:
        create_user(
            conn=conn,
            username="rina",
            role="operator",
            password_hash=hash_password("kata-sandi-rina-1"),
            city="ternate",
        )
    r = client.post("/api/v1/auth/login", json={"username": "rina", "password": "kata-sandi-rina-1"})
    assert r.status_code == 200, r.text
    session = r.json()["token"]
    assert client.get("/api/v1/overview", headers=auth(session)).status_code == 403
    made = client.post(
        "/api/v1/users",
        json={"username": "budi", "role": "viewer", "password": "kata-sandi-budi-1", "city": "morotai"},
        headers=auth(scoped["all"]),
    )
    assert made.status_code == 201 and made.json()["city"] == "morotai"
    bad = client.post(
        "/api/v1/tokens", json={"name": "x", "role": "viewer", "city": "Not A City"}, headers=auth(scoped["all"])
    )
    assert bad.status_code == 422
