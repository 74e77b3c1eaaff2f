"""Panel builders shared by the operator window and replay: data (API JSON) in, Dash components out.

Pure functions: no I/O, so the same builder draws the live window and the
window as it was at a past instant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import tzinfo
from typing import TYPE_CHECKING, Any

from dash import html

from app.i18n import t
from app.profile import Profile
from dashboards import ids
from dashboards.cluster import RANK, Point, cluster, worst
from dashboards.figures import (
    KM_PER_DEG,
    RING_KM,
    SEVERITY_GLYPHS,
    STATE_COLOURS,
    STATE_GLYPHS,
    Theme,
    Tiles,
    bounds,
    esc,
    map_figure,
    sla_colour,
)
from dashboards.fmt import clock, number, parse_iso, to_ms

if TYPE_CHECKING:
    import plotly.graph_objects as go

SEVERITIES = ("critical", "major", "minor", "warning")


def panel(name: str, title: str, body: Any, *, max_age_s: int = 60, extra: Sequence = ()) -> html.Section:
    """A panel with its title and freshness stamp; live.js greys it out when its data is older than `max_age_s`."""
    return html.Section(
        id=f"panel-{name}",
        className=f"panel panel-{name}",
        children=[
            html.Div([html.H2(title), *extra, html.Span("", className="fresh")], className="panel-head"),
            html.Div(body, className="panel-body"),
        ],
        **{"data-maxage": str(max_age_s * 1000)},
    )


def glyph(state: str) -> html.Span:
    """The state's shape in text (its map marker's shape): a severity reads without its colour. Hidden from
    screen readers, which read the label beside it."""
    return html.Span(STATE_GLYPHS.get(state, ""), className="glyph", **{"aria-hidden": "true"})


def kpi_tiles(
    overview: Mapping[str, Any] | None,
    alarms: Sequence[Mapping[str, Any]],
    lang: str,
    *,
    incidents: Sequence[Mapping[str, Any]] | None = None,
) -> list:
    """The KPI row: sources by health, open and overdue tickets, active alarms by severity, messages per minute;
    and the running incidents when given (the operator window), marked when one of them has a late step."""
    o = overview or {}
    src = o.get("sources") or {}
    by_sev = alarm_counts(o, alarms)

    def tile(key: str, value: Any, cls: str = "") -> html.Div:
        return html.Div(
            [
                html.Div(number(value, lang) if isinstance(value, int | float) else value, className="kpi-value"),
                html.Div(t(f"dash.kpi.{key}", lang), className="kpi-label"),
            ],
            className=f"kpi {cls}",
            id=f"kpi-{key}",
        )

    sev_chips = html.Div(
        [
            html.Span(
                [glyph(s), number(by_sev.get(s, 0), lang)],
                className=f"chip sev-{s}" + ("" if by_sev.get(s) else " zero"),
                title=t(f"dash.sev.{s}", lang),
            )
            for s in SEVERITIES
        ],
        className="kpi-value chips",
    )
    alarm_tile = html.Div(
        [sev_chips, html.Div(t("dash.kpi.alarms", lang), className="kpi-label")],
        className="kpi kpi-alarms" + (" hot" if by_sev.get("critical") else ""),
        id="kpi-alarms",
    )
    return [
        # Sources online are the normal state: no colour. Stale and offline take the lost-data colours.
        tile("online", src.get("online", 0)),
        tile("stale", src.get("stale", 0), "warn" if src.get("stale") else ""),
        tile("offline", src.get("offline", 0), "off" if src.get("offline") else ""),
        tile("open", o.get("open_tickets", 0)),
        tile("overdue", o.get("overdue_tickets", 0), "bad" if o.get("overdue_tickets") else ""),
        alarm_tile,
        tile("rate", o.get("messages_last_minute", 0)),
        *(
            [tile("incidents", len(incidents), "bad" if any(i.get("steps_late") for i in incidents) else "")]
            if incidents is not None
            else []
        ),
    ]


def alarm_counts(overview: Mapping[str, Any], alarms: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Open alarms by severity: the overview's figure when it has one, else counted from the list."""
    given = overview.get("alarms") if overview else None
    if isinstance(given, Mapping):
        return {s: int(given.get(s, 0)) for s in SEVERITIES}
    out = dict.fromkeys(SEVERITIES, 0)
    for a in alarms:
        if a.get("state") in ("active", "acknowledged") and a.get("severity") in out:
            out[a["severity"]] += 1
    return out


def sorted_alarms(alarms: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Unacknowledged first, then by severity, newest first."""
    return sorted(
        alarms,
        key=lambda a: (
            a.get("state") != "active",
            SEVERITIES.index(a["severity"]) if a.get("severity") in SEVERITIES else 9,
            -(to_ms(a.get("raised_at")) or 0),
        ),
    )


def alarm_rows(
    alarms: Sequence[Mapping[str, Any]], *, lang: str, tz: tzinfo, can_ack: bool, limit: int = 14, actions: bool = True
) -> list:
    """The alarm panel: one row per open alarm, with an acknowledge button (enabled for operators; none in replay)."""
    if not alarms:
        return [html.Div(t("dash.alarm.none", lang), className="empty")]
    ordered = sorted_alarms(alarms)
    rows = [alarm_row(a, lang=lang, tz=tz, can_ack=can_ack, actions=actions) for a in ordered[:limit]]
    rows.append(more_row(max(0, len(ordered) - limit)))
    return rows


def more_row(extra: int) -> html.Div:
    """How many rows are not shown: those past the server's limit (`extra`), and (assets/fit.js) those the panel
    has no room for."""
    return html.Div(f"+{extra}" if extra else "", className="more", hidden=not extra, **{"data-extra": str(extra)})


def ack_button(label: str, button_id: dict[str, Any], lang: str, can_ack: bool) -> html.Button:
    """An acknowledge button: enabled for operators; for a viewer disabled, saying why."""
    return html.Button(
        label,
        id=button_id,
        className="ack",
        n_clicks=0,
        disabled=not can_ack,
        title="" if can_ack else t("dash.alarm.viewer_only", lang),
    )


def alarm_row(
    a: Mapping[str, Any], *, lang: str, tz: tzinfo, can_ack: bool, actions: bool = True, tags: Sequence[str] = ()
) -> html.Div:
    """One alarm's row: severity, message, when and where (and `tags`: stale, escalated), its action."""
    sev = a.get("severity", "warning")
    acked = a.get("state") == "acknowledged"
    where = " · ".join(x for x in (a.get("source_id"), a.get("district"), a.get("ticket_id")) if x)
    if acked:
        action: Any = html.Span(t("dash.alarm.acked_by", lang, by=a.get("acknowledged_by") or "?"), className="acked")
    elif not actions:
        action = html.Span(t(f"dash.alarm.state.{a.get('state', 'active')}", lang), className="acked")
    else:
        action = ack_button(t("dash.alarm.ack", lang), {"type": ids.ACK_BUTTON, "alarm": a["id"]}, lang, can_ack)
    meta = " · ".join([clock(to_ms(a.get("raised_at")), tz, lang), *([where] if where else []), *tags])
    return html.Div(
        [
            html.Span([glyph(sev), t(f"dash.sev.{sev}", lang)], className=f"sev sev-{sev}"),
            html.Div(
                [
                    html.Div(a.get("message") or a.get("rule"), className="alarm-msg"),
                    html.Div(meta, className="alarm-meta"),
                ],
                className="alarm-text",
            ),
            action,
        ],
        className=f"alarm-row state-{a.get('state')}" + (" blink" if sev == "critical" and not acked else ""),
        id=f"alarm-{a['id']}",
    )


def feed_items(
    *,
    tickets: Sequence[Mapping[str, Any]],
    alarms: Sequence[Mapping[str, Any]],
    status_events: Sequence[Mapping[str, Any]],
    lang: str,
    tz: tzinfo,
    district_names: Mapping[str, str],
    service_name: Any,
    limit: int = 16,
    alerts: Sequence[Mapping[str, Any]] = (),
) -> list:
    """The live feed: newest tickets, alarm changes, regional warnings and sources going on or off line, newest first."""
    items: list[tuple[int, str, str]] = []
    for al in alerts:  # regional warnings that concern the city (issue 12)
        sev = al.get("alarm_severity") or "warning"
        where = ", ".join(district_names.get(d, d) for d in al.get("districts") or []) or "–"
        text = t(
            "dash.feed.alert",
            lang,
            severity=t(f"dash.sev.{sev}", lang),
            headline=al.get("headline") or al.get("event") or "",
            where=where,
        )
        items.append((to_ms(al.get("sent")) or 0, f"sev-{sev}", text))
    for tk in tickets:
        at = to_ms(tk.get("updated_at") or tk.get("opened_at")) or 0
        text = t(
            "dash.feed.ticket",
            lang,
            id=tk.get("ticket_id"),
            service=service_name(tk.get("service"), lang),
            district=district_names.get(tk.get("district") or "", tk.get("district") or "–"),
            title=tk.get("title") or "",
        )
        items.append((at, "overdue" if tk.get("overdue") else f"prio-{tk.get('priority', 'normal')}", text))
    for a in alarms:
        at = to_ms(a.get("updated_at") or a.get("raised_at")) or 0
        sev = a.get("severity", "warning")
        text = t(
            "dash.feed.alarm", lang, severity=t(f"dash.sev.{sev}", lang), message=a.get("message") or a.get("rule")
        )
        items.append((at, f"sev-{sev}", text))
    for e in status_events:
        key = "dash.feed.source_online" if e.get("online") else "dash.feed.source_offline"
        items.append(
            (to_ms(e.get("at")) or 0, "online" if e.get("online") else "offline", t(key, lang, source=e["source_id"]))
        )
    items.sort(key=lambda x: -x[0])
    if not items:
        return [html.Li(t("dash.feed.empty", lang), className="empty")]
    return [
        html.Li(
            [html.Span(clock(at, tz, lang, seconds=True), className="feed-time"), html.Span(text)],
            className=f"feed-item {cls}",
        )
        for at, cls, text in items[:limit]
    ]


OTHER = "other"  # the services table's row of every agency the profile does not know


def service_table(
    status: Mapping[str, Any] | None,
    profile: Profile,
    lang: str,
    *,
    open_tickets: Sequence[Mapping[str, Any]] | None = None,
    columns: int = 2,
) -> Any:
    """Open, overdue and SLA % per agency of the profile, the SLA cell in the report's colours.

    Tickets of agencies the profile does not know are summed in one last row
    ("other / unregistered"), so the rows add up to the KPI tiles. `open_tickets`
    (every open ticket, re-read on each ticket notice like the tiles) gives the
    open and overdue columns when the caller holds it; the SLA % comes from the
    slower `status`. The rows are laid out in `columns` side-by-side tables, so
    that every agency fits the panel on a 1920x1080 wall.
    """
    known = {ag.id for ag in profile.agencies}
    rows: dict[str, dict[str, Any]] = {ag.id: {} for ag in profile.agencies}
    unknown = [a for a in (status or {}).get("agencies", []) if a["agency"] not in known]
    for a in (status or {}).get("agencies", []):
        if a["agency"] in known:
            rows[a["agency"]] = dict(a)
    if unknown:
        rows[OTHER] = {
            k: sum(int(a.get(k) or 0) for a in unknown)
            for k in ("open", "overdue", "resolved_with_due", "resolved_within_sla")
        }
        with_due = rows[OTHER]["resolved_with_due"]
        rows[OTHER]["sla_pct"] = round(100 * rows[OTHER]["resolved_within_sla"] / with_due, 1) if with_due else None
    if open_tickets is not None:
        for r in rows.values():
            r["open"] = r["overdue"] = 0
        for tk in open_tickets:
            r = rows.setdefault(tk.get("agency") if tk.get("agency") in known else OTHER, {"open": 0, "overdue": 0})
            r["open"] += 1
            r["overdue"] += int(bool(tk.get("overdue")))
    if OTHER in rows and not any(rows[OTHER].get(k) for k in ("open", "overdue", "resolved_with_due")):
        del rows[OTHER]  # nothing of an unknown agency: no row for it
    names = {ag.id: (ag.short, ag.name) for ag in profile.agencies}
    strangers = {a["agency"] for a in unknown} | {
        tk.get("agency") for tk in open_tickets or () if tk.get("agency") not in known
    }
    names[OTHER] = (t("dash.services.other", lang), ", ".join(sorted(str(a) for a in strangers)))

    def row(key: str, a: Mapping[str, Any]) -> html.Tr:
        pct = a.get("sla_pct")
        return html.Tr(
            [
                html.Td(names[key][0], title=names[key][1]),
                html.Td(number(a.get("open", 0), lang), className="num svc-open"),
                html.Td(
                    number(a.get("overdue", 0), lang),
                    className="num svc-overdue" + (" bad" if a.get("overdue") else ""),
                ),
                html.Td(
                    html.Span(
                        "–" if pct is None else f"{number(pct, lang)}%",
                        className="sla",
                        style={"background": sla_colour(pct)},
                    )
                ),
            ],
            id=f"svc-{key}",
        )

    head = html.Thead(
        html.Tr([html.Th(t(k, lang), scope="col") for k in ("col.agency", "col.open", "col.overdue", "col.sla_pct")])
    )
    items = list(rows.items())
    per = -(-len(items) // max(1, columns))
    tables = [
        html.Table([head, html.Tbody([row(k, a) for k, a in items[i : i + per]])], className="svc-table")
        for i in range(0, len(items), per)
    ]
    return html.Div(tables, className="svc-tables")


def map_points(
    sources: Sequence[Mapping[str, Any]],
    latest: Sequence[Mapping[str, Any]],
    alarms: Sequence[Mapping[str, Any]],
    *,
    lang: str,
    tz: tzinfo,
    metric_name: Any,
) -> list[Point]:
    """Sources as map points: state is the worst of their health and their open alarms; hover shows latest values."""
    values: dict[str, list[str]] = {}
    for r in latest:
        if r.get("value") is None:
            continue
        values.setdefault(r["source_id"], []).append(
            f"{esc(metric_name(r['metric'], lang))}: {number(r['value'], lang, 1)} {esc(r.get('unit'))}"
        )
    alarm_sev: dict[str, list[str]] = {}
    for a in alarms:
        if a.get("source_id") and a.get("state") in ("active", "acknowledged"):
            alarm_sev.setdefault(a["source_id"], []).append(a["severity"])
    out = []
    for s in sources:
        if s.get("lat") is None or s.get("lon") is None:
            continue
        sid = s["source_id"]
        state = worst([s.get("status", "offline"), *alarm_sev.get(sid, [])])
        label = "<br>".join(
            [
                f"<b>{esc(s.get('name') or sid)}</b>",
                f"{t('dash.state.' + s.get('status', 'offline'), lang)} · {clock(to_ms(s.get('last_seen')), tz, lang)}",
                *values.get(sid, [])[:4],
            ]
        )
        out.append(Point(lon=s["lon"], lat=s["lat"], state=state, key=sid, label=label))
    return out


def ticket_points(tickets: Sequence[Mapping[str, Any]], *, lang: str, service_name: Any) -> list[Point]:
    """Open tickets as map points: overdue ones count as critical, high or critical priority as major."""
    out = []
    for tk in tickets:
        if tk.get("lat") is None or tk.get("lon") is None:
            continue
        prio = tk.get("priority")
        state = "critical" if tk.get("overdue") else "major" if prio in ("high", "critical") else "warning"
        label = (
            f"<b>{esc(tk['ticket_id'])}</b><br>{esc(service_name(tk.get('service'), lang))} · {esc(tk.get('status'))}"
            f"<br>{esc(tk.get('title'))}"
        )
        out.append(Point(lon=tk["lon"], lat=tk["lat"], state=state, key=tk["ticket_id"], label=label))
    return out


def located_alarms(alarms: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Open alarms placed on the map by their own position (those on a source colour the source instead).

    A regional warning's alarm names its alert as source (`alert:<id>`), which is no source on the map: it is
    placed by its own position (the epicentre, or the middle of the warning's area).
    """
    return [
        a
        for a in alarms
        if a.get("lat") is not None
        and a.get("lon") is not None
        and (not a.get("source_id") or a.get("kind") == "warning")
    ]


# --- regional warnings (issue 12) -------------------------------------------------------------------------------


def warning_shapes(alerts: Sequence[Mapping[str, Any]], lang: str) -> list[dict]:
    """Relevant alerts (GET /api/v1/alerts) as the map draws them: areas as [lat, lon] rings, an earthquake's epicentre."""
    out = []
    for al in alerts:
        if not al.get("relevant"):
            continue
        rings, epicentre = [], None
        for f in (al.get("areas") or {}).get("features", []):
            g = f.get("geometry") or {}
            if g.get("type") == "Polygon":
                rings.append([(lat, lon) for lon, lat in g["coordinates"][0]])
            elif g.get("type") == "Point":
                lon, lat = g["coordinates"]
                if "magnitude" in (al.get("parameters") or {}):
                    epicentre = (lat, lon)
        sev = al.get("alarm_severity") or "warning"
        label = f"<b>{esc(t(f'dash.sev.{sev}', lang))}</b>: {esc(al.get('headline') or al.get('event'))}"
        if al.get("distance_km"):
            label += "<br>" + esc(t("dash.warning.distance", lang, km=number(al["distance_km"], lang, 0)))
        out.append({"severity": sev, "label": label, "rings": rings, "epicentre": epicentre})
    return out


def warning_banner(alerts: Sequence[Mapping[str, Any]], lang: str, district_names: Mapping[str, str]) -> Any:
    """The banner of the most severe relevant warning in force (the kiosk's top line); empty when there is none."""
    ours = [a for a in alerts if a.get("relevant")]
    if not ours:
        return []
    # The worst severity (RANK: lower is worse), the newest of those.
    top = min(ours, key=lambda a: (RANK.get(a.get("alarm_severity") or "warning", 9), -(to_ms(a.get("sent")) or 0)))
    sev = top.get("alarm_severity") or "warning"
    where = ", ".join(district_names.get(d, d) for d in top.get("districts") or [])
    more = len(ours) - 1
    return html.Div(
        [
            html.Strong(t(f"dash.sev.{sev}", lang), className="warning-sev"),
            html.Span(top.get("headline") or top.get("event") or "", className="warning-text"),
            html.Span(where, className="warning-where") if where else None,
            html.Span(t("dash.warning.more", lang, n=more), className="warning-more") if more > 0 else None,
        ],
        className=f"warning-banner-inner sev-{sev}",
        role="alert",
    )


MAP_CELLS = 16  # clusters across the view: coarse enough that markers do not pile up at 2,000 sources


def city_map(
    *,
    profile: Profile,
    sources: Sequence[Mapping[str, Any]],
    latest: Sequence[Mapping[str, Any]],
    alarms: Sequence[Mapping[str, Any]],
    tickets: Sequence[Mapping[str, Any]],
    lang: str,
    th: Theme,
    metric_name: Any,
    service_name: Any,
    tiles: Tiles | None = None,
    view: Mapping[str, Any] | None = None,
    alerts: Sequence[Mapping[str, Any]] = (),
    incidents: Sequence[Mapping[str, Any]] = (),
) -> go.Figure:
    """The city map of the operator window and of replay: sources by state, open tickets and located alarms,
    clustered over the city's outline or over `view` (a person's pan/zoom: {"x", "y", "zoom"}); the relevant
    regional warnings (`alerts`) drawn under them, the whole view widened to show an epicentre off the coast."""
    outline = [[list(p) for p in ring] for ring in profile.city.outline]
    warnings = warning_shapes(alerts, lang)
    # An epicentre with its first distance ring in view: the regency and the quake side by side.
    reach = RING_KM[0] / KM_PER_DEG
    epicentres = [
        [[lat - reach, lon - reach], [lat + reach, lon + reach]]
        for lat, lon in (w["epicentre"] for w in warnings if w["epicentre"] is not None)
    ]
    xr, yr = bounds(outline + epicentres)
    if view and view.get("x") and view.get("y"):
        xr, yr = tuple(view["x"]), tuple(view["y"])
    points = map_points(sources, latest, alarms, lang=lang, tz=profile.tz, metric_name=metric_name)
    ticket_pts = ticket_points(tickets, lang=lang, service_name=service_name)
    return map_figure(
        outline=outline,
        districts=[{"name": d.name, "lat": d.center.lat, "lon": d.center.lon} for d in profile.districts],
        clusters=cluster(points, xr, yr, cells=MAP_CELLS),
        tickets=cluster(ticket_pts, xr, yr, cells=MAP_CELLS),
        alarms=located_alarms(alarms),
        incidents=[i for i in incidents if i.get("lat") is not None and i.get("lon") is not None],
        view=(xr, yr),
        th=th,
        tiles=tiles,
        keep_view=bool(view and view.get("zoom") is not None),  # a person's pan/zoom of the tile map
        warnings=warnings,
        credit=profile.city.outline_credit or "",
        labels={f"state.{s}": t(f"dash.state.{s}", lang) for s in ("online", "stale", "offline")}
        | {f"state.{s}": t(f"dash.sev.{s}", lang) for s in SEVERITIES},
    )


def trend_series(trends: Mapping[str, Any], profile: Profile, lang: str) -> list[dict]:
    """The key metrics' series as the trend figure wants them (times on the city's clock), with the profile's thresholds."""
    tz = profile.tz
    out = []
    for m in profile.metrics:
        if not m.key:
            continue
        body = (trends or {}).get(m.id) or {}
        items = body.get("items", [])
        # The window asked for (the API's aligned start and end), not just the span the data covers.
        span = [parse_iso(body.get(k)) for k in ("start", "end")]
        out.append(
            {
                "range": [d.astimezone(tz).replace(tzinfo=None) for d in span] if all(span) else None,
                "title": m.name.id if lang == "id" else m.name.en,
                "unit": m.unit,
                "x": [parse_iso(i["bucket_start"]).astimezone(tz).replace(tzinfo=None) for i in items],
                "y": [i["value"] for i in items],
                "thresholds": [(th.above if th.above is not None else th.below, th.severity) for th in m.thresholds],
            }
        )
    return out


def legend(lang: str) -> html.Div:
    """The map's key: every state's marker shape in its colour, and its name."""
    order = sorted(STATE_COLOURS, key=lambda s: RANK[s])
    return html.Div(
        [
            html.Span(
                [
                    html.I(STATE_GLYPHS[s], style={"color": STATE_COLOURS[s]}, **{"aria-hidden": "true"}),
                    t(f"dash.sev.{s}" if s in SEVERITY_GLYPHS else f"dash.state.{s}", lang),
                ],
                className="key",
            )
            for s in order
        ],
        className="legend",
    )
