"""The regent view (`/regent`): service performance per agency and service over a period, the six pillars, export.

Read through the API like every panel; one answer per period is shared by
every open regent view for a minute (tickets move slowly at this scale).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import plotly.graph_objects as go
from dash import Input, Output, ctx as dash_ctx, dcc, html
from dash.exceptions import PreventUpdate

from app.i18n import t
from app.profile import PILLARS
from app.reports.pillars import pillar_scores
from dashboards import ids
from dashboards.apiclient import ApiError
from dashboards.auth import LANG_COOKIE
from dashboards.context import Ctx
from dashboards.current import query as city_query
from dashboards.figures import LIGHT, agency_bars, graph_config, pillar_figure, sla_colour
from dashboards.fmt import number, to_ms, when
from dashboards.layout import choice
from dashboards.panels import panel

PERIODS = (7, 30, 90)
DEFAULT_DAYS = 30
CACHE_S = 60.0


def layout(*, lang: str, kiosk: bool = False) -> html.Div:
    """The regent view's frame (filled by the callback below)."""
    return html.Div(
        className="regent",
        children=[
            html.Div(
                [
                    html.H1(t("dash.regent.title", lang)),
                    choice.group(ids.REGENT_PERIOD, t("dash.regent.period", lang), _periods(lang), DEFAULT_DAYS),
                    html.Div(id=ids.REGENT_EXPORT, className="exports"),
                ],
                className="regent-bar",
            ),
            html.Div(id="regent-summary", className="regent-summary"),
            dcc.Store(id=ids.page_tick("regent")),
            panel(
                "pillars",
                t("dash.regent.pillars", lang),
                [
                    dcc.Graph(id=ids.REGENT_PILLARS, config=graph_config(lang), className="pillar-graph"),
                    html.Div(id="pillar-list", className="pillar-list"),
                    html.Div(t("dash.regent.score_note", lang), className="note"),
                ],
                max_age_s=600,
            ),
            panel(
                "agency",
                t("dash.regent.by_agency", lang),
                dcc.Graph(id=ids.REGENT_AGENCY_FIG, config=graph_config(lang), className="fill-graph"),
                max_age_s=600,
            ),
            panel(
                "rtrend",
                t("dash.regent.trend", lang),
                dcc.Graph(id=ids.REGENT_TREND, config=graph_config(lang), className="fill-graph"),
                max_age_s=600,
            ),
            panel("bysvc", t("dash.regent.by_service", lang), html.Div(id=ids.REGENT_TABLE), max_age_s=600),
            panel(
                "overdue",
                t("dash.regent.overdue", lang),
                html.Ul(id=ids.REGENT_OVERDUE, className="feed fit"),
                max_age_s=600,
            ),
            # citizen services (issue 14): SP4N-LAPOR! stages late, per agency
            panel("lapor", t("dash.regent.lapor", lang), html.Div(id=ids.REGENT_LAPOR), max_age_s=600),
        ],
    )


def _periods(lang: str) -> list[tuple[int, str]]:
    return [(n, t("dash.regent.days", lang, n=n)) for n in PERIODS]


def _lang(cookies: dict) -> str:
    return cookies.get(LANG_COOKIE, "id") if cookies.get(LANG_COOKIE) in ("id", "en") else "id"


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat()


def register(app: Any, c: Ctx) -> None:
    """The regent view's callback on `app` (about the window's city when it runs: dashboards.current)."""
    cache: dict[tuple, tuple[float, dict]] = {}
    lock = asyncio.Lock()
    choice.register(app, ids.REGENT_PERIOD, _periods, _lang)

    async def load(token: str, days: int, lang: str) -> dict:
        tz = c.profile.tz
        key = (c.city_id, days, lang)
        async with lock:
            hit = cache.get(key)
            if hit and time.monotonic() - hit[0] < CACHE_S:
                return hit[1]
            now = datetime.now(tz)
            end = now
            start = (now - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
            step = timedelta(days=1 if days <= 30 else 7)
            edges = []
            s = start
            while s < end:
                edges.append((s, min(s + step, end)))
                s += step
            get = c.client.get
            status, overdue, stages, per_step, sensing = await asyncio.gather(
                get("/api/v1/services/status", token, start=_iso(start), end=_iso(end)),
                get("/api/v1/tickets", token, overdue="true", limit=40),
                get("/api/v1/services/stages", token),
                asyncio.gather(*(get("/api/v1/services/status", token, start=_iso(a), end=_iso(b)) for a, b in edges)),
                c.city.read(token, lang, ("sources", "latest", "alarms")),
            )
            data = {
                "start": start,
                "end": end,
                "status": status,
                "overdue": overdue.get("items", []),
                "stages": stages,
                "trend": [(a, st["overall"]) for (a, _b), st in zip(edges, per_step, strict=True)],
                "sensing": {k: p.data for k, p in sensing.items()},
            }
            cache[key] = (time.monotonic(), data)
            return data

    @app.callback(
        Output("regent-summary", "children"),
        Output(ids.REGENT_PILLARS, "figure"),
        Output("pillar-list", "children"),
        Output(ids.REGENT_AGENCY_FIG, "figure"),
        Output(ids.REGENT_TREND, "figure"),
        Output(ids.REGENT_TABLE, "children"),
        Output(ids.REGENT_OVERDUE, "children"),
        Output(ids.REGENT_LAPOR, "children"),
        Output(ids.REGENT_EXPORT, "children"),
        Output(ids.FRESH, "data", allow_duplicate=True),
        Input(ids.REGENT_DAYS, "data"),
        Input(ids.page_tick("regent"), "data"),
        prevent_initial_call="initial_duplicate",
    )
    async def fill(days: int | None, _n: Any) -> tuple:
        cookies = dash_ctx.cookies
        token = await c.signed_in(cookies)
        lang = _lang(cookies)
        days = days if days in PERIODS else DEFAULT_DAYS
        profile = c.profile
        tz = profile.tz
        try:
            d = await load(token, days, lang)
        except ApiError as exc:
            raise PreventUpdate from exc
        status = d["status"]
        overall = status.get("overall", {})
        summary = [
            _tile(t("col.opened", lang), number(overall.get("opened"), lang)),
            _tile(t("col.resolved", lang), number(overall.get("resolved"), lang)),
            _tile(
                t("col.sla_pct", lang), _pct(overall.get("sla_pct"), lang), colour=sla_colour(overall.get("sla_pct"))
            ),
            _tile(t("col.open", lang), number(overall.get("open"), lang)),
            _tile(t("col.overdue", lang), number(overall.get("overdue"), lang), bad=bool(overall.get("overdue"))),
            _tile(t("col.median", lang), _minutes(overall.get("median_resolution_min"), lang)),
        ]
        sensing = d["sensing"]
        scores = pillar_scores(
            profile,
            service_items=status.get("items", []),
            latest=sensing.get("latest") or [],
            sources=sensing.get("sources") or [],
            alarms=sensing.get("alarms") or [],
        )
        names = {p: t(f"dash.pillar.{p}", lang) for p in PILLARS}
        pillars_fig = pillar_figure({p: scores[p].score for p in PILLARS}, names)
        pillar_list = [
            html.Div(
                [
                    html.Span(names[p]),
                    html.Span(
                        _pct(scores[p].score, lang), className="sla", style={"background": sla_colour(scores[p].score)}
                    ),
                ],
                className="pillar-row",
                id=f"pillar-{p}",
            )
            for p in PILLARS
        ]
        short_names = c.agency_short()
        agencies = [
            {
                "label": short_names.get(a["agency"], a.get("agency_name") or a["agency"]),
                "sla_pct": a.get("sla_pct"),
                "open": a.get("open", 0),
                "overdue": a.get("overdue", 0),
            }
            for a in status.get("agencies", [])
        ]
        agency_fig = agency_bars(
            agencies, labels={"open": t("col.open", lang).lower(), "overdue": t("col.overdue", lang).lower()}
        )
        trend_fig = _trend_figure(d["trend"], lang, tz)
        table = _service_table(status.get("items", []), lang, c)
        overdue = [
            html.Li(
                [
                    html.Span(when(to_ms(tk.get("due_at")), tz, lang), className="feed-time"),
                    f"{tk['ticket_id']} · {short_names.get(tk['agency'], tk['agency'])} · "
                    f"{c.service_name(tk.get('service'), lang)} · {tk.get('title') or ''}",
                ],
                className="feed-item overdue",
            )
            for tk in d["overdue"][:16]
        ] or [html.Li(t("dash.regent.none", lang), className="empty")]
        span = {"start": _iso(d["start"]), "end": _iso(d["end"])}
        q = urlencode(span) + city_query()
        exports = [
            html.A(
                t("dash.regent.export_csv", lang),
                href=f"/api/v1/exports/services.csv?{q}",
                className="btn",
                id="export-csv",
            ),
            html.A(
                t("dash.regent.export_report", lang),
                href=f"/api/v1/reports/services?{q}&lang={lang}",
                target="_blank",
                className="btn",
                id="export-report",
            ),
            # Incidents (issue 13): the printable summary of the incidents of the same period.
            html.A(
                t("dash.regent.incident_report", lang),
                href=f"/api/v1/reports/incidents?{q}&lang={lang}",
                target="_blank",
                className="btn",
                id="export-incidents",
            ),
        ]
        now = int(time.time() * 1000)
        fresh = {k: now for k in ("pillars", "agency", "rtrend", "bysvc", "overdue", "lapor")}
        lapor = _lapor_table(d["stages"], lang, short_names)
        return summary, pillars_fig, pillar_list, agency_fig, trend_fig, table, overdue, lapor, exports, fresh


def _tile(label: str, value: str, *, colour: str | None = None, bad: bool = False) -> html.Div:
    style = {"borderLeftColor": colour} if colour else {}
    return html.Div(
        [html.Div(value, className="kpi-value"), html.Div(label, className="kpi-label")],
        className="kpi" + (" bad" if bad else ""),
        style=style,
    )


def _pct(v: float | None, lang: str) -> str:
    return "–" if v is None else f"{number(v, lang)}%"


def _minutes(v: float | None, lang: str) -> str:
    if v is None:
        return "–"
    if v >= 120:
        return f"{number(v / 60, lang, 1)} {t('unit.hour', lang)}"
    return f"{number(v, lang)} {t('unit.minute', lang)}"


def _trend_figure(trend: list, lang: str, tz: Any) -> go.Figure:
    x = [a.astimezone(tz).replace(tzinfo=None) for a, _ in trend]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=x, y=[o.get("opened", 0) for _, o in trend], name=t("dash.regent.opened", lang), marker_color="#0a84ff"
        )
    )
    fig.add_trace(
        go.Bar(
            x=x,
            y=[o.get("resolved", 0) for _, o in trend],
            name=t("dash.regent.resolved", lang),
            marker_color="#30d158",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=[o.get("sla_pct") for _, o in trend],
            name=t("col.sla_pct", lang),
            yaxis="y2",
            mode="lines+markers",
            line={"color": "#ff9500", "width": 2},
        )
    )
    fig.update_layout(
        barmode="group",
        margin={"l": 40, "r": 40, "t": 10, "b": 30},
        paper_bgcolor=LIGHT.paper,
        plot_bgcolor=LIGHT.paper,
        yaxis={"gridcolor": LIGHT.grid},
        yaxis2={"overlaying": "y", "side": "right", "range": [0, 105], "ticksuffix": "%", "showgrid": False},
        legend={"orientation": "h", "y": 1.08, "x": 0},
        font={"size": 12},
    )
    return fig


def _service_table(items: list, lang: str, c: Ctx) -> html.Table:
    short = c.agency_short()
    head = html.Tr(
        [
            html.Th(t(k, lang))
            for k in (
                "col.agency",
                "col.service",
                "col.opened",
                "col.resolved",
                "col.open",
                "col.overdue",
                "col.sla_pct",
                "col.median",
            )
        ]
    )
    rows = []
    for it in items:
        if not (it.get("opened") or it.get("resolved") or it.get("open")):
            continue
        rows.append(
            html.Tr(
                [
                    html.Td(short.get(it["agency"], it["agency"])),
                    html.Td(c.service_name(it.get("service"), lang)),
                    html.Td(number(it.get("opened"), lang)),
                    html.Td(number(it.get("resolved"), lang)),
                    html.Td(number(it.get("open"), lang)),
                    html.Td(number(it.get("overdue"), lang), className="bad" if it.get("overdue") else ""),
                    html.Td(
                        html.Span(
                            _pct(it.get("sla_pct"), lang),
                            className="sla",
                            style={"background": sla_colour(it.get("sla_pct"))},
                        )
                    ),
                    html.Td(_minutes(it.get("median_resolution_min"), lang)),
                ]
            )
        )
    return html.Table([html.Thead(head), html.Tbody(rows)], className="svc-table")


def _lapor_table(stages: dict, lang: str, short: dict[str, str]) -> html.Table | html.Div:
    """Per agency and SP4N-LAPOR! stage: late of open, the late ones marked (citizen services, issue 14)."""
    agencies = stages.get("agencies") or []
    if not agencies:
        return html.Div(t("dash.regent.lapor_none", lang), className="empty")
    targets = stages.get("targets") or {}
    names = list(targets)
    head = html.Tr(
        [html.Th(t("col.agency", lang))]
        + [
            html.Th(
                [
                    t(f"lapor.stage.{st}", lang),
                    html.Div(t("dash.regent.lapor_target", lang, days=number(targets[st], lang)), className="note"),
                ]
            )
            for st in names
        ]
    )
    rows = [
        html.Tr(
            [html.Td(short.get(a["agency"], a.get("agency_name") or a["agency"]))]
            + [
                html.Td(
                    t("dash.regent.lapor_cell", lang, late=a["stages"][st]["late"], open=a["stages"][st]["open"]),
                    className="bad" if a["stages"][st]["late"] else "",
                    id=f"lapor-{a['agency']}-{st}",
                )
                for st in names
            ],
            className="lapor-row",
        )
        for a in agencies
    ]
    return html.Table([html.Thead(head), html.Tbody(rows)], className="svc-table lapor-table")
