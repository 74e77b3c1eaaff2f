"""Agency scope on tokens and users through the admin API (`agency`), checked against the profile, on both databases;
a scoped user's sign-in session carries the scope to the Open311 personal-data route."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from app.auth.scope import personal_data_refusal
from app.auth.tokens import ROLES, Principal, create_token
from app.open311.store import PERSONAL
from app.storage.models import Open311RequestRow
from tests.app.conftest import auth

PASSWORD = "kata-sandi-rahasia"


def audit(client: TestClient, admin: str, action: str) -> list[tuple[str, str | None]]:
    items = client.get("/api/v1/audit", params={"action": action}, headers=auth(admin)).json()["items"]
    return [(a["target"], a["detail"]) for a in items]


def test_tokens_get_an_agency_of_the_profile_or_a_clear_422(client: TestClient, tokens: dict[str, str]) -> None:
    admin = auth(tokens["admin"])
    made = client.post("/api/v1/tokens", json={"name": "admin PDAM", "role": "admin", "agency": "pdam"}, headers=admin)
    assert made.status_code == 201 and made.json()["agency"] == "pdam"
    plain = client.post("/api/v1/tokens", json={"name": "wall", "role": "viewer"}, headers=admin)
    assert plain.status_code == 201 and plain.json()["agency"] is None
    listed = {t["name"]: t["agency"] for t in client.get("/api/v1/tokens", headers=admin).json()}
    assert (listed["admin PDAM"], listed["wall"]) == ("pdam", None)
    assert ("admin PDAM", "admin; agency pdam") in audit(client, tokens["admin"], "token.create")
    for agency in ("dinas-air", "PDAM", ""):
        bad = client.post("/api/v1/tokens", json={"name": "x", "role": "admin", "agency": agency}, headers=admin)
        assert bad.status_code == 422, agency
        assert bad.json()["detail"][0]["loc"] == ["body", "agency"]
        assert (
            "one of the profile's agencies" in bad.json()["detail"][0]["msg"]
            and "pdam" in bad.json()["detail"][0]["msg"]
        )
    assert (
        client.post(
            "/api/v1/tokens", json={"name": "x", "role": "admin", "agency": "p" * 65}, headers=admin
        ).status_code
        == 422
    )
    assert (
        client.post(
            "/api/v1/tokens", json={"name": "x", "role": "admin", "agency": "pdam"}, headers=auth(tokens["operator"])
        ).status_code
        == 403
    )


def test_an_agency_admin_grants_only_their_own_agency(client: TestClient) -> None:
    with client.app.state.engine.begin() as conn:
        pdam = auth(create_token(conn=conn, name="admin PDAM", role="admin", agency="pdam"))
    other = client.post("/api/v1/tokens", json={"name": "x", "role": "admin", "agency": "dinas-pupr"}, headers=pdam)
    assert other.status_code == 403 and "scoped to pdam" in other.json()["detail"]
    user = {"username": "rina", "role": "admin", "password": PASSWORD, "agency": "dinas-pupr"}
    assert client.post("/api/v1/users", json=user, headers=pdam).status_code == 403
    assert (
        client.post("/api/v1/tokens", json={"name": "y", "role": "admin", "agency": "pdam"}, headers=pdam).status_code
        == 201
    )
    assert client.post("/api/v1/tokens", json={"name": "z", "role": "viewer"}, headers=pdam).status_code == 201


def test_users_get_and_change_an_agency_and_their_session_carries_it(
    client: TestClient, tokens: dict[str, str], add_user: Callable[..., None]
) -> None:
    admin = auth(tokens["admin"])
    bad = {"username": "rina", "role": "admin", "password": PASSWORD, "agency": "dinas-air"}
    r = client.post("/api/v1/users", json=bad, headers=admin)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "agency"]
    r = client.post("/api/v1/users", json={**bad, "agency": "pdam"}, headers=admin)
    assert r.status_code == 201 and r.json()["agency"] == "pdam"
    assert ("rina", "admin; agency pdam") in audit(client, tokens["admin"], "user.create")
    with client.app.state.engine.begin() as conn:
        conn.execute(
            Open311RequestRow.__table__.insert().values(
                token="t1", city="morotai", ticket_id="o311-1", agency="pdam", created_ms=1, first_name="Budi"
            )
        )
    url = "/api/v1/open311/requests/o311-1/personal"
    session = client.post("/api/v1/auth/login", json={"username": "rina", "password": PASSWORD}).json()["token"]
    got = client.get(url, headers=auth(session))
    assert got.status_code == 200 and got.json()["first_name"] == "Budi"
    assert audit(client, tokens["admin"], "open311.personal.read") == [("o311-1", "agency pdam; caller's scope pdam")]
    # Another agency: the sessions carrying the old scope end, and the next one is refused.
    assert client.patch("/api/v1/users/rina", json={"agency": "dinas-air"}, headers=admin).status_code == 422
    r = client.patch("/api/v1/users/rina", json={"agency": "dinas-pupr"}, headers=admin)
    assert r.status_code == 200 and r.json()["agency"] == "dinas-pupr"
    assert client.get(url, headers=auth(session)).status_code == 401
    assert audit(client, tokens["admin"], "user.agency")[0] == ("rina", "pdam -> dinas-pupr; 1 sessions ended")
    session = client.post("/api/v1/auth/login", json={"username": "rina", "password": PASSWORD}).json()["token"]
    assert client.get(url, headers=auth(session)).status_code == 403
    # Leaving `agency` out of a PATCH keeps it; sending null makes the user city-wide again.
    assert client.patch("/api/v1/users/rina", json={"role": "operator"}, headers=admin).json()["agency"] == "dinas-pupr"
    assert client.patch("/api/v1/users/rina", json={"agency": None}, headers=admin).json()["agency"] is None
    listed = {u["username"]: u["agency"] for u in client.get("/api/v1/users", headers=admin).json()}
    assert listed == {"rina": None}


@pytest.mark.parametrize("role", ROLES)
def test_only_an_admin_of_the_requests_agency_may_read_its_personal_data(role: str) -> None:
    for agency in (None, "pdam", "dinas-pupr"):
        who = Principal(1, "t", role, agency=agency)  # type: ignore[arg-type]
        refusal = personal_data_refusal(who, "pdam")
        assert (refusal is None) == (role == "admin" and agency == "pdam"), (role, agency)
        if refusal:
            assert "pdam" in refusal


def test_personal_fields_are_the_four_of_the_issue() -> None:
    assert set(PERSONAL) == {"email", "phone", "first_name", "last_name"}
