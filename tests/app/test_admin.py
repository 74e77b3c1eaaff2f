"""Admin writes: tokens and sources, each with an audit row; viewers and operators are refused."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.app.conftest import auth


def test_tokens_are_managed_by_admins_and_audited(client: TestClient, tokens: dict[str, str]) -> None:
    assert (
        client.post(
            "/api/v1/tokens", json={"name": "x", "role": "viewer"}, headers=auth(tokens["operator"])
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/api/v1/tokens", json={"name": "\x00", "role": "viewer"}, headers=auth(tokens["admin"])
        ).status_code
        == 422
    )
    assert (
        client.post("/api/v1/tokens", json={"name": "   ", "role": "viewer"}, headers=auth(tokens["admin"])).status_code
        == 422
    )
    r = client.post("/api/v1/tokens", json={"name": "wall lt.2", "role": "viewer"}, headers=auth(tokens["admin"]))
    assert r.status_code == 201
    made = r.json()
    assert made["token"].startswith("sp_") and made["role"] == "viewer"
    assert client.get("/api/v1/overview", headers=auth(made["token"])).status_code == 200
    listed = client.get("/api/v1/tokens", headers=auth(tokens["admin"])).json()
    assert "token" not in listed[0] and {t["name"] for t in listed} >= {"wall lt.2", "test-admin"}
    assert client.delete(f"/api/v1/tokens/{made['id']}", headers=auth(tokens["admin"])).status_code == 204
    assert client.get("/api/v1/overview", headers=auth(made["token"])).status_code == 401
    assert client.delete(f"/api/v1/tokens/{made['id']}", headers=auth(tokens["admin"])).status_code == 404
    audit = client.get("/api/v1/audit", headers=auth(tokens["admin"])).json()["items"]
    assert [a["action"] for a in audit[:2]] == ["token.revoke", "token.create"]
    assert audit[0]["actor"] == "test-admin"
    assert client.get("/api/v1/audit", headers=auth(tokens["viewer"])).status_code == 403


def test_the_last_admin_token_cannot_be_revoked(client: TestClient, tokens: dict[str, str]) -> None:
    admin_id = next(
        t["id"] for t in client.get("/api/v1/tokens", headers=auth(tokens["admin"])).json() if t["role"] == "admin"
    )
    r = client.delete(f"/api/v1/tokens/{admin_id}", headers=auth(tokens["admin"]))
    assert r.status_code == 409


def test_an_admin_registers_a_source_ahead_of_its_first_message(client: TestClient, tokens: dict[str, str]) -> None:
    body = {
        "name": "AWLR Sungai Baru",
        "kind": "water_level",
        "district": "morotai-timur",
        "lat": 2.3,
        "lon": 128.6,
        "interval_s": 60,
    }
    assert client.put("/api/v1/sources/awlr-baru", json=body, headers=auth(tokens["operator"])).status_code == 403
    r = client.put("/api/v1/sources/awlr-baru", json=body, headers=auth(tokens["admin"]))
    assert r.status_code == 201
    src = r.json()
    assert (src["registered"], src["status"], src["district"], src["expected_interval_s"]) == (
        True,
        "offline",
        "morotai-timur",
        60,
    )
    r = client.put("/api/v1/sources/awlr-baru", json={"lat": 2.31}, headers=auth(tokens["admin"]))
    assert r.status_code == 200 and r.json()["lat"] == 2.31 and r.json()["name"] == "AWLR Sungai Baru"
    assert client.put("/api/v1/sources/AWLR BARU", json=body, headers=auth(tokens["admin"])).status_code == 422
    assert client.put("/api/v1/sources/x", json={"lat": 91}, headers=auth(tokens["admin"])).status_code == 422
    assert client.put("/api/v1/sources/x", json={"name": "a\x00b"}, headers=auth(tokens["admin"])).status_code == 422
    # An agency's id is not a source's: both would read city/{city}/rejected/{id} (issue 16, part 8).
    assert client.put("/api/v1/sources/dinas-pupr", json=body, headers=auth(tokens["admin"])).status_code == 409
    actions = [a["action"] for a in client.get("/api/v1/audit", headers=auth(tokens["admin"])).json()["items"]]
    assert actions[:2] == ["source.update", "source.create"]


def test_an_admin_registration_survives_a_restart_with_the_profile_sync(
    client: TestClient, tokens: dict[str, str]
) -> None:
    from app.profile import load_profile
    from app.seed import sync_profile

    client.put("/api/v1/sources/awlr-baru", json={"district": "morotai-timur"}, headers=auth(tokens["admin"]))
    with client.app.state.engine.begin() as conn:
        sync_profile(conn=conn, profile=load_profile("morotai"))
    srcs = client.get(
        "/api/v1/sources", params={"registered": True, "limit": 1000}, headers=auth(tokens["admin"])
    ).json()
    assert "awlr-baru" in {s["source_id"] for s in srcs["items"]}
