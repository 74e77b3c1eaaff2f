"""Figure builders (pure): data in, go.Figure out."""

from __future__ import annotations

from datetime import datetime, timedelta

from dashboards.cluster import Cluster, Point
from dashboards.figures import (
    DARK,
    LIGHT,
    SEVERITY_COLOURS,
    SEVERITY_GLYPHS,
    STATE_COLOURS,
    STATE_GLYPHS,
    STATE_SYMBOLS,
    TICKET_COLOURS,
    TICKET_SYMBOL,
    Tiles,
    agency_bars,
    bounds,
    map_figure,
    pillar_figure,
    sla_colour,
    trends_figure,
    view_zoom,
)

OUTLINE = [[[2.0, 128.2], [2.6, 128.4], [2.1, 128.6], [2.0, 128.2]]]


def test_sla_colour_follows_the_report_rule() -> None:
    assert sla_colour(None) == "#8e8e93"
    assert sla_colour(95) == sla_colour(90) == "#30d158"
    assert sla_colour(89.9) == sla_colour(75) == "#ffb300"
    assert sla_colour(74.9) == "#ff3b30"


def _grey(hex_colour: str) -> bool:
    """A muted neutral: its red, green and blue within 0x20 of each other."""
    rgb = [int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]
    return max(rgb) - min(rgb) <= 0x20


def test_colour_means_trouble_normal_is_grey_and_every_abnormal_state_has_a_hue() -> None:
    """ISA-101: an online source and an ordinary open ticket are grey; stale, offline and the severities are not."""
    assert _grey(STATE_COLOURS["online"]) and _grey(TICKET_COLOURS["warning"])
    abnormal = [c for s, c in STATE_COLOURS.items() if s != "online"]
    assert not any(_grey(c) for c in abnormal)
    assert len(set(abnormal)) == len(abnormal), "no two abnormal states share a colour"
    assert not _grey(TICKET_COLOURS["critical"]) and not _grey(TICKET_COLOURS["major"])


def test_every_severity_has_its_own_shape_and_glyph_as_well_as_its_colour() -> None:
    """Colour-blind operators tell the severities apart by shape on the map and by glyph and word in the panel."""
    shapes = [STATE_SYMBOLS[s] for s in SEVERITY_COLOURS]
    assert len(set(shapes)) == 4 and "circle" not in shapes and TICKET_SYMBOL not in shapes
    assert len({SEVERITY_GLYPHS[s] for s in SEVERITY_COLOURS}) == 4
    assert set(STATE_GLYPHS) == set(STATE_SYMBOLS) == set(STATE_COLOURS)


def test_the_wall_s_markers_and_trend_lines_read_at_4_m() -> None:
    """The kiosk's (dark) map draws its markers larger, with its type; the measured line is neutral, limits coloured."""
    c = [Cluster(128.5, 2.3, "online", (Point(128.5, 2.3, "online", "a", "a"),))]
    alarm = [{"lat": 2.2, "lon": 128.45, "severity": "critical", "message": "x"}]
    light, dark = (map_figure(outline=OUTLINE, districts=[], clusters=c, alarms=alarm, th=th) for th in (LIGHT, DARK))
    assert dark.data[1].marker.size[0] > light.data[1].marker.size[0]
    assert dark.data[2].marker.size > light.data[2].marker.size
    at = datetime(2026, 11, 23, 8)
    series = [
        {
            "title": "Air",
            "unit": "cm",
            "x": [at, at + timedelta(minutes=5)],
            "y": [1.0, 2.0],
            "thresholds": [(1.5, "critical")],
        }
    ]
    fig = trends_figure(series, th=LIGHT)
    assert fig.data[0].line.color == LIGHT.text
    assert fig.layout.shapes[0].line.color == SEVERITY_COLOURS["critical"]


def test_bounds_pad_the_outline() -> None:
    (x0, x1), (y0, y1) = bounds(OUTLINE, pad=0.1)
    assert (round(x0, 3), round(x1, 3), round(y0, 3), round(y1, 3)) == (128.1, 128.7, 1.9, 2.7)


def test_map_draws_land_sources_by_state_tickets_and_alarms_without_tiles() -> None:
    a = Point(128.3, 2.1, "online", "awlr-a", "<b>AWLR A</b><br>Tinggi muka air: 182,5 cm")
    b = Point(128.31, 2.11, "critical", "awlr-b", "<b>AWLR B</b>")
    clusters = [Cluster(128.305, 2.105, "critical", (a, b)), Cluster(128.5, 2.3, "online", (a,))]
    tickets = [Cluster(128.4, 2.2, "critical", (Point(128.4, 2.2, "critical", "112-1", "112-1"),))]
    alarms = [{"lat": 2.2, "lon": 128.45, "severity": "major", "message": "Banjir"}]
    fig = map_figure(
        outline=OUTLINE,
        districts=[{"name": "Morotai Selatan", "lat": 2.05, "lon": 128.3}],
        clusters=clusters,
        tickets=tickets,
        alarms=alarms,
        th=DARK,
    )
    land, names, sources, tix, alarm = fig.data
    assert land.fill == "toself" and land.fillcolor == DARK.land
    assert names.text == ("Morotai Selatan",)
    assert list(sources.marker.color) == [STATE_COLOURS["critical"], STATE_COLOURS["online"]]
    assert list(sources.text) == ["2", ""], "a cluster shows its count, a single source none"
    assert "182,5 cm" in sources.hovertext[1]
    assert "AWLR A" in sources.hovertext[0] and "AWLR B" in sources.hovertext[0]
    assert list(sources.marker.symbol) == ["triangle-up", "circle"], "each state has its shape as well as its colour"
    assert tix.marker.symbol == TICKET_SYMBOL and list(alarm.marker.symbol) == [STATE_SYMBOLS["major"]]
    assert fig.layout.yaxis.scaleanchor == "x", "lon and lat keep their proportions"
    assert fig.layout.map.style is None and not fig.layout.map.layers, "no tile server"
    assert fig.layout.paper_bgcolor == DARK.sea


def test_map_view_sets_the_axes() -> None:
    fig = map_figure(outline=OUTLINE, districts=[], clusters=[], view=((128.3, 128.4), (2.0, 2.1)))
    assert tuple(fig.layout.xaxis.range) == (128.3, 128.4) and tuple(fig.layout.yaxis.range) == (2.0, 2.1)


def test_trends_draw_each_metric_with_its_thresholds() -> None:
    x = [datetime(2026, 11, 22, 8, m) for m in (0, 5, 10)]
    series = [
        {
            "title": "Tinggi muka air",
            "unit": "cm",
            "x": x,
            "y": [100, 190, 260],
            "thresholds": [(180, "major"), (250, "critical")],
        },
        {"title": "Curah hujan", "unit": "mm/h", "x": x, "y": [1, 2, 3], "thresholds": []},
    ]
    fig = trends_figure(series, th=LIGHT, cols=2)
    assert [tr.name for tr in fig.data] == ["Tinggi muka air", "Curah hujan"]
    lines = [s for s in fig.layout.shapes if s.type == "line"]
    assert sorted(s.y0 for s in lines) == [180, 250]
    assert {s.line.dash for s in lines} == {"dash"}
    assert [a.text for a in fig.layout.annotations] == ["Tinggi muka air (cm)", "Curah hujan (mm/h)"]


def test_a_trend_spans_its_window_and_shows_a_single_bucket() -> None:
    t0, t1 = datetime(2026, 11, 23, 5, 10), datetime(2026, 11, 23, 11, 15)
    series = [
        {
            "title": "Tinggi muka air",
            "unit": "cm",
            "x": [datetime(2026, 11, 23, 11, 10)],
            "y": [182.5],
            "thresholds": [],
            "range": [t0, t1],
        },
        {
            "title": "Curah hujan",
            "unit": "mm/h",
            "x": [t1 - timedelta(minutes=m) for m in (10, 5)],
            "y": [1, 2],
            "thresholds": [],
        },
    ]
    fig = trends_figure(series, th=LIGHT, cols=2)
    assert list(fig.layout.xaxis.range) == [t0, t1], "six hours wide though the data covers five minutes"
    assert fig.layout.xaxis2.range is None, "without a window: plotly's own range"
    assert fig.data[0].mode == "markers", "one bucket is a dot, not an empty line"
    assert fig.data[1].mode == "lines"


def test_agency_bars_and_pillars() -> None:
    fig = agency_bars(
        [
            {"label": "BPBD", "sla_pct": 95.0, "open": 3, "overdue": 1},
            {"label": "PUPR", "sla_pct": None, "open": 0, "overdue": 0},
        ]
    )
    bar = fig.data[0]
    assert list(bar.y) == ["PUPR", "BPBD"], "first agency on top"
    assert list(bar.marker.color) == [sla_colour(None), sla_colour(95.0)]
    assert "95%" in bar.text[1] and "1" in bar.text[1]
    pillars = pillar_figure({"governance": 80.0, "branding": None}, {"governance": "Tata kelola", "branding": "Citra"})
    bars = pillars.data[0]
    assert list(bars.y) == ["Citra", "Tata kelola"] and list(bars.x) == [0, 80.0]
    assert list(bars.text) == ["–", "80"], "no data is said, not drawn as a zero score"
    assert list(bars.marker.color) == [sla_colour(None), sla_colour(80.0)]


def test_every_figure_uses_only_the_served_plotly_bundle() -> None:
    # The window serves plotly.js 'basic' (scatter, bar, pie): a trace type outside it would not draw.
    figs = [
        map_figure(outline=OUTLINE, districts=[], clusters=[]),
        trends_figure([]),
        agency_bars([]),
        pillar_figure({"living": 1.0}, {}),
    ]
    assert {tr.type for f in figs for tr in f.data} <= {"scatter", "bar", "pie"}


def _map_args() -> dict:
    a = Point(128.3, 2.1, "online", "awlr-a", "<b>AWLR A</b><br>Tinggi muka air: 182,5 cm")
    b = Point(128.31, 2.11, "critical", "awlr-b", "<b>AWLR B</b>")
    return {
        "outline": OUTLINE,
        "districts": [{"name": "Morotai Selatan", "lat": 2.05, "lon": 128.3}],
        "clusters": [Cluster(128.305, 2.105, "critical", (a, b)), Cluster(128.5, 2.3, "online", (a,))],
        "tickets": [Cluster(128.4, 2.2, "critical", (Point(128.4, 2.2, "critical", "112-1", "112-1"),))],
        "alarms": [{"lat": 2.2, "lon": 128.45, "severity": "major", "message": "Banjir"}],
    }


def test_map_with_tiles_is_a_tile_map_of_the_same_clusters_colours_and_hover() -> None:
    plain = map_figure(**_map_args(), th=DARK)
    tiled = map_figure(**_map_args(), th=DARK, tiles=Tiles("http://127.0.0.1:9/{z}/{x}/{y}.png", "© Test"))
    assert {tr.type for tr in tiled.data} == {"scattermap"}, "the full bundle's MapLibre traces, nothing cartesian"
    by_name = {tr.name: tr for tr in tiled.data if tr.name}
    was = {tr.name: tr for tr in plain.data if tr.name}
    for name in ("sources", "tickets", "alarms"):
        now, before = by_name[name], was[name]
        assert list(now.lon) == list(before.x) and list(now.lat) == list(before.y), name
        assert list(now.marker.color) == list(before.marker.color), f"{name}: colours by health/severity"
        assert list(now.hovertext) == list(before.hovertext), f"{name}: the same hover text"
        assert by_name[name + " halo"].marker.color == DARK.paper and by_name[name + " halo"].hoverinfo == "skip"
    assert list(by_name["sources"].marker.size) == list(was["sources"].marker.size), "a cluster's size says its count"
    assert by_name["sources"].customdata == was["sources"].customdata
    assert "2</b>" in by_name["sources"].hovertext[0], "the count is in the hover (MapLibre writes no text offline)"
    outline = tiled.data[0]
    assert outline.mode == "lines" and list(outline.lon) == [p[1] for p in OUTLINE[0]]
    style = tiled.layout.map.style
    assert style["sources"]["tiles"] == {
        "type": "raster",
        "tiles": ["http://127.0.0.1:9/{z}/{x}/{y}.png"],
        "tileSize": 256,
        "attribution": "© Test",
    }
    assert "glyphs" not in style and "sprite" not in style, "nothing else to fetch"
    assert style["layers"][0]["paint"]["background-color"] == DARK.sea
    xr, _yr = bounds(OUTLINE)
    assert tiled.layout.map.center.lon == (xr[0] + xr[1]) / 2 and 7 < tiled.layout.map.zoom < 11


def test_tile_map_view_and_zoom() -> None:
    tiles = Tiles("http://127.0.0.1:9/{z}/{x}/{y}.png")
    center, zoom = view_zoom((128.0, 129.0), (2.0, 3.0), px=(1024, 1024))
    assert center == {"lon": 128.5, "lat": 2.5} and 9.45 < zoom < 9.55, (
        "a degree across 1,024 px of 512-px worlds: 2^z = 360 * 2"
    )
    assert view_zoom((128.3, 128.32), (2.0, 2.02))[1] > view_zoom((128.0, 129.0), (2.0, 3.0))[1]
    rotated = map_figure(outline=OUTLINE, districts=[], clusters=[], view=((128.3, 128.4), (2.0, 2.1)), tiles=tiles)
    kept = map_figure(
        outline=OUTLINE, districts=[], clusters=[], view=((128.3, 128.4), (2.0, 2.1)), tiles=tiles, keep_view=True
    )
    assert rotated.layout.uirevision != "map", "the kiosk's new view moves the map"
    assert kept.layout.uirevision == "map", "a person's own pan and zoom stay as they are"
    assert not map_figure(outline=OUTLINE, districts=[], clusters=[]).layout.map.style, "no URL: no tiles"


def test_tile_url_setting_wants_an_xyz_template() -> None:
    import pytest
    from pydantic import ValidationError

    from app.settings import Settings

    assert Settings(map_tile_url="").map_tile_url is None, "empty: no tiles (the default)"
    url = "https://tile.example/{z}/{x}/{y}.png"
    assert Settings(map_tile_url=url, map_tile_attribution="© X").map_tile_url == url
    for bad in ("https://tile.example/tiles.png", "file:///tiles/{z}/{x}/{y}.png"):
        with pytest.raises(ValidationError):
            Settings(map_tile_url=bad)


def test_warnings_on_the_tile_map_keep_their_colour_and_rings() -> None:
    """Regional warnings (issue 12): an area in its severity's colour, an epicentre's rings as lines, on both maps."""
    from dashboards.figures import SEVERITY_COLOURS

    warnings = [
        {
            "severity": "major",
            "label": "Hujan",
            "rings": [[(2.1, 128.3), (2.2, 128.3), (2.2, 128.4), (2.1, 128.3)]],
            "epicentre": None,
        },
        {"severity": "critical", "label": "Gempa", "rings": [], "epicentre": (2.45, 129.06)},
    ]
    for tiles in (None, Tiles("http://127.0.0.1:9/{z}/{x}/{y}.png", "© Test")):
        fig = map_figure(outline=OUTLINE, districts=[], clusters=[], warnings=warnings, tiles=tiles)
        by_name = {tr.name: tr for tr in fig.data if tr.name}
        area = by_name["warning-area"]
        assert area.line.color == SEVERITY_COLOURS["major"] and area.fill == "toself"
        assert by_name["ring-50"].line.color == SEVERITY_COLOURS["critical"]
        assert by_name["epicentre"].marker.color == SEVERITY_COLOURS["critical"]
