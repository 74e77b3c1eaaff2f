"""The province view's figures: every city of the deployment at a glance, a league of agencies, the six pillars.

One pass per city, each figure from a set-based read of the existing tables
through the domains' own query functions (sources' health, open tickets,
open alarms, open incidents, service performance over the window, the ingest
pulse): a fixed number of queries per city, whatever its number of sources.

Per city:

- `state`: the worst severity among its open (active or acknowledged) alarms
  (critical > major > minor > warning); else `no_data` when nothing was ever
  received from it; else `ok`.
- `last_received`: the receive time of the last message of any kind from the
  city: the latest `last_seen_ms` of its sources (every reading and status word
  moves it), or the start of the latest minute of the ingest pulse
  (`ingest_minute`, which counts quarantined messages too), whichever is later.
- `link`: the age of `last_received` against the city's expected interval I,
  the shortest expected reporting interval of its sources (their own, else
  their metrics', else the default: app.sources.queries): `ok` up to
  LINK_LATE_AFTER_INTERVALS x I, `late` up to LINK_DOWN_AFTER_INTERVALS x I,
  `down` past that, `never` when nothing was ever received. The same multiples
  as a single source's stale and offline: a regency whose island link dropped
  goes late, then down, as its fastest sensor would.
- `sla_pct_30d`: of the tickets resolved in the last WINDOW_DAYS days that had
  a due time, the share resolved by it (app.services.queries), in percent.
- `pillars`: the six smart-city pillar scores, as the regent view computes them
  (app.reports.pillars) over the same window.

The league: per agency id found in any city (cities share ids such as `bpbd`),
the SLA % per city and pooled over the cities (resolved on time / resolved with
a due time, summed over the cities, not a mean of percentages), with
`tickets`, the tickets the percentage is computed over, and `opened`, the
tickets opened in the window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, func, select

from app.alarms.queries import open_counts
from app.alarms.store import OPEN_STATES as ALARM_OPEN_STATES
from app.incidents.store import count_open
from app.overview.queries import ticket_counts
from app.profile import PILLARS, SEVERITIES, Profile
from app.reports.pillars import pillar_scores
from app.services.queries import ServiceStatus, service_status
from app.sources.queries import (
    DEFAULT_INTERVAL_S,
    HEALTH_STATES,
    OFFLINE_AFTER_INTERVALS,
    STALE_AFTER_INTERVALS,
    source_health,
)
from app.storage.models import AlarmRow, IngestMinuteRow, SeriesRow, SourceRow

WINDOW_DAYS = 30
DAY_MS = 86_400_000
LINK_LATE_AFTER_INTERVALS = STALE_AFTER_INTERVALS
LINK_DOWN_AFTER_INTERVALS = OFFLINE_AFTER_INTERVALS
STATES = (*SEVERITIES, "ok", "no_data")  # worst first
LINKS = ("ok", "late", "down", "never")
# The rules in one line each, for API descriptions.
STATE_RULE = (
    "The worst severity among the city's open (active or acknowledged) alarms: critical > major > minor > warning; "
    "else `no_data` when nothing was ever received from it; else `ok`."
)
LINK_RULE = (
    "The age of the city's last received message against its expected interval I (the shortest expected "
    f"reporting interval of its sources): `ok` up to {LINK_LATE_AFTER_INTERVALS}x I, `late` up to "
    f"{LINK_DOWN_AFTER_INTERVALS}x I, `down` past that, `never` when nothing was ever received."
)


@dataclass(slots=True)
class AgencyFigures:
    """One agency of one city over the window."""

    agency: str
    short: str | None
    name: str | None
    with_due: int = 0
    within_sla: int = 0
    opened: int = 0

    @property
    def sla_pct(self) -> float | None:
        return round(100 * self.within_sla / self.with_due, 1) if self.with_due else None


@dataclass(slots=True)
class CityFigures:
    """One city of the province view (see the module docstring)."""

    profile: Profile
    state: str
    sources: dict[str, int]
    tickets_open: int
    tickets_overdue: int
    alarms: dict[str, int]
    incidents_open: int
    sla_pct: float | None
    last_received_ms: int | None
    interval_s: int
    link: str
    pillars: dict[str, float | None]
    agencies: dict[str, AgencyFigures] = field(default_factory=dict)


@dataclass(slots=True)
class LeagueLine:
    """One agency across the cities: per city and pooled."""

    agency: str
    short: str | None
    name: str | None
    with_due: int
    within_sla: int
    opened: int
    cities: dict[str, AgencyFigures]

    @property
    def overall_pct(self) -> float | None:
        return round(100 * self.within_sla / self.with_due, 1) if self.with_due else None


@dataclass(slots=True)
class ProvinceView:
    now_ms: int
    window_days: int
    cities: list[CityFigures]
    league: list[LeagueLine]


def city_state(alarms: dict[str, int], last_received_ms: int | None) -> str:
    """The city's state from its open alarms by severity and whether it was ever heard from."""
    for sev in SEVERITIES:
        if alarms.get(sev):
            return sev
    return "no_data" if last_received_ms is None else "ok"


def link_health(last_received_ms: int | None, interval_s: int, now_ms: int) -> str:
    """ok / late / down / never from the age of the last received message (LINK_RULE)."""
    if last_received_ms is None:
        return "never"
    age_ms = now_ms - last_received_ms
    if age_ms > LINK_DOWN_AFTER_INTERVALS * interval_s * 1000:
        return "down"
    if age_ms > LINK_LATE_AFTER_INTERVALS * interval_s * 1000:
        return "late"
    return "ok"


def last_pulse_ms(*, conn: Connection, city: str) -> int | None:
    """The start of the latest minute the ingest pulse counted a message of the city in (epoch ms), if any."""
    m = IngestMinuteRow.__table__.c
    bucket = conn.execute(select(func.max(m.bucket)).where(m.city == city)).scalar()
    return None if bucket is None else int(bucket) * 1000


def reporting_series(*, conn: Connection, city: str) -> list[dict[str, str]]:
    """(source_id, metric) of every series of the city that holds a value: what the sensing pillars count."""
    sr, so = SeriesRow.__table__.c, SourceRow.__table__.c
    rows = conn.execute(
        select(so.source_id, sr.metric)
        .select_from(SeriesRow.__table__.join(SourceRow.__table__, so.id == sr.source_pk))
        .where(so.city == city, sr.last_ts_ms.is_not(None))
    )
    return [{"source_id": s, "metric": m} for s, m in rows]


def open_alarm_subjects(*, conn: Connection, city: str) -> list[dict[str, str | None]]:
    """(source_id, metric, state) of the city's open alarms about a source."""
    a = AlarmRow.__table__.c
    rows = conn.execute(
        select(a.source_id, a.metric, a.state).where(
            a.city == city, a.state.in_(ALARM_OPEN_STATES), a.source_id.is_not(None)
        )
    )
    return [{"source_id": s, "metric": m, "state": st} for s, m, st in rows]


def _round(score: float | None) -> float | None:
    return None if score is None else round(score, 1)


def _agencies(status: ServiceStatus, profile: Profile) -> dict[str, AgencyFigures]:
    out = {}
    for block in status.agencies:
        t = block.tally
        if not block.registered and not (t.opened or t.resolved or t.open):
            continue
        out[block.agency] = AgencyFigures(
            block.agency, block.name, block.full_name, t.resolved_with_due, t.resolved_within_sla, t.opened
        )
    return out


def city_figures(*, conn: Connection, profile: Profile, now_ms: int, window_days: int = WINDOW_DAYS) -> CityFigures:
    """One city's figures at `now_ms` (the module docstring), in a fixed number of queries."""
    city = profile.city.id
    sources = source_health(conn=conn, profile=profile, city=city, now_ms=now_ms)
    counts: dict[str, int] = dict.fromkeys(HEALTH_STATES, 0)
    for s in sources:
        counts[s.status] += 1
    counts["total"] = len(sources)
    seen = [s.last_seen_ms for s in sources if s.last_seen_ms is not None]
    pulse = last_pulse_ms(conn=conn, city=city)
    heard = [ms for ms in (max(seen, default=None), pulse) if ms is not None]
    last_received = max(heard) if heard else None
    registered = [s.expected_interval_s for s in sources if s.registered]
    interval_s = min(registered or [s.expected_interval_s for s in sources] or [DEFAULT_INTERVAL_S])

    open_, overdue = ticket_counts(conn=conn, city=city, now_ms=now_ms)
    alarms = open_counts(conn=conn, city=city)
    status = service_status(
        conn=conn, profile=profile, start_ms=now_ms - window_days * DAY_MS, end_ms=now_ms, now_ms=now_ms
    )
    items = [
        {
            "service": line.service,
            "resolved_with_due": line.tally.resolved_with_due,
            "resolved_within_sla": line.tally.resolved_within_sla,
        }
        for block in status.agencies
        for line in block.services
    ]
    scores = pillar_scores(
        profile,
        service_items=items,
        latest=reporting_series(conn=conn, city=city),
        sources=[{"source_id": s.source_id, "status": s.status} for s in sources],
        alarms=open_alarm_subjects(conn=conn, city=city),
    )
    return CityFigures(
        profile=profile,
        state=city_state(alarms, last_received),
        sources=counts,
        tickets_open=open_,
        tickets_overdue=overdue,
        alarms={sev: alarms.get(sev, 0) for sev in SEVERITIES},
        incidents_open=count_open(conn=conn, city=city),
        sla_pct=status.overall.sla_pct,
        last_received_ms=last_received,
        interval_s=interval_s,
        link=link_health(last_received, interval_s, now_ms),
        pillars={p: _round(scores[p].score) for p in PILLARS},
        agencies=_agencies(status, profile),
    )


def league(cities: Sequence[CityFigures]) -> list[LeagueLine]:
    """Per agency id found in any city: per city and pooled; best pooled SLA first, agencies without one last."""
    lines: dict[str, LeagueLine] = {}
    for c in cities:
        for a in c.agencies.values():
            line = lines.get(a.agency)
            if line is None:
                line = lines[a.agency] = LeagueLine(a.agency, a.short, a.name, 0, 0, 0, {})
            line.short = line.short or a.short
            line.name = line.name or a.name
            line.with_due += a.with_due
            line.within_sla += a.within_sla
            line.opened += a.opened
            line.cities[c.profile.city.id] = a
    return sorted(lines.values(), key=lambda x: (x.overall_pct is None, -(x.overall_pct or 0.0), -x.with_due, x.agency))


def province_view(
    *, conn: Connection, profiles: Sequence[Profile], now_ms: int, window_days: int = WINDOW_DAYS
) -> ProvinceView:
    """The province view of `profiles` (the cities the caller may see) at `now_ms`."""
    cities = [city_figures(conn=conn, profile=p, now_ms=now_ms, window_days=window_days) for p in profiles]
    return ProvinceView(now_ms, window_days, cities, league(cities))
