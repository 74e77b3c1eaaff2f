"""Panel builders and small helpers (pure): API JSON in, components out."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from app.i18n import CATALOGUES
from app.profile import load_profile
from dashboards import ids
from dashboards.figures import LIGHT, SEVERITY_GLYPHS
from dashboards.fmt import clock, number, when
from dashboards.pages.operator import rotation_view
from dashboards.pages.replay import advance, parse_local
from dashboards.panels import (
    alarm_counts,
    alarm_rows,
    city_map,
    feed_items,
    kpi_tiles,
    map_points,
    service_table,
    sorted_alarms,
    trend_series,
)

PROFILE = load_profile("morotai")
TZ = ZoneInfo("Asia/Jayapura")
AT = 1_795_400_000_000  # 2026-11-23 02:13:20 UTC = 11.13 WIT


def _alarm(i: int, severity: str, state: str = "active", **kw: object) -> dict:
    return {
        "id": i,
        "severity": severity,
        "state": state,
        "rule": "r",
        "message": f"m{i}",
        "raised_at": "2026-11-23T02:00:00Z",
        **kw,
    }


def _text(component: object) -> str:
    """All strings below a component."""
    if isinstance(component, str | int | float):
        return str(component)
    if isinstance(component, list | tuple):
        return " ".join(_text(c) for c in component)
    children = getattr(component, "children", None)
    return _text(children) if children is not None else ""


def test_local_time_and_numbers() -> None:
    assert clock(AT, TZ, "id") == "11.13" and clock(AT, TZ, "en") == "11:13"
    assert clock(AT, TZ, "id", seconds=True) == "11.13.20"
    assert when(AT, TZ, "id") == "23 Nov 11.13"
    assert number(12345.5, "id", 1) == "12.345,5" and number(12345.5, "en", 1) == "12,345.5"


def test_kpis_take_alarm_counts_from_the_overview_or_the_list() -> None:
    overview = {
        "sources": {"online": 9, "stale": 1, "offline": 2},
        "open_tickets": 7,
        "overdue_tickets": 3,
        "messages_last_minute": 1200,
    }
    alarms = [_alarm(1, "critical"), _alarm(2, "major", "acknowledged"), _alarm(3, "minor", "cleared")]
    assert alarm_counts(overview, alarms) == {"critical": 1, "major": 1, "minor": 0, "warning": 0}
    assert (
        alarm_counts({**overview, "alarms": {"critical": 5, "major": 0, "minor": 0, "warning": 2}}, [])["critical"] == 5
    )
    text = _text(kpi_tiles(overview, alarms, "id"))
    assert "1.200" in text and "Sumber daring" in text and "Lewat tenggat" in text


def test_alarm_rows_sort_and_offer_acknowledge_to_operators_only() -> None:
    alarms = [_alarm(1, "minor"), _alarm(2, "critical", "acknowledged", acknowledged_by="Sari"), _alarm(3, "critical")]
    assert [a["id"] for a in sorted_alarms(alarms)] == [3, 1, 2], "unacknowledged first, then by severity"
    *rows, more = alarm_rows(alarms, lang="id", tz=TZ, can_ack=True)
    assert more.className == "more" and more.hidden, "the count of rows not shown: none left out"
    buttons = [r.children[2] for r in rows if getattr(r.children[2], "id", None)]
    assert [b.id for b in buttons] == [{"type": ids.ACK_BUTTON, "alarm": 3}, {"type": ids.ACK_BUTTON, "alarm": 1}]
    assert not any(b.disabled for b in buttons)
    assert "ditanggapi oleh Sari" in _text(rows)
    *viewer, _ = alarm_rows(alarms, lang="en", tz=TZ, can_ack=False)
    assert all(r.children[2].disabled for r in viewer if getattr(r.children[2], "id", None))
    assert "Tidak ada alarm" in _text(alarm_rows([], lang="id", tz=TZ, can_ack=True))


def test_a_severity_reads_without_its_colour_and_only_trouble_is_coloured() -> None:
    """Each alarm row's badge carries its shape and its word; a severity with no alarm has a muted chip."""
    rows = alarm_rows([_alarm(1, "critical"), _alarm(2, "warning")], lang="id", tz=TZ, can_ack=True)[:-1]
    badges = [r.children[0] for r in rows]
    assert [_text(b) for b in badges] == [
        f"{SEVERITY_GLYPHS['critical']} Awas",
        f"{SEVERITY_GLYPHS['warning']} Perhatian",
    ]
    assert badges[0].children[0].className == "glyph"
    overview = {"sources": {"online": 9, "stale": 0, "offline": 1}, "alarms": {"critical": 1, "major": 0}}
    tiles = {tl.id: tl for tl in kpi_tiles(overview, [], "id")}
    assert tiles["kpi-online"].className.split() == ["kpi"], "sources online are normal: no colour"
    assert "off" in tiles["kpi-offline"].className.split()
    chips = tiles["kpi-alarms"].children[0].children
    assert ["zero" in c.className.split() for c in chips] == [False, True, True, True]


def test_feed_merges_tickets_alarms_and_status_newest_first() -> None:
    tickets = [
        {
            "ticket_id": "112-1",
            "service": "ambulans",
            "district": "morotai-utara",
            "title": "Kecelakaan",
            "updated_at": "2026-11-23T02:10:00Z",
            "priority": "critical",
        }
    ]
    alarms = [_alarm(9, "major", updated_at="2026-11-23T02:12:00Z")]
    status = [{"at": "2026-11-23T02:11:00Z", "source_id": "awlr-x", "online": False}]
    items = feed_items(
        tickets=tickets,
        alarms=alarms,
        status_events=status,
        lang="id",
        tz=TZ,
        district_names={"morotai-utara": "Morotai Utara"},
        service_name=lambda s, lang: PROFILE.service(s).name.id,
    )
    texts = [_text(i) for i in items]
    assert texts[0].startswith("11.12.00") and "m9" in texts[0]
    assert "awlr-x luring" in texts[1]
    assert "112-1 · Ambulans · Morotai Utara: Kecelakaan" in texts[2]


def test_map_points_state_and_latest_values() -> None:
    sources = [
        {
            "source_id": "a",
            "name": "AWLR A",
            "status": "online",
            "lat": 2.1,
            "lon": 128.3,
            "last_seen": "2026-11-23T02:13:00Z",
        },
        {"source_id": "b", "status": "stale", "lat": 2.2, "lon": 128.4},
        {"source_id": "nowhere", "status": "online", "lat": None, "lon": None},
    ]
    latest = [{"source_id": "a", "metric": "water_level_cm", "value": 1234.5, "unit": "cm"}]
    alarms = [_alarm(1, "critical", source_id="b"), _alarm(2, "major", "cleared", source_id="a")]
    pts = map_points(sources, latest, alarms, lang="id", tz=TZ, metric_name=lambda m, lang: "Tinggi muka air")
    assert [(p.key, p.state) for p in pts] == [("a", "online"), ("b", "critical")]
    assert "Tinggi muka air: 1.234,5 cm" in pts[0].label and "daring · 11.13" in pts[0].label


def test_trend_series_carry_the_profile_thresholds_on_local_time() -> None:
    trends = {
        "water_level_cm": {
            "start": "2026-11-22T20:10:00Z",
            "end": "2026-11-23T02:15:00Z",
            "items": [{"bucket_start": "2026-11-23T02:10:00Z", "value": 200.0, "count": 3}],
        }
    }
    series = trend_series(trends, PROFILE, "en")
    water = next(s for s in series if s["unit"] == "cm" and s["title"] == "Water level")
    assert water["y"] == [200.0] and water["x"][0].hour == 11
    assert (250.0, "critical") in water["thresholds"]
    assert len(series) == sum(1 for m in PROFILE.metrics if m.key)
    # The axis spans the window asked for (on the city's clock), not the one bucket there is.
    assert [(x.hour, x.minute) for x in water["range"]] == [(5, 10), (11, 15)]
    assert next(s for s in series if s["title"] == "Rainfall")["range"] is None, "no answer: no window to show"


def test_alarms_past_the_limit_are_counted() -> None:
    alarms = [_alarm(i, "major") for i in range(20)]
    *rows, more = alarm_rows(alarms, lang="id", tz=TZ, can_ack=True, limit=14)
    assert (
        len(rows) == 14
        and _text(more) == "+6"
        and more.hidden is False
        and more.to_plotly_json()["props"]["data-extra"] == "6"
    )


def _rows(table: object) -> dict[str, list[str]]:
    return {r.id: [_text(c) for c in r.children] for t in table.children for r in t.children[1].children}


def test_services_table_sums_unregistered_agencies_in_one_row_so_rows_add_up_to_the_tiles() -> None:
    status = {
        "agencies": [
            {"agency": "bpbd", "agency_registered": True, "open": 4, "overdue": 1, "sla_pct": 80.0},
            {
                "agency": "dinas-pariwisata",
                "agency_registered": False,
                "open": 2,
                "overdue": 1,
                "resolved_with_due": 2,
                "resolved_within_sla": 1,
                "sla_pct": 50.0,
            },
            {
                "agency": "dinas-sosial",
                "agency_registered": False,
                "open": 1,
                "overdue": 0,
                "resolved_with_due": 2,
                "resolved_within_sla": 2,
                "sla_pct": 100.0,
            },
        ]
    }
    table = service_table(status, PROFILE, "id")
    rows = _rows(table)
    assert len(table.children) == 2, "two tables side by side: every agency fits the panel"
    assert list(rows)[:-1] == [f"svc-{a.id}" for a in PROFILE.agencies]
    assert rows["svc-other"] == ["Lainnya / belum terdaftar", "3", "1", "75%"], "summed, SLA % from the summed counts"
    assert sum(int(r[1]) for r in rows.values()) == 7 and sum(int(r[2]) for r in rows.values()) == 2
    assert "svc-other" not in _rows(service_table({"agencies": status["agencies"][:1]}, PROFILE, "en"))
    # Given the open tickets (read as often as the tiles), they count open and overdue; the SLA % stays the period's.
    live = [
        {"agency": "bpbd", "overdue": True},
        {"agency": "bpbd", "overdue": False},
        {"agency": "pdam", "overdue": False},
        {"agency": "dinas-baru", "overdue": True},
    ]
    rows = _rows(service_table(status, PROFILE, "id", open_tickets=live))
    assert rows["svc-bpbd"] == ["BPBD", "2", "1", "80%"] and rows["svc-pdam"][1:3] == ["1", "0"]
    assert rows["svc-other"] == ["Lainnya / belum terdaftar", "1", "1", "75%"]
    assert sum(int(r[1]) for r in rows.values()) == 4 and sum(int(r[2]) for r in rows.values()) == 2


def test_replay_clock() -> None:
    assert parse_local("2026-11-23 11:13", TZ) == AT - 20_000
    assert parse_local("2026-11-23T11:13:20", TZ) == AT
    assert parse_local("yesterday", TZ) is None
    day = 86_400_000
    c = {"at_ms": AT - day, "playing": True, "speed": 60, "wall_ms": AT}
    assert advance(c, AT + 2000)["at_ms"] == AT - day + 120_000, "60x: two seconds are two minutes of history"
    assert advance({**c, "playing": False}, AT + 2000)["at_ms"] == AT - day
    caught_up = advance({**c, "at_ms": AT - 1000}, AT + 5000)
    assert caught_up["at_ms"] == AT + 5000 and caught_up["playing"] is False, "replay stops at the present"


def test_kiosk_rotation_visits_every_district() -> None:
    views = [rotation_view(n, PROFILE) for n in range(len(PROFILE.districts) + 1)]
    assert views[0] == (None, "")
    assert [name for _, name in views[1:]] == [d.name for d in PROFILE.districts]
    view, _ = views[1]
    d = PROFILE.districts[0]
    assert view["x"][0] < d.center.lon < view["x"][1] and view["y"][0] < d.center.lat < view["y"][1]


def test_ui_strings_in_both_languages() -> None:
    ours = [k for k in CATALOGUES["id"] if k.startswith(("ui.", "dash."))]
    assert len(ours) > 50
    assert all(k in CATALOGUES["en"] for k in ours)


def test_city_map_names_a_cluster_s_worst_state_in_the_window_s_language() -> None:
    """The operator map and replay draw through one builder: a cluster's hover names its state in `lang`."""
    s = PROFILE.sources[0]
    sources = [{"source_id": sid, "name": sid, "lat": s.lat, "lon": s.lon, "status": "online"} for sid in ("a", "b")]
    alarms = [_alarm(1, "major", source_id="a")]
    fig = city_map(
        profile=PROFILE,
        sources=sources,
        latest=[],
        alarms=alarms,
        tickets=[],
        lang="id",
        th=LIGHT,
        metric_name=lambda m, lang: m,
        service_name=lambda sv, lang: sv or "",
    )
    hovers = [h for tr in fig.data if tr.hovertext for h in tr.hovertext]
    assert any(h.startswith("<b>2</b> · " + CATALOGUES["id"]["dash.sev.major"]) for h in hovers), hovers


# --- regional warnings (issue 12) -------------------------------------------------------------------------------

QUAKE_ALERT = {
    "relevant": True,
    "alarm_severity": "critical",
    "headline": "Gempa <b>Mag:6.1</b>",
    "event": "Gempabumi",
    "sent": "2026-11-23T02:00:00Z",
    "distance_km": 40.1,
    "districts": ["morotai-utara"],
    "parameters": {"magnitude": "6.1", "tsunami": "true"},
    "areas": {"features": [{"geometry": {"type": "Point", "coordinates": [129.06, 2.45]}, "properties": {}}]},
}
RAIN_ALERT = {
    "relevant": True,
    "alarm_severity": "major",
    "headline": "Hujan Lebat",
    "sent": "2026-11-23T02:05:00Z",
    "distance_km": 0,
    "districts": ["morotai-utara", "morotai-jaya"],
    "parameters": {},
    "areas": {
        "features": [
            {
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[128.6, 2.5], [128.7, 2.5], [128.7, 2.6], [128.6, 2.5]]],
                },
                "properties": {},
            }
        ]
    },
}


def test_warning_shapes_turn_geojson_back_into_lat_lon_and_find_the_epicentre() -> None:
    from dashboards.panels import warning_shapes

    quake, rain = warning_shapes([QUAKE_ALERT, RAIN_ALERT, {**RAIN_ALERT, "relevant": False}], "id")
    assert quake["epicentre"] == (2.45, 129.06) and quake["rings"] == []
    assert "&lt;b&gt;" in quake["label"] and "40 km" in quake["label"]  # free text escaped for the hover
    assert rain["epicentre"] is None and rain["rings"][0][0] == (2.5, 128.6)


def test_the_banner_shows_the_worst_warning_and_counts_the_rest() -> None:
    from dashboards.panels import warning_banner

    names = {d.id: d.name for d in PROFILE.districts}
    text = str(warning_banner([RAIN_ALERT, QUAKE_ALERT], "id", names))
    assert "Awas" in text and "Mag:6.1" in text and "+1 peringatan lain" in text
    assert warning_banner([], "id", names) == []


def test_the_map_draws_areas_the_epicentre_and_its_rings_and_widens_to_show_them() -> None:
    fig = city_map(
        profile=PROFILE,
        sources=[],
        latest=[],
        alarms=[],
        tickets=[],
        lang="id",
        th=LIGHT,
        metric_name=lambda m, _l: m,
        service_name=lambda s, _l: s,
        alerts=[QUAKE_ALERT, RAIN_ALERT],
    )
    names = [tr.name for tr in fig.data]
    assert {"epicentre", "ring-50", "ring-100", "ring-300", "warning-area"} <= set(names)
    assert fig.layout.xaxis.range[1] > 129.06  # the epicentre off the east coast is in view


def test_the_feed_lists_relevant_warnings() -> None:
    items = feed_items(
        tickets=[],
        alarms=[],
        status_events=[],
        lang="id",
        tz=TZ,
        district_names={d.id: d.name for d in PROFILE.districts},
        service_name=lambda s, _l: s,
        alerts=[RAIN_ALERT],
    )
    assert "Peringatan Siaga: Hujan Lebat (Morotai Utara, Morotai Jaya)" in str(items)
