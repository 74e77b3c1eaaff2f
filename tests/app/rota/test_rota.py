"""The duty rota: shifts by weekday and time in the city's zone, contacts per agency and level, fallbacks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.profile import Profile, load_profile
from app.rota import DutyRota, RotaError, on_duty, rota_of

WIT = ZoneInfo("Asia/Jayapura")  # UTC+9


def _rota(**over: Any) -> DutyRota:
    data: dict[str, Any] = {
        "timezone": "Asia/Jayapura",
        "default_agency": "bpbd",
        "shifts": [
            {"id": "pagi", "start": "07:00", "end": "19:00"},
            {"id": "malam", "start": "19:00", "end": "07:00"},
            {"id": "kantor", "days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "16:00"},
        ],
        "contacts": [
            {"id": "a-pagi", "name": "A", "agency": "bpbd", "shifts": ["pagi"], "address": "http://127.0.0.1:1/a"},
            {"id": "b-malam", "name": "B", "agency": "bpbd", "shifts": ["malam"], "address": "http://127.0.0.1:1/b"},
            {"id": "dlh", "name": "D", "agency": "dlh", "shifts": ["kantor"], "address": "http://127.0.0.1:1/d"},
            {"id": "head", "name": "H", "agency": "bpbd", "level": 2, "address": "http://127.0.0.1:1/h"},
        ],
    }
    data.update(over)
    return DutyRota.model_validate(data)


def _ids(contacts: list[Any]) -> list[str]:
    return [c.id for c in contacts]


def test_day_and_night_shift_by_city_time() -> None:
    rota = _rota()
    # Wednesday 2026-12-02 10:00 WIT is 01:00 UTC
    assert _ids(on_duty(rota, datetime(2026, 12, 2, 1, 0, tzinfo=UTC))) == ["a-pagi"]
    assert _ids(on_duty(rota, datetime(2026, 12, 2, 18, 59, tzinfo=WIT))) == ["a-pagi"]
    assert _ids(on_duty(rota, datetime(2026, 12, 2, 19, 0, tzinfo=WIT))) == ["b-malam"]
    # after midnight the night shift that started yesterday is still on
    assert _ids(on_duty(rota, datetime(2026, 12, 3, 6, 59, tzinfo=WIT))) == ["b-malam"]
    assert _ids(on_duty(rota, datetime(2026, 12, 3, 7, 0, tzinfo=WIT))) == ["a-pagi"]


def test_overnight_shift_belongs_to_the_day_it_starts() -> None:
    rota = _rota(
        shifts=[{"id": "fri-night", "days": ["fri"], "start": "22:00", "end": "06:00"}],
        contacts=[{"id": "x", "name": "X", "agency": "bpbd", "shifts": ["fri-night"], "address": "http://h/x"}],
    )
    fri, sat = datetime(2026, 12, 4, tzinfo=WIT), datetime(2026, 12, 5, tzinfo=WIT)
    assert _ids(on_duty(rota, fri.replace(hour=23))) == ["x"]
    assert _ids(on_duty(rota, sat.replace(hour=5, minute=59))) == ["x"]
    assert on_duty(rota, sat.replace(hour=6)) == []
    assert on_duty(rota, sat.replace(hour=23)) == []  # Saturday night is not a Friday shift
    assert on_duty(rota, fri.replace(hour=5)) == []  # Friday morning belongs to Thursday, which has no shift


def test_agency_weekday_shift_and_fallback_to_default_agency() -> None:
    rota = _rota()
    wed_10 = datetime(2026, 12, 2, 10, 0, tzinfo=WIT)
    sat_10 = datetime(2026, 12, 5, 10, 0, tzinfo=WIT)
    assert _ids(on_duty(rota, wed_10, agency="dlh")) == ["dlh"]
    # nobody of DLH on a Saturday: BPBD's duty desk answers
    assert _ids(on_duty(rota, sat_10, agency="dlh")) == ["a-pagi"]
    # an agency the rota does not know falls back the same way
    assert _ids(on_duty(rota, wed_10, agency="pdam")) == ["a-pagi"]


def test_level_two_is_always_on_call_and_level_three_is_nobody() -> None:
    rota = _rota()
    for hour in (0, 9, 21):
        at = datetime(2026, 12, 6, hour, tzinfo=WIT)
        assert _ids(on_duty(rota, at, level=2)) == ["head"]
        assert on_duty(rota, at, level=3) == []
    assert rota.levels == (1, 2)


def test_no_default_agency_asks_everyone_on_duty() -> None:
    rota = _rota(default_agency=None)
    wed_10 = datetime(2026, 12, 2, 10, 0, tzinfo=WIT)
    assert _ids(on_duty(rota, wed_10)) == ["a-pagi", "dlh"]
    assert _ids(on_duty(rota, wed_10, agency="pdam")) == []


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        on_duty(_rota(), datetime(2026, 12, 2, 10, 0))


@pytest.mark.parametrize(
    ("over", "match"),
    [
        ({"shifts": [{"id": "x", "start": "7am", "end": "19:00"}]}, "HH:MM"),
        ({"shifts": [{"id": "x", "days": ["monday"], "start": "07:00", "end": "19:00"}]}, "days"),
        ({"contacts": [{"id": "x", "name": "X", "agency": "bpbd", "shifts": ["nope"], "address": "u"}]}, "unknown"),
        ({"contacts": [{"id": "x", "name": "X", "agency": "bpbd", "level": 0, "address": "u"}]}, "level"),
        ({"contacts": [{"id": "x", "name": "X", "agency": "bpbd"}]}, "address"),
        ({"timezone": "Mars/Olympus"}, "Mars"),
    ],
)
def test_bad_rota_is_refused_saying_why(over: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _rota(**over)


def test_yaml_sexagesimal_times_are_read_as_clock_times() -> None:
    # YAML 1.1 reads an unquoted 19:00 as 1140 (base 60); an unquoted 07:00 stays a string
    rota = _rota(
        shifts=[
            {"id": "pagi", "start": "07:00", "end": 1140},
            {"id": "malam", "start": 1140, "end": "07:00"},
            {"id": "kantor", "start": "08:00", "end": "16:00"},
        ]
    )
    assert (rota.shifts[0].start.hour, rota.shifts[0].end.hour, rota.shifts[1].start.hour) == (7, 19, 19)


def test_the_morotai_profile_has_a_rota_in_its_own_time_zone() -> None:
    profile = load_profile("morotai")
    rota = rota_of(profile)
    assert rota.timezone == "Asia/Jayapura" and rota.levels == (1, 2)
    # 23:30 WIT on a Sunday: the night Pusdalops desk; Kalak BPBD at level 2; the profile itself can be passed
    at = datetime(2026, 12, 6, 23, 30, tzinfo=WIT)
    assert _ids(on_duty(profile, at, agency="bpbd")) == ["pusdalops-malam"]
    assert _ids(on_duty(profile, at, level=2)) == ["kalak-bpbd"]
    assert _ids(on_duty(profile, at.replace(hour=9), agency="dinas-lingkungan-hidup", level=2)) == ["kadis-dlh"]


def test_a_rota_naming_an_unknown_agency_is_refused() -> None:
    base = load_profile("morotai").model_dump()
    base["duty_rota"] = {
        "contacts": [{"id": "x", "name": "X", "agency": "no-such-agency", "address": "http://127.0.0.1:1/x"}]
    }
    with pytest.raises(RotaError, match="no-such-agency"):
        rota_of(Profile.model_validate(base))


def test_a_profile_without_a_rota_has_nobody_on_duty() -> None:
    base = load_profile("morotai").model_dump()
    base["duty_rota"] = None
    assert on_duty(Profile.model_validate(base), datetime(2026, 12, 2, 10, tzinfo=WIT)) == []


def test_profile_check_refuses_a_bad_rota_and_counts_the_contacts(tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from satupintu.cli import cli

    shipped = Path(__file__).parents[3] / "app" / "profiles" / "morotai.yaml"
    ok = CliRunner().invoke(cli, ["profile", "check", str(shipped)])
    assert ok.exit_code == 0 and "7 duty contacts" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(shipped.read_text().replace("agency: rsud, level: 1", "agency: rumah-sakit, level: 1"))
    r = CliRunner().invoke(cli, ["profile", "check", str(bad)])
    assert r.exit_code == 1 and "rumah-sakit" in r.output
