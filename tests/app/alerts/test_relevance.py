"""Relevance against the Morotai profile: BMKG's samples are far away; a near quake and a nowcast over a district are not."""

from __future__ import annotations

from pathlib import Path

from app.alerts.cap import parse_cap
from app.alerts.relevance import assess
from app.profile import load_profile
from tests.app.alerts.capdocs import cap, quake

PROFILE = load_profile("morotai")
VECTORS = Path(__file__).parents[2] / "vectors" / "bmkg"


def test_banten_nowcast_does_not_concern_morotai() -> None:
    rel = assess(parse_cap((VECTORS / "nowcast_cap_banten.xml").read_bytes()), PROFILE)
    assert not rel.relevant
    assert rel.distance_km is not None and rel.distance_km > 2000
    assert rel.severity is None


def test_nowcast_over_morotai_utara_names_that_district_with_the_mapped_severity() -> None:
    rel = assess(parse_cap(cap("n-1", severity="Severe")), PROFILE)
    assert rel.relevant
    assert rel.distance_km == 0
    assert rel.districts == ("morotai-utara",)
    assert rel.severity == "major"  # Severe -> Siaga


def test_area_touching_the_outline_but_no_district_centre_names_the_nearest_district() -> None:
    # A sliver on the south-west coast near Daruba, away from every district centre.
    rel = assess(parse_cap(cap("n-2", polygon="1.95,128.20 1.95,128.30 2.02,128.30 2.02,128.20 1.95,128.20")), PROFILE)
    assert rel.relevant
    assert rel.districts == ("morotai-selatan",)


def test_near_quake_with_tsunami_potential_is_awas() -> None:
    rel = assess(parse_cap(quake("q-1", magnitude="6.1", tsunami=True)), PROFILE)
    assert rel.relevant
    assert rel.severity == "critical"
    assert rel.distance_km is not None and 30 < rel.distance_km < 50
    assert len(rel.districts) == 1


def test_quake_rules_magnitude_and_distance() -> None:
    # M5.4 40 km away: Siaga; M4.5 there: nothing; M5.4 near Pekalongan (BMKG's sample): nothing.
    assert assess(parse_cap(quake("q-2", magnitude="5.4", tsunami=False)), PROFILE).severity == "major"
    assert not assess(parse_cap(quake("q-3", magnitude="4.5", tsunami=False)), PROFILE).relevant
    far = assess(parse_cap(quake("q-4", magnitude="5.4", tsunami=False, lat=-6.89, lon=109.67)), PROFILE)
    assert not far.relevant
    assert far.distance_km is not None and far.distance_km > 2000
