"""The shared picture (dashboards/data.py): which parts a change touches, from the API routes' declarations."""

from __future__ import annotations

import pytest

from app.api.main import DEPENDS_ON
from app.profile import load_profile
from app.settings import Settings
from dashboards.data import CityData, Pace


@pytest.fixture
def city() -> CityData:
    return CityData(None, load_profile("morotai"), DEPENDS_ON, Pace.of(Settings()))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "parts"),
    [
        ("readings", ("overview", "sources", "latest", "trends")),
        ("tickets", ("overview", "tickets", "recent_tickets", "services", "incidents")),
        ("sources_new", ("overview", "sources", "latest", "trends")),  # as the API's cache has it
        ("status", ("overview", "sources")),
        ("quarantined", ("overview",)),
        ("alarms", ("overview", "alarms", "alerts", "incidents", "situations")),  # warnings in force change with alarms
        ("incidents", ("overview", "incidents")),  # incidents (issue 13): the KPI tile and the map's stars
    ],
)
def test_a_kind_of_change_touches_the_parts_whose_routes_depend_on_it(city: CityData, kind: str, parts: tuple) -> None:
    assert city.touched(frozenset({kind})) == parts  # type: ignore[arg-type]


def test_a_notice_marks_what_it_names_and_a_resync_everything(city: CityData) -> None:
    before = dict(city._changed)
    city.on_event("changes", {"type": "changes", "v": 1, "at": "x", "city": "morotai", "alarms": [{"alarm_id": 1}]})
    assert {p for p, n in city._changed.items() if n != before[p]} == {
        "overview",
        "alarms",
        "alerts",
        "incidents",
        "situations",
    }
    city.on_event("resync", {})
    assert all(n > before[p] for p, n in city._changed.items())


def test_the_pace_follows_the_settings() -> None:
    pace = Pace.of(Settings(dashboard_reread_gap_s=0.1, dashboard_slow_max_age_s=60))
    assert pace.gap_s["alarms"] == 0.1 and pace.gap_s["trends"] == 15.0
    assert pace.max_age_s["services"] == 60 and pace.max_age_s["overview"] == 30.0
