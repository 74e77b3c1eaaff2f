"""Profiles of a Smart Province: Kemendagri codes, a province profile of several cities, a comma list."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from app.profile import SHIPPED_DIR, ProfileError, load_deployment, load_profile, load_profile_file
from satupintu.cli import cli


def test_every_shipped_city_profile_has_its_kemendagri_code_and_its_districts_theirs() -> None:
    cities = [p for p in SHIPPED_DIR.glob("*.yaml") if "city" in yaml.safe_load(p.read_text())]
    assert len(cities) >= 3
    for path in cities:
        p = load_profile_file(path)
        assert p.city.kemendagri, f"{path.name} has no Kemendagri code"
        assert all(d.kemendagri and d.kemendagri.startswith(p.city.kemendagri + ".") for d in p.districts)
    morotai = load_profile("morotai")
    assert (morotai.city.kemendagri, morotai.city.kind) == ("82.07", "kabupaten")


def test_the_maluku_utara_province_lists_three_cities_each_with_its_own_catalogue_and_slas() -> None:
    d = load_deployment("maluku-utara")
    assert d.province is not None and d.province.kemendagri == "82"
    assert [c.city.id for c in d.cities] == ["morotai", "ternate", "halmahera-utara"]
    assert {c.city.kind for c in d.cities} == {"kabupaten", "kota"}
    fire = {c.city.id: c.service("kebakaran").sla_minutes for c in d.cities}  # type: ignore[union-attr]
    assert fire["ternate"] < fire["morotai"], "a city's own SLA, not a shared one"
    assert d.cities[1].source("aws-bandara-babullah") is not None and d.cities[0].source("aws-bandara-babullah") is None


def test_a_comma_list_is_a_deployment_and_a_single_name_is_one_city() -> None:
    assert [c.city.id for c in load_deployment(" morotai , ternate ").cities] == ["morotai", "ternate"]
    assert load_deployment("morotai").province is None


def test_a_city_twice_or_a_city_outside_the_province_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="listed twice"):
        load_deployment("morotai,morotai")
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(
        "province: {id: maluku, name: Maluku, kemendagri: '81', center: {lat: -3.2, lon: 130.1}}\ncities: [morotai]\n"
    )
    with pytest.raises(ProfileError, match="not within province 81"):
        load_deployment(str(wrong))


def test_a_province_as_the_deployments_profile_is_refused_with_a_clear_reason_until_it_is_served() -> None:
    """Default single-city behaviour stays as it was: SATUPINTU_PROFILE names one city."""
    with pytest.raises(ProfileError, match="province profile"):
        load_profile("maluku-utara")


def test_profile_check_validates_a_province_with_its_cities() -> None:
    result = CliRunner().invoke(cli, ["profile", "check", str(SHIPPED_DIR / "maluku-utara.yaml")])
    assert result.exit_code == 0, result.output
    assert "Kota Ternate (ternate, 82.71, Asia/Jayapura): 8 districts" in result.stdout
    assert len(result.stdout.strip().splitlines()) == 3
