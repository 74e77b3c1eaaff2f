"""Signing in with a username and password (`/api/v1/auth/login`, `logout`), on both databases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from app.auth import passwords
from app.settings import Settings
from app.storage.models import TokenRow, UserRow
from tests.app.conftest import auth

PASSWORD = "kata-sandi-rahasia"


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(
        database_url=db_url,
        mqtt_url="mqtt://127.0.0.1:1",
        api_cache_s=0,
        login_free_attempts=3,
        login_lockout_s=60,
        session_hours=8,
    )


def login(client: TestClient, username: str, password: str = PASSWORD, **kw: object):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password}, **kw)


def audit(client: TestClient, admin: str) -> list[dict]:
    return client.get("/api/v1/audit", headers=auth(admin)).json()["items"]


def test_a_user_signs_in_gets_a_token_with_their_role_and_signs_out(
    client: TestClient, add_user: Callable[..., None], tokens: dict[str, str]
) -> None:
    add_user("sari", "viewer")
    r = login(client, " Sari ")  # usernames are compared without case or surrounding spaces
    assert r.status_code == 200
    body = r.json()
    assert (body["username"], body["role"], body["token_type"]) == ("sari", "viewer", "bearer")
    hours = (datetime.fromisoformat(body["expires_at"]) - datetime.now(UTC)).total_seconds() / 3600
    assert 7.9 < hours <= 8
    h = auth(body["token"])
    assert client.get("/api/v1/overview", headers=h).status_code == 200
    assert client.post("/api/v1/alarms/1/ack", json={}, headers=h).status_code == 403  # a viewer watches
    assert client.post("/api/v1/auth/logout", headers=h).json() == {"revoked": True}
    assert client.get("/api/v1/overview", headers=h).status_code == 401
    assert client.post("/api/v1/auth/logout", headers=h).status_code == 401
    # Signing out with an API token leaves the token alone.
    assert client.post("/api/v1/auth/logout", headers=auth(tokens["viewer"])).json() == {"revoked": False}
    assert client.get("/api/v1/overview", headers=auth(tokens["viewer"])).status_code == 200
    rows = audit(client, tokens["admin"])
    assert [(a["action"], a["actor"]) for a in rows[:2]] == [("auth.logout", "sari"), ("auth.login", "sari")]
    listed = client.get("/api/v1/tokens", headers=auth(tokens["admin"])).json()
    session = next(t for t in listed if t["session_of"] == "sari")
    assert session["name"] == "session:sari" and session["revoked_at"] and session["expires_at"]
    assert all(t["expires_at"] is None and t["session_of"] is None for t in listed if t["name"].startswith("test-"))


def test_an_operator_session_acknowledges_as_its_user(client: TestClient, add_user: Callable[..., None]) -> None:
    add_user("budi", "operator")
    token = login(client, "budi").json()["token"]
    # No such alarm, but past the role check: 404, not 403.
    assert client.post("/api/v1/alarms/999/ack", json={}, headers=auth(token)).status_code == 404


def test_wrong_unknown_and_disabled_get_the_same_answer(
    client: TestClient, add_user: Callable[..., None], tokens: dict[str, str]
) -> None:
    add_user("sari", "operator")
    add_user("tono", "viewer")
    client.patch("/api/v1/users/tono", json={"disabled": True}, headers=auth(tokens["admin"]))
    answers = [login(client, "sari", "salah-sandi"), login(client, "nobody"), login(client, "tono")]
    assert {(r.status_code, r.json()["detail"]) for r in answers} == {(401, "wrong username or password")}
    failed = [a for a in audit(client, tokens["admin"]) if a["action"] == "auth.login_failed"]
    assert [a["target"] for a in failed] == ["tono", "nobody", "sari"] and failed[0]["actor"] == "anonymous"


def test_bad_input_is_a_clear_422(client: TestClient) -> None:
    for body in (
        {"username": "sari"},
        {"username": "", "password": "x"},
        {"username": "x" * 65, "password": "x"},
        {"username": "sari", "password": "x" * 1025},
        [1, 2],
    ):
        r = client.post("/api/v1/auth/login", json=body)
        assert r.status_code == 422, body
        assert r.json()["detail"][0]["where"].startswith("body")


def test_repeated_failures_brake_that_username_from_that_client(
    client: TestClient, add_user: Callable[..., None], settings: Settings
) -> None:
    add_user("sari", "operator")
    for _ in range(settings.login_free_attempts):
        assert login(client, "sari", "tebak-tebak").status_code == 401
    r = login(client, "sari")  # even the right password waits now: nothing is checked while braked
    assert r.status_code == 429 and 0 < int(r.headers["Retry-After"]) <= 60
    assert "try again" in r.json()["detail"]
    assert login(client, "sari", headers={}).status_code == 429
    add_user("budi", "viewer")
    assert login(client, "budi").status_code == 200  # another username from the same client is not held back


def test_an_expired_session_is_refused(client: TestClient, add_user: Callable[..., None]) -> None:
    add_user("sari", "viewer")
    token = login(client, "sari").json()["token"]
    with client.app.state.engine.begin() as conn:
        conn.execute(update(TokenRow).where(TokenRow.name == "session:sari").values(expires_ms=1))
    assert client.get("/api/v1/overview", headers=auth(token)).status_code == 401


def test_disabling_or_a_new_password_or_role_ends_the_sessions(
    client: TestClient, add_user: Callable[..., None], tokens: dict[str, str]
) -> None:
    add_user("sari", "viewer")
    admin = auth(tokens["admin"])
    for change in ({"password": "sandi-baru-sekali"}, {"role": "operator"}, {"disabled": True}):
        password = "sandi-baru-sekali" if "role" in change or "disabled" in change else PASSWORD
        token = login(client, "sari", password).json()["token"]
        assert client.get("/api/v1/overview", headers=auth(token)).status_code == 200
        assert client.patch("/api/v1/users/sari", json=change, headers=admin).status_code == 200
        assert client.get("/api/v1/overview", headers=auth(token)).status_code == 401, change
    assert login(client, "sari", "sandi-baru-sekali").status_code == 401  # disabled
    client.patch("/api/v1/users/sari", json={"disabled": False}, headers=admin)
    assert login(client, "sari", "sandi-baru-sekali").json()["role"] == "operator"


def test_a_hash_at_an_old_cost_is_redone_at_sign_in(client: TestClient, add_user: Callable[..., None]) -> None:
    add_user("sari", "viewer")
    engine = client.app.state.engine
    old = passwords.hash_password(PASSWORD, passwords.Cost(n=2**5, r=4, p=1))
    with engine.begin() as conn:
        conn.execute(update(UserRow).where(UserRow.username == "sari").values(password_hash=old))
    assert login(client, "sari").status_code == 200
    with engine.connect() as conn:
        user = conn.execute(select(UserRow).where(UserRow.username == "sari")).one()
    assert user.password_hash != old and not passwords.needs_rehash(user.password_hash)
    assert user.last_login_ms is not None
    assert login(client, "sari").status_code == 200


def test_sessions_that_ended_long_ago_are_pruned_at_the_next_sign_in(
    client: TestClient, add_user: Callable[..., None]
) -> None:
    add_user("sari", "viewer")
    for _ in range(3):
        login(client, "sari")
    day = 86_400_000
    engine = client.app.state.engine
    with engine.begin() as conn:
        ids = (
            conn.execute(select(TokenRow.id).where(TokenRow.name == "session:sari").order_by(TokenRow.id))
            .scalars()
            .all()
        )
        now = int(datetime.now(UTC).timestamp() * 1000)
        conn.execute(update(TokenRow).where(TokenRow.id == ids[0]).values(expires_ms=now - 31 * day))
        conn.execute(update(TokenRow).where(TokenRow.id == ids[1]).values(revoked_ms=now - 31 * day))
        conn.execute(update(TokenRow).where(TokenRow.id == ids[2]).values(revoked_ms=now - 29 * day))
    login(client, "sari")
    with engine.connect() as conn:
        left = conn.execute(select(TokenRow.id).where(TokenRow.name == "session:sari")).scalars().all()
    assert sorted(left)[:1] == [ids[2]] and len(left) == 2  # the recent one stays, with the new session


def test_past_the_sign_ins_checked_at_once_a_sign_in_is_told_to_retry(
    client: TestClient, add_user: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from app.auth import sessions

    add_user("sari", "viewer")
    full = threading.BoundedSemaphore(1)
    full.acquire()  # as if every slot were checking a password
    monkeypatch.setattr(sessions, "_checking", full)
    r = login(client, "sari")
    assert r.status_code == 503 and r.headers["Retry-After"] == "1" and "try again" in r.json()["detail"]
    full.release()
    assert login(client, "sari").status_code == 200


def test_a_username_no_user_can_have_is_refused_like_an_unknown_one(
    client: TestClient, add_user: Callable[..., None], tokens: dict[str, str]
) -> None:
    add_user("sari", "operator")
    # PostgreSQL refuses a NUL byte in any text: the look-up, and the audit row of the failure, must not send it.
    for name in ("sa\x00ri", "sari\x00", "\x00"):
        r = login(client, name)
        assert (r.status_code, r.json()["detail"]) == (401, "wrong username or password"), name
    failed = [a for a in audit(client, tokens["admin"]) if a["action"] == "auth.login_failed"]
    assert [a["target"] for a in failed] == ["\\x00", "sari\\x00", "sa\\x00ri"]  # written out, newest first
