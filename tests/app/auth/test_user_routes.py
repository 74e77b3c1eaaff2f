"""Admin routes for users (`/api/v1/users`): create, list, change; refused to others; audited."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.app.conftest import auth


def test_an_admin_manages_users_and_every_write_is_audited(client: TestClient, tokens: dict[str, str]) -> None:
    admin = auth(tokens["admin"])
    body = {"username": "sari", "role": "operator", "password": "kata-sandi-rahasia"}
    assert client.post("/api/v1/users", json=body, headers=auth(tokens["operator"])).status_code == 403
    assert client.get("/api/v1/users", headers=auth(tokens["viewer"])).status_code == 403
    r = client.post("/api/v1/users", json=body, headers=admin)
    assert r.status_code == 201
    made = r.json()
    assert (made["username"], made["role"], made["last_login_at"], made["disabled_at"]) == (
        "sari",
        "operator",
        None,
        None,
    )
    assert "password" not in made and "password_hash" not in made
    assert client.post("/api/v1/users", json=body, headers=admin).status_code == 409
    assert client.patch("/api/v1/users/sari", json={"role": "viewer"}, headers=admin).json()["role"] == "viewer"
    r = client.patch("/api/v1/users/sari", json={"disabled": True}, headers=admin)
    assert r.status_code == 200 and r.json()["disabled_at"]
    assert client.patch("/api/v1/users/nobody", json={"disabled": True}, headers=admin).status_code == 404
    assert [u["username"] for u in client.get("/api/v1/users", headers=admin).json()] == ["sari"]
    actions = [(a["action"], a["target"]) for a in client.get("/api/v1/audit", headers=admin).json()["items"][:3]]
    assert actions == [("user.disable", "sari"), ("user.role", "sari"), ("user.create", "sari")]


def test_bad_users_are_refused_clearly(client: TestClient, tokens: dict[str, str]) -> None:
    admin = auth(tokens["admin"])
    for body, where in (
        ({"username": "Sari Dewi", "role": "viewer", "password": "kata-sandi-rahasia"}, "body.username"),
        ({"username": "sari", "role": "boss", "password": "kata-sandi-rahasia"}, "body.role"),
        ({"username": "sari", "role": "viewer", "password": "pendek"}, "body.password"),
        ({"username": "sari", "role": "viewer", "password": "          "}, "body.password"),
    ):
        r = client.post("/api/v1/users", json=body, headers=admin)
        assert r.status_code == 422, body
        assert r.json()["detail"][0]["where"] == where
    assert client.patch("/api/v1/users/BAD NAME", json={}, headers=admin).status_code == 422


def test_an_admin_cannot_disable_the_user_they_are_signed_in_as(client: TestClient, tokens: dict[str, str]) -> None:
    client.post(
        "/api/v1/users",
        json={"username": "root", "role": "admin", "password": "kata-sandi-rahasia"},
        headers=auth(tokens["admin"]),
    )
    token = client.post("/api/v1/auth/login", json={"username": "root", "password": "kata-sandi-rahasia"}).json()[
        "token"
    ]
    r = client.patch("/api/v1/users/root", json={"disabled": True}, headers=auth(token))
    assert r.status_code == 409
    # An admin session does not count as the last admin token: API tokens are what keep an admin in.
    listed = client.get("/api/v1/tokens", headers=auth(token)).json()
    admin_token_id = next(t["id"] for t in listed if t["name"] == "test-admin")
    assert client.delete(f"/api/v1/tokens/{admin_token_id}", headers=auth(token)).status_code == 409
