"""City scope (Smart Province, issue 15 part 3): a token or user scoped to another city gets nothing here.

The matrix walks every route of the OpenAPI document with an admin token scoped to `ternate` on this
Morotai deployment: each route that needs a token answers 403, never data. The same token is no caller for
the live WebSocket (closed 4401), and a user's city scope holds for their sign-in sessions.
"""

from __future__ import annotations

import contextlib
import re
import time
from datetime import UTC, datetime
from urllib.parse import quote

import orjson
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from app.api.cache import Entry, ResponseCache
from app.api.main import create_app
from app.auth.passwords import hash_password
from app.auth.tokens import create_token
from app.auth.users import create_user
from app.http.timefmt import now_ms
from app.live.events import Event
from ingest.committer import WritePath
from ingest.messages import Point, Reading, Rejected, TicketEvent
from ingest.writer import Item
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


# --- Two cities in one deployment (SATUPINTU_PROFILE=morotai,ternate) ------------------------------------------

RIVERS = {"morotai": "awlr-sungai-pilowo", "ternate": "awlr-kali-toboko"}
TICKETS = {"morotai": "mor-112-1", "ternate": "ter-112-1"}
# Path parameters that name the other city's things: a Ternate token must not reach them.
MOROTAI_SAMPLE = {**SAMPLE, "source_id": RIVERS["morotai"], "ticket_id": TICKETS["morotai"], "code": "ambulans"}


def _seed(writers: dict[str, WritePath]) -> None:
    """Per city: its river gauge over the major threshold (an alarm), an open ticket, a refused message."""
    now = now_ms()
    for city, river in RIVERS.items():
        w = writers[city]
        reading = Reading(city, river, (Point("water_level_cm", now - 1000, 200.0),))
        w.write([Item(f"city/{city}/sensor/{river}", b"{}", now, reading)])
        ev = TicketEvent(city, "layanan-112", TICKETS[city], "open", now - 60_000, service="ambulans")
        w.write([Item(f"city/{city}/service/layanan-112", b"{}", now, ev)])
        w.write([Item(f"city/{city}/sensor/x", b"{nope", now, Rejected("bad_json", "not JSON", city, "x"))])


@pytest.fixture
def province(two_cities: TestClient, city_writers: dict[str, WritePath]) -> tuple[TestClient, dict[str, str]]:
    """The two-city app with data in both cities, and tokens: per city (admin), province-wide (None), '*'."""
    _seed(city_writers)
    with two_cities.app.state.engine.begin() as conn:
        toks = {
            key: create_token(conn=conn, name=f"admin-{key}", role="admin", city=city)
            for key, city in (("ternate", "ternate"), ("morotai", "morotai"), ("province", None), ("all", "*"))
        }
    opened = two_cities.post(
        "/api/v1/incidents?city=morotai",
        json={"type": "banjir", "title": "Banjir Pilowo", "severity": "major"},
        headers=auth(toks["all"]),
    )
    assert opened.status_code == 201 and opened.json()["id"] == 1, opened.text  # '*' acts on any city
    return two_cities, toks


def test_two_cities_a_city_token_asking_for_the_other_city_gets_403_on_every_route(province) -> None:
    client, toks = province
    checked = 0
    for method, path in _routes(client):
        url = _concrete(path)
        if client.request(method, url, json={}).status_code != 401:
            continue
        sep = "&" if "?" in url else "?"
        r = client.request(method, f"{url}{sep}city=morotai", json={}, headers=auth(toks["ternate"]))
        assert r.status_code == 403, (method, path, r.status_code, r.text[:200])
        checked += 1
    assert checked > 40


def test_two_cities_a_city_token_without_city_sees_its_own_data_only(province) -> None:
    client, toks = province
    h = auth(toks["ternate"])
    checked = 0
    leaks = []
    for method, path in _routes(client):
        if method != "GET" or path == "/api/v1/live":  # the endless stream: tested below
            continue
        url = re.sub(r"\{(\w+)\}", lambda m: MOROTAI_SAMPLE.get(m[1], "1"), path).replace("{fmt}", "json")
        if client.get(url).status_code != 401:
            continue
        r = client.get(url, headers=h)
        if r.status_code >= 500 or "morotai" in r.text.lower():
            leaks.append((path, r.status_code, r.text[:300]))
        checked += 1
    # Routes that need parameters, given the other city's.
    at = datetime.now(tz=UTC).isoformat()
    for url in (
        f"/api/v1/readings/series?metric=water_level_cm&source={RIVERS['morotai']}",
        f"/api/v1/exports/series.csv?metric=water_level_cm&source={RIVERS['morotai']}",
        f"/api/v1/replay/state?at={quote(at)}",
        f"/api/v1/alarms?at={quote(at)}",
        "/api/v1/incidents/1",
        "/api/v1/reports/incidents/1",
    ):
        r = client.get(url, headers=h)
        if r.status_code >= 500 or "morotai" in r.text.lower() or "Pilowo" in r.text:
            leaks.append((url, r.status_code, r.text[:300]))
    assert not leaks, "\n".join(map(str, leaks))
    assert checked > 30
    # ... and it does see its own city's data, without naming it.
    assert client.get("/api/v1/overview", headers=h).json()["city"] == "ternate"
    sources = {s["source_id"] for s in client.get("/api/v1/sources", headers=h).json()["items"]}
    assert RIVERS["ternate"] in sources
    tickets = [t["ticket_id"] for t in client.get("/api/v1/tickets", headers=h).json()["items"]]
    assert tickets == [TICKETS["ternate"]]
    alarms = client.get("/api/v1/alarms", headers=h).json()
    assert alarms["total"] >= 1 and {a["source_id"] for a in alarms["items"]} <= set(sources) | {None}
    assert [c["id"] for c in client.get("/api/v1/cities", headers=h).json()["items"]] == ["ternate"]


def test_two_cities_a_province_token_reads_both_and_writes_nothing_and_a_star_token_writes(province) -> None:
    client, toks = province
    for city in RIVERS:
        for key in ("province", "all"):
            h = auth(toks[key])
            assert client.get(f"/api/v1/overview?city={city}", headers=h).json()["city"] == city
            tickets = [t["ticket_id"] for t in client.get(f"/api/v1/tickets?city={city}", headers=h).json()["items"]]
            assert tickets == [TICKETS[city]]
    assert {c["id"] for c in client.get("/api/v1/cities", headers=auth(toks["province"])).json()["items"]} == {
        "morotai",
        "ternate",
    }
    writes = 0
    for method, path in _routes(client):
        url = _concrete(path)
        if method == "GET" or path == "/api/v1/auth/logout":  # signing out is anybody's (their own session)
            continue
        if client.request(method, url, json={}).status_code != 401:
            continue
        r = client.request(method, f"{url}?city=ternate", json={}, headers=auth(toks["province"]))
        assert r.status_code == 403, (method, path, r.status_code, r.text[:200])
        writes += 1
    assert writes > 15
    for city in RIVERS:
        alarm = client.get(f"/api/v1/alarms?city={city}", headers=auth(toks["all"])).json()["items"][0]
        r = client.post(f"/api/v1/alarms/{alarm['id']}/ack?city={city}", json={}, headers=auth(toks["all"]))
        assert r.status_code == 200, r.text
        # The other city's alarm id is not found through this city.
        other = "ternate" if city == "morotai" else "morotai"
        r = client.get(f"/api/v1/alarms/{alarm['id']}?city={other}", headers=auth(toks["all"]))
        assert r.status_code == 404 or r.json()["source_id"] == RIVERS[other]


def _hello(ws) -> dict:
    hello = orjson.loads(ws.receive_text())
    assert hello["type"] == "hello", hello
    return hello


def test_two_cities_the_live_websocket_streams_the_cities_the_token_may_see(province) -> None:
    client, toks = province
    with (
        client.websocket_connect(f"/api/v1/live/ws?city=morotai&token={toks['ternate']}") as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.receive_text()
    assert closed.value.code == 4403 and "ternate" in closed.value.reason
    with (
        client.websocket_connect(f"/api/v1/live/ws?city=nowhere&token={toks['all']}") as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.receive_text()
    assert closed.value.code == 4403 and "not served" in closed.value.reason

    def notice(city: str) -> Event:
        return Event.make("changes", {"city": city, "kinds": ["readings"], "marker": city}, city=city)

    def heard(ws) -> str:
        return orjson.loads(ws.receive_text())["marker"]

    streams = {
        "ternate": f"token={toks['ternate']}",  # its own city, not named
        "province": f"token={toks['province']}",  # every city
        "province-morotai": f"city=morotai&token={toks['province']}",  # the one it names
        "all": f"token={toks['all']}",
    }
    hellos, sockets = {}, {}
    with contextlib.ExitStack() as stack:
        for key, query in streams.items():
            sockets[key] = stack.enter_context(client.websocket_connect(f"/api/v1/live/ws?{query}"))
            hellos[key] = _hello(sockets[key])
        assert hellos["ternate"]["city"] == "ternate" and hellos["ternate"]["cities"] == ["ternate"]
        assert hellos["province"]["cities"] == ["morotai", "ternate"] and hellos["province"]["city"] is None
        assert hellos["province-morotai"]["city"] == "morotai"
        assert hellos["all"]["cities"] == ["morotai", "ternate"]
        hub = client.app.state.live_hub
        for city in ("morotai", "ternate", "morotai"):
            client.portal.call(hub._offer, notice(city))
        assert heard(sockets["ternate"]) == "ternate"
        assert [heard(sockets["province"]) for _ in range(3)] == ["morotai", "ternate", "morotai"]
        assert [heard(sockets["province-morotai"]) for _ in range(2)] == ["morotai", "morotai"]
        assert [heard(sockets["all"]) for _ in range(3)] == ["morotai", "ternate", "morotai"]
        client.portal.call(hub._offer, notice("ternate"))  # the Ternate socket's next is this one, not Morotai's
        assert heard(sockets["ternate"]) == "ternate"
        client.portal.call(hub._close_all)  # the server ends the streams (as on shutdown): the sockets close
        for ws in sockets.values():
            with pytest.raises(WebSocketDisconnect):
                while True:
                    ws.receive_text()


def test_two_cities_the_live_sse_route_checks_the_city_like_every_route(province) -> None:
    client, toks = province
    r = client.get("/api/v1/live?city=morotai", headers=auth(toks["ternate"]))
    assert r.status_code == 403
    r = client.get("/api/v1/live?city=nowhere", headers=auth(toks["all"]))
    assert r.status_code == 404


def test_two_cities_the_response_cache_keeps_each_citys_answers_apart(
    two_cities_settings, city_writers: dict[str, WritePath]
) -> None:
    _seed(city_writers)
    settings = two_cities_settings.model_copy(update={"api_cache_s": 60.0})
    with TestClient(create_app(settings)) as client:
        with client.app.state.engine.begin() as conn:
            toks = {
                key: create_token(conn=conn, name=f"viewer-{key}", role="viewer", city=city)
                for key, city in (("ternate", "ternate"), ("morotai", "morotai"), ("province", None))
            }
        cache = client.app.state.response_cache

        def overview(key: str, query: str = "") -> tuple[str, str]:
            r = client.get(f"/api/v1/overview{query}", headers=auth(toks[key]))
            assert r.status_code == 200, r.text
            return r.json()["city"], r.headers.get("x-cache", "miss")

        # The same URL, the same role: each token's own city, each computed once and then kept.
        assert overview("morotai") == ("morotai", "miss")
        assert overview("ternate") == ("ternate", "miss")
        assert overview("ternate") == ("ternate", "hit")
        assert overview("morotai") == ("morotai", "hit")
        assert overview("province") == ("morotai", "miss")  # no city named, none of its own: the home city
        # The quarantine spans cities for a caller of every city: its answer is never a city token's.
        for key, cities in (("province", {"morotai", "ternate"}), ("morotai", {"morotai"}), ("province", None)):
            r = client.get("/api/v1/quarantine", headers=auth(toks[key]))
            assert {i["city"] for i in r.json()["items"]} == (cities or {"morotai", "ternate"}), (key, r.text)
        assert r.headers["x-cache"] == "hit"
        assert overview("province", "?city=ternate") == ("ternate", "miss")
        # A kept answer about Morotai is no answer for a Ternate token asking for it.
        assert overview("province", "?city=morotai") == ("morotai", "miss")
        r = client.get("/api/v1/overview?city=morotai", headers=auth(toks["ternate"]))
        assert r.status_code == 403 and "x-cache" not in r.headers
        # A Ternate change notice stales Ternate's answers only.
        notice = Event.make("changes", {"city": "ternate", "tickets": ["ter-112-1"]}, city="ternate")
        before = cache.recomputed
        client.portal.call(cache.on_event, notice)
        client.portal.call(cache.refresh)
        assert overview("morotai")[1] == "hit"
        assert overview("ternate") == ("ternate", "hit")  # computed again before the notice was announced
        assert cache.recomputed > before


def test_the_cache_stales_a_citys_answers_by_its_own_notices_only() -> None:
    cache = ResponseCache("morotai", 60, cities=("morotai", "ternate"))
    kinds = frozenset({"tickets"})
    for city in ("morotai", "ternate", None):  # None: an answer spanning cities (a province caller's quarantine)
        assert cache.put(
            ("/api/v1/tickets?", "viewer", city or "*"),
            Entry(time.monotonic() + 60, [], b"{}"),
            kinds,
            cache.stamp(kinds, city),
            city=city,
        )
    cache.on_event(Event.make("changes", {"city": "halmahera-utara", "tickets": ["x"]}, city="halmahera-utara"))
    assert all(cache.serve(("/api/v1/tickets?", "viewer", c)) is not None for c in ("morotai", "ternate", "*"))
    cache.invalidate(["tickets"], city="ternate")
    assert cache.serve(("/api/v1/tickets?", "viewer", "morotai")) is not None
    assert cache.serve(("/api/v1/tickets?", "viewer", "ternate")) is None
    assert cache.serve(("/api/v1/tickets?", "viewer", "*")) is None
    cache.invalidate(["tickets"])  # every city's (a write through the API)
    assert cache.serve(("/api/v1/tickets?", "viewer", "morotai")) is None


def test_two_cities_open311_takes_the_city_from_jurisdiction_id(province) -> None:
    client, toks = province
    with client.app.state.engine.begin() as conn:
        reporter = create_token(conn=conn, name="reporter-ternate", role="reporter", city="ternate")
    r = client.get("/open311/v2/services.json")
    assert r.status_code == 400 and "jurisdiction_id is required" in r.text  # the spec: several jurisdictions
    r = client.get("/open311/v2/services.json", params={"jurisdiction_id": "nowhere"})
    assert r.status_code == 404 and "morotai, ternate" in r.text
    codes = {
        city: {s["service_code"] for s in client.get(f"/open311/v2/services.json?jurisdiction_id={city}").json()}
        for city in RIVERS
    }
    assert codes["ternate"] and codes["morotai"] and codes["ternate"] != codes["morotai"]
    assert client.get("/open311/v2/discovery.json").status_code == 200  # discovery: the home city's by default
    # A Ternate key reads Ternate's requests and is refused Morotai's; it cannot post to Morotai.
    read = client.get("/open311/v2/requests.json", params={"jurisdiction_id": "morotai", "api_key": reporter})
    assert read.status_code == 403 and "ternate" in read.text
    assert client.get(f"/open311/v2/requests.json?jurisdiction_id=ternate&api_key={reporter}").status_code == 200
    form = {
        "jurisdiction_id": "morotai",
        "api_key": reporter,
        "service_code": "ambulans",
        "lat": "2.3",
        "long": "128.4",
    }
    posted = client.post("/open311/v2/requests.json", data=form)
    assert posted.status_code == 403 and "ternate" in posted.text, posted.text
    form = {**form, "api_key": toks["province"]}
    posted = client.post("/open311/v2/requests.json", data=form)
    assert posted.status_code == 403 and "province-wide" in posted.text, posted.text


def test_two_cities_the_public_page_is_each_citys_by_city(two_cities_settings) -> None:
    settings = two_cities_settings.model_copy(update={"public_page": True})
    with TestClient(create_app(settings)) as client:
        home = client.get("/publik")
        ternate = client.get("/publik?city=ternate")
        assert home.status_code == 200 and ternate.status_code == 200
        assert "Pulau Morotai" in home.text and "Kota Ternate" not in home.text
        assert "Kota Ternate" in ternate.text and "Pulau Morotai" not in ternate.text
        assert client.get("/publik?city=ternate").text == ternate.text  # kept per city
        assert client.get("/publik?city=nowhere").status_code == 404


def test_two_cities_an_admin_grants_only_the_cities_its_own_scope_covers(province) -> None:
    client, toks = province
    ternate, star = auth(toks["ternate"]), auth(toks["all"])

    def token(h: dict[str, str], **body: object):
        return client.post("/api/v1/tokens", json={"name": "t", "role": "viewer", **body}, headers=h)

    for city in ("morotai", "*"):
        r = token(ternate, city=city)
        assert r.status_code == 403 and "ternate only" in r.json()["detail"], r.text
    assert token(ternate).json()["city"] == "ternate"  # what a city admin makes is its city's
    assert token(ternate, city="ternate").status_code == 201
    r = token(star, city="tidore")
    assert r.status_code == 422 and "morotai, ternate" in r.text
    assert token(star, city="*").json()["city"] == "*"
    assert token(star, city="morotai").json()["city"] == "morotai"
    assert token(star).json()["city"] is None  # a province user's token: reads every city, acts on none
    listed = {t["city"] for t in client.get("/api/v1/tokens", headers=ternate).json()}
    assert listed == {"ternate"}
    morotai_token = next(t for t in client.get("/api/v1/tokens", headers=star).json() if t["city"] == "morotai")
    assert client.delete(f"/api/v1/tokens/{morotai_token['id']}", headers=ternate).status_code == 404
    assert client.delete(f"/api/v1/tokens/{morotai_token['id']}", headers=star).status_code == 204

    def user(h: dict[str, str], name: str, **body: object):
        body = {"username": name, "role": "viewer", "password": "kata-sandi-panjang-1", **body}
        return client.post("/api/v1/users", json=body, headers=h)

    assert user(ternate, "budi", city="morotai").status_code == 403
    assert user(ternate, "budi").json()["city"] == "ternate"
    assert user(star, "sari", city="morotai").json()["city"] == "morotai"
    assert [u["username"] for u in client.get("/api/v1/users", headers=ternate).json()] == ["budi"]
    assert client.patch("/api/v1/users/sari", json={"role": "operator"}, headers=ternate).status_code == 404
    assert client.patch("/api/v1/users/sari", json={"role": "operator"}, headers=star).status_code == 200
    # A session carries its user's city: Sari (Morotai) signs in and is refused Ternate.
    session = client.post("/api/v1/auth/login", json={"username": "sari", "password": "kata-sandi-panjang-1"})
    h = auth(session.json()["token"])
    assert client.get("/api/v1/overview", headers=h).json()["city"] == "morotai"
    assert client.get("/api/v1/overview?city=ternate", headers=h).status_code == 403


def test_two_cities_metrics_count_every_city_for_a_token_of_every_city(province) -> None:
    client, toks = province
    assert client.get("/metrics", headers=auth(toks["ternate"])).status_code == 403
    body = client.get("/metrics", headers=auth(toks["province"])).text
    for city in RIVERS:
        assert f'satupintu_messages_received_total{{city="{city}"}}' in body
