"""The single window: Dash mounted on the API's own FastAPI app, one ASGI process.

`mount(api)` is called by the composition root (`satupintu.web.create_app`;
app does not import dashboards). It adds the
page routes (behind the session cookie), builds the Dash app on the same
server and registers every page's callbacks.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import plotly
from dash import Dash, Input, Output, State, ctx as dash_ctx, html
from dash._utils import to_json
from dash.backends._fastapi import reset_current_request, set_current_request
from dash.exceptions import PreventUpdate
from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse

from app.i18n import DEFAULT_LANG, t
from app.profile import Deployment
from dashboards import ids
from dashboards.apiclient import ApiClient
from dashboards.auth import LANG_COOKIE, Sessions, install, lang_of, refused_page
from dashboards.context import Ctx
from dashboards.current import about, city_of_search, may_switch, resolve
from dashboards.data import CityData, Pace
from dashboards.figures import Tiles
from dashboards.guard import AssetCaching, DashGuard, on_callback_error
from dashboards.layout import shell
from dashboards.pages import alarm_kpis, incidents, integrators, operator, province, regent, replay

ASSETS = Path(__file__).parent / "assets"
# Versioned by content, so browsers keep it a year (AssetCaching) and fetch it again only when it changes.
BASIC_PLOTLY = (
    "/assets/vendor/plotly-basic.min.js?v="
    + hashlib.sha256((ASSETS / "vendor" / "plotly-basic.min.js").read_bytes()).hexdigest()[:12]
)
# The tile map's traces are not in the vendored 'basic' bundle; the plotly package ships the full one.
FULL_PLOTLY = "/_plotly/plotly.min.js"
PAGES = {"/": operator, "/regent": regent, "/replay": replay, "/integrators": integrators, "/alarm-kpis": alarm_kpis}
PAGES["/incidents"] = incidents  # incidents with SOPs (issue 13)
PAGES["/province"] = province  # Smart Province (issue 15): every regency at a glance


def build(api: FastAPI) -> Dash:
    """The Dash app of `api`'s cities (one window per city of its deployment), on `api` itself."""
    deployment = getattr(api.state, "deployment", None) or Deployment(cities=(api.state.profile,))
    client = ApiClient(api)
    sessions = Sessions(api)
    settings = getattr(api.state, "settings", None)
    tile_url = getattr(settings, "map_tile_url", None)
    tiles = Tiles(tile_url, getattr(settings, "map_tile_attribution", "") or "") if tile_url else None
    pace = Pace.of(api.state.settings)
    cities = {p.city.id: CityData(client, p, api.state.depends_on, pace) for p in deployment.cities}
    c = Ctx(api=api, client=client, sessions=sessions, deployment=deployment, cities=cities, tiles=tiles)
    if tiles is not None:
        _serve_full_plotly(api)

    holder: dict[str, Dash] = {}
    # Our page routes first: FastAPI matches in order, so they gate Dash's index behind the session.
    firsts = FirstLayouts()
    install(
        api,
        sessions,
        lambda request: _index(holder["dash"], c, firsts, request),
        tuple(PAGES),
        gate=lambda request, who: _gate(c, request, who),
    )
    api.add_api_route("/_dash-layout", _first_layout(c, firsts), methods=["GET"], include_in_schema=False)

    dash_app = Dash(
        "satupintu",
        server=api,
        assets_folder=str(ASSETS),
        serve_locally=True,  # no CDN: the wall has no internet
        assets_ignore=r"^plotly-basic\.min\.js$",  # served, but loaded by live.js without blocking the page (first paint)
        title="SatuPintu",
        update_title=None,
        # Which plotly.js bundle live.js loads: the full one only for the tile map.
        meta_tags=[
            {"name": "sp-plotly", "content": FULL_PLOTLY if tiles else BASIC_PLOTLY},
            {"name": "description", "content": t("ui.meta.description", DEFAULT_LANG)},
        ],
        compress=False,
        on_error=on_callback_error,  # DashGuard answers 400 for a callback that cannot use the values sent
    )
    # Dash's catch-all would answer every unknown GET (an /api typo included) with
    # the index page; our pages are routed explicitly above instead.
    dash_app.backend._setup_catchall = lambda: None  # noqa: SLF001
    # In front of Dash's own middleware (added after it): bad callback requests and suite paths get a 4xx.
    api.add_middleware(DashGuard, dash_app=dash_app, api=api)
    api.add_middleware(AssetCaching)
    holder["dash"] = dash_app
    api.state.dash = dash_app
    api.state.dashboard = c

    dash_app.layout = shell.skeleton
    dash_app.validation_layout = html.Div(
        [
            shell.skeleton(),
            operator.layout(lang="id", kiosk=False),
            regent.layout(lang="id"),
            replay.layout(lang="id"),
            integrators.layout(lang="id"),
            alarm_kpis.layout(lang="id"),
            incidents.layout(lang="id"),
            province.layout(lang="id"),
        ]
    )
    _routing(dash_app, c)
    shell.register(dash_app)
    operator.register(dash_app, c)
    regent.register(dash_app, c)
    replay.register(dash_app, c)
    integrators.register(dash_app, c)
    alarm_kpis.register(dash_app, c)
    incidents.register(dash_app, c)
    province.register(dash_app, c)
    return dash_app


def _gate(c: Ctx, request: Request, who: Any) -> Response | None:
    """A window's page for a city not served here (404) or not the signed-in user's (403): a page that says so."""
    if not c.deployment.multi and "city" not in request.query_params:
        return None
    asked = request.query_params.get("city")
    city, status = resolve(c.deployment, who, asked)
    if status == 200:
        return None
    own = c.deployment.get(who.city) if who is not None and who.city else None
    return refused_page(
        lang_of(request),
        status,
        asked=asked or "",
        name=(p.city.name if (p := c.deployment.get(city)) else asked or ""),
        own=(own.city.id, own.city.name) if own is not None else None,
    )


def _index(dash_app: Dash, c: Ctx, firsts: FirstLayouts, request: Any) -> str:
    # Dash renders its index inside a request context that its middleware sets
    # only for its own paths; /regent and /replay are ours, so set it here.
    token = set_current_request(request)
    try:
        # Dash scans assets/ on its first request through its middleware; a first
        # request to /regent would otherwise list no stylesheet and no live.js.
        dash_app._setup_server()  # noqa: SLF001 - idempotent
        _allow_inline_scripts(c.api, dash_app)
        cookies, path, query = dict(request.cookies), request.url.path, request.url.query
        search = f"?{query}" if query else ""
        firsts.start((c.token(cookies), path, search), lambda: render_first(c, cookies, path, search))
        return dash_app.index()
    finally:
        reset_current_request(token)


def _allow_inline_scripts(api: FastAPI, dash_app: Dash) -> None:
    """Add Dash's inline scripts (the renderer's start) to the Content-Security-Policy's allowed hashes."""
    allowed = api.state.csp_script_hashes
    allowed.extend(h for h in dash_app.csp_hashes() if h not in allowed)


def _serve_full_plotly(api: FastAPI) -> None:
    """GET /_plotly/plotly.min.js: the full plotly.js of the installed plotly package (scattermap), from disk.

    Served only when map tiles are configured; nothing is fetched from a CDN.
    The file changes only with the package, so browsers may keep it a day.
    """
    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise RuntimeError(f"map tiles need the full plotly.js bundle, not found at {path}")

    async def full_plotly() -> FileResponse:
        return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})

    api.add_api_route(FULL_PLOTLY, full_plotly, methods=["GET"], include_in_schema=False)


def mount(api: FastAPI) -> None:
    """Add the single window to the API app (satupintu.web)."""
    build(api)


def _routing(app: Dash, c: Ctx) -> None:
    @app.callback(
        Output("header", "children"),
        Output(ids.PAGE, "children"),
        Output(ids.SESSION, "data"),
        Output("app-root", "className"),
        Output(ids.BANNER, "children"),
        Output(ids.BANNER, "className"),
        Output(ids.RENDERED, "data"),
        Input(ids.URL, "pathname"),
        State(ids.URL, "search"),
        State(ids.RENDERED, "data"),
    )
    async def route(path: str | None, search: str | None, rendered: str | None) -> tuple:
        if rendered is not None and rendered == _rendered_key(path, search):
            raise PreventUpdate  # the page came filled with the layout (first_layout)
        cookies = dash_ctx.cookies
        who = await c.who(cookies)
        if who is None:
            raise PreventUpdate
        head, body, session, root, _fresh = await _render(
            c, who, c.token(cookies) or "", cookies, path=path, search=search
        )
        return head, body, session, root, "", "banner hidden", _rendered_key(path, search)


def _rendered_key(path: str | None, search: str | None) -> str:
    return f"{path if path in PAGES else '/'}{search or ''}"


async def _render(c: Ctx, who: Any, token: str, cookies: dict, *, path: str | None, search: str | None) -> tuple:
    """(header, page, session store, root class, freshness stamps) of `path`, about the city its `?city=` names
    (else the user's own, else the home city); the operator window comes with its data."""
    city, status = resolve(c.deployment, who, city_of_search(search))
    with about(city if c.deployment.multi else None):
        return await _render_city(c, who, token, cookies, path=path, search=search, status=status)


async def _render_city(
    c: Ctx, who: Any, token: str, cookies: dict, *, path: str | None, search: str | None, status: int
) -> tuple:
    profile = c.profile
    lang = cookies.get(LANG_COOKIE, "id")
    lang = lang if lang in ("id", "en") else "id"
    if search and "lang=" in search:
        lang = "en" if "lang=en" in search else "id"
    kiosk = "kiosk=1" in (search or "")
    path = path if path in PAGES else "/"
    page = PAGES[path]
    fresh = None
    if status != 200:  # the page itself answered 403/404 already (_gate); a callback asking anyway gets the same
        body = html.Div(t(f"ui.city.refused_{status}", lang, city=city_of_search(search) or ""), className="empty")
    elif page is operator:
        body, fresh = await operator.filled_layout(
            c, token=token, lang=lang, role=c.acting_role(who), kiosk=kiosk, rotate_s=_rotate_s(search)
        )
    else:
        body = page.layout(lang=lang)
    dep = c.deployment
    whole = page is province  # about every city: the province's name, the live channel of all
    head = shell.header(
        lang=lang,
        role=who.role,
        name=who.name,
        city=(dep.province.name if dep.province else t("dash.prov.title", lang)) if whole else profile.city.name,
        city_id="" if whole and may_switch(dep, who) else profile.city.id,  # the live channel of every city
        tz=profile.city.timezone,
        path=path,
        kiosk=kiosk,
        keep=f"?city={profile.city.id}" if dep.multi and not whole else "",
        switch=[(p.city.id, p.city.name) for p in dep.cities if who.serves(p.city.id)] if may_switch(dep, who) else [],
    )
    session = {
        "role": who.role,
        "name": who.name,
        "lang": lang,
        "kiosk": kiosk,
        "city": profile.city.id,
        "tz": profile.city.timezone,
        "lost": t("ui.conn.lost", lang),
        "stale": t("ui.fresh.stale", lang),
        "live": t("ui.fresh.live", lang),
    }
    return head, body, session, "app kiosk" if kiosk else "app", fresh


class FirstLayouts:
    """First layouts being rendered, started when the page itself is asked for.

    Between the page's HTML and the renderer's request for its layout, the
    browser spends about a second evaluating scripts; rendering the filled
    layout (reading the shared picture, building the map and the trends) in
    that second takes it off the path to the first paint.
    """

    MAX_AGE_S = 15.0
    MAX_HELD = 200

    def __init__(self) -> None:
        self._held: dict[tuple, tuple[float, asyncio.Task]] = {}

    def start(self, key: tuple, make: Any) -> None:
        now = time.monotonic()
        for k, (at, task) in list(self._held.items()):
            if now - at > self.MAX_AGE_S or len(self._held) > self.MAX_HELD:
                task.cancel()
                del self._held[k]
        old = self._held.pop(key, None)
        if old is not None:
            old[1].cancel()
        self._held[key] = (now, asyncio.get_running_loop().create_task(make()))

    async def take(self, key: tuple) -> str | None:
        at, task = self._held.pop(key, (0.0, None))
        if task is None or time.monotonic() - at > self.MAX_AGE_S:
            return None
        try:
            return await task
        except Exception:  # noqa: BLE001 - rendered again by the caller, which reports its own failure
            return None


async def render_first(c: Ctx, cookies: dict, path: str, search: str) -> str:
    """The first layout of `path` as JSON: rendered and filled, or the plain skeleton without a session."""
    who = await c.who(cookies) if path in PAGES else None
    if who is None:
        return to_json(shell.skeleton())
    head, body, session, root, fresh = await _render(c, who, c.token(cookies) or "", cookies, path=path, search=search)
    return to_json(
        shell.skeleton(
            header=head, page=body, session=session, root_class=root, fresh=fresh, rendered=_rendered_key(path, search)
        )
    )


def _first_layout(c: Ctx, firsts: FirstLayouts) -> Any:
    """GET /_dash-layout, ahead of Dash's own: the page the browser is on, already rendered and filled.

    Dash's layout endpoint serves one layout for every address and the page
    is then rendered by the routing callback, a round trip later, and filled
    by the panels' callbacks, another one later. The renderer's request for
    the layout names the page in its Referer (same origin), and the session
    cookie comes with it: so the first layout can be the finished page. With
    no Referer or no session it is the plain skeleton, routed as before.
    """

    async def first_layout(request: Request) -> Response:
        ref = urlsplit(request.headers.get("referer") or "")
        cookies = dict(request.cookies)
        search = f"?{ref.query}" if ref.query else ""
        body = await firsts.take((c.token(cookies), ref.path, search))
        if body is None:
            body = await render_first(c, cookies, ref.path, search)
        return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})

    return first_layout


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
