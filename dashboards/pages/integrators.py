"""Integrator health (`/integrators`, operators and admins): is each vendor's gateway sending, and sending right?

Read through the API (`GET /api/v1/integrators/health`) like every panel: per
integrator (MQTT user) its sources and agencies, messages in the last hour,
last seen, refusals by reason and warnings over 24 h, a 24-hour sparkline and
the last refusal. Text from integrators (details, topics) is shown as text.
"""

from __future__ import annotations

import time
from typing import Any

from dash import Input, Output, ctx as dash_ctx, dcc, html
from dash.exceptions import PreventUpdate

from app.i18n import t
from dashboards import ids
from dashboards.apiclient import ApiError
from dashboards.auth import LANG_COOKIE
from dashboards.context import Ctx
from dashboards.fmt import number, to_ms, when
from dashboards.panels import panel

BARS = "▁▂▃▄▅▆▇█"


def sparkline(counts: list[int]) -> str:
    """Messages per hour as a line of block characters, the highest hour full; an hour without any is the lowest."""
    top = max(counts, default=0)
    if top <= 0:
        return BARS[0] * len(counts)
    return "".join(BARS[0] if n <= 0 else BARS[max(1, round(n / top * (len(BARS) - 1)))] for n in counts)


def layout(*, lang: str, kiosk: bool = False) -> html.Div:
    """The page's frame, filled by the callback below."""
    return html.Div(
        className="integrators",
        children=[
            html.H1(t("dash.integrators.title", lang)),
            html.Div(t("dash.integrators.note", lang), className="note"),
            html.Div(id=ids.INTEGRATORS_SUMMARY, className="kpis"),
            dcc.Store(id=ids.page_tick("integrators")),
            panel(
                "integrators", t("dash.integrators.sources", lang), html.Div(id=ids.INTEGRATORS_TABLE), max_age_s=600
            ),
        ],
    )


def register(app: Any, c: Ctx) -> None:
    """The page's callback on `app`."""

    @app.callback(
        Output(ids.INTEGRATORS_SUMMARY, "children"),
        Output(ids.INTEGRATORS_TABLE, "children"),
        Output(ids.FRESH, "data", allow_duplicate=True),
        Input(ids.page_tick("integrators"), "data"),
        prevent_initial_call="initial_duplicate",
    )
    async def fill(_n: Any) -> tuple:
        cookies = dash_ctx.cookies
        token = await c.signed_in(cookies)
        lang = cookies.get(LANG_COOKIE, "id") if cookies.get(LANG_COOKIE) in ("id", "en") else "id"
        try:
            data = await c.client.get("/api/v1/integrators/health", token)
        except ApiError as exc:
            if exc.status == 403:
                return [], html.Div(t("dash.integrators.forbidden", lang), className="empty"), {}
            raise PreventUpdate from exc
        tz = c.profile.tz  # the window's city's (dashboards.current)
        summary = [_integrator(u, lang, tz) for u in data["integrators"]]
        return summary, _table(data["targets"], lang, tz), {"integrators": int(time.time() * 1000)}


def _integrator(u: dict, lang: str, tz: Any) -> html.Div:
    silent = u["silent"]
    rows = [
        html.Div(u["name"], className="kpi-label"),
        html.Div(number(u["messages_1h"], lang), className="kpi-value"),
        html.Div(t("dash.integrators.per_hour", lang), className="kpi-label"),
        html.Div(
            f"{t('dash.integrators.refused', lang)} {number(u['refused_24h'], lang)} · "
            f"{t('dash.integrators.warnings', lang)} {number(u['warnings_24h'], lang)}",
            className="kpi-label",
        ),
        html.Div(
            f"{t('dash.integrators.last_seen', lang)} {when(to_ms(u['last_seen']), tz, lang)}", className="kpi-label"
        ),
    ]
    if silent:
        rows.append(html.Div(f"{t('dash.integrators.silent', lang)}: {', '.join(silent)}", className="kpi-label bad"))
    return html.Div(rows, className="kpi integrator" + (" bad" if silent else ""), id=f"integrator-{u['name']}")


def _table(targets: list[dict], lang: str, tz: Any) -> html.Table:
    cols = (
        "integrator",
        "target",
        "kind",
        "messages_1h",
        "last_seen",
        "refused",
        "warnings",
        "sparkline",
        "last_refusal",
    )
    head = html.Tr([html.Th(t(f"dash.integrators.col.{k}", lang)) for k in cols])
    rows = []
    for x in targets:
        refused = ", ".join(f"{r} {number(n, lang)}" for r, n in sorted(x["refused_24h"].items())) or "0"
        last = x["last_refusal"]
        last_cell = (
            [
                html.Span(when(to_ms(last["at"]), tz, lang), className="feed-time"),
                f" {last['reason']}: {last['detail'][:200]}",
            ]
            if last
            else "–"
        )
        rows.append(
            html.Tr(
                [
                    html.Td(", ".join(x["integrators"]) or t("dash.integrators.unassigned", lang)),
                    html.Td(x["id"]),
                    html.Td(t(f"dash.integrators.kind.{x['kind'] or 'unknown'}", lang)),
                    html.Td(number(x["messages_1h"], lang), className="bad" if not x["messages_1h"] else ""),
                    html.Td(when(to_ms(x["last_seen"]), tz, lang) if x["last_seen"] else "–"),
                    html.Td(refused, className="bad" if x["refused_24h"] else ""),
                    html.Td(number(x["warnings_24h"], lang)),
                    html.Td(
                        sparkline(x["sparkline"]), className="sparkline", title=" ".join(str(n) for n in x["sparkline"])
                    ),
                    html.Td(last_cell, className="last-refusal"),
                ],
                id=f"target-{x['id']}",
            )
        )
    return html.Table([html.Thead(head), html.Tbody(rows)], className="svc-table integrators-table")
