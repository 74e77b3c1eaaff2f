"""The private Dash parts the window relies on (issue 10.8): an upgrade that moves them fails here, loudly.

pyproject pins dash to the minor version these were checked on. dashboards/app.py
replaces `backend._setup_catchall` (Dash's catch-all would answer every unknown GET,
an /api typo included, with the index page), renders the first layout with
`dash._utils.to_json`, and sets Dash's request context with
`dash.backends._fastapi.set_current_request`; dashboards/guard.py reads
`callback_map`, `registered_paths`, `_setup_server` and `dash.fingerprint.check_fingerprint`.
"""

from __future__ import annotations

import inspect
import json

import dash
import dash.backends._fastapi as dash_fastapi
from dash import html
from dash._utils import to_json
from dash.fingerprint import check_fingerprint
from fastapi.testclient import TestClient

from app.settings import Settings
from satupintu.web import create_app


def test_the_installed_dash_is_the_pinned_minor() -> None:
    assert dash.__version__.startswith("4.4."), f"dash {dash.__version__}: re-check the private parts, then the pin"


def test_the_private_names_still_exist_with_the_shapes_we_use() -> None:
    assert callable(dash_fastapi.FastAPIDashServer._setup_catchall)
    assert "_setup_catchall" in inspect.getsource(
        dash_fastapi
    )  # called by Dash's lifespan: our no-op must be what runs
    assert callable(dash_fastapi.set_current_request) and callable(dash_fastapi.reset_current_request)
    assert json.loads(to_json(html.Div("x"))) == {
        "props": {"children": "x"},
        "type": "Div",
        "namespace": "dash_html_components",
    }
    assert check_fingerprint("dcc/dash_core_components.v4_4_1m1.js") == ("dcc/dash_core_components.js", True)
    assert callable(dash.Dash.csp_hashes) and callable(dash.Dash._setup_server)


def test_the_catch_all_stays_off_and_the_guarded_attributes_are_filled(tmp_path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'satupintu.db'}", mqtt_url="mqtt://127.0.0.1:1")
    with TestClient(create_app(settings)) as c:  # the lifespan is where Dash calls _setup_catchall
        r = c.get("/api/v1/no-such-route")
        assert r.status_code == 404 and "react-entry-point" not in r.text
        assert c.get("/anything-else").status_code == 404
        app = c.app.state.dash
        assert isinstance(app.callback_map, dict) and app.callback_map
        assert all(isinstance(cb.get("inputs"), list) for cb in app.callback_map.values())  # what DashGuard counts
        app._setup_server()
        assert "dash" in app.registered_paths and any(p.endswith(".js") for p in app.registered_paths["dash"])
