"""The six pillars scored from the profile's mapping (pure)."""

from __future__ import annotations

import pytest

from app.profile import PILLARS, load_profile
from app.reports.pillars import pillar_scores

PROFILE = load_profile("morotai")


def test_scores_pool_sla_of_the_pillars_services_and_health_of_its_sensors() -> None:
    # ambulans (society), ktp-el (governance), banjir (environment) per the Morotai profile.
    items = [
        {"service": "ambulans", "resolved_with_due": 10, "resolved_within_sla": 9},
        {"service": "ktp-el", "resolved_with_due": 4, "resolved_within_sla": 2},
        {"service": "unknown-svc", "resolved_with_due": 100, "resolved_within_sla": 0},
    ]
    # water_level_cm is an environment metric; two sources report it, one with an open alarm on it.
    latest = [
        {"source_id": "awlr-a", "metric": "water_level_cm"},
        {"source_id": "awlr-b", "metric": "water_level_cm"},
        {"source_id": "awlr-c", "metric": "water_level_cm"},
    ]
    sources = [
        {"source_id": "awlr-a", "status": "online"},
        {"source_id": "awlr-b", "status": "online"},
        {"source_id": "awlr-c", "status": "offline"},
    ]
    alarms = [{"source_id": "awlr-b", "metric": "water_level_cm", "state": "active"}]
    s = pillar_scores(PROFILE, service_items=items, latest=latest, sources=sources, alarms=alarms)
    assert set(s) == set(PILLARS)
    assert s["society"].services_pct == pytest.approx(90.0) and s["society"].sensing_pct is None
    assert s["society"].score == pytest.approx(90.0)
    assert s["governance"].score == pytest.approx(50.0)
    env = s["environment"]
    assert env.sensing_pct == pytest.approx(100 / 3), "one of three sources online without an alarm"
    assert env.services_pct is None and env.score == pytest.approx(100 / 3)
    assert s["branding"].score is None, "nothing maps to branding: no score, not zero"


def test_the_profile_maps_pillars() -> None:
    assert {m.pillar for m in PROFILE.metrics} | {s.pillar for s in PROFILE.services} <= set(PILLARS)
