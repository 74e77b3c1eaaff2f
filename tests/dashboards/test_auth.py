"""The window's sign-in form without a browser: the cookie, the brake shared with the API, sign-out."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.auth.passwords import Cost, hash_password
from app.auth.users import create_user
from app.settings import Settings
from satupintu.web import create_app

PASSWORD = "kata-sandi-rahasia"


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'satupintu.db'}",
        mqtt_url="mqtt://127.0.0.1:1",
        login_free_attempts=2,
        login_lockout_s=30,
        session_hours=2,
    )
    with TestClient(create_app(settings), follow_redirects=False) as c:
        with c.app.state.engine.begin() as conn:
            create_user(
                conn=conn, username="sari", role="operator", password_hash=hash_password(PASSWORD, Cost(16, 8, 1))
            )
        yield c


def post(client: TestClient, **form: str):
    return client.post("/login", data={"next": "/regent", **form})


def test_a_password_sign_in_sets_a_session_cookie_that_lasts_as_long_as_the_session(client: TestClient) -> None:
    r = post(client, username="Sari", password=PASSWORD)
    assert r.status_code == 303 and r.headers["location"] == "/regent"
    cookie = r.headers["set-cookie"]
    assert "satupintu_token=sp_" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert 7190 <= int(re.search(r"Max-Age=(\d+)", cookie).group(1)) <= 7200  # the session's 2 hours, not 90 days
    token = r.cookies["satupintu_token"]
    assert client.get("/api/v1/overview", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    client.cookies.set("satupintu_token", token)
    ask = client.get("/logout")  # a link (or an <img> elsewhere) only shows the sign-out button
    assert ask.status_code == 200 and 'method="post" action="/logout"' in ask.text
    assert client.get("/api/v1/overview", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    out = client.post("/logout", headers={"Origin": "http://testserver"})
    assert out.status_code == 303
    assert client.get("/api/v1/overview", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_the_form_and_the_api_share_one_brake(client: TestClient) -> None:
    assert post(client, username="sari", password="salah-sekali").status_code == 401
    assert client.post("/api/v1/auth/login", json={"username": "sari", "password": "salah-lagi"}).status_code == 401
    r = post(client, username="sari", password=PASSWORD)
    assert r.status_code == 429 and "Terlalu banyak percobaan gagal" in r.text
    assert client.post("/api/v1/auth/login", json={"username": "sari", "password": PASSWORD}).status_code == 429


def test_an_empty_form_is_refused_without_counting(client: TestClient) -> None:
    for _ in range(3):
        r = post(client, username="", password="")
        assert r.status_code == 401 and "Nama pengguna atau kata sandi salah." in r.text
    assert post(client, username="sari", password=PASSWORD).status_code == 303


def test_a_token_link_while_signed_in_asks_before_replacing_the_session(client: TestClient) -> None:
    from app.auth.tokens import create_token

    with client.app.state.engine.begin() as conn:
        wall = create_token(conn=conn, name="Layar dinding", role="viewer")
        other = create_token(conn=conn, name="Operator lain", role="operator")
    r = post(client, username="sari", password=PASSWORD)
    session = r.cookies["satupintu_token"]
    client.cookies.set("satupintu_token", session)
    ask = client.get(f"/?token={wall}")
    assert ask.status_code == 200 and "set-cookie" not in ask.headers and ask.headers["cache-control"] == "no-store"
    assert "Anda sedang masuk sebagai sari (operator)" in ask.text and 'id="switch-confirm"' in ask.text
    assert client.get("/api/v1/overview").status_code == 200  # still sari's session
    # Confirmed (a POST from this page): the link's token takes over.
    done = client.post("/login", data={"token": wall, "next": "/"}, headers={"Origin": "http://testserver"})
    assert done.status_code == 303 and done.cookies["satupintu_token"] == wall
    # The same token again, or a link while signed out, needs no question.
    client.cookies.set("satupintu_token", wall)
    assert client.get(f"/?token={wall}").status_code == 303
    client.cookies.clear()
    assert client.get(f"/?token={other}").status_code == 303


def test_the_sign_in_form_says_what_to_do_when_no_user_exists(tmp_path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'satupintu.db'}", mqtt_url="mqtt://127.0.0.1:1")
    with TestClient(create_app(settings), follow_redirects=False) as c:
        first = c.get("/")
        assert first.status_code == 200 and 'id="login-first-run"' in first.text
        assert "satupintu user add" in first.text and "satupintu up" in first.text
        assert "satupintu user add" in c.get("/?lang=en").text
        with c.app.state.engine.begin() as conn:
            create_user(conn=conn, username="sari", role="admin", password_hash=hash_password(PASSWORD, Cost(16, 8, 1)))
        assert 'id="login-first-run"' not in c.get("/").text
