"""SOPs: the shipped profile's are valid and complete; bad ones are refused with the reason; the default match."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from app.incidents.sops import Sop, default_sop, profile_sops, sync_sops
from app.profile import Profile, load_profile
from app.storage.engine import make_engine, writing
from app.storage.migrate import upgrade
from satupintu.cli import cli

MOROTAI = load_profile("morotai")
SHIPPED = Path("app/profiles/morotai.yaml")


def test_morotai_ships_the_seven_sops_in_both_languages_with_targets() -> None:
    sops = {s.id: s for s in profile_sops(MOROTAI)}
    assert set(sops) == {"banjir", "longsor", "gempa", "tsunami", "kebakaran", "kecelakaan", "gangguan-sumber"}
    for s in sops.values():
        assert s.name.id and s.name.en and len(s.steps) >= 4
        assert any(st.mandatory for st in s.steps) and any(st.within_min for st in s.steps)
        assert all(st.text.id != st.text.en for st in s.steps)  # written in both languages, not copied
    first = sops["tsunami"].steps[:2]
    assert [(st.id, st.within_min) for st in first] == [("terima-peringatan", 3), ("sirene", 5)]


def _with(raw_sops: list) -> Profile:
    data = yaml.safe_load(SHIPPED.read_text())
    data["sops"] = raw_sops
    return Profile.model_validate(data)


def test_a_wrong_sop_is_refused_with_its_reason() -> None:
    good = copy.deepcopy(MOROTAI.sops[0])
    unknown_agency = copy.deepcopy(good)
    unknown_agency["steps"][0]["agency"] = "nasa"
    with pytest.raises(ValueError, match="unknown agency 'nasa'"):
        profile_sops(_with([unknown_agency]))
    repeated = copy.deepcopy(good)
    repeated["steps"].append(copy.deepcopy(repeated["steps"][0]))
    with pytest.raises(ValueError, match="repeats a step id"):
        profile_sops(_with([repeated]))
    with pytest.raises(ValueError, match="repeats an SOP id"):
        profile_sops(_with([good, good]))
    with pytest.raises(ValueError):
        Sop.model_validate({"id": "x", "name": {"id": "a", "en": "b"}, "steps": []})  # no steps
    with pytest.raises(ValueError):
        Sop.model_validate(
            {
                "id": "x",
                "name": {"id": "a", "en": "b"},
                "steps": [{"id": "s", "text": {"id": "a", "en": "b"}, "within_min": 0}],
            }
        )


def test_profile_check_validates_the_sops(tmp_path: Path) -> None:
    ok = CliRunner().invoke(cli, ["profile", "check", str(SHIPPED)])
    assert ok.exit_code == 0 and "7 SOPs: banjir" in ok.output
    data = yaml.safe_load(SHIPPED.read_text())
    data["sops"][0]["steps"][0]["agency"] = "nasa"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    r = CliRunner().invoke(cli, ["profile", "check", str(bad)])
    assert r.exit_code == 1 and "nasa" in r.output


def test_the_default_sop_of_an_alarm_or_a_ticket(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    with writing(engine) as conn:
        sync_sops(conn=conn, profile=MOROTAI, now_ms=1)
        sync_sops(conn=conn, profile=MOROTAI, now_ms=2)  # idempotent
        city = "morotai"
        assert default_sop(conn=conn, city=city, rule_kind="threshold", metric="water_level_cm") == "banjir"
        assert default_sop(conn=conn, city=city, rule_kind="rate", metric="water_level_cm") == "banjir"
        assert default_sop(conn=conn, city=city, rule_kind="threshold", metric="tide_cm") == "tsunami"
        assert default_sop(conn=conn, city=city, rule_kind="warning") == "tsunami"
        assert default_sop(conn=conn, city=city, rule_kind="silence", metric=None) == "gangguan-sumber"
        assert default_sop(conn=conn, city=city, service="ambulans") == "kecelakaan"
        assert default_sop(conn=conn, city=city, service="kebakaran") == "kebakaran"
        assert default_sop(conn=conn, city=city, rule_kind="sla", service="ktp-el") is None
    engine.dispose()


def test_the_level_2_delay_is_the_steps_else_the_sops_else_30_minutes_and_0_means_never() -> None:
    def sop(**kw: object) -> Sop:
        steps = [
            {"id": "a", "text": {"id": "a", "en": "a"}, "within_min": 5},
            {"id": "b", "text": {"id": "b", "en": "b"}, "within_min": 5, "escalate_level2_after_min": 7},
            {"id": "c", "text": {"id": "c", "en": "c"}, "within_min": 5, "escalate_level2_after_min": 0},
            {"id": "d", "text": {"id": "d", "en": "d"}},  # no target: never late, never level 2
        ]
        return Sop.model_validate({"id": "x", "name": {"id": "x", "en": "x"}, "steps": steps, **kw})

    default = sop()
    assert [default.level2_after_min(s) for s in default.steps] == [30, 7, None, None]
    quick = sop(escalate_level2_after_min=10)
    assert [quick.level2_after_min(s) for s in quick.steps] == [10, 7, None, None]
    never = sop(escalate_level2_after_min=0)
    assert [never.level2_after_min(s) for s in never.steps] == [None, 7, None, None]
    with pytest.raises(ValueError, match="escalate_level2_after_min"):
        sop(escalate_level2_after_min=-1)
    (tsunami,) = [s for s in profile_sops(MOROTAI) if s.id == "tsunami"]
    assert tsunami.level2_after_min(tsunami.steps[0]) == 10
