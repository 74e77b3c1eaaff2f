"""The alarm system's performance (`/alarm-kpis`, every role): EEMUA 191 / ISA-18.2 figures over a period.

Read through the API (`GET /api/v1/alarm-kpis`) like every panel: one row per
KPI with its value, unit, target and standard, a figure that falls short
marked in colour and in words; the ten most frequent alarms; and a link to
the same figures as CSV (`/api/v1/alarm-kpis.csv`) for the same period.
Rule and subject names come from integrators and are shown as text.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from dash import Input, Output, ctx as dash_ctx, dcc, html
from dash.exceptions import PreventUpdate

from app.i18n import t
from dashboards import ids
from dashboards.apiclient import ApiError
from dashboards.context import Ctx
from dashboards.current import query as city_query
from dashboards.fmt import number, to_ms, when
from dashboards.layout import choice
from dashboards.pages import regent
from dashboards.panels import panel

# The regent view's periods, so both pages offer the same choice.
PERIODS, DEFAULT_DAYS = regent.PERIODS, regent.DEFAULT_DAYS
_periods, _lang = regent._periods, regent._lang  # noqa: SLF001
PANELS = ("akpis", "atop10")


def layout(*, lang: str, kiosk: bool = False) -> html.Div:
    """The page's frame, filled by the callback below."""
    return html.Div(
        className="alarm-kpis",
        children=[
            html.Div(
                [
                    html.H1(t("dash.akpi.title", lang)),
                    choice.group(ids.AKPI_PERIOD, t("dash.regent.period", lang), _periods(lang), DEFAULT_DAYS),
                    html.Div(id=ids.AKPI_EXPORT, className="exports"),
                ],
                className="regent-bar",
            ),
            html.Div(t("dash.akpi.note", lang), className="note"),
            html.Div(id=ids.AKPI_SUMMARY, className="note"),
            dcc.Store(id=ids.page_tick("alarm-kpis")),
            panel("akpis", t("dash.akpi.kpis", lang), html.Div(id=ids.AKPI_TABLE), max_age_s=600),
            panel("atop10", t("dash.akpi.top10", lang), html.Div(id=ids.AKPI_TOP), max_age_s=600),
        ],
    )


def _value(v: float | None, lang: str) -> str:
    if v is None:
        return number(None, lang)
    return number(v, lang, 0 if float(v).is_integer() else 2)


def _target(target: str) -> str:
    return target.replace("<=", "≤").replace(">=", "≥")


def kpi_rows(kpis: list[dict], lang: str) -> list[html.Tr]:
    """One table row per KPI of the API's answer; a figure that falls short (`meets` false) is marked `bad`
    and says so in words, not by colour alone."""
    rows = []
    for k in kpis:
        meets = bool(k["meets"])
        rows.append(
            html.Tr(
                [
                    html.Td(t(f"dash.akpi.kpi.{k['key']}", lang)),
                    html.Td(_value(k["value"], lang), className="num"),
                    html.Td(t(f"dash.akpi.unit.{k['unit']}", lang)),
                    html.Td(_target(k["target"])),
                    html.Td(
                        t("dash.akpi.meets" if meets else "dash.akpi.short", lang),
                        className="" if meets else "bad",
                    ),
                    html.Td(k["standard"]),
                ],
                id=f"akpi-{k['key']}",
                className="akpi-row" + ("" if meets else " short"),
            )
        )
    return rows


def kpi_table(kpis: list[dict], lang: str) -> html.Table:
    head = html.Tr([html.Th(t(f"dash.akpi.col.{c}", lang)) for c in ("kpi", "value", "unit", "target", "meets", "std")])
    return html.Table([html.Thead(head), html.Tbody(kpi_rows(kpis, lang))], className="svc-table akpi-table")


def top_table(top: list[dict], lang: str) -> html.Table | html.Div:
    """The most frequent alarms, most first; rule and subject (from integrators) as plain text."""
    if not top:
        return html.Div(t("dash.akpi.none", lang), className="empty")
    head = html.Tr([html.Th(t(f"dash.akpi.col.{c}", lang)) for c in ("rank", "rule", "subject", "count", "share")])
    rows = [
        html.Tr(
            [
                html.Td(str(i)),
                html.Td(f["rule"]),
                html.Td(f["subject"]),
                html.Td(number(f["count"], lang)),
                html.Td(f"{_value(f['share_pct'], lang)}%"),
            ],
            className="akpi-top",
        )
        for i, f in enumerate(top, 1)
    ]
    return html.Table([html.Thead(head), html.Tbody(rows)], className="svc-table akpi-top-table")


def register(app: Any, c: Ctx) -> None:
    """The page's callbacks on `app`."""
    choice.register(app, ids.AKPI_PERIOD, _periods, _lang)

    @app.callback(
        Output(ids.AKPI_SUMMARY, "children"),
        Output(ids.AKPI_TABLE, "children"),
        Output(ids.AKPI_TOP, "children"),
        Output(ids.AKPI_EXPORT, "children"),
        Output(ids.FRESH, "data", allow_duplicate=True),
        Input(ids.AKPI_DAYS, "data"),
        Input(ids.page_tick("alarm-kpis"), "data"),
        prevent_initial_call="initial_duplicate",
    )
    async def fill(days: int | None, _n: Any) -> tuple:
        cookies = dash_ctx.cookies
        token = await c.signed_in(cookies)
        lang = _lang(cookies)
        days = days if days in PERIODS else DEFAULT_DAYS
        tz = c.profile.tz  # the window's city's (dashboards.current)
        end = datetime.now(tz)
        start = (end - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
        span = {"start": start.astimezone(UTC).isoformat(), "end": end.astimezone(UTC).isoformat()}
        try:
            d = await c.client.get("/api/v1/alarm-kpis", token, **span)
        except ApiError as exc:
            raise PreventUpdate from exc
        summary = t(
            "dash.akpi.summary",
            lang,
            raised=number(d["raised"], lang),
            acknowledged=number(d["acknowledged"], lang),
            as_of=when(to_ms(d["as_of"]), tz, lang),
        )
        export = html.A(
            t("dash.regent.export_csv", lang),
            href=f"/api/v1/alarm-kpis.csv?{urlencode(span)}{city_query()}",
            className="btn",
            id=ids.AKPI_CSV,
        )
        now = int(time.time() * 1000)
        return summary, kpi_table(d["kpis"], lang), top_table(d["top10"], lang), export, dict.fromkeys(PANELS, now)
