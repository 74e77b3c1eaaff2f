"""The province view (`/province`, issue 15): every regency of the deployment at a glance, for the province.

Read through the API like every panel (`GET /api/v1/province`, the cities the
signed-in user may see); one answer per caller's scope is shared for a few
seconds by every open province view. Refreshed by the live channel's change
notices of any city (the shell's live tick; this page listens to every city)
and every 45 s. A click on a regency (map or row) opens its own window
(`/?city=ID`). Printable (the browser's print, print CSS in style.css) and as
CSV (`/api/v1/province.csv`).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from dash import Input, Output, ctx as dash_ctx, dcc, html
from dash.exceptions import PreventUpdate

from app.i18n import t
from dashboards import ids
from dashboards.apiclient import ApiError
from dashboards.auth import LANG_COOKIE
from dashboards.context import Ctx
from dashboards.figures import graph_config
from dashboards.fmt import number
from dashboards.panels import panel
from dashboards.province_parts import (
    STATES,
    computed_at,
    league_table,
    pillar_grid,
    province_map,
    regency_rows,
    state_badge,
    totals,
)

PATH = "/api/v1/province"
CSV = "/api/v1/province.csv"
CACHE_S = 5.0  # many walls, one read: the answer is itself computed from the process's own figures
EVERY_MS = 45_000
MAP = "prov-map"
MAP_IDS = "prov-map-ids"
PRINT = "prov-print"


def layout(*, lang: str, kiosk: bool = False) -> html.Div:
    """The province view's frame (filled by the callback below)."""
    return html.Div(
        className="province",
        children=[
            html.Div(
                [
                    html.H1(t("dash.prov.title", lang), id="prov-title"),
                    html.Span(id="prov-asof", className="note"),
                    html.Div(
                        [
                            html.A(t("dash.prov.csv", lang), href=CSV, className="btn", id="prov-csv"),
                            html.Button(t("dash.prov.print", lang), id=PRINT, className="btn", n_clicks=0),
                        ],
                        className="exports",
                    ),
                ],
                className="regent-bar prov-bar",
            ),
            html.Div(id="prov-summary", className="prov-summary"),
            dcc.Store(id=ids.page_tick("province")),
            dcc.Store(id=MAP_IDS),
            dcc.Interval(id="prov-every", interval=EVERY_MS),
            panel(
                "pmap",
                t("dash.prov.map", lang),
                [
                    dcc.Graph(id=MAP, config=graph_config(lang), className="fill-graph"),
                    html.Div(_key(lang), className="prov-key"),
                ],
                max_age_s=120,
            ),
            panel("pstate", t("dash.prov.regencies", lang), html.Div(id="prov-table"), max_age_s=120),
            panel("pleague", t("dash.prov.league", lang), html.Div(id="prov-league"), max_age_s=120),
            panel(
                "ppillars",
                t("dash.prov.pillars", lang),
                [html.Div(id="prov-pillars"), html.Div(t("dash.regent.score_note", lang), className="note")],
                max_age_s=120,
            ),
        ],
    )


def _key(lang: str) -> list:
    """The map's key: each state's colour and name."""
    return [state_badge(s, lang) for s in STATES]


def _lang(cookies: dict) -> str:
    return cookies.get(LANG_COOKIE, "id") if cookies.get(LANG_COOKIE) in ("id", "en") else "id"


def _tile(label: str, value: str, *, bad: bool = False, tid: str = "") -> html.Div:
    return html.Div(
        [html.Div(value, className="kpi-value"), html.Div(label, className="kpi-label")],
        className="kpi" + (" bad" if bad else ""),
        **({"id": tid} if tid else {}),
    )


def register(app: Any, c: Ctx) -> None:
    """The province view's callbacks on `app`."""
    cache: dict[tuple, tuple[float, dict]] = {}
    lock = asyncio.Lock()

    async def load(token: str, scope: tuple) -> dict:
        async with lock:
            hit = cache.get(scope)
            if hit and time.monotonic() - hit[0] < CACHE_S:
                return hit[1]
            body: dict = await c.client.get(PATH, token, city=None)  # about every city the caller may see
            if len(cache) > 32:
                cache.clear()
            cache[scope] = (time.monotonic(), body)
            return body

    @app.callback(
        Output("prov-summary", "children"),
        Output(MAP, "figure"),
        Output(MAP_IDS, "data"),
        Output("prov-table", "children"),
        Output("prov-league", "children"),
        Output("prov-pillars", "children"),
        Output("prov-asof", "children"),
        Output("prov-title", "children"),
        Output(ids.FRESH, "data", allow_duplicate=True),
        Input(ids.page_tick("province"), "data"),
        Input("prov-every", "n_intervals"),
        prevent_initial_call="initial_duplicate",
    )
    async def fill(_tick: Any, _n: Any) -> tuple:
        cookies = dash_ctx.cookies
        token = await c.signed_in(cookies)
        who = await c.who(cookies)
        lang = _lang(cookies)
        scope = (getattr(who, "city", None), getattr(who, "agency", None), getattr(who, "role", None))
        try:
            body = await load(token, scope)
        except ApiError as exc:
            raise PreventUpdate from exc
        return render(body, lang)

    # A regency on the map (its outline or its name) opens its own window.
    app.clientside_callback(
        """function(click, idsOf) {
            var p = click && click.points && click.points[0];
            if (!p) { return window.dash_clientside.no_update; }
            var id = (typeof p.customdata === "string" && p.customdata)
                || (p.data && p.data.meta) || (idsOf && idsOf[p.curveNumber]);
            if (id) { window.location.assign("/?city=" + encodeURIComponent(id)); }
            return window.dash_clientside.no_update;
        }""",
        Output(ids.SINK, "data", allow_duplicate=True),
        Input(MAP, "clickData"),
        Input(MAP_IDS, "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        "function(n){ if (n) { window.print(); } return window.dash_clientside.no_update; }",
        Output(ids.SINK, "data", allow_duplicate=True),
        Input(PRINT, "n_clicks"),
        prevent_initial_call=True,
    )


def render(body: dict, lang: str) -> tuple:
    """The page's outputs from the API's answer (pure: tests call it with a plain dict)."""
    cities = body.get("cities") or []
    now = int(time.time() * 1000)
    sums = totals(cities)
    names = {s: t(f"dash.prov.state.{s}", lang) for s in STATES}
    fig = province_map(cities, state_names=names)
    map_ids = [tr.get("meta") for tr in fig.to_plotly_json()["data"]]
    summary = [
        _tile(t("dash.prov.k.regencies", lang), number(len(cities), lang), tid="prov-k-regencies"),
        _tile(
            t("dash.prov.k.sources", lang),
            f"{number(sums['online'], lang)} / {number(sums['total'], lang)}",
            bad=sums["online"] < sums["total"],
        ),
        _tile(t("dash.prov.k.alarms", lang), number(sums["alarms"], lang), bad=sums["critical"] > 0),
        _tile(t("dash.prov.k.open", lang), number(sums["open"], lang)),
        _tile(t("dash.prov.k.overdue", lang), number(sums["overdue"], lang), bad=sums["overdue"] > 0),
        _tile(t("dash.prov.k.incidents", lang), number(sums["incidents"], lang), bad=sums["incidents"] > 0),
        _tile(t("dash.prov.k.links_down", lang), number(sums["down"], lang), bad=sums["down"] > 0),
    ]
    province = body.get("province") or {}
    tz = cities[0].get("timezone") if cities else None
    asof = t(
        "dash.prov.asof",
        lang,
        at=computed_at(body.get("computed_at"), lang, tz),
        days=number(body.get("window_days") or 30, lang),
    )
    title = t("dash.prov.title_of", lang, name=province["name"]) if province.get("name") else t("dash.prov.title", lang)
    fresh = {k: now for k in ("pmap", "pstate", "pleague", "ppillars")}
    return (
        summary,
        fig,
        map_ids,
        regency_rows(cities, lang, now),
        league_table(body.get("league") or [], cities, lang),
        pillar_grid(cities, lang),
        asof,
        title,
        fresh,
    )
