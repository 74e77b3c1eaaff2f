"""Smart Province in the window, in process (issue 15): one web process, one window per city.

A page is about its `?city=` (else the user's own city, else the home city);
Dash's callbacks about their `X-SatuPintu-City` header (assets/city.js sends
the page's). A Ternate user asking for Morotai's window gets a page saying so
(403), a city not served here 404; a province user gets a city switcher and
the province view. The browser side of the same: test_province_browser.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.auth.lookup import TOKEN_COOKIE
from app.auth.tokens import create_token
from app.settings import Settings
from dashboards.current import HEADER, about, city_of_search, current, query, resolve
from satupintu.web import create_app

OWN = {"Origin": "http://testserver"}  # a callback from the window's own page (writes from elsewhere are refused)


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    tmp: Path = tmp_path_factory.mktemp("cities")
    settings = Settings(
        database_url=f"sqlite:///{tmp / 'satupintu.db'}", mqtt_url="mqtt://127.0.0.1:1", profile="maluku-utara"
    )
    app = create_app(settings)
    with TestClient(app) as client:
        with app.state.engine.begin() as conn:
            tokens = {
                "province": create_token(conn=conn, name="Diskominfo Provinsi", role="viewer"),
                "ternate": create_token(conn=conn, name="Operator Ternate", role="operator", city="ternate"),
                "all": create_token(conn=conn, name="Admin provinsi", role="admin", city="*"),
            }
        yield client, tokens


def _page(client: TestClient, token: str, path: str) -> tuple[int, str]:
    client.cookies.clear()
    client.cookies.set(TOKEN_COOKIE, token)
    r = client.get(path)
    return r.status_code, r.text


def _layout(client: TestClient, token: str, referer: str) -> dict:
    client.cookies.clear()
    client.cookies.set(TOKEN_COOKIE, token)
    r = client.get("/_dash-layout", headers={"Referer": f"http://testserver{referer}"})
    assert r.status_code == 200
    return r.json()


def _texts(node: object) -> list[str]:
    """Every string in a rendered layout."""
    out: list[str] = []
    if isinstance(node, str):
        out.append(node)
    elif isinstance(node, dict):
        for v in node.values():
            out += _texts(v)
    elif isinstance(node, list):
        for v in node:
            out += _texts(v)
    return out


def _header_city(node: object) -> str | None:
    """The city the header names (its `.city` span)."""
    if isinstance(node, dict):
        props = node.get("props")
        if isinstance(props, dict) and props.get("className") == "city":
            return str(props.get("children"))
        node = list(node.values())
    if isinstance(node, list):
        for v in node:
            got = _header_city(v)
            if got is not None:
                return got
    return None


def _hrefs(node: object) -> list[str]:
    if isinstance(node, dict):
        here = [node["props"]["href"]] if isinstance(node.get("props"), dict) and "href" in node["props"] else []
        return here + [h for v in node.values() for h in _hrefs(v)]
    if isinstance(node, list):
        return [h for v in node for h in _hrefs(v)]
    return []


def test_a_page_is_about_its_city_else_the_users_own_else_the_home_city(province) -> None:
    client, tokens = province
    own = _layout(client, tokens["ternate"], "/")
    assert _header_city(own) == "Kota Ternate" and "Kabupaten Pulau Morotai" not in _texts(own)
    assert _header_city(_layout(client, tokens["province"], "/regent")) == "Kabupaten Pulau Morotai"
    asked = _layout(client, tokens["province"], "/?city=halmahera-utara")
    assert _header_city(asked) == "Kabupaten Halmahera Utara"
    # the operator window's data is Halmahera Utara's: its districts on the map, not Morotai's
    assert "Tobelo" in json.dumps(asked) and "Morotai Selatan" not in json.dumps(asked)


def test_a_ternate_user_cannot_open_morotais_window_and_is_told_so(province) -> None:
    client, tokens = province
    status, text = _page(client, tokens["ternate"], "/?city=morotai")
    assert status == 403
    assert 'id="city-refused"' in text and "Kabupaten Pulau Morotai" in text
    assert 'href="/?city=ternate"' in text  # the way to the user's own window
    assert _page(client, tokens["ternate"], "/regent?city=ternate")[0] == 200
    assert _page(client, tokens["ternate"], "/?city=nowhere")[0] == 404
    assert _page(client, tokens["ternate"], "/?city=%3Cscript%3E")[0] == 404
    # and the filled layout for it says the same, with no Morotai data
    body = _texts(_layout(client, tokens["ternate"], "/?city=morotai"))
    assert any("tidak berwenang" in s for s in body)


def test_callbacks_follow_the_city_header_and_refuse_another_citys(province) -> None:
    client, tokens = province
    client.cookies.clear()
    client.cookies.set(TOKEN_COOKIE, tokens["ternate"])
    deps = client.get("/_dash-dependencies").json()
    route = next(d for d in deps if d["output"].startswith("..header.children"))
    body = {
        "output": route["output"],
        "outputs": [
            {"id": o.split(".")[0], "property": o.split(".")[1]} for o in route["output"].strip(".").split("...")
        ],
        "inputs": [{"id": "url", "property": "pathname", "value": "/"}],
        "state": [
            {"id": "url", "property": "search", "value": "?city=morotai"},
            {"id": "rendered", "property": "data", "value": None},
        ],
        "changedPropIds": ["url.pathname"],
    }
    r = client.post("/_dash-update-component", json=body, headers={**OWN, HEADER: "morotai"})
    assert r.status_code == 403 and HEADER in r.text
    assert client.post("/_dash-update-component", json=body, headers={**OWN, HEADER: "atlantis"}).status_code == 400
    body["state"][0]["value"] = "?city=ternate"
    r = client.post("/_dash-update-component", json=body, headers={**OWN, HEADER: "ternate"})
    assert r.status_code == 200, r.text
    assert _header_city(r.json()) == "Kota Ternate"


def test_a_province_user_gets_the_switcher_and_the_province_view_a_city_user_does_not(province) -> None:
    client, tokens = province
    hrefs = _hrefs(_layout(client, tokens["province"], "/?city=ternate"))
    assert "/province" in hrefs
    assert {"/?city=morotai", "/?city=ternate", "/?city=halmahera-utara"} <= set(hrefs)
    assert "/regent?city=ternate" in hrefs  # the navigation keeps the city
    assert "?city=ternate&lang=en" in hrefs
    mine = _hrefs(_layout(client, tokens["ternate"], "/"))
    assert "/province" not in mine and "/?city=morotai" not in mine
    assert _page(client, tokens["province"], "/province")[0] == 200
    assert _header_city(_layout(client, tokens["province"], "/province")) == "Provinsi Maluku Utara"


def test_the_in_process_api_calls_carry_the_requests_city(province) -> None:
    client, _tokens = province
    app = client.app
    c = app.state.dashboard  # type: ignore[attr-defined]
    assert c.city_id == "morotai" and c.profile.city.id == "morotai"
    with about("ternate"):
        assert c.city_id == "ternate" and c.city.profile.city.id == "ternate" and query() == "&city=ternate"
    assert current() is None and query() == ""


def test_resolve_and_search() -> None:
    from app.auth.tokens import Principal
    from app.profile import load_deployment

    dep = load_deployment("maluku-utara")
    ternate = Principal(1, "t", "operator", city="ternate")
    everyone = Principal(2, "p", "viewer")
    assert resolve(dep, ternate, None) == ("ternate", 200)
    assert resolve(dep, everyone, None) == ("morotai", 200)
    assert resolve(dep, ternate, "morotai") == ("morotai", 403)
    assert resolve(dep, everyone, "morotai") == ("morotai", 200)
    assert resolve(dep, everyone, "nowhere")[1] == 404
    assert resolve(dep, everyone, "../x")[1] == 404
    assert city_of_search("?lang=en&city=ternate") == "ternate"
    assert city_of_search("?lang=en") is None and city_of_search(None) is None
    assert json.dumps(resolve(dep, Principal(3, "a", "admin", city="*"), None)) == '["morotai", 200]'


def test_the_api_client_asks_about_the_requests_city_unless_told(province) -> None:
    client, tokens = province
    c = client.app.state.dashboard  # type: ignore[attr-defined]

    async def sources(window: str | None, **kw: object) -> set[str]:
        with about(window):
            items = await c.client.get_all("/api/v1/sources", tokens["province"], **kw)
        return {s["source_id"] for s in items}

    portal = client.portal  # type: ignore[attr-defined]
    ternate = portal.call(sources, "ternate")
    assert "awlr-kali-toboko" in ternate and "awlr-sungai-wayabula" not in ternate
    assert "awlr-sungai-wayabula" in portal.call(sources, None)  # nothing set: the home city (Morotai)
    assert "awlr-sungai-tiabo" in portal.call(lambda: sources("ternate", city="halmahera-utara"))


def test_a_province_wide_operator_acts_as_a_viewer_in_the_window(province) -> None:
    from app.auth.tokens import Principal

    c = province[0].app.state.dashboard  # type: ignore[attr-defined]
    assert c.acting_role(Principal(1, "p", "operator")) == "viewer"  # every city, read-only: the API refuses writes
    assert c.acting_role(Principal(2, "a", "admin", city="*")) == "admin"  # '*' acts on each city
    assert c.acting_role(Principal(3, "t", "operator", city="ternate")) == "operator"
    assert c.acting_role(Principal(4, "v", "viewer")) == "viewer"
