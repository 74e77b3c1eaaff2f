"""The province view's state and link rules (pure)."""

from __future__ import annotations

from app.province.queries import city_state, link_health

NOW = 1_800_000_000_000
ZERO = {"critical": 0, "major": 0, "minor": 0, "warning": 0}


def test_state_is_the_worst_open_alarm_else_ok_or_no_data() -> None:
    assert city_state(ZERO, NOW) == "ok"
    assert city_state(ZERO, None) == "no_data"
    assert city_state(dict(ZERO, warning=3), NOW) == "warning"
    assert city_state(dict(ZERO, warning=3, minor=1), NOW) == "minor"
    assert city_state(dict(ZERO, major=1, warning=9), NOW) == "major"
    assert city_state(dict(ZERO, critical=1, major=2), NOW) == "critical"
    assert city_state(dict(ZERO, major=1), None) == "major"  # an alarm says more than silence


def test_link_is_ok_late_down_by_multiples_of_the_expected_interval() -> None:
    i = 60
    assert link_health(None, i, NOW) == "never"
    assert link_health(NOW, i, NOW) == "ok"
    assert link_health(NOW - 2 * i * 1000, i, NOW) == "ok"  # exactly 2 x I: still ok
    assert link_health(NOW - 2 * i * 1000 - 1, i, NOW) == "late"
    assert link_health(NOW - 10 * i * 1000, i, NOW) == "late"
    assert link_health(NOW - 10 * i * 1000 - 1, i, NOW) == "down"
    assert link_health(NOW - 30 * 60_000, 900, NOW) == "ok"  # a slow regency (15-minute gauges): 30 min is 2 x I
