"""Alarm rules and their semantics, pure: no database, no clock.

Five kinds of rule, each a pydantic model (the same model validates the
profile, the database row and the admin API's body):

- `threshold`: a metric crossing levels (`water_level_cm >= 180` major, `>= 250`
  critical). One alarm per (rule, source) whose severity follows the highest
  level crossed. `hysteresis` keeps a level until the value falls back past
  `level - hysteresis` (so a value flapping around a level raises one alarm,
  not fifty), and `duration_s` raises only once the condition has held that
  long, by the readings' own times.
- `rate`: a metric rising (or falling) by more than `delta` within `window_s`;
  clears when the change over the window is back to `clear_delta` or less.
- `silence`: a source quiet past its expected interval (stale) or offline.
- `sla`: an open ticket past its SLA due time.
- `ticket_count`: more than `count` open tickets of a priority in one district.

Shared by all: `enabled`, an optional `webhook_url`, and `reraise_after_s`: an
acknowledged alarm whose condition still holds that long after the
acknowledgement becomes active again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from app.profile import ID_PATTERN, Profile, Severity

SEVERITY_RANK: dict[str, int] = {"warning": 1, "minor": 2, "major": 3, "critical": 4}
RULE_ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
Kind = Literal["threshold", "rate", "silence", "sla", "ticket_count"]
KINDS: tuple[str, ...] = ("threshold", "rate", "silence", "sla", "ticket_count")


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rule_id: str = Field(pattern=RULE_ID_PATTERN, description="Unique in the city, e.g. `threshold.water_level_cm`")
    enabled: bool = True
    webhook_url: str | None = Field(
        None, max_length=500, pattern=r"^https?://\S+$", description="POSTed every transition of this rule's alarms"
    )
    reraise_after_s: int | None = Field(
        None, gt=0, le=7 * 86400, description="An acknowledged alarm still in condition this long becomes active again"
    )


class Level(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    severity: Severity
    value: float


class ThresholdRule(_Rule):
    kind: Literal["threshold"] = "threshold"
    metric: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    op: Literal["above", "below"] = Field(description="`above`: value >= level; `below`: value <= level")
    levels: list[Level] = Field(min_length=1, max_length=4)
    hysteresis: float = Field(0.0, ge=0, description="A level holds until the value is this far back past it")
    duration_s: int = Field(0, ge=0, le=86400, description="The condition must hold this long before raising")

    @field_validator("levels")
    @classmethod
    def _distinct(cls, v: list[Level]) -> list[Level]:
        if len({lv.severity for lv in v}) != len(v):
            raise ValueError("one level per severity")
        return v

    @model_validator(mode="after")
    def _ordered(self) -> ThresholdRule:
        # A more severe level must be further out: above: higher, below: lower.
        ranked = sorted(self.levels, key=lambda lv: SEVERITY_RANK[lv.severity])
        values = [lv.value for lv in ranked]
        ok = values == sorted(values) if self.op == "above" else values == sorted(values, reverse=True)
        if not ok or len(set(values)) != len(values):
            raise ValueError(f"levels must get strictly {'higher' if self.op == 'above' else 'lower'} with severity")
        return self


class RateRule(_Rule):
    kind: Literal["rate"] = "rate"
    metric: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    direction: Literal["rise", "fall"] = "rise"
    delta: float = Field(gt=0, description="Raise when the value moved more than this within the window")
    clear_delta: float | None = Field(
        None, ge=0, description="Clear when the move is back to this or less; default delta/2"
    )
    window_s: int = Field(900, ge=60, le=86400)
    severity: Severity = "major"

    @model_validator(mode="after")
    def _clear_below(self) -> RateRule:
        if self.clear_delta is not None and self.clear_delta >= self.delta:
            raise ValueError("clear_delta must be smaller than delta")
        return self

    @property
    def clear_at(self) -> float:
        return self.delta / 2 if self.clear_delta is None else self.clear_delta


class SilenceRule(_Rule):
    kind: Literal["silence"] = "silence"
    severity_stale: Severity = "minor"
    severity_offline: Severity = "major"
    include_never_seen: bool = Field(False, description="Also alarm on registered sources never heard from")


class SlaRule(_Rule):
    kind: Literal["sla"] = "sla"
    severity: Severity = "minor"
    severity_by_priority: dict[str, Severity] = Field(
        default_factory=lambda: {"critical": "critical", "high": "major"},
        description="A ticket's priority decides its alarm's severity; others get `severity`",
    )
    priorities: list[str] | None = Field(
        None, description="Only tickets of these priorities raise an alarm when late; null: every ticket"
    )


class TicketCountRule(_Rule):
    kind: Literal["ticket_count"] = "ticket_count"
    priority: str = Field("critical", pattern=r"^[a-z_]{1,16}$")
    count: int = Field(gt=0, le=100000, description="Raise when a district has more open tickets than this")
    severity: Severity = "major"


Rule = Annotated[ThresholdRule | RateRule | SilenceRule | SlaRule | TicketCountRule, Field(discriminator="kind")]
RULE_ADAPTER: TypeAdapter[Rule] = TypeAdapter(Rule)


def parse_rule(data: dict) -> Rule:
    return RULE_ADAPTER.validate_python(data)


def rule_params(rule: Rule) -> dict:
    """What the database keeps in `params`: everything but the columns of their own."""
    return rule.model_dump(mode="json", exclude={"rule_id", "kind", "enabled", "webhook_url"})


def profile_rules(profile: Profile) -> list[Rule]:
    """The rules a city profile implies: one threshold rule per metric with thresholds, plus its `alarm_rules`."""
    rules: list[Rule] = []
    for m in profile.metrics:
        if not m.thresholds:
            continue
        op = "above" if m.thresholds[0].above is not None else "below"
        levels = [Level(severity=t.severity, value=t.above if op == "above" else t.below) for t in m.thresholds]
        rules.append(
            ThresholdRule(
                rule_id=f"threshold.{m.id}",
                metric=m.id,
                op=op,
                levels=levels,
                hysteresis=m.alarm_hysteresis if m.alarm_hysteresis is not None else _default_hysteresis(m.valid),
                duration_s=m.alarm_duration_s,
            )
        )
    rules.extend(parse_rule(dict(r)) for r in profile.alarm_rules)
    return rules


def _default_hysteresis(valid: tuple[float, float]) -> float:
    """2% of the metric's plausible range: e.g. 31 cm for a river gauge valid over [-50, 1500]."""
    return round((valid[1] - valid[0]) * 0.02, 6)


# --- semantics -------------------------------------------------------------


def level_for(rule: ThresholdRule, value: float, current: str | None) -> str | None:
    """The severity `value` stands at, given the severity the alarm has now (None: no open alarm).

    A level already reached holds until the value is `hysteresis` back past it;
    a level not yet reached needs the value at or past the level itself.
    """
    held = SEVERITY_RANK[current] if current else 0
    for lv in sorted(rule.levels, key=lambda x: -SEVERITY_RANK[x.severity]):
        slack = rule.hysteresis if SEVERITY_RANK[lv.severity] <= held else 0.0
        if rule.op == "above" and value >= lv.value - slack:
            return lv.severity
        if rule.op == "below" and value <= lv.value + slack:
            return lv.severity
    return None


@dataclass(frozen=True, slots=True)
class State:
    """Where a (rule, subject) stands: its open alarm's severity, or a condition pending since when."""

    open_severity: str | None = None
    pending_since_ms: int | None = None
    pending_severity: str | None = None
    pending_last_ms: int | None = None


IDLE = State()


@dataclass(frozen=True, slots=True)
class Step:
    """What a reading does to an alarm: raise, escalate, deescalate or clear (to `severity`)."""

    action: Literal["raise", "escalate", "deescalate", "clear"]
    severity: str


def step_threshold(rule: ThresholdRule, state: State, ts_ms: int, value: float) -> tuple[State, Step | None]:
    """The next state after one reading (readings of a subject come in time order)."""
    if state.pending_last_ms is not None and ts_ms < state.pending_last_ms:
        return state, None  # older than what the pending condition already saw
    sev = level_for(rule, value, state.open_severity)
    if state.open_severity is not None:
        if sev is None:
            return IDLE, Step("clear", state.open_severity)
        if sev == state.open_severity:
            return state, None
        action = "escalate" if SEVERITY_RANK[sev] > SEVERITY_RANK[state.open_severity] else "deescalate"
        return State(open_severity=sev), Step(action, sev)
    if sev is None:
        return IDLE, None
    since = state.pending_since_ms if state.pending_since_ms is not None else ts_ms
    if ts_ms - since >= rule.duration_s * 1000:
        return State(open_severity=sev), Step("raise", sev)
    return State(pending_since_ms=since, pending_severity=sev, pending_last_ms=ts_ms), None


def rate_move(rule: RateRule, value: float, window_min: float, window_max: float) -> float:
    """How far `value` moved in the rule's direction against the window's extreme."""
    return value - window_min if rule.direction == "rise" else window_max - value


def step_rate(rule: RateRule, open_severity: str | None, move: float) -> Step | None:
    if open_severity is None:
        return Step("raise", rule.severity) if move > rule.delta else None
    return Step("clear", open_severity) if move <= rule.clear_at else None


def reconcile(
    open_alarms: dict[str, str], wanted: dict[str, str], shelved: set[str] = frozenset()
) -> list[tuple[str, Step]]:
    """For time-based rules: the steps from the open alarms {subject: severity} to the wanted ones.

    A shelved subject raises nothing new; its open alarm still clears when the condition ends.
    """
    steps: list[tuple[str, Step]] = []
    for subject, sev in open_alarms.items():
        want = wanted.get(subject)
        if want is None:
            steps.append((subject, Step("clear", sev)))
        elif want != sev:
            action = "escalate" if SEVERITY_RANK[want] > SEVERITY_RANK[sev] else "deescalate"
            steps.append((subject, Step(action, want)))
    for subject, sev in wanted.items():
        if subject not in open_alarms and subject not in shelved:
            steps.append((subject, Step("raise", sev)))
    return steps


def sla_severity(rule: SlaRule, priority: str | None) -> str:
    return rule.severity_by_priority.get(priority or "", rule.severity)


def silence_severity(rule: SilenceRule, health: str, ever_seen: bool) -> str | None:
    if not ever_seen and not rule.include_never_seen:
        return None
    if health == "offline":
        return rule.severity_offline
    if health == "stale":
        return rule.severity_stale
    return None


__all__ = [
    "IDLE",
    "ID_PATTERN",
    "KINDS",
    "SEVERITY_RANK",
    "Level",
    "RateRule",
    "Rule",
    "SilenceRule",
    "SlaRule",
    "State",
    "Step",
    "ThresholdRule",
    "TicketCountRule",
    "level_for",
    "parse_rule",
    "profile_rules",
    "rate_move",
    "reconcile",
    "rule_params",
    "silence_severity",
    "sla_severity",
    "step_rate",
    "step_threshold",
]
