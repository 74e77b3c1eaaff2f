"""The operator window (`/`): one 1920x1080 screen, every panel live; `?kiosk=1` for the wall.

Callbacks read the process's shared picture (dashboards.data), never the
database: a change notice bumps the browser's live tick (assets/live.js), the
tick asks for the panels, and a panel whose data version the browser already
shows comes back as no_update.
"""

from __future__ import annotations

import asyncio
from typing import Any

from dash import ALL, Input, Output, State, ctx as dash_ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from app.i18n import t
from dashboards import ids
from dashboards.apiclient import ApiError
from dashboards.auth import LANG_COOKIE
from dashboards.context import Ctx
from dashboards.figures import graph_config, theme, trends_figure
from dashboards.panels import (
    city_map,
    feed_items,
    kpi_tiles,
    legend,
    panel,
    service_table,
    trend_series,
    warning_banner,
)
from dashboards.situations import alarm_panel

ROTATE_MS = 20_000  # kiosk: how long the map dwells on each district
FOCUS_SPAN_DEG = 0.14  # kiosk: half-width of a district's view
LISTED_TICKETS = 2000  # dashboards.data reads at most this many open tickets (the map's): a longer list is cut


def layout(*, lang: str, kiosk: bool, rotate_s: float | None = None, filled: dict | None = None) -> html.Div:
    """The operator window's panels, empty (the callbacks below fill them) or `filled` ({component id: its data})."""
    f = filled or {}
    graph_cfg = graph_config(lang, scrollZoom=not kiosk, staticPlot=False)
    # A graph given no figure draws an empty plot first (as costly as a real one): only pass what there is.
    fig = {k: {"figure": f[k]} for k in (ids.MAP, ids.TRENDS) if f.get(k) is not None}
    return html.Div(
        className="operator" + (" kiosk" if kiosk else ""),
        children=[
            html.Div(f.get(ids.WARNING_BANNER), id=ids.WARNING_BANNER, className="warning-banner"),
            html.Div(f.get(ids.KPI), id=ids.KPI, className="kpis"),
            panel(
                "map",
                t("dash.panel.map", lang),
                [
                    dcc.Graph(
                        id=ids.MAP, config=graph_cfg, className="map-graph", responsive=True, **fig.get(ids.MAP, {})
                    ),
                    legend(lang),
                ],
                extra=[html.Span("", id=ids.FOCUS, className="focus")],
            ),
            panel(
                "alarms",
                t("dash.panel.alarms", lang),
                html.Div(f.get(ids.ALARMS), id=ids.ALARMS, className="alarm-list fit"),
            ),
            panel("feed", t("dash.panel.feed", lang), html.Ul(f.get(ids.FEED), id=ids.FEED, className="feed fit")),
            panel(
                "trends",
                t("dash.panel.trends", lang),
                dcc.Graph(
                    id=ids.TRENDS,
                    config=graph_config(lang),
                    className="trend-graph",
                    responsive=True,
                    **fig.get(ids.TRENDS, {}),
                ),
                max_age_s=300,
            ),
            panel(
                "services",
                t("dash.panel.services", lang),
                html.Div(f.get(ids.SERVICES), id=ids.SERVICES),
                max_age_s=300,
            ),
            dcc.Store(id=ids.page_tick("operator")),  # the live tick, relayed; new with the page, so it also fills it
            dcc.Store(id=ids.SEEN, data=f.get(ids.SEEN) or {}),
            dcc.Store(id=ids.MAP_SEEN, data=f.get(ids.MAP_SEEN) or {}),
            dcc.Store(id=ids.MAP_VIEW),
            dcc.Store(id=ids.CRITICAL, data=f.get(ids.CRITICAL) or []),
            dcc.Store(id=ids.ACK_TARGET),
            dcc.Interval(id=ids.ROTATE, interval=int(rotate_s * 1000) if rotate_s else ROTATE_MS, disabled=not kiosk),
            ack_dialog(lang),
            html.Div(id=ids.ACK_RESULT, className="toast hidden"),
        ],
    )


def ack_dialog(lang: str) -> html.Div:
    return html.Div(
        id=ids.ACK_DIALOG,
        className="dialog hidden",
        children=html.Div(
            [
                html.H3(t("dash.alarm.ack_title", lang), id="ack-title"),
                dcc.Textarea(id=ids.ACK_COMMENT, placeholder=t("dash.alarm.comment", lang), className="ack-comment"),
                html.Div(
                    [
                        html.Button(t("dash.alarm.cancel", lang), id=ids.ACK_CANCEL, n_clicks=0, className="secondary"),
                        html.Button(t("dash.alarm.send", lang), id=ids.ACK_SEND, n_clicks=0, className="primary"),
                    ],
                    className="dialog-buttons",
                ),
            ],
            className="dialog-box",
        ),
    )


def _kiosk(search: str | None) -> bool:
    return "kiosk=1" in (search or "")


def register(app: Any, c: Ctx) -> None:
    """The operator window's callbacks on `app` (each reads the window's city when it runs: dashboards.current)."""

    async def session(cookies: dict) -> tuple[str, str, str]:
        token = c.token(cookies)
        who = await c.who(cookies)
        if who is None or token is None:
            raise PreventUpdate
        lang = cookies.get(LANG_COOKIE, "id")
        return token, lang if lang in ("id", "en") else "id", c.acting_role(who)

    @app.callback(
        Output(ids.KPI, "children"),
        Output(ids.ALARMS, "children"),
        Output(ids.FEED, "children"),
        Output(ids.SERVICES, "children"),
        Output(ids.TRENDS, "figure"),
        Output(ids.SEEN, "data"),
        Output(ids.CRITICAL, "data"),
        Output(ids.FRESH, "data"),
        Input(ids.page_tick("operator"), "data"),
        State(ids.SEEN, "data"),
        State(ids.URL, "search"),
        prevent_initial_call=True,  # the page comes filled (filled_layout); the live channel's hello ticks next
    )
    async def refresh(_tick: Any, seen: dict | None, search: str | None) -> tuple:
        token, lang, role = await session(dash_ctx.cookies)
        return await render_panels(c, token=token, lang=lang, role=role, kiosk=_kiosk(search), seen=seen)

    @app.callback(
        Output(ids.MAP, "figure"),
        Output(ids.MAP_SEEN, "data"),
        Output(ids.WARNING_BANNER, "children"),
        Input(ids.page_tick("operator"), "data"),
        Input(ids.MAP_VIEW, "data"),
        State(ids.MAP_SEEN, "data"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )
    async def refresh_map(_tick: Any, view: dict | None, seen: dict | None, search: str | None) -> tuple:
        token, lang, _role = await session(dash_ctx.cookies)
        out = await render_map(c, token=token, lang=lang, kiosk=_kiosk(search), view=view, seen=seen)
        if out is None:
            raise PreventUpdate
        return out

    @app.callback(
        Output(ids.MAP_VIEW, "data"),
        Output(ids.FOCUS, "children"),
        Input(ids.MAP, "relayoutData"),
        Input(ids.ROTATE, "n_intervals"),
        State(ids.MAP_VIEW, "data"),
        prevent_initial_call=True,
    )
    def set_view(relayout: dict | None, n: int | None, view: dict | None) -> tuple:
        if dash_ctx.triggered_id == ids.ROTATE:
            return rotation_view(n or 0, c.profile)
        r = relayout or {}
        corners = (r.get("map._derived") or {}).get("coordinates")  # the tile map: its four corners, [lon, lat]
        if corners:
            lons, lats = [p[0] for p in corners], [p[1] for p in corners]
            return {"x": [min(lons), max(lons)], "y": [min(lats), max(lats)], "zoom": r.get("map.zoom")}, no_update
        if "xaxis.range[0]" in r and "yaxis.range[0]" in r:
            return {
                "x": [r["xaxis.range[0]"], r["xaxis.range[1]"]],
                "y": [r["yaxis.range[0]"], r["yaxis.range[1]"]],
            }, no_update
        if r.get("xaxis.autorange") or r.get("autosize"):
            return (None if view else no_update), no_update
        raise PreventUpdate

    @app.callback(
        Output(ids.ACK_DIALOG, "className"),
        Output(ids.ACK_TARGET, "data"),
        Output(ids.ACK_COMMENT, "value"),
        Input({"type": ids.ACK_BUTTON, "alarm": ALL}, "n_clicks"),
        Input(ids.ACK_CANCEL, "n_clicks"),
        Input({"type": ids.SITUATION_ACK_BUTTON, "situation": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def open_ack(clicks: list, _cancel: int, situation_clicks: list) -> tuple:
        trig = dash_ctx.triggered_id
        if trig == ids.ACK_CANCEL:
            return "dialog hidden", None, ""
        if isinstance(trig, dict) and (any(clicks) or any(situation_clicks)):
            # A re-rendered list fires this with n_clicks 0: only a real click opens the dialog.
            value = dash_ctx.triggered[0]["value"] if dash_ctx.triggered else 0
            if value:
                # an alarm's id, or a situation's ("s-<id>": acknowledges all its active alarms)
                return "dialog", trig.get("alarm", trig.get("situation")), ""
        raise PreventUpdate

    @app.callback(
        Output(ids.ACK_DIALOG, "className", allow_duplicate=True),
        Output(ids.ACK_RESULT, "children"),
        Output(ids.ACK_RESULT, "className"),
        Input(ids.ACK_SEND, "n_clicks"),
        State(ids.ACK_TARGET, "data"),
        State(ids.ACK_COMMENT, "value"),
        prevent_initial_call=True,
    )
    async def send_ack(n: int, alarm_id: Any, comment: str | None) -> tuple:
        if not n or alarm_id is None:
            raise PreventUpdate
        token, lang, _role = await session(dash_ctx.cookies)
        situation = isinstance(alarm_id, str) and alarm_id.startswith("s-")
        path = f"/api/v1/situations/{alarm_id}/ack" if situation else f"/api/v1/alarms/{alarm_id}/ack"
        try:
            got = await c.client.post(path, token, {"comment": (comment or "").strip() or None})
        except ApiError as exc:
            detail = t("dash.alarm.viewer_only", lang) if exc.status == 403 else str(exc.detail)
            return "dialog hidden", t("dash.alarm.ack_failed", lang, detail=detail), "toast error"
        c.city.changed(frozenset({"alarms"}))  # this window reads the acknowledgement at once
        if situation:
            count = len(got.get("acknowledged_ids") or []) if isinstance(got, dict) else 0
            return "dialog hidden", t("dash.situation.ack_ok", lang, id=alarm_id, count=count), "toast info"
        return "dialog hidden", t("dash.alarm.ack_ok", lang, id=alarm_id), "toast info"

    # A new critical alarm sounds when the operator has switched sound on.
    app.clientside_callback(
        "function(ids_){ if (window.spCritical) { window.spCritical(ids_ || []); } return window.dash_clientside.no_update; }",
        Output(ids.CRITICAL, "clear_data"),
        Input(ids.CRITICAL, "data"),
        prevent_initial_call=True,
    )


async def render_panels(c: Ctx, *, token: str, lang: str, role: str, kiosk: bool, seen: dict | None) -> tuple:
    """KPIs, alarms, feed, services and trends from the shared picture; a panel `seen` already shows is no_update.

    (kpi, alarms, feed, services, trends figure, seen versions, critical alarm ids, freshness stamps)
    """
    profile, tz = c.profile, c.profile.tz
    c.city.listen(c.api)
    read = c.city.read_now if not seen else c.city.read
    try:
        parts = await read(
            token,
            lang,
            (
                "overview",
                "alarms",
                "recent_tickets",
                "services",
                "trends",
                "tickets",
                "alerts",
                "incidents",
                "situations",
            ),
        )
    except ApiError as exc:
        if exc.status in (401, 403):
            raise PreventUpdate from exc
        raise
    seen = dict(seen or {})
    versions = {k: p.version for k, p in parts.items()}
    fresh = {
        "kpi": min(c.city.as_of(parts[p], p) for p in ("overview",) if p in parts) if "overview" in parts else 0,
        "alarms": c.city.as_of(parts["alarms"], "alarms") if "alarms" in parts else 0,
        "feed": min(c.city.as_of(parts[p], p) for p in ("recent_tickets", "alarms") if p in parts) if parts else 0,
        "services": min(c.city.as_of(parts[p], p) for p in ("services", "tickets") if p in parts)
        if "services" in parts
        else 0,
        "trends": c.city.as_of(parts["trends"], "trends") if "trends" in parts else 0,
    }
    seen_key = f"{lang}|{role}|{kiosk}"
    first = seen.get("_key") != seen_key

    def changed(*names: str) -> bool:
        return first or any(seen.get(n) != versions.get(n) for n in names)

    data = {k: p.data for k, p in parts.items()}
    alarms = data.get("alarms") or []
    can_ack = role in ("operator", "admin")
    out_kpi = (
        kpi_tiles(data.get("overview"), alarms, lang, incidents=data.get("incidents") or [])
        if changed("overview", "alarms", "incidents")
        else no_update
    )
    out_alarms = (
        alarm_panel(alarms, data.get("situations"), lang=lang, tz=tz, can_ack=can_ack)
        if changed("alarms", "situations")
        else no_update
    )
    out_feed = (
        feed_items(
            tickets=data.get("recent_tickets") or [],
            alarms=alarms,
            status_events=list(c.city.status_events),
            lang=lang,
            tz=tz,
            district_names=c.district_names(),
            service_name=c.service_name,
            alerts=data.get("alerts") or [],
        )
        if changed("recent_tickets", "alarms", "alerts") or c.city.notices != seen.get("_notices")
        else no_update
    )
    # Open and overdue per agency from the open tickets, re-read on every ticket notice as the tiles are: the rows
    # add up to the tiles at once, not only after the slower services status (its SLA %) is read again.
    listed = data.get("tickets")
    live = listed if listed is not None and len(listed) < LISTED_TICKETS else None
    out_services = (
        service_table(data.get("services"), profile, lang, open_tickets=live)
        if changed("services", "tickets")
        else no_update
    )
    out_trends = (
        trends_figure(trend_series(data.get("trends") or {}, profile, lang), th=theme(kiosk))
        if changed("trends")
        else no_update
    )
    critical = sorted(a["id"] for a in alarms if a.get("severity") == "critical" and a.get("state") == "active")
    new_seen = {**versions, "_key": seen_key, "_notices": c.city.notices}
    return out_kpi, out_alarms, out_feed, out_services, out_trends, new_seen, critical, fresh


async def render_map(
    c: Ctx, *, token: str, lang: str, kiosk: bool, view: dict | None, seen: dict | None
) -> tuple | None:
    """The map figure, the key of what it shows and the warning banner; None when `seen` already shows the same."""
    profile = c.profile
    c.city.listen(c.api)
    read = c.city.read_now if not seen else c.city.read
    try:
        parts = await read(token, lang, ("sources", "latest", "alarms", "tickets", "alerts", "incidents"))
    except ApiError as exc:
        raise PreventUpdate from exc
    versions = {k: p.version for k, p in parts.items()}
    key = {**versions, "_view": view, "_lang": lang, "_kiosk": kiosk}
    if seen == key:
        return None
    data = {k: p.data for k, p in parts.items()}
    fig = city_map(
        profile=profile,
        sources=data.get("sources") or [],
        latest=data.get("latest") or [],
        alarms=data.get("alarms") or [],
        tickets=data.get("tickets") or [],
        lang=lang,
        th=theme(kiosk),
        metric_name=c.metric_name,
        service_name=c.service_name,
        tiles=c.tiles,
        view=view,
        alerts=data.get("alerts") or [],
        incidents=data.get("incidents") or [],
    )
    return fig, key, warning_banner(data.get("alerts") or [], lang, c.district_names())


async def filled_layout(
    c: Ctx, *, token: str, lang: str, role: str, kiosk: bool, rotate_s: float | None
) -> tuple[html.Div, dict]:
    """The operator window with its first data already in it, and the data's freshness stamps.

    Served as the page's first layout (dashboards.app), it is drawn with no
    callback round trip first. The panels' callbacks do not fire on load: the
    live channel's hello ticks right after, and they answer no_update for
    what the SEEN stores say is already shown.
    """
    panels, drawn = await asyncio.gather(
        render_panels(c, token=token, lang=lang, role=role, kiosk=kiosk, seen=None),
        render_map(c, token=token, lang=lang, kiosk=kiosk, view=None, seen=None),
    )
    kpi, alarms, feed, services, trends, seen, critical, fresh = panels
    fig, map_key, banner = drawn or (None, {}, [])
    return layout(
        lang=lang,
        kiosk=kiosk,
        rotate_s=rotate_s,
        filled={
            ids.KPI: kpi,
            ids.ALARMS: alarms,
            ids.FEED: feed,
            ids.SERVICES: services,
            ids.TRENDS: trends,
            ids.SEEN: seen,
            ids.CRITICAL: critical,
            ids.MAP: fig,
            ids.MAP_SEEN: map_key,
            ids.WARNING_BANNER: banner,
        },
    ), fresh


def rotation_view(n: int, profile: Any) -> tuple[dict | None, str]:
    """Kiosk rotation: the whole regency, then each district in turn."""
    stops = [None, *profile.districts]
    d = stops[n % len(stops)]
    if d is None:
        return None, ""
    s = FOCUS_SPAN_DEG
    view = {"x": [d.center.lon - s, d.center.lon + s], "y": [d.center.lat - s * 0.6, d.center.lat + s * 0.6]}
    return view, d.name
