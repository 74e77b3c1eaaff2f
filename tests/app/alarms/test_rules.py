"""Rule semantics, pure and table-driven: levels with hysteresis, minimum duration, rates, reconciling time rules."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.alarms.rules import (
    IDLE,
    Level,
    RateRule,
    SilenceRule,
    SlaRule,
    State,
    Step,
    ThresholdRule,
    level_for,
    parse_rule,
    profile_rules,
    reconcile,
    silence_severity,
    sla_severity,
    step_rate,
    step_threshold,
)
from app.profile import load_profile

RIVER = ThresholdRule(
    rule_id="threshold.water_level_cm",
    metric="water_level_cm",
    op="above",
    hysteresis=10,
    levels=[Level(severity="major", value=180), Level(severity="critical", value=250)],
)
BEDS = ThresholdRule(
    rule_id="threshold.beds",
    metric="beds_available",
    op="below",
    hysteresis=1,
    levels=[Level(severity="major", value=5), Level(severity="critical", value=2)],
)


@pytest.mark.parametrize(
    ("rule", "value", "current", "expected"),
    [
        (RIVER, 100, None, None),
        (RIVER, 179.9, None, None),
        (RIVER, 180, None, "major"),
        (RIVER, 249, None, "major"),
        (RIVER, 250, None, "critical"),
        (RIVER, 171, "major", "major"),  # held: within hysteresis of 180
        (RIVER, 170, "major", "major"),  # exactly 180 - 10 still holds
        (RIVER, 169.9, "major", None),
        (RIVER, 241, "critical", "critical"),
        (RIVER, 239, "critical", "major"),  # de-escalates past 250 - 10
        (RIVER, 245, "major", "major"),  # critical not reached yet: no slack for it
        (BEDS, 6, None, None),
        (BEDS, 5, None, "major"),
        (BEDS, 2, None, "critical"),
        (BEDS, 5.9, "major", "major"),
        (BEDS, 6.1, "major", None),
        (BEDS, 2.9, "critical", "critical"),
        (BEDS, 3.1, "critical", "major"),
    ],
)
def test_level_for(rule: ThresholdRule, value: float, current: str | None, expected: str | None) -> None:
    assert level_for(rule, value, current) == expected


def run(rule: ThresholdRule, values: list[tuple[int, float]], state: State = IDLE) -> tuple[State, list[Step]]:
    steps = []
    for ts, v in values:
        state, step = step_threshold(rule, state, ts, v)
        if step:
            steps.append(step)
    return state, steps


def test_a_rising_then_falling_river_raises_escalates_deescalates_and_clears() -> None:
    _, steps = run(RIVER, [(i * 1000, v) for i, v in enumerate([100, 185, 200, 260, 245, 235, 175, 165, 100])])
    assert [(s.action, s.severity) for s in steps] == [
        ("raise", "major"),
        ("escalate", "critical"),
        ("deescalate", "major"),
        ("clear", "major"),
    ]


def test_ten_thousand_readings_flapping_around_a_threshold_raise_exactly_one_alarm() -> None:
    values = [(i * 1000, 250 + (3 if i % 2 else -3)) for i in range(10_000)]
    state, steps = run(RIVER, values)
    # 247 raises a major alarm, 253 makes it critical; after that 247/253 stay within the hysteresis.
    assert [(s.action, s.severity) for s in steps] == [("raise", "major"), ("escalate", "critical")]
    assert state.open_severity == "critical"


def test_without_hysteresis_the_same_flapping_would_raise_thousands() -> None:
    bare = RIVER.model_copy(update={"hysteresis": 0.0})
    _, steps = run(bare, [(i * 1000, 250 + (3 if i % 2 else -3)) for i in range(10_000)])
    assert len(steps) > 9_000  # the control: hysteresis is what keeps it to one


def test_a_minimum_duration_raises_only_once_the_condition_has_held_that_long() -> None:
    rule = RIVER.model_copy(update={"duration_s": 60})
    state, steps = run(rule, [(0, 190), (30_000, 195), (59_999, 200)])
    assert steps == [] and state.pending_since_ms == 0
    state, steps = run(rule, [(60_000, 190)], state)
    assert [(s.action, s.severity) for s in steps] == [("raise", "major")]


def test_a_condition_that_breaks_before_its_duration_starts_over() -> None:
    rule = RIVER.model_copy(update={"duration_s": 60})
    state, steps = run(rule, [(0, 190), (30_000, 150), (50_000, 190), (100_000, 190)])
    assert steps == [] and state.pending_since_ms == 50_000
    _, steps = run(rule, [(110_000, 190)], state)
    assert [s.action for s in steps] == ["raise"]


def test_a_late_reading_older_than_the_pending_condition_changes_nothing() -> None:
    rule = RIVER.model_copy(update={"duration_s": 60})
    state, _ = run(rule, [(100_000, 190)])
    state2, steps = run(rule, [(50_000, 100)], state)
    assert state2 == state and steps == []


@pytest.mark.parametrize(
    ("open_sev", "move", "expected"),
    [(None, 39, None), (None, 41, ("raise", "major")), ("major", 20, None), ("major", 15, ("clear", "major"))],
)
def test_rate_rules_raise_past_delta_and_clear_at_clear_delta(open_sev, move, expected) -> None:
    rule = RateRule(rule_id="rate.river", metric="water_level_cm", delta=40, clear_delta=15)
    step = step_rate(rule, open_sev, move)
    assert (step and (step.action, step.severity)) == expected or (step is None and expected is None)


def test_reconcile_raises_clears_and_changes_severity_but_not_for_shelved_subjects() -> None:
    steps = reconcile(
        {"a": "minor", "b": "major", "c": "minor"}, {"a": "minor", "b": "minor", "d": "major", "e": "minor"}, {"e"}
    )
    assert sorted((s, st.action, st.severity) for s, st in steps) == [
        ("b", "deescalate", "minor"),
        ("c", "clear", "minor"),
        ("d", "raise", "major"),
    ]


def test_silence_and_sla_severities() -> None:
    rule = SilenceRule(rule_id="silence.sources")
    assert silence_severity(rule, "stale", True) == "minor"
    assert silence_severity(rule, "offline", True) == "major"
    assert silence_severity(rule, "online", True) is None
    assert silence_severity(rule, "offline", False) is None  # never heard from: not yet started
    sla = SlaRule(rule_id="sla.overdue", severity="warning")
    assert sla_severity(sla, "critical") == "critical"
    assert sla_severity(sla, "low") == "warning"


@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "threshold", "rule_id": "x", "metric": "m", "op": "above", "levels": []},
        {
            "kind": "threshold",
            "rule_id": "x",
            "metric": "m",
            "op": "above",
            "levels": [{"severity": "critical", "value": 100}, {"severity": "major", "value": 200}],
        },
        {
            "kind": "threshold",
            "rule_id": "x",
            "metric": "m",
            "op": "below",
            "levels": [{"severity": "critical", "value": 10}, {"severity": "major", "value": 5}],
        },
        {"kind": "rate", "rule_id": "x", "metric": "m", "delta": 10, "clear_delta": 10},
        {"kind": "ticket_count", "rule_id": "x", "count": 0},
        {"kind": "sla", "rule_id": "Bad Id"},
        {"kind": "nope", "rule_id": "x"},
        {"kind": "silence", "rule_id": "x", "webhook_url": "ftp://x"},
    ],
)
def test_invalid_rules_are_refused(bad: dict) -> None:
    with pytest.raises(ValidationError):
        parse_rule(bad)


def test_the_morotai_profile_yields_valid_rules_of_every_kind() -> None:
    rules = profile_rules(load_profile("morotai"))
    kinds = {r.kind for r in rules}
    assert kinds == {"threshold", "rate", "silence", "sla", "ticket_count"}
    river = next(r for r in rules if r.rule_id == "threshold.water_level_cm")
    assert river.hysteresis == 10 and [lv.value for lv in river.levels] == [180, 250]
