"""The single window: Dash mounted on the API's own FastAPI app, one ASGI process.

`mount(api)` is called by `app.api.main.create_app` through the
`satupintu.web` entry point (app does not import dashboards). It adds the
page routes (behind the session cookie), builds the Dash app on the same
server and registers every page's callbacks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dash import Dash, Input, Output, State, ctx as dash_ctx, html
from dash.exceptions import PreventUpdate
from fastapi import FastAPI

from app.i18n import t

from dashboards import ids
from dashboards.apiclient import ApiClient
from dashboards.auth import LANG_COOKIE, Sessions, install
from dashboards.context import Ctx
from dashboards.data import CityData
from dashboards.layout import shell
from dashboards.pages import operator, regent, replay

ASSETS = Path(__file__).parent / "assets"
PAGES = {"/": operator, "/regent": regent, "/replay": replay}


def build(api: FastAPI) -> Dash:
    """The Dash app of `api`'s city, on `api` itself."""
    profile = api.state.profile
    client = ApiClient(api)
    sessions = Sessions(api)
    c = Ctx(api=api, client=client, sessions=sessions, city=CityData(client, profile), profile=profile)

    holder: dict[str, Dash] = {}
    # Our page routes first: FastAPI matches in order, so they gate Dash's index behind the session.
    install(api, sessions, lambda request: _index(holder["dash"], request), tuple(PAGES))

    dash_app = Dash(
        "satupintu",
        server=api,
        assets_folder=str(ASSETS),
        serve_locally=True,  # no CDN: the wall has no internet
        assets_ignore=r"^plotly-basic\.min\.js$",  # served, but loaded by live.js without blocking the page (first paint)
        title="SatuPintu",
        update_title=None,
        compress=False,
    )
    # Dash's catch-all would answer every unknown GET (an /api typo included) with
    # the index page; our pages are routed explicitly above instead.
    dash_app.backend._setup_catchall = lambda: None  # noqa: SLF001
    holder["dash"] = dash_app
    api.state.dash = dash_app
    api.state.dashboard = c

    dash_app.layout = shell.skeleton
    dash_app.validation_layout = html.Div(
        [shell.skeleton(), operator.layout(lang="id", kiosk=False), regent.layout(lang="id"), replay.layout(lang="id")]
    )
    _routing(dash_app, c)
    shell.register(dash_app)
    operator.register(dash_app, c)
    regent.register(dash_app, c)
    replay.register(dash_app, c)
    return dash_app


def _index(dash_app: Dash, request: Any) -> str:
    # Dash renders its index inside a request context that its middleware sets
    # only for its own paths; /regent and /replay are ours, so set it here.
    from dash.backends._fastapi import reset_current_request, set_current_request

    token = set_current_request(request)
    try:
        # Dash scans assets/ on its first request through its middleware; a first
        # request to /regent would otherwise list no stylesheet and no live.js.
        dash_app._setup_server()  # noqa: SLF001 - idempotent
        return dash_app.index()
    finally:
        reset_current_request(token)


def mount(api: FastAPI) -> None:
    """Entry point `satupintu.web`: add the single window to the API app."""
    build(api)


def _routing(app: Dash, c: Ctx) -> None:
    profile = c.profile

    @app.callback(
        Output("header", "children"),
        Output(ids.PAGE, "children"),
        Output(ids.SESSION, "data"),
        Output("app-root", "className"),
        Output(ids.BANNER, "children"),
        Output(ids.BANNER, "className"),
        Input(ids.URL, "pathname"),
        State(ids.URL, "search"),
    )
    async def route(path: str | None, search: str | None) -> tuple:
        cookies = dash_ctx.cookies
        who = await c.who(cookies)
        if who is None:
            raise PreventUpdate
        lang = cookies.get(LANG_COOKIE, "id")
        lang = lang if lang in ("id", "en") else "id"
        if search and "lang=" in search:
            lang = "en" if "lang=en" in search else "id"
        kiosk = "kiosk=1" in (search or "")
        path = path if path in PAGES else "/"
        page = PAGES[path]
        if page is operator:
            body = operator.layout(lang=lang, kiosk=kiosk, rotate_s=_rotate_s(search))
        else:
            body = page.layout(lang=lang)
        head = shell.header(
            lang=lang, role=who.role, name=who.name, city=profile.city.name, city_id=profile.city.id, tz=profile.city.timezone, path=path,
            kiosk=kiosk,
        )  # fmt: skip
        session = {"role": who.role, "name": who.name, "lang": lang, "kiosk": kiosk, "city": profile.city.id,
                   "tz": profile.city.timezone, "lost": t("ui.conn.lost", lang), "stale": t("ui.fresh.stale", lang),
                   "live": t("ui.fresh.live", lang)}  # fmt: skip
        return head, body, session, "app kiosk" if kiosk else "app", "", "banner hidden"


def _rotate_s(search: str | None) -> float | None:
    """`?rotate=<seconds>`: how long a kiosk dwells on each district (at least 2 s)."""
    for part in (search or "").lstrip("?").split("&"):
        key, _, value = part.partition("=")
        if key == "rotate":
            try:
                return max(2.0, float(value))
            except ValueError:
                return None
    return None


__all__ = ["build", "mount"]
