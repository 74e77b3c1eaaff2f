"""Figure builders: plain data in, `go.Figure` out. No I/O, no Dash: tested without a server.

The map is drawn on plain lon/lat axes from the profile's geometry (land
outline, district centres), so it needs no tile server and no internet. With
a tile URL configured (`Tiles`) it is a tile map instead: plotly's
`scattermap` (MapLibre) over the raster tiles, the same clusters, colours and
hover text.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

from dashboards.cluster import Cluster
from dashboards.labels import place_labels

# Colour means trouble (ISA-101 high-performance HMI): the normal state is a muted grey, colour is spent on
# what is abnormal: the alarm severities (red, orange, yellow, cyan) and lost data (purple: stale, offline).
STATE_COLOURS = {
    "critical": "#ff3b30",
    "major": "#ff9500",
    "minor": "#ffd60a",
    "warning": "#64d2ff",
    "offline": "#8e44ad",
    "stale": "#c77dff",
    "online": "#98a2ad",
}
SEVERITY_COLOURS = {k: STATE_COLOURS[k] for k in ("critical", "major", "minor", "warning")}
# A shape as well as a colour for every state (colour-blind operators): the map's markers; the glyphs below
# are the same shapes in text, for the alarm panel and the map's key. Tickets are hexagons, none of these.
STATE_SYMBOLS = {
    "critical": "triangle-up",
    "major": "diamond",
    "minor": "square",
    "warning": "triangle-down",
    "offline": "circle-x",
    "stale": "circle-dot",
    "online": "circle",
}
SEVERITY_GLYPHS = {"critical": "\u25b2", "major": "\u25c6", "minor": "\u25a0", "warning": "\u25bc"}
STATE_GLYPHS = {**SEVERITY_GLYPHS, "offline": "\u2297", "stale": "\u2299", "online": "\u25cf"}
# Tickets: overdue red, urgent orange (trouble); the rest muted slate, as normal as an online source.
TICKET_COLOURS = {"critical": "#d70015", "major": "#c93400", "warning": "#7d8b99"}
TICKET_SYMBOL = "hexagon"


def esc(value: object) -> str:
    """Text from outside (integrators' names, titles, units) made safe for plotly's labels.

    Plotly renders a subset of HTML in `text` and `hovertext`: an `<a href>`
    becomes a live link. Escaped, it shows as the characters it is; our own
    `<br>` and `<b>` around it still format.
    """
    return html.escape("" if value is None else str(value), quote=False)


@dataclass(frozen=True)
class Theme:
    """Colours of one look: the operator's light window or the wall's dark one."""

    name: str
    paper: str
    land: str
    coast: str
    sea: str
    text: str
    grid: str
    font_size: int


LIGHT = Theme("light", "#ffffff", "#e9ecef", "#adb5bd", "#f4f8fb", "#212529", "#e9ecef", 12)
DARK = Theme("dark", "#0d1117", "#1c2733", "#3d5a73", "#0b1622", "#e6edf3", "#22303c", 18)


@dataclass(frozen=True)
class Tiles:
    """An XYZ raster tile source (`https://tile.example/{z}/{x}/{y}.png`) and the attribution its provider asks for."""

    url: str
    attribution: str = ""


# About the map panel's size on a 1920x1080 screen (a little less): the zoom that fits a view on a tile map.
MAP_PX = (900, 420)


def graph_config(lang: str, **extra: object) -> dict[str, object]:
    """A dcc.Graph's config in the window's language: plotly's dates and numbers in its locale, no mode bar.

    The 'id' locale is vendored in assets/vendor/plotly-locale-id.js; 'en' is plotly's own default.
    """
    return {"displayModeBar": False, "locale": lang, **extra}


def marker_scale(th: Theme) -> float:
    """How much larger the map's markers are drawn in `th` than in the operator's window: the wall's, read at 4 m,
    grow with its type."""
    return th.font_size / LIGHT.font_size


def theme(kiosk: bool) -> Theme:
    return DARK if kiosk else LIGHT


def sla_colour(pct: float | None) -> str:
    """The SLA colour rule of the report: green at 90% or more, amber at 75%, red below; grey without data."""
    if pct is None:
        return "#8e8e93"
    if pct >= 90:
        return "#30d158"
    if pct >= 75:
        return "#ffb300"
    return "#ff3b30"


def bounds(
    rings: Sequence[Sequence[Sequence[float]]], pad: float = 0.04
) -> tuple[tuple[float, float], tuple[float, float]]:
    """(lon range, lat range) around [lat, lon] rings, padded."""
    lats = [p[0] for r in rings for p in r]
    lons = [p[1] for r in rings for p in r]
    if not lats:
        return (-1.0, 1.0), (-1.0, 1.0)
    return (min(lons) - pad, max(lons) + pad), (min(lats) - pad, max(lats) + pad)


def map_figure(
    *,
    outline: Sequence[Sequence[Sequence[float]]],
    districts: Sequence[Mapping[str, Any]],
    clusters: Sequence[Cluster],
    tickets: Sequence[Cluster] = (),
    alarms: Sequence[Mapping[str, Any]] = (),
    incidents: Sequence[Mapping[str, Any]] = (),
    view: tuple[tuple[float, float], tuple[float, float]] | None = None,
    th: Theme = LIGHT,
    labels: Mapping[str, str] | None = None,
    height: int | None = None,
    tiles: Tiles | None = None,
    keep_view: bool = False,
    warnings: Sequence[Mapping[str, Any]] = (),
    credit: str = "",
) -> go.Figure:
    """The regency map: land, district names, clustered sources by state, clustered open tickets, located alarms.

    `warnings`: regional warnings (panels.warning_shapes): their areas, shaded in their severity's colour, and an
    earthquake's epicentre as a star with distance rings.

    `tiles`: draw it as a tile map over that raster source (see _tile_map); None, the plain map of the outline.
    `keep_view`: `view` is where the person already panned the tile map: keep their exact centre and zoom.
    `credit`: whose data the outline is (the profile's `outline_credit`), in a corner of the plain map.
    """
    labels = labels or {}
    k = marker_scale(th)
    data: list[dict] = [
        {
            "type": "scatter",
            "x": [p[1] for p in ring],
            "y": [p[0] for p in ring],
            "mode": "lines",
            "fill": "toself",
            "fillcolor": th.land,
            "line": {"color": th.coast, "width": 1.5},
            "hoverinfo": "skip",
            "showlegend": False,
        }
        for ring in outline
    ]
    data += warning_traces(warnings, th)
    xr, yr = view or bounds(outline)
    if districts:
        # names clear of the markers (a district's centre is where its town's sensors are), as drawn below
        dpp = max((xr[1] - xr[0]) / MAP_PX[0], (yr[1] - yr[0]) / MAP_PX[1])  # degrees per pixel, at least
        markers = (
            [(c.lat, c.lon, dpp * k * (11 if c.count == 1 else min(46, 16 + 3 * c.count**0.5)) / 2) for c in clusters]
            + [(c.lat, c.lon, dpp * (9 if c.count == 1 else min(30, 12 + 3 * c.count**0.5)) / 2) for c in tickets]
            + [(a["lat"], a["lon"], dpp * 18 * k / 2) for a in alarms]
        )
        spots = place_labels(
            [(str(d["name"]), d["lat"], d["lon"]) for d in districts], markers, deg_per_px=dpp, font_px=th.font_size
        )
        data.append(
            {
                "type": "scatter",
                "x": [lon for _lat, lon in spots],
                "y": [lat for lat, _lon in spots],
                "mode": "text",
                "text": [esc(d["name"]) for d in districts],
                "hoverinfo": "skip",
                "showlegend": False,
                "textfont": {"color": th.coast, "size": th.font_size},
                "name": "districts",
            }
        )
    if clusters:
        data.append(
            {
                "type": "scatter",
                "x": [c.lon for c in clusters],
                "y": [c.lat for c in clusters],
                "mode": "markers+text",
                "marker": {
                    "size": [k * (11 if c.count == 1 else min(46, 16 + 3 * c.count**0.5)) for c in clusters],
                    "color": [STATE_COLOURS.get(c.state, STATE_COLOURS["online"]) for c in clusters],
                    "symbol": [STATE_SYMBOLS.get(c.state, "circle") for c in clusters],
                    "line": {"color": th.paper, "width": 1.5},
                    "opacity": 0.95,
                },
                "text": ["" if c.count == 1 else str(c.count) for c in clusters],
                "textfont": {"color": "#000000", "size": max(10, th.font_size - 2)},
                "hovertext": [_cluster_hover(c, labels) for c in clusters],
                "hoverinfo": "text",
                "customdata": [[c.members[0].key if c.count == 1 else "", c.state, c.count] for c in clusters],
                "name": labels.get("sources", "sources"),
                "showlegend": False,
            }
        )
    if tickets:
        data.append(
            {
                "type": "scatter",
                "x": [c.lon for c in tickets],
                "y": [c.lat for c in tickets],
                "mode": "markers+text",
                "marker": {
                    "symbol": TICKET_SYMBOL,
                    "size": [9 if c.count == 1 else min(30, 12 + 3 * c.count**0.5) for c in tickets],
                    "line": {"color": th.paper, "width": 1},
                    "opacity": 0.9,
                    "color": [TICKET_COLOURS.get(c.state, TICKET_COLOURS["warning"]) for c in tickets],
                },
                "text": ["" if c.count == 1 else str(c.count) for c in tickets],
                "textfont": {"color": "#ffffff", "size": max(9, th.font_size - 3)},
                "hovertext": [_cluster_hover(c, labels) for c in tickets],
                "hoverinfo": "text",
                "name": labels.get("tickets", "tickets"),
                "showlegend": False,
            }
        )
    if alarms:
        data.append(
            {
                "type": "scatter",
                "x": [a["lon"] for a in alarms],
                "y": [a["lat"] for a in alarms],
                "mode": "markers",
                "marker": {
                    "symbol": [STATE_SYMBOLS.get(a.get("severity"), "triangle-up") for a in alarms],
                    "size": 18 * k,
                    "line": {"color": th.paper, "width": 1},
                    "color": [SEVERITY_COLOURS.get(a.get("severity"), STATE_COLOURS["critical"]) for a in alarms],
                },
                "hovertext": [esc(a.get("message") or a.get("rule")) for a in alarms],
                "hoverinfo": "text",
                "name": labels.get("alarms", "alarms"),
                "showlegend": False,
            }
        )
    if incidents:  # running incidents (issue 13): a star of their severity's colour, above everything else
        data.append(
            {
                "type": "scatter",
                "x": [i["lon"] for i in incidents],
                "y": [i["lat"] for i in incidents],
                "mode": "markers",
                "marker": {
                    "symbol": "star",
                    "size": 24 * k,
                    "line": {"color": th.text, "width": 1.5},
                    "color": [SEVERITY_COLOURS.get(i.get("severity"), STATE_COLOURS["critical"]) for i in incidents],
                },
                "hovertext": [f"<b>#{i['id']} {esc(i.get('title'))}</b><br>{esc(i.get('state'))}" for i in incidents],
                "hoverinfo": "text",
                "name": labels.get("incidents", "incidents"),
                "showlegend": False,
            }
        )
    if tiles is not None:
        return _tile_map(data, xr, yr, th=th, tiles=tiles, view=None if keep_view else view, height=height)
    layout = {
        "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
        "paper_bgcolor": th.sea,
        "plot_bgcolor": th.sea,
        "font": {"color": th.text, "size": th.font_size},
        "xaxis": {"range": list(xr), "visible": False, "fixedrange": False},
        "yaxis": {"range": list(yr), "visible": False, "scaleanchor": "x", "scaleratio": 1.0},
        "dragmode": "pan",
        # A new view (the kiosk's rotation, a zoom) is a new UI revision; live updates keep the current one.
        "uirevision": f"map:{view}" if view else "map",
        "hovermode": "closest",
        "showlegend": False,
        **({"height": height} if height else {}),
        **({"annotations": [_credit(credit, th)]} if credit else {}),
    }
    # Plain data of known shape: plotly's per-property validation is skipped (most of the build time).
    return go.Figure({"data": data, "layout": layout}, _validate=False)


# --- regional warnings (issue 12) -------------------------------------------------------------------------------
RING_KM = (50, 100, 300)  # distance rings around an epicentre (300 km: the default Siaga rule's distance)
KM_PER_DEG = 111.32


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    return f"rgba({int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{alpha})"


def ring_points(lat: float, lon: float, km: float, n: int = 72) -> tuple[list[float], list[float]]:
    """A circle of `km` around (lat, lon) as lon and lat lists (a local flat approximation: rings of a few 100 km)."""
    kx = KM_PER_DEG * max(0.05, math.cos(math.radians(lat)))
    angles = [2 * math.pi * i / n for i in range(n + 1)]
    return [lon + km * math.cos(a) / kx for a in angles], [lat + km * math.sin(a) / KM_PER_DEG for a in angles]


def warning_traces(warnings: Sequence[Mapping[str, Any]], th: Theme) -> list[dict]:
    """Traces of regional warnings: shaded areas, and an epicentre's star and distance rings."""
    data: list[dict] = []
    for w in warnings:
        colour = SEVERITY_COLOURS.get(w.get("severity") or "warning", STATE_COLOURS["warning"])
        label = esc(w.get("label"))
        for ring in w.get("rings") or ():
            data.append(
                {
                    "type": "scatter",
                    "x": [p[1] for p in ring],
                    "y": [p[0] for p in ring],
                    "mode": "lines",
                    "fill": "toself",
                    "fillcolor": _rgba(colour, 0.22),
                    "line": {"color": colour, "width": 2},
                    "hovertext": label,
                    "hoverinfo": "text",
                    "hoveron": "fills+points",
                    "name": "warning-area",
                    "showlegend": False,
                }
            )
        epi = w.get("epicentre")
        if epi is None:
            continue
        for km in RING_KM:
            xs, ys = ring_points(epi[0], epi[1], km)
            data.append(
                {
                    "type": "scatter",
                    "x": xs,
                    "y": ys,
                    "mode": "lines",
                    "line": {"color": colour, "width": 1.2, "dash": "dot"},
                    "hoverinfo": "skip",
                    "name": f"ring-{km}",
                    "showlegend": False,
                }
            )
        data.append(  # each ring's distance, written inside its southern edge (the banner covers the top)
            {
                "type": "scatter",
                "x": [epi[1]] * len(RING_KM),
                "y": [epi[0] - km / KM_PER_DEG for km in RING_KM],
                "mode": "text",
                "text": [f"{km} km" for km in RING_KM],
                "textposition": "top center",
                "textfont": {"color": colour, "size": max(10, th.font_size - 2)},
                "hoverinfo": "skip",
                "name": "ring-labels",
                "showlegend": False,
            }
        )
        data.append(
            {
                "type": "scatter",
                "x": [epi[1]],
                "y": [epi[0]],
                "mode": "markers",
                "marker": {
                    "symbol": "star",
                    "size": 26 * marker_scale(th),
                    "color": colour,
                    "line": {"color": th.paper, "width": 1.5},
                },
                "hovertext": [label],
                "hoverinfo": "text",
                "name": "epicentre",
                "showlegend": False,
            }
        )
    return data


def _credit(text: str, th: Theme) -> dict[str, Any]:
    """The outline's data credit, small in the plain map's bottom-right corner."""
    return {
        "text": esc(text),
        "xref": "paper",
        "yref": "paper",
        "x": 1,
        "y": 0,
        "xanchor": "right",
        "yanchor": "bottom",
        "showarrow": False,
        "font": {"size": max(9, th.font_size - 4), "color": th.coast},
    }


def view_zoom(xr: tuple[float, float], yr: tuple[float, float], px: tuple[int, int] = MAP_PX) -> tuple[dict, float]:
    """The centre and zoom at which lon range `xr` and lat range `yr` fit a map of `px` pixels.

    MapLibre's zoom counts 512-pixel worlds (zoom 0: the world 512 px wide), not 256 as raster tiles do.
    """

    def merc(lat: float) -> float:
        lat = max(-85.0, min(85.0, lat))
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    span_x = max(1e-6, abs(xr[1] - xr[0])) / 360
    span_y = max(1e-6, abs(merc(yr[1]) - merc(yr[0]))) / (2 * math.pi)
    zoom = min(math.log2(px[0] / 512 / span_x), math.log2(px[1] / 512 / span_y))
    return {"lon": (xr[0] + xr[1]) / 2, "lat": (yr[0] + yr[1]) / 2}, round(max(0.0, min(20.0, zoom)), 2)


def tile_style(tiles: Tiles, th: Theme) -> dict:
    """An inline MapLibre style: the sea colour under the raster tiles. No glyphs or sprites: nothing else to fetch."""
    source = {
        "type": "raster",
        "tiles": [tiles.url],
        "tileSize": 256,
        **({"attribution": tiles.attribution} if tiles.attribution else {}),
    }
    return {
        "version": 8,
        "sources": {"tiles": source},
        "layers": [
            {"id": "sea", "type": "background", "paint": {"background-color": th.sea}},
            {"id": "tiles", "type": "raster", "source": "tiles"},
        ],
    }


def _tile_map(
    flat: list[dict],
    xr: tuple[float, float],
    yr: tuple[float, float],
    *,
    th: Theme,
    tiles: Tiles,
    view: Any,
    height: int | None,
) -> go.Figure:
    """The cartesian traces of map_figure redrawn as scattermap traces over raster tiles.

    MapLibre draws text only with a glyph server, and circles without an
    outline: so the land is an outline (the tiles show the land), cluster
    counts and district names are not written on the map (the count is in
    the hover text and the marker's size), and every marker sits on a halo
    of the paper colour, which keeps neighbours apart as the outline did.
    """
    data: list[dict] = []
    for tr in flat:
        lon, lat = tr["x"], tr["y"]
        name = str(tr.get("name", ""))
        if name == "warning-area" or (name.startswith("ring-") and tr.get("mode") == "lines"):
            # A regional warning's area (filled, in its colour) or an epicentre's ring (a dotted line).
            data.append(
                {
                    "type": "scattermap",
                    "lon": lon,
                    "lat": lat,
                    "mode": "lines",
                    "line": {"color": tr["line"]["color"], "width": tr["line"]["width"]},
                    **({"fill": "toself", "fillcolor": tr["fillcolor"]} if tr.get("fill") else {}),
                    "hovertext": tr.get("hovertext", ""),
                    "hoverinfo": "text" if tr.get("hovertext") else "skip",
                    "name": tr["name"],
                    "showlegend": False,
                }
            )
            continue
        if tr.get("fill"):
            data.append(
                {
                    "type": "scattermap",
                    "lon": lon,
                    "lat": lat,
                    "mode": "lines",
                    "hoverinfo": "skip",
                    "line": {"color": th.coast, "width": 2},
                    "showlegend": False,
                }
            )
            continue
        if "markers" not in tr["mode"]:
            continue  # district names: text needs glyphs
        m = tr["marker"]
        sizes = m["size"] if isinstance(m["size"], list) else [m["size"]] * len(lon)
        data.append(
            {
                "type": "scattermap",
                "lon": lon,
                "lat": lat,
                "mode": "markers",
                "hoverinfo": "skip",
                "marker": {"size": [z + 2 * m["line"]["width"] for z in sizes], "color": th.paper},
                "showlegend": False,
                "name": tr["name"] + " halo",
            }
        )
        data.append(
            {
                "type": "scattermap",
                "lon": lon,
                "lat": lat,
                "mode": "markers",
                "name": tr["name"],
                "showlegend": False,
                "marker": {"size": sizes, "color": m["color"], "opacity": m.get("opacity", 1.0)},
                "hovertext": tr["hovertext"],
                "hoverinfo": "text",
                **({"customdata": tr["customdata"]} if "customdata" in tr else {}),
            }
        )
    center, zoom = view_zoom(xr, yr)
    layout = {
        "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
        "paper_bgcolor": th.sea,
        "font": {"color": th.text, "size": th.font_size},
        "map": {"style": tile_style(tiles, th), "center": center, "zoom": zoom},
        "uirevision": f"map:{view}" if view else "map",
        "hovermode": "closest",
        "showlegend": False,
        **({"height": height} if height else {}),
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _cluster_hover(c: Cluster, labels: Mapping[str, str]) -> str:
    if c.count == 1:
        return c.members[0].label
    worst = labels.get(f"state.{c.state}", c.state)
    names = "<br>".join(p.label.split("<br>")[0] for p in c.members[:8])
    more = f"<br>… +{c.count - 8}" if c.count > 8 else ""
    return f"<b>{c.count}</b> · {worst}<br>{names}{more}"


def trends_figure(
    series: Sequence[Mapping[str, Any]],
    *,
    th: Theme = LIGHT,
    cols: int = 3,
    height: int | None = None,
    marker_x: Any = None,
) -> go.Figure:
    """Small multiples of key metrics, each with its alarm thresholds drawn as dashed lines.

    `series`: [{"title", "unit", "x": [datetime], "y": [float], "thresholds": [(value, severity)], "range": [x0, x1]}];
    `range` (optional) is the x axis's window, so a chart whose data covers only its last minutes spans the same time.
    `marker_x`: a vertical line on every chart (the replay's instant).
    Built as one layout (not make_subplots and add_hline per line): it is redrawn on every live update.
    """
    n = max(1, len(series))
    rows = (n + cols - 1) // cols
    hgap, vgap = 0.06, (0.22 if rows > 1 else 0.1)
    w, h = (1 - hgap * (cols - 1)) / cols, (1 - vgap * (rows - 1)) / rows
    data, shapes, notes = [], [], []
    layout: dict[str, Any] = {}
    for i, s in enumerate(series):
        r, c = i // cols, i % cols
        k = "" if i == 0 else str(i + 1)
        x0, y1 = c * (w + hgap), 1 - r * (h + vgap)
        layout[f"xaxis{k}"] = {
            "domain": [x0, x0 + w],
            "anchor": f"y{k}",
            "type": "date",
            "showgrid": False,
            "tickformat": "%H.%M",
            "color": th.text,
            "nticks": 4,
            **({"range": list(s["range"])} if s.get("range") else {}),
        }
        layout[f"yaxis{k}"] = {
            "domain": [y1 - h, y1],
            "anchor": f"x{k}",
            "gridcolor": th.grid,
            "color": th.text,
            "nticks": 4,
            "zeroline": False,
        }
        # One bucket draws no line: a first reading shows as a dot until the second bucket comes.
        mode = "lines" if len(s["x"]) > 1 else "markers"
        data.append(
            {
                "type": "scatter",
                "x": list(s["x"]),
                "y": list(s["y"]),
                "mode": mode,
                "xaxis": f"x{k}",
                "yaxis": f"y{k}",
                # The measured value in the text colour: the normal state, no hue; the limits keep theirs.
                "line": {"width": 2, "color": th.text},
                "marker": {"size": 7, "color": th.text},
                "name": s["title"],
                "showlegend": False,
                "hovertemplate": "%{x|%H.%M}: %{y}<extra></extra>",
            }
        )
        for value, severity in s.get("thresholds", ()):
            shapes.append(
                {
                    "type": "line",
                    "xref": f"x{k} domain",
                    "x0": 0,
                    "x1": 1,
                    "yref": f"y{k}",
                    "y0": value,
                    "y1": value,
                    "line": {"color": SEVERITY_COLOURS.get(severity, "#ff3b30"), "dash": "dash", "width": 1.5},
                }
            )
        if marker_x is not None:
            shapes.append(
                {
                    "type": "line",
                    "xref": f"x{k}",
                    "x0": marker_x,
                    "x1": marker_x,
                    "yref": f"y{k} domain",
                    "y0": 0,
                    "y1": 1,
                    "line": {"color": "#5e3bd8", "width": 2},
                }
            )
        notes.append(
            {
                "text": f"{s['title']} ({s['unit']})",
                "x": x0 + w / 2,
                "y": y1,
                "xref": "paper",
                "yref": "paper",
                "xanchor": "center",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": th.font_size, "color": th.text},
            }
        )
    layout.update(
        shapes=shapes,
        annotations=notes,
        margin={"l": 36, "r": 8, "t": 28, "b": 20},
        paper_bgcolor=th.paper,
        plot_bgcolor=th.paper,
        font={"color": th.text, "size": th.font_size - 1},
        uirevision="trends",
        **({"height": height} if height else {}),
    )
    # Built from plain data of known shape: plotly's per-property validation is skipped (it cost ~0.3 s a redraw).
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def agency_bars(
    rows: Sequence[Mapping[str, Any]], *, th: Theme = LIGHT, labels: Mapping[str, str] | None = None
) -> go.Figure:
    """SLA % per agency as horizontal bars in the SLA colours, open and overdue counts beside them.

    `rows`: [{"label", "sla_pct", "open", "overdue"}].
    """
    labels = labels or {}
    ordered = list(rows)[::-1]
    fig = go.Figure(
        go.Bar(
            y=[r["label"] for r in ordered],
            x=[r["sla_pct"] if r["sla_pct"] is not None else 0 for r in ordered],
            orientation="h",
            marker={"color": [sla_colour(r["sla_pct"]) for r in ordered]},
            text=[
                ("–" if r["sla_pct"] is None else f"{r['sla_pct']:.0f}%")
                + f" · {labels.get('open', 'open')} {r['open']} · {labels.get('overdue', 'overdue')} {r['overdue']}"
                for r in ordered
            ],
            textposition="auto",
            hoverinfo="skip",
        )
    )
    fig.update_layout(
        margin={"l": 8, "r": 8, "t": 8, "b": 24},
        xaxis={"range": [0, 100], "ticksuffix": "%", "color": th.text},
        yaxis={"automargin": True, "color": th.text},
        paper_bgcolor=th.paper,
        plot_bgcolor=th.paper,
        font={"color": th.text, "size": th.font_size},
    )
    return fig


def pillar_figure(scores: Mapping[str, float | None], names: Mapping[str, str], *, th: Theme = LIGHT) -> go.Figure:
    """The six smart-city pillars scored 0-100 as bars in the SLA colours (a pillar without data: an empty bar, '–')."""
    keys = list(scores)[::-1]
    fig = go.Figure(
        go.Bar(
            y=[names.get(k, k) for k in keys],
            x=[scores[k] if scores[k] is not None else 0 for k in keys],
            orientation="h",
            marker={"color": [sla_colour(scores[k]) for k in keys]},
            text=["–" if scores[k] is None else f"{scores[k]:.0f}" for k in keys],
            textposition="outside",
            hoverinfo="skip",
        )
    )
    fig.update_layout(
        xaxis={"range": [0, 110], "visible": False},
        yaxis={"automargin": True, "color": th.text},
        margin={"l": 8, "r": 8, "t": 8, "b": 8},
        paper_bgcolor=th.paper,
        plot_bgcolor=th.paper,
        font={"color": th.text, "size": th.font_size + 1},
        showlegend=False,
    )
    return fig
