"""Situations: alarms that share a cause shown as one line, and the flood that hides the minor ones (pure).

An alarm's cause is, in this order: the regional warning it comes from (rule kind `warning`, keyed on its
source id), the kind of hazard its metric measures in its district (rain, river, wind, sea: the profile's
`alarm_management.hazards`), or its source. Alarms of one cause raised within `situation_window_s` of the
previous one are one situation; a situation is computed from the alarms each time, never stored, so each
member keeps its own lifecycle and history, and a situation's id is its first alarm's (`s-<alarm id>`).

A flood (ISA-18.2) is `flood_count` or more alarms raised within `flood_window_s` in one city; while it
lasts the panel hides open alarms below `flood_suppress_below` (designed suppression: they are kept, counted,
listed on demand and in history and replay, never lost).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from app.profile import SEVERITIES, AlarmManagement, Profile

RANK = {s: len(SEVERITIES) - i for i, s in enumerate(SEVERITIES)}  # critical 4 ... warning 1
OPEN = ("active", "acknowledged")


@dataclass(frozen=True, slots=True)
class Member:
    """What grouping needs of an alarm."""

    id: int
    rule_id: str
    kind: str
    severity: str
    state: str
    raised_ms: int
    source_id: str | None = None
    district: str | None = None
    metric: str | None = None

    @property
    def open(self) -> bool:
        return self.state in OPEN


Cause = tuple[str, str, str]  # (warning|hazard|source|alarm, district or "", hazard, source or alarm id)


def cause_of(m: Member, hazard_of: dict[str, str]) -> tuple[str, ...]:
    """The cause an alarm shares with others: its regional warning, its district's hazard, its source, or none."""
    if m.kind == "warning" and m.source_id:
        return ("warning", m.source_id)
    hazard = hazard_of.get(m.metric) if m.metric else None
    if hazard and m.district:
        return ("hazard", m.district, hazard)
    if m.source_id:
        return ("source", m.source_id)
    return ("alarm", str(m.id))


@dataclass(slots=True)
class Situation:
    """Alarms of one cause raised close together."""

    cause: tuple[str, ...]
    members: list[Member] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"s-{self.members[0].id}"

    @property
    def started_ms(self) -> int:
        return self.members[0].raised_ms

    @property
    def last_ms(self) -> int:
        return self.members[-1].raised_ms

    @property
    def state(self) -> str:
        states = {m.state for m in self.members}
        if "active" in states:
            return "active"
        return "acknowledged" if "acknowledged" in states else "cleared"

    @property
    def severity(self) -> str:
        """The worst severity among the open members (among all when none is open)."""
        pool = [m for m in self.members if m.open] or self.members
        return max((m.severity for m in pool), key=lambda s: RANK.get(s, 0))

    @property
    def district(self) -> str | None:
        districts = {m.district for m in self.members}
        return districts.pop() if len(districts) == 1 else None

    def by_severity(self, *, open_only: bool = True) -> dict[str, int]:
        out = dict.fromkeys(SEVERITIES, 0)
        for m in self.members:
            if (m.open or not open_only) and m.severity in out:
                out[m.severity] += 1
        return out


def hazard_index(rules: AlarmManagement) -> dict[str, str]:
    """metric -> hazard id."""
    return {metric: h.id for h in rules.hazards for metric in h.metrics}


def group(alarms: Iterable[Member], rules: AlarmManagement) -> list[Situation]:
    """The alarms grouped by cause, a group closing when the next alarm of its cause comes past the window;
    oldest first."""
    window_ms = rules.situation_window_s * 1000
    hazard_of = hazard_index(rules)
    current: dict[tuple[str, ...], Situation] = {}
    out: list[Situation] = []
    for m in sorted(alarms, key=lambda a: (a.raised_ms, a.id)):
        key = cause_of(m, hazard_of)
        sit = current.get(key)
        if sit is None or m.raised_ms - sit.last_ms > window_ms:
            sit = Situation(cause=key)
            current[key] = sit
            out.append(sit)
        sit.members.append(m)
    return out


def title(sit: Situation, profile: Profile, lang: str, first_message: str) -> str:
    """A situation's name: hazard and district ("Hujan lebat Morotai Selatan"), or its warning's or source's."""
    kind = sit.cause[0]
    if kind == "hazard":
        district, hazard = sit.cause[1], sit.cause[2]
        h = next((x for x in profile.alarm_management.hazards if x.id == hazard), None)
        d = next((x for x in profile.districts if x.id == district), None)
        name = (h.name.id if lang == "id" else h.name.en) if h else hazard
        return f"{name} {d.name if d else district}"
    if kind == "source":
        src = profile.source(sit.cause[1])
        return src.name if src else sit.cause[1]
    return first_message  # a regional warning's own headline (or a lone alarm's message)


# --- the flood ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Flood:
    """The flood state of a city at one instant."""

    active: bool
    count: int  # alarms raised within the window ending now
    since_ms: int | None  # when the count in the window first reached flood_count (this flood), else None
    suppressed: tuple[int, ...] = ()  # open alarms hidden from the panel meanwhile


def flood_at(raised_ms: Sequence[int], now_ms: int, rules: AlarmManagement) -> tuple[bool, int, int | None]:
    """(in flood, alarms raised in the window ending at `now_ms`, when this flood began) from sorted raise times.

    Windows are (t - flood_window_s, t]. Between two raises the count only falls, so the flood held without a
    break from raise j-1 to raise j when, just before j, the window still held `flood_count`: walking back
    from the latest raise while that is so finds the raise the flood began with.
    """
    w, n = rules.flood_window_s * 1000, rules.flood_count
    times = raised_ms[: bisect_left(raised_ms, now_ms + 1)]
    count = len(times) - bisect_left(times, now_ms - w + 1)
    if count < n:
        return False, count, None
    j = len(times) - 1
    while j - n >= 0 and times[j] - times[j - n] < w:
        j -= 1
    return True, count, times[j]


def flood_of(members: Sequence[Member], now_ms: int, rules: AlarmManagement) -> Flood:
    """The city's flood state at `now_ms` from its alarms (all raised alarms in at least the last window)."""
    active, count, since = flood_at(sorted(m.raised_ms for m in members), now_ms, rules)
    if not active:
        return Flood(False, count, None)
    floor = RANK[rules.flood_suppress_below]
    hidden = tuple(sorted(m.id for m in members if m.open and RANK.get(m.severity, 0) < floor))
    return Flood(True, count, since, hidden)
