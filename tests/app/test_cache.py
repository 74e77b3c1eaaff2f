"""The web process's response and token caches (app.api.cache): roles kept apart, invalidation, errors, single flight."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient

from app.api.cache import Entry, ResponseCache, TokenCache, changed_kinds, depends_on, invalidate
from app.api.deps import ViewerDep
from app.api.main import create_app
from app.auth.tokens import ROLES, create_token, revoke_token
from app.live import events
from app.live.notices import Notice
from app.settings import Settings
from tests.app.conftest import auth

CALLS: Counter[str] = Counter()


def _app(settings: Settings):  # noqa: ANN202
    """The real app plus probe routes that count how often they really run."""
    app = create_app(settings)

    @app.get("/api/v1/readings/probe")
    def readings_probe(who: ViewerDep) -> dict:
        CALLS["readings"] += 1
        return {"role": who.role, "n": CALLS["readings"]}

    @app.get("/api/v1/tickets-probe")
    def tickets_probe(who: ViewerDep) -> dict:
        CALLS["tickets"] += 1
        return {"role": who.role, "n": CALLS["tickets"]}

    @app.get("/api/v1/failing-probe")
    def failing_probe(_who: ViewerDep) -> dict:
        CALLS["failing"] += 1
        raise HTTPException(503, detail="not now")

    @app.get("/api/v1/slow-probe")
    async def slow_probe(who: ViewerDep) -> dict:
        CALLS["slow"] += 1
        n = CALLS["slow"]
        await asyncio.sleep(0.3)
        return {"role": who.role, "n": n}

    return app


@pytest.fixture
def cached(db_url: str) -> Iterator[TestClient]:
    CALLS.clear()
    settings = Settings(database_url=db_url, mqtt_url="mqtt://127.0.0.1:1", api_cache_s=5, api_token_cache_s=5)
    with TestClient(_app(settings)) as c:
        yield c


@pytest.fixture
def toks(cached: TestClient) -> dict[str, str]:
    with cached.app.state.engine.begin() as conn:
        return {role: create_token(conn=conn, name=f"test-{role}", role=role) for role in ROLES}


def _get(c: TestClient, path: str, token: str, **params) -> httpx.Response:
    return c.get(path, headers=auth(token), params=params)


def test_each_role_gets_its_own_answer_and_a_repeat_is_a_hit(cached: TestClient, toks: dict[str, str]) -> None:
    first = _get(cached, "/api/v1/readings/probe", toks["admin"])
    assert first.json() == {"role": "admin", "n": 1} and "x-cache" not in first.headers
    # A lower role never sees the admin's answer: its own is computed.
    assert _get(cached, "/api/v1/readings/probe", toks["viewer"]).json() == {"role": "viewer", "n": 2}
    again = _get(cached, "/api/v1/readings/probe", toks["viewer"])
    assert again.json() == {"role": "viewer", "n": 2} and again.headers["x-cache"] == "hit"
    assert _get(cached, "/api/v1/readings/probe", toks["admin"]).json() == {"role": "admin", "n": 1}
    # Another query string is another answer.
    assert _get(cached, "/api/v1/readings/probe", toks["viewer"], x=1).json()["n"] == 3
    # Without a valid token: 401, never a cached answer.
    assert cached.get("/api/v1/readings/probe").status_code == 401
    assert cached.get("/api/v1/readings/probe", headers=auth("sp_not-a-token")).status_code == 401
    # The dashboard's cookie is a token too.
    cached.cookies.set("satupintu_token", toks["operator"])
    assert cached.get("/api/v1/readings/probe").json() == {"role": "operator", "n": 4}
    assert cached.get("/api/v1/readings/probe").headers["x-cache"] == "hit"


def test_errors_health_metrics_and_admin_lists_are_not_kept(cached: TestClient, toks: dict[str, str]) -> None:
    for _ in range(2):
        assert _get(cached, "/api/v1/failing-probe", toks["viewer"]).status_code == 503
    assert CALLS["failing"] == 2
    for path in ("/api/health", "/metrics", "/api/v1/tokens", "/api/v1/audit"):
        for _ in range(2):
            r = _get(cached, path, toks["admin"])
            assert r.status_code == 200 and "x-cache" not in r.headers, path


def test_a_change_notice_drops_what_it_names(cached: TestClient, toks: dict[str, str]) -> None:
    hub = cached.app.state.live_hub
    tok = toks["viewer"]
    assert _get(cached, "/api/v1/readings/probe", tok).json()["n"] == 1
    assert _get(cached, "/api/v1/tickets-probe", tok).json()["n"] == 1
    # A notice for another city changes nothing here.
    other = Notice("ternate", 0, readings=(("s1", 1),), tickets=("T1",))
    hub.receive(other.topic, other.payload())
    # Readings changed: the readings answer goes, the tickets answer stays.
    notice = Notice("morotai", 0, readings=(("awlr-1", 3),))
    hub.receive(notice.topic, notice.payload())
    assert _eventually(lambda: _get(cached, "/api/v1/readings/probe", tok).json()["n"] == 2)
    assert _get(cached, "/api/v1/tickets-probe", tok).headers.get("x-cache") == "hit"
    # A ticket event: now the tickets answer goes.
    notice = Notice("morotai", 0, tickets=("A1",))
    hub.receive(notice.topic, notice.payload())
    assert _eventually(lambda: _get(cached, "/api/v1/tickets-probe", tok).json()["n"] == 2)
    assert _get(cached, "/api/v1/readings/probe", tok).headers.get("x-cache") == "hit"


def test_notice_kinds_and_route_dependencies() -> None:
    assert changed_kinds({"v": 1, "at": "x", "city": "c", "readings": [1], "tickets": [], "quarantined": 0}) == {"readings"}
    assert changed_kinds({"v": 1, "at": "x", "something_new": [1]}) >= {"readings", "tickets", "alarms"}
    assert depends_on("/api/v1/overview") >= {"readings", "tickets", "status", "quarantined", "alarms"}
    assert depends_on("/api/v1/services/status") == {"tickets"}
    cache = ResponseCache("morotai", 5)
    cache.put(("/a", "viewer"), Entry(time.monotonic() + 5, [], b"{}"), frozenset({"tickets"}), cache.stamp(frozenset({"tickets"})))
    cache.on_event(events.resync("the hub rejoined the broker"))
    assert cache.get(("/a", "viewer")) is None


def test_an_answer_computed_across_an_invalidation_is_not_kept() -> None:
    now = [100.0]
    cache = ResponseCache("morotai", 2, clock=lambda: now[0])
    kinds = frozenset({"readings"})
    stamp = cache.stamp(kinds)
    cache.invalidate(["readings"])  # a notice arrived while the answer was being computed
    assert not cache.put(("/r", "viewer"), Entry(102.0, [], b"{}"), kinds, stamp)
    assert cache.put(("/r", "viewer"), Entry(102.0, [], b"{}"), kinds, cache.stamp(kinds))
    invalidate("ternate")  # another city's writer: nothing here
    assert cache.get(("/r", "viewer")) is not None
    now[0] = 102.0  # and time alone ends it
    assert cache.get(("/r", "viewer")) is None


def test_writes_through_the_api_clear_answers_and_tokens(cached: TestClient, toks: dict[str, str]) -> None:
    assert _get(cached, "/api/v1/tickets-probe", toks["viewer"]).json()["n"] == 1
    r = cached.post("/api/v1/tokens", json={"name": "wall screen", "role": "viewer"}, headers=auth(toks["admin"]))
    assert r.status_code == 201, r.text
    assert _get(cached, "/api/v1/tickets-probe", toks["viewer"]).json()["n"] == 2
    # Revoked through the API: refused at once, though the token cache knew it a moment ago.
    new_token, new_id = r.json()["token"], r.json()["id"]
    assert _get(cached, "/api/v1/tickets-probe", new_token).status_code == 200
    assert cached.delete(f"/api/v1/tokens/{new_id}", headers=auth(toks["admin"])).status_code == 204
    assert _get(cached, "/api/v1/tickets-probe", new_token).status_code == 401
    # The module-level call, for writes made outside a request.
    assert _get(cached, "/api/v1/tickets-probe", toks["viewer"]).json()["n"] == 3
    assert _get(cached, "/api/v1/tickets-probe", toks["viewer"]).headers.get("x-cache") == "hit"
    invalidate("morotai")
    assert "x-cache" not in _get(cached, "/api/v1/tickets-probe", toks["viewer"]).headers


def test_a_token_revoked_elsewhere_stops_within_the_token_cache_time(engine) -> None:  # noqa: ANN001
    now = [0.0]
    tc = TokenCache(5, clock=lambda: now[0])
    with engine.begin() as conn:
        token = create_token(conn=conn, name="cli", role="viewer")
    who = tc.lookup(engine, token)
    assert who is not None
    with engine.begin() as conn:
        revoke_token(conn=conn, token_id=who.token_id)  # as `satupintu token revoke` does, in another process
    assert tc.lookup(engine, token) == who  # still trusted inside the time
    now[0] = 5.0
    assert tc.lookup(engine, token) is None


def test_concurrent_identical_misses_are_computed_once(cached: TestClient, toks: dict[str, str]) -> None:
    app = cached.app

    async def burst() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            get = lambda tok: c.get("/api/v1/slow-probe", headers=auth(tok))  # noqa: E731
            return await asyncio.gather(*[get(toks["viewer"]) for _ in range(6)], get(toks["admin"]))

    answers = asyncio.run(burst())
    assert all(r.status_code == 200 for r in answers)
    viewer = {r.json()["n"] for r in answers[:6]}
    assert len(viewer) == 1  # six viewers, one computation
    assert answers[6].json()["role"] == "admin" and answers[6].json()["n"] not in viewer
    assert CALLS["slow"] == 2


def _eventually(check, timeout: float = 5.0) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False
