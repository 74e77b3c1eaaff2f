"""The province view's builders (issue 15, `/province`): `GET /api/v1/province` in, figures and tables out.

Pure functions, no I/O: the page (dashboards.pages.province) reads the API and
hands its answer here; tests feed them plain dicts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import plotly.graph_objects as go
from dash import html

from app.i18n import t
from app.profile import PILLARS
from dashboards.figures import LIGHT, STATE_COLOURS, STATE_GLYPHS, Theme, bounds, esc, sla_colour
from dashboards.fmt import number, to_ms, when

SEVERITIES = ("critical", "major", "minor", "warning")
# A regency's state, worst first: the severity of its worst active alarm, else ok; no_data when it never sent.
STATES = (*SEVERITIES, "ok", "no_data")
STATE_FILL = {
    **{s: STATE_COLOURS[s] for s in SEVERITIES},
    "ok": "#c9d3dc",  # normal is muted (ISA-101): colour is for trouble
    "no_data": STATE_COLOURS["offline"],  # lost data: purple, as an offline source on the operator's map
}
LINK_CLASS = {"ok": "ok", "late": "late", "down": "down", "never": "never"}


def drill_href(city_id: str) -> str:
    """A regency's own window."""
    return f"/?city={city_id}"


def pct(v: float | None, lang: str) -> str:
    return t("num.none", lang) if v is None else f"{number(v, lang)}%"


def _tz(name: str | None) -> Any:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def age_text(iso: str | None, now_ms: int, lang: str) -> str:
    """How long ago `iso` was: '3 mnt lalu' / '3 min ago', in hours or days past two hours; '–' for never."""
    ms = to_ms(iso)
    if ms is None:
        return t("num.none", lang)
    s = max(0, (now_ms - ms) // 1000)
    if s < 90:
        return t("dash.prov.ago_s", lang, n=number(s, lang))
    if s < 7200:
        return t("dash.prov.ago_min", lang, n=number(s // 60, lang))
    if s < 172_800:
        return t("dash.prov.ago_h", lang, n=number(s // 3600, lang))
    return t("dash.prov.ago_d", lang, n=number(s // 86_400, lang))


def province_map(
    cities: Sequence[Mapping[str, Any]],
    *,
    state_names: Mapping[str, str],
    th: Theme = LIGHT,
    height: int | None = None,
) -> go.Figure:
    """The province on plain lon/lat axes (no tiles): each regency's outline filled in the colour of its worst
    state, its name (and state) at its centre. Trace i's `customdata` is its regency's id: a click drills down.

    The outline traces come first, one per ring, then one text trace of the names; `meta` of each trace is the
    regency's id too (the click handler reads it when plotly gives no point, over a fill).
    """
    data: list[dict] = []
    rings_all: list = []
    for c in cities:
        state = c.get("state") or "no_data"
        fill = STATE_FILL.get(state, STATE_FILL["no_data"])
        hover = f"<b>{esc(c.get('name'))}</b><br>{esc(state_names.get(state, state))}"
        for ring in c.get("outline") or []:
            rings_all.append(ring)
            data.append(
                {
                    "type": "scatter",
                    "x": [p[1] for p in ring],
                    "y": [p[0] for p in ring],
                    "mode": "lines",
                    "fill": "toself",
                    "fillcolor": fill,
                    "line": {"color": th.coast if state in ("ok", "no_data") else "#5a0000", "width": 1.2},
                    "hoveron": "fills+points",
                    "hoverinfo": "text",
                    "text": hover,
                    "customdata": [c["id"]] * len(ring),
                    "meta": c["id"],
                    "name": c["id"],
                    "showlegend": False,
                }
            )
    named = [c for c in cities if c.get("centre")]
    if named:
        data.append(
            {
                "type": "scatter",
                "x": [c["centre"]["lon"] for c in named],
                "y": [c["centre"]["lat"] for c in named],
                "mode": "markers+text",
                "marker": {
                    "size": 11,
                    "color": [STATE_FILL.get(c.get("state") or "no_data", STATE_FILL["no_data"]) for c in named],
                    "line": {"color": th.text, "width": 1},
                    "symbol": "circle",
                },
                "text": [
                    f"<b>{esc(short_name(c.get('name') or c['id']))}</b> {STATE_GLYPHS.get(c.get('state') or '', '')}"
                    for c in named
                ],
                "textposition": "top center",
                "textfont": {"color": th.text, "size": th.font_size + 2},
                "hovertext": [
                    f"<b>{esc(c.get('name'))}</b><br>{esc(state_names.get(c.get('state') or 'no_data', ''))}"
                    for c in named
                ],
                "hoverinfo": "text",
                "customdata": [c["id"] for c in named],
                "name": "names",
                "showlegend": False,
            }
        )
    pts = rings_all or [[[c["centre"]["lat"], c["centre"]["lon"]] for c in named]]
    xr, yr = bounds(pts, pad=0.12)
    layout = {
        "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
        "paper_bgcolor": th.sea,
        "plot_bgcolor": th.sea,
        "font": {"color": th.text, "size": th.font_size},
        "xaxis": {"range": list(xr), "visible": False, "fixedrange": True},
        "yaxis": {"range": list(yr), "visible": False, "scaleanchor": "x", "scaleratio": 1.0, "fixedrange": True},
        "dragmode": False,
        "uirevision": "province",
        "hovermode": "closest",
        "showlegend": False,
        **({"height": height} if height else {}),
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def short_name(name: str) -> str:
    """'Kabupaten Pulau Morotai' -> 'Pulau Morotai', 'Kota Ternate' -> 'Ternate': the map's label."""
    for prefix in ("Kabupaten ", "Kota ", "Kab. "):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def state_badge(state: str, lang: str) -> html.Span:
    """A regency's state: its shape and name on its colour."""
    return html.Span(
        [
            html.Span(STATE_GLYPHS.get(state, "●" if state == "ok" else "⊗"), **{"aria-hidden": "true"}),
            " ",
            t(f"dash.prov.state.{state}", lang),
        ],
        className=f"prov-state prov-state-{state}",
        style={"background": STATE_FILL.get(state, STATE_FILL["no_data"])},
    )


def regency_rows(cities: Sequence[Mapping[str, Any]], lang: str, now_ms: int) -> html.Table:
    """Every regency's state at a glance, one row each; its name links to its own window."""
    head = html.Tr(
        [
            html.Th(t(k, lang))
            for k in (
                "dash.prov.col.regency",
                "dash.prov.col.state",
                "dash.prov.col.sources",
                "dash.prov.col.tickets",
                "dash.prov.col.alarms",
                "dash.prov.col.incidents",
                "dash.prov.col.sla",
                "dash.prov.col.last",
                "dash.prov.col.link",
            )
        ]
    )
    rows = []
    for c in cities:
        src = c.get("sources") or {}
        tk = c.get("tickets") or {}
        al = c.get("alarms") or {}
        state = c.get("state") or "no_data"
        link = c.get("link") or "never"
        tz = _tz(c.get("timezone"))
        last_ms = to_ms(c.get("last_received"))
        alarms = [
            html.Span(
                [html.Span(STATE_GLYPHS[s], **{"aria-hidden": "true"}), f" {number(al.get(s, 0), lang)}"],
                className=f"prov-sev psev-{s}" + (" zero" if not al.get(s) else ""),
                title=t(f"dash.sev.{s}", lang),
            )
            for s in SEVERITIES
        ]
        rows.append(
            html.Tr(
                [
                    html.Td(
                        html.A(
                            c.get("name") or c["id"],
                            href=drill_href(c["id"]),
                            className="prov-drill",
                            id=f"prov-drill-{c['id']}",
                        )
                    ),
                    html.Td(state_badge(state, lang)),
                    html.Td(
                        f"{number(src.get('online', 0), lang)} / {number(src.get('total', 0), lang)}",
                        className="bad" if src.get("offline") else "",
                    ),
                    html.Td(
                        [
                            number(tk.get("open", 0), lang),
                            html.Span(
                                t("dash.prov.overdue_n", lang, n=number(tk.get("overdue", 0), lang)),
                                className="prov-overdue" + (" bad" if tk.get("overdue") else ""),
                            ),
                        ]
                    ),
                    html.Td(alarms, className="prov-sevs"),
                    html.Td(number((c.get("incidents") or {}).get("open", 0), lang)),
                    html.Td(
                        html.Span(
                            pct(c.get("sla_pct_30d"), lang),
                            className="sla",
                            style={"background": sla_colour(c.get("sla_pct_30d"))},
                        )
                    ),
                    html.Td(
                        [
                            html.Div(age_text(c.get("last_received"), now_ms, lang)),
                            html.Div(when(last_ms, tz, lang) if last_ms else "", className="note"),
                        ]
                    ),
                    html.Td(
                        html.Span(
                            t(f"dash.prov.link.{link}", lang),
                            className=f"prov-link link-{LINK_CLASS.get(link, 'never')}",
                        )
                    ),
                ],
                className=f"prov-row state-{state}",
                id=f"prov-row-{c['id']}",
                **{"data-city": c["id"]},
            )
        )
    return html.Table([html.Thead(head), html.Tbody(rows)], className="svc-table prov-table")


def pillar_grid(cities: Sequence[Mapping[str, Any]], lang: str) -> html.Table:
    """The six pillars per regency: a compact heatmap, each cell its score on the SLA colours ('–' without data)."""
    head = html.Tr(
        [html.Th(t("dash.prov.col.regency", lang))] + [html.Th(t(f"dash.pillar.{p}", lang)) for p in PILLARS]
    )
    rows = []
    for c in cities:
        scores = c.get("pillars") or {}
        cells = []
        for p in PILLARS:
            v = scores.get(p)
            cells.append(
                html.Td(
                    t("num.none", lang) if v is None else number(v, lang),
                    className="prov-heat" + (" none" if v is None else ""),
                    style={"background": sla_colour(v)},
                    id=f"prov-pillar-{c['id']}-{p}",
                )
            )
        rows.append(html.Tr([html.Td(short_name(c.get("name") or c["id"])), *cells]))
    return html.Table([html.Thead(head), html.Tbody(rows)], className="svc-table prov-pillars")


def league_table(
    league: Sequence[Mapping[str, Any]], cities: Sequence[Mapping[str, Any]], lang: str
) -> html.Table | html.Div:
    """Service performance per agency type across regencies, best overall first: SLA % (tickets) per regency."""
    if not league:
        return html.Div(t("dash.prov.league_none", lang), className="empty")
    ordered = sorted(league, key=lambda a: (a.get("overall_pct") is None, -(a.get("overall_pct") or 0.0)))
    head = html.Tr(
        [html.Th("#"), html.Th(t("col.agency", lang)), html.Th(t("dash.prov.col.overall", lang))]
        + [html.Th(short_name(c.get("name") or c["id"])) for c in cities]
    )
    rows = []
    for rank, a in enumerate(ordered, start=1):
        per = a.get("cities") or {}
        cells = []
        for c in cities:
            got = per.get(c["id"])
            if not got or not got.get("tickets"):
                cells.append(html.Td(t("num.none", lang), className="note"))
                continue
            cells.append(
                html.Td(
                    [
                        html.Span(
                            pct(got.get("sla_pct"), lang),
                            className="sla",
                            style={"background": sla_colour(got.get("sla_pct"))},
                        ),
                        html.Span(f" {number(got['tickets'], lang)}", className="note"),
                    ]
                )
            )
        rows.append(
            html.Tr(
                [
                    html.Td(str(rank)),
                    html.Td(html.Span(a.get("short") or a["agency"], title=a.get("name") or "")),
                    html.Td(
                        [
                            html.Span(
                                pct(a.get("overall_pct"), lang),
                                className="sla",
                                style={"background": sla_colour(a.get("overall_pct"))},
                            ),
                            html.Span(f" {number(a.get('tickets', 0), lang)}", className="note"),
                        ]
                    ),
                    *cells,
                ],
                id=f"league-{a['agency']}",
            )
        )
    return html.Table([html.Thead(head), html.Tbody(rows)], className="svc-table prov-league")


def totals(cities: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """The province's sums: sources online and total, open and overdue tickets, active alarms, open incidents."""
    out = {"online": 0, "total": 0, "open": 0, "overdue": 0, "alarms": 0, "critical": 0, "incidents": 0, "down": 0}
    for c in cities:
        src, tk, al = c.get("sources") or {}, c.get("tickets") or {}, c.get("alarms") or {}
        out["online"] += int(src.get("online") or 0)
        out["total"] += int(src.get("total") or 0)
        out["open"] += int(tk.get("open") or 0)
        out["overdue"] += int(tk.get("overdue") or 0)
        out["alarms"] += sum(int(al.get(s) or 0) for s in SEVERITIES)
        out["critical"] += int(al.get("critical") or 0)
        out["incidents"] += int((c.get("incidents") or {}).get("open") or 0)
        out["down"] += c.get("link") in ("down", "never")
    return out


def computed_at(iso: str | None, lang: str, tz_name: str | None) -> str:
    """When the figures were computed, in the province's (its first city's) zone."""
    ms = to_ms(iso) or int(datetime.now(UTC).timestamp() * 1000)
    return when(ms, _tz(tz_name), lang, seconds=True)
