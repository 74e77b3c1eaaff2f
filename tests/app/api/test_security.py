"""The web process's guards (app.api.security): the origin rule for cookie writes, the body limit, the headers."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from starlette.datastructures import Headers

from app.api.security import parse_origin, script_hashes
from app.auth.tokens import create_token
from app.settings import Settings
from satupintu.web import create_app
from tests.app.conftest import auth

OWN = "http://testserver"
EVIL = "http://testserver:8081"  # another port of the same host: the same *site*, so SameSite=Strict lets it in


@pytest.fixture
def web(tmp_path) -> Iterator[TestClient]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'satupintu.db'}",
        mqtt_url="mqtt://127.0.0.1:1",
        api_cache_s=0,
        max_body_bytes=4096,
        csrf_trusted_origins=["https://portal.example.go.id"],
    )
    with TestClient(create_app(settings), follow_redirects=False) as c:
        with c.app.state.engine.begin() as conn:
            c.app.state.test_tokens = {
                r: create_token(conn=conn, name=f"t-{r}", role=r) for r in ("viewer", "operator", "admin")
            }
        yield c


def _tokens(c: TestClient) -> dict[str, str]:
    return c.app.state.test_tokens


def _new_token(c: TestClient, headers: dict[str, str]) -> int:
    return c.post("/api/v1/tokens", json={"name": "wall", "role": "viewer"}, headers=headers).status_code


def test_a_cookie_write_from_another_origin_is_refused(web: TestClient) -> None:
    web.cookies.set("satupintu_token", _tokens(web)["admin"])
    r = web.post("/api/v1/tokens", json={"name": "wall", "role": "viewer"}, headers={"Origin": EVIL})
    assert r.status_code == 403 and r.json()["detail"][0]["type"] == "csrf"
    assert _new_token(web, {"Referer": EVIL + "/attack.html"}) == 403  # no Origin: the Referer decides
    assert _new_token(web, {"Origin": "null"}) == 403  # a sandboxed frame or a privacy redirect
    assert _new_token(web, {}) == 403  # a cookie write that says nowhere where it comes from
    assert web.delete("/api/v1/tokens/1", headers={"Origin": EVIL}).status_code == 403
    # From the app's own pages, or a configured portal: through.
    assert _new_token(web, {"Origin": OWN}) == 201
    assert _new_token(web, {"Referer": OWN + "/regent"}) == 201
    assert _new_token(web, {"Origin": "https://portal.example.go.id"}) == 201
    # Reads are not writes.
    assert web.get("/api/v1/tokens", headers={"Origin": EVIL}).status_code == 200


def test_bearer_calls_without_the_cookie_are_not_concerned(web: TestClient) -> None:
    assert _new_token(web, {"Origin": EVIL, **auth(_tokens(web)["admin"])}) == 201
    assert _new_token(web, auth(_tokens(web)["admin"])) == 201


def test_the_sign_in_and_sign_out_forms_check_the_origin_even_without_a_cookie(web: TestClient) -> None:
    form = {"username": "sari", "password": "x"}
    assert web.post("/login", data=form, headers={"Origin": EVIL}).status_code == 403
    assert web.post("/login", data=form, headers={"Origin": OWN}).status_code == 401  # checked: a wrong password
    assert web.post("/login", data=form).status_code == 401  # a script without a browser: no Origin, no cookie
    assert web.post("/logout", headers={"Origin": EVIL}).status_code == 403


def test_dash_callbacks_are_writes_too(web: TestClient) -> None:
    web.cookies.set("satupintu_token", _tokens(web)["operator"])
    r = web.post("/_dash-update-component", content=b"{}", headers={"Origin": EVIL, "Content-Type": "application/json"})
    assert r.status_code == 403


def test_origins_compare_scheme_host_and_port() -> None:
    assert parse_origin("http://Example.org") == ("http", "example.org", 80)
    assert parse_origin("https://example.org:443/path?q") == ("https", "example.org", 443)
    assert parse_origin("wss://example.org") == ("https", "example.org", 443)
    assert parse_origin("null") is None and parse_origin("file:///x") is None and parse_origin("http://[::1") is None


def test_a_body_over_the_limit_is_refused_before_it_is_read(web: TestClient) -> None:
    big = {"name": "w" * 5000, "role": "viewer"}
    r = web.post("/api/v1/tokens", json=big, headers=auth(_tokens(web)["admin"]))
    assert r.status_code == 413 and r.json()["detail"][0]["type"] == "too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        yield b'{"name": "'
        for _ in range(10):
            yield b"w" * 1000
        yield b'", "role": "viewer"}'

    headers = {**auth(_tokens(web)["admin"]), "Content-Type": "application/json"}
    assert web.post("/api/v1/tokens", content=chunks(), headers=headers).status_code == 413
    web.cookies.set("satupintu_token", _tokens(web)["operator"])
    dash = {"Origin": OWN, "Content-Type": "application/json"}
    assert web.post("/_dash-update-component", content=chunks(), headers=dash).status_code == 413
    assert web.post("/login", content=b"username=" + b"x" * 5000, headers={"Origin": OWN}).status_code == 413
    # Within the limit: as before.
    assert (
        web.post(
            "/api/v1/tokens", json={"name": "wall", "role": "viewer"}, headers=auth(_tokens(web)["admin"])
        ).status_code
        == 201
    )


PAGES = (
    "/api/health",
    "/api/v1/overview",
    "/docs",
    "/redoc",
    "/openapi.json",
    "/",
    "/login-missing",
    "/api/v1/reports/services",
)


@pytest.mark.parametrize("path", PAGES)
def test_every_answer_carries_the_security_headers(web: TestClient, path: str) -> None:
    web.cookies.set("satupintu_token", _tokens(web)["viewer"])
    h = web.get(path).headers
    csp = h["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp and "object-src 'none'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    assert h["x-content-type-options"] == "nosniff" and h["referrer-policy"] == "same-origin"
    assert h["x-frame-options"] == "DENY"
    assert "strict-transport-security" not in h  # plain HTTP: HSTS would mean nothing (and could lock a LAN out)


def test_over_https_hsts_and_a_secure_cookie(tmp_path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'satupintu.db'}",
        mqtt_url="mqtt://127.0.0.1:1",
        frame_ancestors=["https://portal.example.go.id"],
        token_cookie_days=7,
    )
    with TestClient(create_app(settings), base_url="https://testserver", follow_redirects=False) as c:
        with c.app.state.engine.begin() as conn:
            token = create_token(conn=conn, name="wall", role="viewer")
        h = c.get("/api/health").headers
        assert h["strict-transport-security"].startswith("max-age=")
        assert "frame-ancestors https://portal.example.go.id" in h["content-security-policy"]
        assert "x-frame-options" not in h  # it cannot name the portal; the CSP rule does
        cookie = c.get(f"/?token={token}").headers["set-cookie"]
        assert "Secure" in cookie and "Max-Age=604800" in cookie  # token_cookie_days, not 90 days


def test_the_dashboards_inline_scripts_are_allowed_by_hash_and_nothing_else(web: TestClient) -> None:
    web.cookies.set("satupintu_token", _tokens(web)["viewer"])
    r = web.get("/")
    policy = r.headers["content-security-policy"]
    # The IE notice sits in a conditional comment, which no browser that reads CSP runs.
    executed = script_hashes(r.text.split("<![endif]-->")[-1])
    assert len(executed) >= 2  # the renderer's start and the clientside callbacks
    assert all(h in policy for h in executed)


def test_the_printable_reports_print_button_runs_under_the_policy(web: TestClient) -> None:
    # The policy blocks inline event handlers: the button's `onclick` did nothing; its script is allowed by hash.
    r = web.get("/api/v1/reports/services", headers=auth(_tokens(web)["viewer"]))
    assert r.status_code == 200 and 'class="print"' in r.text
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", r.text)
    scripts = script_hashes(r.text)
    assert scripts and all(h in r.headers["content-security-policy"] for h in scripts)


def test_docs_work_offline(web: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        page = web.get(path).text
        assert "http://" not in page and "https://" not in page and "//cdn" not in page
        for url in [u for u in page.split('"') if u.startswith("/_docs/")]:
            r = web.get(url)
            assert r.status_code == 200 and len(r.content) > 1000
            assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    policy = web.get("/docs").headers["content-security-policy"]
    assert all(h in policy for h in script_hashes(web.get("/docs").text))
    assert web.get("/_docs/../settings.py").status_code == 404
    assert web.get("/_docs/nothing.js").status_code == 404


def test_text_is_compressed_and_assets_are_kept_by_their_version(web: TestClient) -> None:
    r = web.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in web.get("/api/health", headers={"Accept-Encoding": "gzip"}).headers  # < 1 KB
    web.cookies.set("satupintu_token", _tokens(web)["viewer"])
    page = web.get("/").text
    plotly = page.split('name="sp-plotly" content="')[1].split('"')[0]
    assert "?v=" in plotly
    assert web.get(plotly).headers["cache-control"] == "public, max-age=31536000, immutable"
    assert web.get("/assets/style.css").headers["cache-control"] == "no-cache"


def test_metrics_need_a_token_and_bound_the_city_label(web: TestClient) -> None:
    from app.storage.models import IngestMinuteRow

    assert web.get("/metrics").status_code == 401
    with web.app.state.engine.begin() as conn:
        for city in ("morotai", "x1", "x2"):
            conn.execute(
                IngestMinuteRow.__table__.insert().values(city=city, bucket=0, received=2, stored=1, quarantined=1)
            )
    text = web.get("/metrics", headers=auth(_tokens(web)["viewer"])).text
    assert 'satupintu_messages_received_total{city="morotai"} 2.0' in text
    assert 'satupintu_messages_received_total{city="_unknown"} 4.0' in text
    assert "x1" not in text and "x2" not in text


def test_headers_helper_reads_bearer_case_insensitively() -> None:
    from app.auth.lookup import bearer_token

    assert bearer_token(Headers({"Authorization": "bearer abc"})) == "abc"


def test_the_live_stream_is_neither_compressed_nor_held_back_while_text_is(broker, db_url: str) -> None:
    import http.client

    from tests.app.live.test_live import WebServer

    server = WebServer(Settings(database_url=db_url, mqtt_url=broker.url))
    try:
        with server.app.state.engine.begin() as conn:
            token = create_token(conn=conn, name="wall", role="viewer")
        headers = {**auth(token), "Accept-Encoding": "gzip"}
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.request("GET", "/openapi.json", headers=headers)
        text = conn.getresponse()
        assert text.headers["content-encoding"] == "gzip" and text.read()
        conn.request("GET", "/api/v1/live", headers=headers)
        live = conn.getresponse()
        assert live.status == 200 and live.headers["content-encoding"] is None
        first = [live.readline() for _ in range(4)]  # arrives now, event by event: not buffered for compression
        assert b"event: hello\n" in first
        conn.close()
    finally:
        server.stop()


@pytest.mark.parametrize(
    "bad",
    ["portal.example.go.id", "https://x.example; script-src *", "https://x.example/path", "'self'", "javascript:x"],
)
def test_origin_settings_take_plain_origins_only(bad: str) -> None:
    from pydantic import ValidationError

    for name in ("csrf_trusted_origins", "frame_ancestors"):
        with pytest.raises(ValidationError, match="is not an origin"):
            Settings(mqtt_url="mqtt://127.0.0.1:1", **{name: [bad]})
    assert Settings(
        mqtt_url="mqtt://127.0.0.1:1", frame_ancestors=["https://portal.example.go.id/"]
    ).frame_ancestors == ["https://portal.example.go.id"]


def test_a_write_waits_for_the_ingestors_lock_instead_of_failing(tmp_path) -> None:
    # A deferred transaction that reads first cannot be upgraded while another connection writes: SQLite answers
    # "database is locked" at once, without its busy timeout (schemathesis found 500s on ack, comment, PUT source,
    # shelves and users while the ingestor wrote). A write request now takes the lock up front and waits for it.
    import sqlite3
    import threading

    path = tmp_path / "satupintu.db"
    settings = Settings(database_url=f"sqlite:///{path}", mqtt_url="mqtt://127.0.0.1:1", sqlite_busy_timeout_ms=60_000)
    with TestClient(create_app(settings)) as c:
        with c.app.state.engine.begin() as conn:
            admin = create_token(conn=conn, name="a", role="admin")
        ingestor = sqlite3.connect(path, isolation_level=None)
        ingestor.execute("BEGIN IMMEDIATE")
        answers: list[int] = []
        put = threading.Thread(
            target=lambda: answers.append(
                c.put("/api/v1/sources/awlr-x", json={"name": "AWLR X"}, headers=auth(admin)).status_code
            )
        )
        put.start()
        put.join(0.5)  # a failing request answers within this; a waiting one does not
        # The dry run only reads, in an async route: it never waits for the lock (that would stop the event loop).
        dry = c.post("/api/v1/validate", params={"topic": "city/morotai/sensor/awlr-x"}, json={}, headers=auth(admin))
        ingestor.execute("COMMIT")
        ingestor.close()
        put.join()
    assert answers in ([200], [201]) and dry.status_code == 200


def test_the_window_describes_itself_for_search_engines_and_screen_readers(web: TestClient) -> None:
    web.cookies.set("satupintu_token", _tokens(web)["viewer"])
    page = web.get("/").text
    assert '<meta name="description" content="SatuPintu: ruang kendali kota' in page  # Lighthouse SEO audit
