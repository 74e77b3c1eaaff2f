"""The province view's pure builders (dashboards.province_parts, dashboards.pages.province.render)."""

from __future__ import annotations

import json

from dash._utils import to_json

from dashboards.figures import STATE_COLOURS
from dashboards.pages.province import render
from dashboards.province_parts import (
    STATE_FILL,
    age_text,
    league_table,
    pillar_grid,
    province_map,
    regency_rows,
    short_name,
    totals,
)


def _j(component: object) -> str:
    """A component tree as the browser gets it (JSON)."""
    return json.dumps(json.loads(to_json(component)), ensure_ascii=False)


NOW = 1_796_551_200_000  # 2026-12-06T10:00:00Z


def _city(cid: str, name: str, state: str, **kw: object) -> dict:
    lat = {"morotai": 2.3, "ternate": 0.8, "halmahera-utara": 1.5}[cid]
    return {
        "id": cid,
        "name": name,
        "timezone": "Asia/Jayapura",
        "centre": {"lat": lat, "lon": 128.0},
        "outline": [[[lat - 0.1, 127.9], [lat + 0.1, 127.9], [lat + 0.1, 128.1], [lat - 0.1, 127.9]]],
        "state": state,
        "sources": {"online": 3, "stale": 0, "offline": 1, "total": 4},
        "tickets": {"open": 5, "overdue": 2},
        "alarms": {"critical": 1 if state == "critical" else 0, "major": 0, "minor": 2, "warning": 0},
        "incidents": {"open": 1},
        "sla_pct_30d": 87.5,
        "last_received": "2026-12-06T09:59:00Z",
        "link": "ok",
        "pillars": {p: None for p in ("governance", "branding", "economy", "living", "society", "environment")},
        **kw,
    }


CITIES = [
    _city("morotai", "Kabupaten Pulau Morotai", "critical"),
    _city("ternate", "Kota Ternate", "ok", link="late", pillars={"governance": 92.0, "society": 60.0}),
    _city("halmahera-utara", "Kabupaten Halmahera Utara", "no_data", last_received=None, link="never"),
]


def test_the_map_fills_each_regency_in_its_worst_states_colour_and_names_it() -> None:
    fig = province_map(CITIES, state_names={"critical": "Awas"}).to_plotly_json()
    fills = [tr for tr in fig["data"] if tr.get("fill") == "toself"]
    assert [tr["meta"] for tr in fills] == ["morotai", "ternate", "halmahera-utara"]
    assert fills[0]["fillcolor"] == STATE_COLOURS["critical"]
    assert fills[1]["fillcolor"] == STATE_FILL["ok"] != STATE_COLOURS["critical"]
    assert fills[2]["fillcolor"] == STATE_COLOURS["offline"]  # no data: lost data's purple
    assert all(set(tr["customdata"]) == {tr["meta"]} for tr in fills)  # a click anywhere names the regency
    names = fig["data"][-1]
    assert list(names["customdata"]) == ["morotai", "ternate", "halmahera-utara"]
    assert "Pulau Morotai" in names["text"][0] and "Kabupaten" not in names["text"][0]
    assert fig["layout"]["xaxis"]["visible"] is False  # the plain map: no tiles, nothing fetched
    assert "mapbox" not in json.dumps(fig["layout"]) and "map" not in fig["layout"]


def test_the_map_escapes_names_from_outside() -> None:
    evil = [_city("ternate", "Kota <a href='x'>Ternate</a>", "ok")]
    fig = province_map(evil, state_names={}).to_plotly_json()
    assert "<a" not in json.dumps(fig["data"]) and "&lt;a" in json.dumps(fig["data"])


def test_rows_link_each_regency_to_its_own_window() -> None:
    table = _j(regency_rows(CITIES, "id", NOW))
    for cid in ("morotai", "ternate", "halmahera-utara"):
        assert f'"/?city={cid}"' in table
    assert "Belum pernah" in table and "Terlambat" in table and "Tersambung" in table


def test_age_text_reads_seconds_minutes_hours_days_and_never() -> None:
    assert age_text("2026-12-06T09:59:30Z", NOW, "id") == "30 dtk lalu"
    assert age_text("2026-12-06T09:30:00Z", NOW, "en") == "30 min ago"
    assert age_text("2026-12-06T05:00:00Z", NOW, "en") == "5 h ago"
    assert age_text("2026-12-01T10:00:00Z", NOW, "en") == "5 days ago"
    assert age_text(None, NOW, "en") == "–"


def test_league_is_best_first_with_unknown_last_and_dashes_without_tickets() -> None:
    league = [
        {"agency": "dlh", "short": "DLH", "name": "Dinas LH", "overall_pct": None, "tickets": 0, "cities": {}},
        {
            "agency": "bpbd",
            "short": "BPBD",
            "name": "BPBD",
            "overall_pct": 95.0,
            "tickets": 20,
            "cities": {"morotai": {"sla_pct": 95.0, "tickets": 20}, "ternate": {"sla_pct": None, "tickets": 0}},
        },
        {"agency": "pupr", "short": "PUPR", "name": "PUPR", "overall_pct": 60.0, "tickets": 5, "cities": {}},
    ]
    table = json.loads(_j(league_table(league, CITIES, "en")))
    rows = table["props"]["children"][1]["props"]["children"]
    assert [r["props"]["id"] for r in rows] == ["league-bpbd", "league-pupr", "league-dlh"]
    first = json.dumps(rows[0], ensure_ascii=False)
    assert "95%" in first and first.count("–") == 2  # Ternate had none with a due time; Halmahera Utara none
    assert "No tickets" in _j(league_table([], CITIES, "en"))


def test_pillars_grid_colours_scores_and_dashes_the_unknown() -> None:
    grid = _j(pillar_grid(CITIES, "en"))
    assert '"id": "prov-pillar-ternate-governance"' in grid
    assert "#30d158" in grid and "#ff3b30" in grid and "#8e8e93" in grid  # 92 green, 60 red, none grey


def test_totals_and_render() -> None:
    assert totals(CITIES) == {
        "online": 9,
        "total": 12,
        "open": 15,
        "overdue": 6,
        "alarms": 7,
        "critical": 1,
        "incidents": 3,
        "down": 1,
    }
    body = {
        "province": {"id": "maluku-utara", "name": "Provinsi Maluku Utara"},
        "computed_at": "2026-12-06T10:00:00Z",
        "window_days": 30,
        "cities": CITIES,
        "league": [],
    }
    summary, fig, map_ids, *_rest, title, fresh = render(body, "id")
    assert map_ids == [tr.meta for tr in fig.data]
    assert map_ids[:3] == ["morotai", "ternate", "halmahera-utara"]
    assert title == "Provinsi Maluku Utara: sekilas"
    assert len(summary) == 7 and set(fresh) == {"pmap", "pstate", "pleague", "ppillars"}


def test_short_names() -> None:
    assert short_name("Kabupaten Pulau Morotai") == "Pulau Morotai"
    assert short_name("Kota Ternate") == "Ternate"
    assert short_name("Sofifi") == "Sofifi"
