"""Situations and the flood, pure: grouping by cause within a window, severity and state, flood start and end."""

from __future__ import annotations

from hypothesis import given, strategies as st

from app.alarms.situations import Member, flood_at, flood_of, group
from app.profile import AlarmManagement

RULES = AlarmManagement()
MIN = 60_000


def m(
    i: int,
    t_min: float,
    *,
    metric: str | None = "rain_mm_h",
    district: str | None = "morotai-selatan",
    source_id: str | None = "",
    **kw: str,
) -> Member:
    """Alarm `i` raised at minute `t_min`; a major active threshold breach of its own source unless told."""
    fields = {"rule_id": f"threshold.{metric}", "kind": "threshold", "severity": "major", "state": "active", **kw}
    return Member(
        id=i,
        raised_ms=int(t_min * MIN),
        source_id=f"src-{i}" if source_id == "" else source_id,
        district=district,
        metric=metric,
        **fields,
    )


def test_rain_in_one_district_is_one_situation_apart_from_another_district_and_another_hazard() -> None:
    alarms = [
        *(m(i, i * 0.5) for i in range(1, 8)),  # 7 rain gauges in Morotai Selatan, half a minute apart
        m(8, 1, district="pulau-rao"),
        m(9, 2, metric="water_level_cm"),
    ]
    sits = group(alarms, RULES)
    causes = {s.cause: [x.id for x in s.members] for s in sits}
    assert causes == {
        ("hazard", "morotai-selatan", "rain"): [1, 2, 3, 4, 5, 6, 7],
        ("hazard", "pulau-rao", "rain"): [8],
        ("hazard", "morotai-selatan", "river"): [9],
    }
    rain = next(s for s in sits if s.cause[2] == "rain" and s.district == "morotai-selatan")
    assert (rain.id, rain.started_ms, rain.last_ms) == ("s-1", int(0.5 * MIN), int(3.5 * MIN))


def test_a_gap_longer_than_the_window_starts_a_new_situation() -> None:
    rules = AlarmManagement(situation_window_s=600)
    sits = group([m(1, 0), m(2, 9), m(3, 19.5), m(4, 20)], rules)  # 10.5 min between 2 and 3
    assert [[x.id for x in s.members] for s in sits] == [[1, 2], [3, 4]]


def test_regional_warning_source_and_lone_alarms() -> None:
    alarms = [
        m(
            1,
            0,
            metric=None,
            kind="warning",
            rule_id="warning.bmkg",
            source_id="bmkg-cap-123",
            district="morotai-timur",
        ),
        m(2, 1, metric=None, kind="warning", rule_id="warning.bmkg", source_id="bmkg-cap-123", district="morotai-jaya"),
        m(3, 1, metric="battery_v", source_id="buoy-x"),  # not a hazard: grouped by its source
        m(4, 2, metric="pm25_ugm3", source_id="buoy-x"),
        m(5, 2, metric=None, kind="ticket_count", source_id=None, district="morotai-utara"),
    ]
    causes = [(s.cause, [x.id for x in s.members]) for s in group(alarms, RULES)]
    assert causes == [
        (("warning", "bmkg-cap-123"), [1, 2]),
        (("source", "buoy-x"), [3, 4]),
        (("alarm", "5"), [5]),
    ]
    warning = group(alarms, RULES)[0]
    assert warning.district is None  # two districts: none of its own


def test_severity_is_the_worst_open_member_and_state_follows_the_members() -> None:
    sits = group(
        [
            m(1, 0, severity="critical", state="cleared"),
            m(2, 1, severity="major", state="acknowledged"),
            m(3, 2, severity="minor", state="active"),
        ],
        RULES,
    )
    (s,) = sits
    assert (s.severity, s.state) == ("major", "active")
    assert s.by_severity() == {"critical": 0, "major": 1, "minor": 1, "warning": 0}
    s.members[2] = m(3, 2, severity="minor", state="acknowledged")
    assert s.state == "acknowledged"
    s.members[1] = m(2, 1, severity="major", state="cleared")
    s.members[2] = m(3, 2, severity="minor", state="cleared")
    assert (s.state, s.severity) == ("cleared", "critical")


def test_flood_starts_at_the_tenth_alarm_in_ten_minutes_and_ends_when_the_window_drains() -> None:
    times = [int(i * 30_000) for i in range(15)]  # 15 alarms, 30 s apart (0 .. 7 min)
    assert flood_at(times, times[8], RULES)[0] is False  # 9 so far
    active, count, since = flood_at(times, times[9], RULES)
    assert (active, count, since) == (True, 10, times[9])
    assert flood_at(times, times[14], RULES) == (True, 15, times[9])
    # the window (t - 10 min, t] holds 10 until the 6th alarm leaves it: at 2.5 min + 10 min
    assert flood_at(times, times[5] + 600_000 - 1, RULES) == (True, 10, times[9])
    assert flood_at(times, times[5] + 600_000, RULES)[0:2] == (False, 9)


def test_suppressed_are_the_open_alarms_below_the_floor_only_during_a_flood() -> None:
    alarms = [m(i, i * 0.1, severity="minor" if i % 2 else "critical") for i in range(1, 13)]
    alarms[0] = m(1, 0.1, severity="minor", state="cleared")
    flood = flood_of(alarms, int(2 * MIN), RULES)
    assert flood.active and flood.suppressed == (3, 5, 7, 9, 11)
    calm = flood_of(alarms[:5], int(2 * MIN), RULES)
    assert not calm.active and calm.suppressed == ()


def _flood_by_brute_force(times: list[int], now: int, w: int, n: int) -> tuple[bool, int | None]:
    def count(t: int) -> int:
        return sum(1 for x in times if t - w < x <= t)

    if count(now) < n:
        return False, None
    # the flood began at the latest instant (a raise) before which some instant since had fewer than n
    points = sorted({x for x in times if x <= now} | {x + w for x in times if x + w <= now})
    start = None
    for p in points:
        c = count(p)
        just_before = count(p - 1)
        if c >= n and just_before < n:
            start = p
    return True, start


@given(st.lists(st.integers(0, 3_000), min_size=0, max_size=40), st.integers(0, 3_500))
def test_flood_start_matches_brute_force(raw: list[int], now: int) -> None:
    rules = AlarmManagement(flood_count=4, flood_window_s=1)  # 4 in 1 s (times in ms)
    times = sorted(raw)
    active, _count, since = flood_at(times, now, rules)
    assert (active, since) == _flood_by_brute_force(times, now, 1000, 4)
