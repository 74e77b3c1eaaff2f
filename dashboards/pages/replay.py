"""History replay (`/replay`): the operator window as it was at a past moment, played at 1x to 60x.

Each frame is read from stored data through the API (`/api/v1/replay/state`
and `/api/v1/alarms?at=`) for this browser alone: a replay is one person's
look back, not the shared live picture.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from dash import Input, Output, State, ctx as dash_ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from app.i18n import t
from dashboards import ids
from dashboards.apiclient import ApiError
from dashboards.auth import LANG_COOKIE
from dashboards.context import Ctx
from dashboards.data import read_trends
from dashboards.figures import LIGHT, graph_config, trends_figure
from dashboards.fmt import number, when
from dashboards.layout import choice
from dashboards.panels import (
    alarm_rows,
    city_map,
    feed_items,
    kpi_tiles,
    legend,
    panel,
    trend_series,
)

SPEEDS = (1, 5, 10, 30, 60)
DEFAULT_SPEED = 10
FRAME_MS = 1000


def parse_local(text: str | None, tz: Any) -> int | None:
    """`YYYY-MM-DD HH:MM[:SS]` on the city's clock as epoch ms; None when it is not that."""
    if not text:
        return None
    s = text.strip().replace("T", " ")
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            return int(datetime.strptime(s, fmt).replace(tzinfo=tz).timestamp() * 1000)
        except ValueError:
            continue
    return None


def advance(clock_: dict, now_ms: int) -> dict:
    """The replay clock moved on to `now_ms` of wall time: `speed` seconds of history per second while playing."""
    if not clock_.get("playing"):
        return {**clock_, "wall_ms": now_ms}
    at = clock_["at_ms"] + (now_ms - clock_["wall_ms"]) * clock_.get("speed", 1)
    return {**clock_, "at_ms": min(at, now_ms), "wall_ms": now_ms, "playing": at < now_ms}


def layout(*, lang: str, kiosk: bool = False) -> html.Div:
    """The replay page: controls, then the operator panels as they were."""
    return html.Div(
        className="replay",
        children=[
            html.Div(
                [
                    html.H1(t("dash.replay.title", lang)),
                    html.Label(t("dash.replay.at", lang), htmlFor=ids.REPLAY_AT),
                    dcc.Input(
                        id=ids.REPLAY_AT, type="text", debounce=True, placeholder="YYYY-MM-DD HH:MM", className="at"
                    ),
                    choice.group(ids.REPLAY_SPEED, t("dash.replay.speed", lang), _speeds(lang), DEFAULT_SPEED),
                    html.Button(t("dash.replay.play", lang), id=ids.REPLAY_PLAY, n_clicks=0, className="primary"),
                    html.Div(id=ids.REPLAY_NOW, className="replay-now"),
                ],
                className="regent-bar replay-bar",
            ),
            html.Div(id=ids.REPLAY_KPI, className="kpis"),
            panel(
                "rmap",
                t("dash.panel.map", lang),
                [
                    dcc.Graph(id=ids.REPLAY_MAP, config=graph_config(lang, scrollZoom=True), className="map-graph"),
                    legend(lang),
                ],
                max_age_s=10**9,
            ),
            panel(
                "ralarms",
                t("dash.panel.alarms", lang),
                html.Div(id=ids.REPLAY_ALARMS, className="alarm-list fit"),
                max_age_s=10**9,
            ),
            panel(
                "rfeed", t("dash.panel.feed", lang), html.Ul(id=ids.REPLAY_FEED, className="feed fit"), max_age_s=10**9
            ),
            panel(
                "rtrends",
                t("dash.panel.trends", lang),
                dcc.Graph(id=ids.REPLAY_TRENDS, config=graph_config(lang), className="trend-graph"),
                max_age_s=10**9,
            ),
            dcc.Store(id=ids.REPLAY_CLOCK),
            dcc.Interval(id=ids.REPLAY_TIMER, interval=FRAME_MS, disabled=True),
        ],
    )


def register(app: Any, c: Ctx) -> None:
    """The replay page's callbacks on `app`."""
    # The window's city is the request's (dashboards.current): read in each callback, never here.
    trend_cache: dict[tuple, tuple[float, dict]] = {}
    choice.register(app, ids.REPLAY_SPEED, _speeds, _lang)

    @app.callback(
        Output(ids.REPLAY_CLOCK, "data"),
        Output(ids.REPLAY_TIMER, "disabled"),
        Output(ids.REPLAY_PLAY, "children"),
        Output(ids.REPLAY_AT, "value"),
        Input(ids.REPLAY_AT, "value"),
        Input(ids.REPLAY_SPEED_VALUE, "data"),
        Input(ids.REPLAY_PLAY, "n_clicks"),
        Input(ids.REPLAY_TIMER, "n_intervals"),
        State(ids.REPLAY_CLOCK, "data"),
    )
    def tick(at_text: str | None, speed: int | None, _play: int, _n: Any, clock_: dict | None) -> tuple:
        tz = c.profile.tz
        lang = _lang(dash_ctx.cookies)
        now = int(time.time() * 1000)
        trig = dash_ctx.triggered_id
        if clock_ is None:
            start = now - 3_600_000
            clock_ = {"at_ms": start, "playing": False, "speed": speed or DEFAULT_SPEED, "wall_ms": now}
            return clock_, True, t("dash.replay.play", lang), _fmt_input(start, tz)
        clock_ = advance(clock_, now)
        text_out: Any = no_update
        if trig == ids.REPLAY_AT:
            at = parse_local(at_text, tz)
            if at is None:
                raise PreventUpdate
            clock_ = {**clock_, "at_ms": min(at, now), "wall_ms": now}
        elif trig == ids.REPLAY_SPEED_VALUE:
            clock_ = {**clock_, "speed": speed if speed in SPEEDS else DEFAULT_SPEED}
        elif trig == ids.REPLAY_PLAY:
            clock_ = {**clock_, "playing": not clock_.get("playing"), "wall_ms": now}
        if trig == ids.REPLAY_TIMER:
            text_out = _fmt_input(clock_["at_ms"], tz)
        playing = bool(clock_.get("playing"))
        label = t("dash.replay.pause" if playing else "dash.replay.play", lang)
        return clock_, not playing, label, text_out

    @app.callback(
        Output(ids.REPLAY_KPI, "children"),
        Output(ids.REPLAY_MAP, "figure"),
        Output(ids.REPLAY_ALARMS, "children"),
        Output(ids.REPLAY_FEED, "children"),
        Output(ids.REPLAY_TRENDS, "figure"),
        Output(ids.REPLAY_NOW, "children"),
        Output(ids.BANNER, "children", allow_duplicate=True),
        Output(ids.BANNER, "className", allow_duplicate=True),
        Input(ids.REPLAY_CLOCK, "data"),
        prevent_initial_call=True,
    )
    async def frame(clock_: dict | None) -> tuple:
        if not clock_:
            raise PreventUpdate
        cookies = dash_ctx.cookies
        token = await c.signed_in(cookies)
        lang = _lang(cookies)
        profile = c.profile
        tz = profile.tz
        at_ms = int(clock_["at_ms"])
        at_iso = datetime.fromtimestamp(at_ms / 1000, tz=UTC).isoformat()
        try:
            state, alarms, trends, alerts, incidents = await asyncio.gather(
                c.client.get("/api/v1/replay/state", token, at=at_iso),
                c.client.get_all("/api/v1/alarms", token, cap=1000, page=500, at=at_iso, lang=lang),
                trends_at(token, at_ms),
                # the regional warnings in force at the instant (issue 12): drawn on the map as they were
                c.client.get_all("/api/v1/alerts", token, cap=200, page=200, at=at_iso, relevant="true"),
                c.client.get_all("/api/v1/incidents", token, cap=500, page=500, at=at_iso),  # as they were (issue 13)
            )
        except ApiError as exc:
            raise PreventUpdate from exc
        overview = {k: state[k] for k in ("sources", "open_tickets", "overdue_tickets", "messages_last_minute")}
        kpis = kpi_tiles(overview, alarms, lang, incidents=incidents)
        fig = city_map(
            profile=profile,
            sources=state["source_items"],
            latest=[],
            alarms=alarms,
            tickets=state["tickets"],
            lang=lang,
            th=LIGHT,
            metric_name=c.metric_name,
            service_name=c.service_name,
            tiles=c.tiles,
            alerts=alerts,
            incidents=incidents,
        )
        steps = [{**s, "updated_at": s["at"]} for s in state["feed"]]
        # An alarm's later changes are not known at the instant: it enters the feed when it was raised.
        raised = [{**a, "updated_at": a.get("raised_at")} for a in alarms]
        feed = feed_items(
            tickets=steps,
            alarms=raised,
            status_events=[],
            lang=lang,
            tz=tz,
            district_names=c.district_names(),
            service_name=c.service_name,
        )
        local_at = datetime.fromtimestamp(at_ms / 1000, tz=UTC).astimezone(tz).replace(tzinfo=None)
        trend_fig = trends_figure(trend_series(trends, profile, lang), th=LIGHT, cols=6, marker_x=local_at)
        stamp = when(at_ms, tz, lang, seconds=True)
        now_label = [
            html.Span(stamp, className="replay-clock", id="replay-stamp", **{"data-at": str(at_ms)}),
            html.Span(f" · {number(clock_.get('speed', 1), lang)}x"),
        ]
        banner = t("dash.replay.banner", lang, at=stamp)
        return (
            kpis,
            fig,
            alarm_rows(alarms, lang=lang, tz=tz, can_ack=False, actions=False),
            feed,
            trend_fig,
            now_label,
            banner,
            "banner replaying",
        )

    async def trends_at(token: str, at_ms: int) -> dict:
        # One read per five minutes of history: the 5-minute buckets do not move in between.
        profile = c.profile
        key = (profile.city.id, at_ms // 300_000)
        hit = trend_cache.get(key)
        if hit:
            return hit[1]
        out = await read_trends(c.client, profile, token, end=datetime.fromtimestamp(at_ms / 1000, tz=UTC))
        if len(trend_cache) > 64:
            trend_cache.clear()
        trend_cache[key] = (time.monotonic(), out)
        return out


def _speeds(lang: str) -> list[tuple[int, str]]:  # the same in every language
    return [(s, f"{s}x") for s in SPEEDS]


def _lang(cookies: dict) -> str:
    lang = cookies.get(LANG_COOKIE, "id")
    return lang if lang in ("id", "en") else "id"


def _fmt_input(ms: int, tz: Any) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
