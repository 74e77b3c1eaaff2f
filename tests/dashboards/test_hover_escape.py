"""Integrators' text reaches the map's labels escaped (dashboards.figures.esc): no live link, our formatting kept."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from dashboards.cluster import cluster
from dashboards.figures import esc, map_figure
from dashboards.panels import map_points, ticket_points

EVIL = '<a href="http://evil.example/">klik</a><img src=x>'
SAFE = '&lt;a href="http://evil.example/"&gt;klik&lt;/a&gt;&lt;img src=x&gt;'
TZ = ZoneInfo("Asia/Jayapura")
RING = [[[2.0, 128.2], [2.4, 128.2], [2.4, 128.6], [2.0, 128.2]]]


def test_esc_turns_markup_into_text() -> None:
    assert esc(EVIL) == SAFE
    assert esc("Q&A <b>") == "Q&amp;A &lt;b&gt;" and esc(None) == "" and esc(12.5) == "12.5"


def test_source_names_units_and_ticket_titles_are_escaped_in_their_labels() -> None:
    sources = [{"source_id": "awlr-x", "name": EVIL, "status": "online", "lat": 2.1, "lon": 128.3}]
    latest = [{"source_id": "awlr-x", "metric": "water_level_cm", "value": 5.0, "unit": "<a href='u'>cm</a>"}]
    src = map_points(sources, latest, [], lang="id", tz=TZ, metric_name=lambda m, lang: m)[0].label
    assert src.startswith(f"<b>{SAFE}</b><br>") and "&lt;a href='u'&gt;cm&lt;/a&gt;" in src and "<a " not in src
    tickets = [
        {"ticket_id": "<b>T1</b>", "service": "ambulans", "status": "open", "title": EVIL, "lat": 2.1, "lon": 128.3}
    ]
    tk = ticket_points(tickets, lang="id", service_name=lambda s, lang: s)[0].label
    assert tk == f"<b>&lt;b&gt;T1&lt;/b&gt;</b><br>ambulans · open<br>{SAFE}"


def test_the_map_figure_escapes_alarm_messages_and_district_names() -> None:
    pts = ticket_points(
        [{"ticket_id": "T1", "title": EVIL, "lat": 2.1, "lon": 128.3}], lang="id", service_name=lambda s, lang: s or ""
    )
    fig = map_figure(
        outline=RING,
        districts=[{"name": EVIL, "lat": 2.2, "lon": 128.4}],
        clusters=[],
        tickets=cluster(pts, (128.2, 128.6), (2.0, 2.4)),
        alarms=[{"lat": 2.3, "lon": 128.5, "severity": "critical", "message": EVIL}],
    )
    texts = [str(v) for tr in fig.to_dict()["data"] for k in ("text", "hovertext") for v in (tr.get(k) or [])]
    assert texts and not any("<a " in s or "<img" in s for s in texts)
    assert SAFE in texts and any(s.endswith(SAFE) and s.startswith("<b>T1</b><br>") for s in texts)
