"""Dash's routes answer bad input with 4xx (dashboards.guard), never Dash's 500, and never a file outside the assets."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from fastapi.testclient import TestClient

from app.auth.tokens import create_token
from app.settings import Settings
from dashboards.guard import on_callback_error
from satupintu.web import create_app

UPDATE = "/_dash-update-component"
OWN = {"Origin": "http://testserver", "Content-Type": "application/json"}


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'satupintu.db'}", mqtt_url="mqtt://127.0.0.1:1")
    with TestClient(create_app(settings), follow_redirects=False) as c:
        with c.app.state.engine.begin() as conn:
            c.cookies.set("satupintu_token", create_token(conn=conn, name="wall", role="viewer"))
        yield c


def _route_output(c: TestClient) -> str:
    return next(k for k in c.app.state.dash.callback_map if k.startswith("..header.children"))


@pytest.mark.parametrize("body", [b"{}", b"[]", b"null", b"garbage", b"\xff\xfe", b'{"output": 1}', b'"x"', b"12"])
def test_malformed_callback_bodies_are_400(client: TestClient, body: bytes) -> None:
    r = client.post(UPDATE, content=body, headers=OWN)
    assert r.status_code == 400 and r.json()["detail"][0]["where"] == "body"


def test_callback_requests_that_do_not_fit_the_callback_are_400(client: TestClient) -> None:
    out = _route_output(client)
    good_inputs = [{"id": "url", "property": "pathname", "value": "/"}]
    good_state = [
        {"id": "url", "property": "search", "value": ""},
        {"id": "rendered-page", "property": "data", "value": None},
    ]
    for body in (
        {"output": "nope.children", "inputs": good_inputs, "state": good_state},
        {"output": out, "inputs": "x", "state": good_state},
        {"output": out, "inputs": [1], "state": good_state},
        {"output": out, "inputs": [], "state": good_state},
        {"output": out, "inputs": good_inputs, "state": good_state, "changedPropIds": "url.pathname"},
        {"output": out, "outputs": [], "inputs": good_inputs, "state": good_state},
        {
            "output": out,
            "outputs": {"id": "header", "property": "children"},
            "inputs": good_inputs,
            "state": good_state,
        },
    ):
        assert client.post(UPDATE, json=body, headers=OWN).status_code == 400, body
    outputs = [
        {"id": i, "property": p}
        for i, p in (
            ("header", "children"),
            ("page", "children"),
            ("session", "data"),
            ("app-root", "className"),
            ("conn-banner", "children"),
            ("conn-banner", "className"),
            ("rendered-page", "data"),
        )
    ]
    ok = {
        "output": out,
        "outputs": outputs,
        "inputs": good_inputs,
        "state": good_state,
        "changedPropIds": ["url.pathname"],
    }
    r = client.post(UPDATE, json=ok, headers=OWN)  # a real callback request still runs
    assert r.status_code == 200 and r.json()["response"]["session"]["data"]["role"] == "viewer"


def test_an_anonymous_callback_is_401_and_a_get_405(client: TestClient) -> None:
    assert client.get(UPDATE).status_code == 405
    client.cookies.clear()
    assert client.post(UPDATE, content=b"{}", headers=OWN).status_code == 401
    client.cookies.set("satupintu_token", "sp_not-a-token")
    assert client.post(UPDATE, content=b"{}", headers=OWN).status_code == 401


@pytest.mark.parametrize(
    "path",
    [
        "/_dash-component-suites/dash/../../etc/passwd",
        "/_dash-component-suites/dash/..%2f..%2f..%2fetc%2fpasswd",
        "/_dash-component-suites/dash/deps/..%2f..%2f__init__.py",
        "/_dash-component-suites/dash/__init__.py",
        "/_dash-component-suites/os/path.py",
        "/_dash-component-suites/nope/x.js",
        "/_dash-component-suites/dash",
    ],
)
def test_component_suite_paths_outside_the_registered_files_are_404(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404 and "root:" not in r.text and "import" not in r.text


def test_registered_component_files_are_still_served(client: TestClient) -> None:
    page = client.get("/").text
    suite = next(p for p in page.split('"') if p.startswith("/_dash-component-suites/dash/dcc/"))
    r = client.get(suite)
    assert r.status_code == 200 and len(r.content) > 1000


def _outputs(output: str) -> list[dict] | dict:
    """The `outputs` field the browser sends for a callback's `output` key."""

    def one(part: str) -> dict:
        cid, _, prop = part.rpartition(".")
        return {"id": orjson.loads(cid) if cid.startswith("{") else cid, "property": prop.split("@")[0]}

    return [one(p) for p in output.strip(".").split("...")] if output.startswith("..") else one(output)


def _values_body(output: str, cb: dict, value: object) -> dict:
    def dep(spec: dict) -> dict:
        return {"id": spec["id"], "property": spec["property"], "value": value}

    return {
        "output": output,
        "outputs": _outputs(output),
        "inputs": [dep(s) for s in cb["inputs"]],
        "state": [dep(s) for s in cb["state"]],
        "changedPropIds": [],
    }


@pytest.mark.parametrize("value", [None, 1, "x", [], {}, True, [1, "a"]])
def test_every_callback_answers_values_of_the_wrong_type_with_4xx(client: TestClient, value: object) -> None:
    # Dash answered 500 for each callback that raised on them, and for the callbacks that run in the browser.
    failed = {}
    for output, cb in client.app.state.dash.callback_map.items():
        r = client.post(UPDATE, json=_values_body(output, cb, value), headers=OWN)
        if r.status_code >= 500 or (r.status_code == 400 and r.json()["detail"][0]["where"] != "body"):
            failed[output] = r.status_code
    assert not failed


def test_a_callback_that_runs_in_the_browser_is_400(client: TestClient) -> None:
    output, cb = next((o, cb) for o, cb in client.app.state.dash.callback_map.items() if "callback" not in cb)
    r = client.post(UPDATE, json=_values_body(output, cb, None), headers=OWN)
    assert r.status_code == 400 and "browser" in r.json()["detail"][0]["problem"]


def test_a_failure_that_is_not_about_the_values_stays_a_5xx(client: TestClient, monkeypatch) -> None:
    from sqlalchemy.exc import OperationalError

    def down(*_a, **_k):  # as Dash's wrapper does when the callback raises
        on_callback_error(OperationalError("select", {}, Exception("database is down")))

    output = _route_output(client)
    body = {
        "output": output,
        "outputs": _outputs(output),
        "inputs": [{"id": "url", "property": "pathname", "value": "/"}],
        "state": [
            {"id": "url", "property": "search", "value": ""},
            {"id": "rendered-page", "property": "data", "value": None},
        ],
        "changedPropIds": ["url.pathname"],
    }
    monkeypatch.setitem(client.app.state.dash.callback_map[output], "callback", down)
    r = client.post(UPDATE, json=body, headers=OWN)
    assert r.status_code == 500, r.text


def test_the_windows_callbacks_refuse_a_token_scoped_to_another_city(client: TestClient) -> None:
    """Smart Province (issue 15): a Ternate session is no caller for the Morotai window, like no session at all."""
    with client.app.state.engine.begin() as conn:
        client.cookies.set("satupintu_token", create_token(conn=conn, name="ternate", role="admin", city="ternate"))
    assert client.post(UPDATE, content=b"{}", headers=OWN).status_code == 401
    with client.app.state.engine.begin() as conn:
        client.cookies.set("satupintu_token", create_token(conn=conn, name="morotai", role="viewer", city="morotai"))
    assert client.post(UPDATE, content=b"{}", headers=OWN).status_code == 400, "past the guard: judged on its body"
