"""The web process's response cache (app.api.cache; the token cache is tested in tests/app/auth/test_lookup.py): roles kept apart, invalidation, errors, single flight."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import orjson
import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient

from app.api.cache import Entry, ResponseCache
from app.api.main import DEPENDS_ON, create_app
from app.auth.deps import ViewerDep
from app.auth.tokens import ROLES, create_token, revoke_token
from app.live import events
from app.live.hub import Hub
from app.live.notices import Notice, changed_kinds
from app.settings import Settings
from tests.app.conftest import auth

CALLS: Counter[str] = Counter()


def _app(settings: Settings):
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

    @app.get("/api/v1/readings/big-probe")
    def big_readings_probe(who: ViewerDep) -> dict:
        CALLS["big"] += 1
        return {"role": who.role, "n": CALLS["big"], "pad": "x" * 4096}  # over GZip's 1 KB

    @app.get("/api/v1/failing-probe")
    def failing_probe(_who: ViewerDep) -> dict:
        CALLS["failing"] += 1
        raise HTTPException(503, detail="not now")

    @app.get("/api/v1/readings/slow-probe")
    async def slow_readings_probe(who: ViewerDep) -> dict:
        CALLS["slow-readings"] += 1
        n = CALLS["slow-readings"]
        await asyncio.sleep(0.2)
        return {"role": who.role, "n": n}

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


def test_a_kept_answer_is_replayed_with_its_own_headers_compressed_or_not(
    cached: TestClient, toks: dict[str, str]
) -> None:
    # The kept headers were the ones GZip had rewritten in place (Content-Encoding: gzip, the compressed length):
    # a hit sent the plain body under them, and uvicorn broke the connection ("longer than Content-Length").
    gz = {**auth(toks["viewer"]), "Accept-Encoding": "gzip"}
    first = cached.get("/api/v1/readings/big-probe", headers=gz)
    assert first.headers["content-encoding"] == "gzip" and first.json()["n"] == 1
    for encoding, compressed in (("gzip", True), ("identity", False)):
        r = cached.get("/api/v1/readings/big-probe", headers={**gz, "Accept-Encoding": encoding})
        assert r.headers["x-cache"] == "hit" and r.json()["n"] == 1
        assert (r.headers.get("content-encoding") == "gzip") is compressed
        length = int(r.headers["content-length"])
        assert length < 4096 if compressed else length == len(r.content)


def test_errors_health_metrics_and_admin_lists_are_not_kept(cached: TestClient, toks: dict[str, str]) -> None:
    for _ in range(2):
        assert _get(cached, "/api/v1/failing-probe", toks["viewer"]).status_code == 503
    assert CALLS["failing"] == 2
    for path in ("/api/health", "/metrics", "/api/v1/tokens", "/api/v1/audit", "/api/v1/users"):
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
    assert changed_kinds({"v": 1, "at": "x", "city": "c", "readings": [1], "tickets": [], "quarantined": 0}) == {
        "readings"
    }
    assert changed_kinds({"v": 1, "at": "x", "something_new": [1]}) >= {"readings", "tickets", "alarms"}
    assert DEPENDS_ON("/api/v1/overview") >= {"readings", "tickets", "status", "quarantined", "alarms"}
    assert DEPENDS_ON("/api/v1/services/status") == {"tickets"}
    cache = ResponseCache("morotai", 5)
    cache.put(
        ("/a", "viewer"),
        Entry(time.monotonic() + 5, [], b"{}"),
        frozenset({"tickets"}),
        cache.stamp(frozenset({"tickets"})),
    )
    cache.on_event(events.resync("the hub rejoined the broker"))
    assert cache.serve(("/a", "viewer")) is None


def test_an_answer_computed_across_an_invalidation_is_not_kept() -> None:
    now = [100.0]
    cache = ResponseCache("morotai", 2, clock=lambda: now[0])
    kinds = frozenset({"readings"})
    stamp = cache.stamp(kinds)
    cache.invalidate(["readings"])  # a notice arrived while the answer was being computed
    assert not cache.put(("/r", "viewer"), Entry(102.0, [], b"{}"), kinds, stamp)
    assert cache.put(("/r", "viewer"), Entry(102.0, [], b"{}"), kinds, cache.stamp(kinds))
    assert cache.serve(("/r", "viewer")) is not None
    now[0] = 102.0  # and time alone ends it
    assert cache.serve(("/r", "viewer")) is None


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
    assert _get(cached, "/api/v1/tickets-probe", toks["viewer"]).json()["n"] == 3
    assert _get(cached, "/api/v1/tickets-probe", toks["viewer"]).headers.get("x-cache") == "hit"


def test_the_windows_callbacks_are_not_writes(cached: TestClient, toks: dict[str, str]) -> None:
    assert _get(cached, "/api/v1/tickets-probe", toks["viewer"]).json()["n"] == 1
    cached.post("/_dash-update-component", content=b"{}", headers={"Content-Type": "application/json"})
    again = _get(cached, "/api/v1/tickets-probe", toks["viewer"])
    assert again.headers.get("x-cache") == "hit" and again.json()["n"] == 1


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


def _eventually(check, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


# ----------------------------------------------------------------------------- answers kept fresh under notices


def _reading_notice(source: str = "awlr-1") -> Notice:
    return Notice("morotai", time.time_ns() // 1_000_000, readings=((source, 1),))


class _NoBroker:
    """A paho stand-in: the hub under test is fed through `receive`, as paho's thread would."""

    def __init__(self, *_a, **_k) -> None:
        pass

    def __getattr__(self, _name: str):
        return lambda *a, **k: None


async def _wired(app) -> tuple[Hub, httpx.AsyncClient]:
    """The app's cache behind a hub, as the app's lifespan wires them, and a client for the app."""
    hub = Hub(app.state.settings, client_factory=_NoBroker)
    hub.start()
    cache = app.state.response_cache
    hub.listeners.append(cache.on_event)
    hub.before_announce.append(cache.refresh)
    return hub, httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


def test_a_read_answer_is_computed_again_before_the_notice_is_announced(db_url: str) -> None:
    CALLS.clear()
    app = _app(Settings(database_url=db_url, mqtt_url="mqtt://127.0.0.1:1", api_cache_s=5))
    with app.state.engine.begin() as conn:
        tok = create_token(conn=conn, name="wall", role="viewer")

    async def main() -> None:
        hub, c = await _wired(app)
        get = lambda: c.get("/api/v1/readings/slow-probe", headers=auth(tok))  # noqa: E731
        unread = lambda: c.get("/api/v1/readings/probe", headers=auth(tok))  # noqa: E731
        assert (await get()).json()["n"] == 1
        assert (await get()).headers["x-cache"] == "hit"  # read: worth computing ahead
        assert (await unread()).json()["n"] == 1  # computed, never read again: not worth it
        stream = hub.stream("morotai")
        assert (await anext(stream)).type == "hello"
        notice = _reading_notice()
        await asyncio.to_thread(hub.receive, notice.topic, notice.payload())
        # The notice is not announced yet; meanwhile readers get the answer as it was, marked stale.
        during = await get()
        assert during.json()["n"] == 1 and during.headers["x-cache"] == "stale"
        ev = await asyncio.wait_for(anext(stream), 5)
        assert ev.type == "changes"
        # Announced only once the answer was computed again: whoever heard of the change reads it.
        assert CALLS["slow-readings"] == 2
        after = await get()
        assert after.json()["n"] == 2 and after.headers["x-cache"] == "hit"
        # The unread answer was dropped, not computed ahead: its next reader computes it.
        assert CALLS["readings"] == 1
        again = await unread()
        assert again.json()["n"] == 2 and "x-cache" not in again.headers
        # Notices arriving while a batch is prepared wait for it and go out in order; a computation covers
        # every notice that came before it started, so each notice costs at most one more.
        notices = [_reading_notice(f"awlr-{i}") for i in range(3)]
        for n in notices:
            await asyncio.to_thread(hub.receive, n.topic, n.payload())
        got = [await asyncio.wait_for(anext(stream), 5) for _ in notices]
        assert [orjson.loads(e.text)["readings"][0]["source_id"] for e in got] == ["awlr-0", "awlr-1", "awlr-2"]
        assert CALLS["slow-readings"] <= 2 + len(notices)
        last = await get()
        assert last.headers["x-cache"] == "hit" and last.json()["n"] == CALLS["slow-readings"]
        await stream.aclose()
        hub.stop()
        await c.aclose()

    asyncio.run(main())


def test_an_answer_past_its_time_is_served_while_it_is_computed_again(db_url: str) -> None:
    CALLS.clear()
    app = _app(Settings(database_url=db_url, mqtt_url="mqtt://127.0.0.1:1", api_cache_s=2))
    now = [1000.0]
    app.state.response_cache.clock = lambda: now[0]
    with app.state.engine.begin() as conn:
        tok = create_token(conn=conn, name="wall", role="viewer")

    async def main() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            get = lambda: c.get("/api/v1/readings/slow-probe", headers=auth(tok))  # noqa: E731
            assert (await get()).json()["n"] == 1
            now[0] += 2.5  # past its 2 s, within as long again: served, and computed again behind it
            late = await get()
            assert late.json()["n"] == 1 and late.headers["x-cache"] == "stale"
            for _ in range(100):
                await asyncio.sleep(0.05)
                if CALLS["slow-readings"] == 2 and not app.state.response_cache.inflight:
                    break
            again = await get()
            assert again.json()["n"] == 2 and again.headers["x-cache"] == "hit"
            now[0] += 4.5  # past twice its time: too old to serve, the reader waits for a fresh one
            old = await get()
            assert old.json()["n"] == 3 and "x-cache" not in old.headers

    asyncio.run(main())


def test_a_recomputation_that_fails_or_is_too_slow_drops_the_answer(db_url: str) -> None:
    CALLS.clear()
    app = _app(Settings(database_url=db_url, mqtt_url="mqtt://127.0.0.1:1", api_cache_s=5, api_token_cache_s=0))
    with app.state.engine.begin() as conn:
        tok = create_token(conn=conn, name="wall", role="viewer")
        other = create_token(conn=conn, name="other wall", role="viewer")
    cache = app.state.response_cache

    async def main() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            get = lambda t: c.get("/api/v1/readings/slow-probe", headers=auth(t))  # noqa: E731
            assert (await get(tok)).json()["n"] == 1
            assert (await get(tok)).headers["x-cache"] == "hit"
            # Too slow for the time a notice may wait: dropped before the notice would be announced.
            cache.invalidate(["readings"], recompute=True)
            await cache.refresh(timeout_s=0.05)
            assert cache.entries == {}
            r = await get(tok)
            assert r.headers.get("x-cache") is None and r.json()["n"] >= 2
            assert (await get(tok)).headers["x-cache"] == "hit"
            # The token that asked is revoked: its request, run again, is refused, so the answer goes.
            with app.state.engine.begin() as conn:
                revoke_token(conn=conn, token_id=app.state.token_cache.lookup(app.state.engine, tok).token_id)
            cache.invalidate(["readings"], recompute=True)
            await cache.refresh()
            assert cache.entries == {}
            assert (await get(tok)).status_code == 401
            fresh = await get(other)
            assert fresh.status_code == 200 and "x-cache" not in fresh.headers

    asyncio.run(main())
