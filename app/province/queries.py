"""The province view's figures: every city of the deployment at a glance, a league of agencies, the six pillars.

Eight set-based statements, each over every visible city at once (`city IN
(...)`), whatever the number of cities and sources: the sources with their
series, open tickets, the window's tickets (opened, and the SLA counts of the
resolved ones: whole days from the per-day rollup, the two partial days from
the tickets), open alarms, open incidents, and the ingest pulse; no query per
city or per source. The figures follow the domains' own rules, through their
functions where they are per row (app.sources.queries.classify and
expected_interval_s, app.tickets.queries.is_active and RESOLVED, the alarms'
and incidents' open states, app.reports.pillars): each domain's per-city query
would cost the same statements once per city (measured: 110 statements for ten
regencies, and most of a request's time on a loaded machine is round trips).

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
  a due time, the share resolved by it (app.services.queries' rule), in percent.
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
from typing import Any

from sqlalchemy import Connection, and_, case, func, or_, select

from app.alarms.store import OPEN_STATES as ALARM_OPEN_STATES
from app.incidents.store import OPEN_STATES as INCIDENT_OPEN_STATES
from app.profile import PILLARS, SEVERITIES, Profile
from app.reports.pillars import pillar_scores
from app.sources.queries import (
    DEFAULT_INTERVAL_S,
    HEALTH_STATES,
    OFFLINE_AFTER_INTERVALS,
    STALE_AFTER_INTERVALS,
    classify,
    expected_interval_s,
)
from app.storage.models import (
    AlarmRow,
    IncidentRow,
    IngestMinuteRow,
    SeriesRow,
    SourceRow,
    TicketDayRow,
    TicketRow,
)
from app.tickets.queries import RESOLVED, is_active

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


def last_pulses_ms(*, conn: Connection, cities: Sequence[str]) -> dict[str, int | None]:
    """Per city: the start of the latest minute the ingest pulse counted a message in (epoch ms), if any.

    One statement of one backward index probe per city (`ingest_minute`'s key is (city, bucket)), not a
    GROUP BY that would read every minute of every city.
    """
    if not cities:
        return {}
    m = IngestMinuteRow.__table__.c
    row = conn.execute(select(*(select(func.max(m.bucket)).where(m.city == c).scalar_subquery() for c in cities))).one()
    return {c: None if b is None else int(b) * 1000 for c, b in zip(cities, row, strict=True)}


def _sources(conn: Connection, profiles: Sequence[Profile], now_ms: int) -> dict[str, list[dict[str, Any]]]:
    """Per city: its sources with their health at `now_ms` (app.sources.queries' rule) and the series they report."""
    by_city = {p.city.id: p for p in profiles}
    so, sr = SourceRow.__table__.c, SeriesRow.__table__.c
    rows = conn.execute(
        select(
            so.id, so.city, so.source_id, so.registered, so.interval_s, so.last_seen_ms, so.status, so.status_ms
        ).where(so.city.in_(list(by_city)))
    ).all()
    series: dict[int, list[tuple[str, bool]]] = {}
    for pk, metric, has_value in conn.execute(
        select(sr.source_pk, sr.metric, sr.last_ts_ms.is_not(None))
        .select_from(SeriesRow.__table__.join(SourceRow.__table__, so.id == sr.source_pk))
        .where(so.city.in_(list(by_city)))
    ):
        series.setdefault(pk, []).append((metric, bool(has_value)))
    out: dict[str, list[dict[str, Any]]] = {c: [] for c in by_city}
    for pk, city, source_id, registered, interval_s, last_seen_ms, reported, reported_ms in rows:
        mine = series.get(pk, [])
        interval = expected_interval_s(interval_s=interval_s, metrics=[m for m, _ in mine], profile=by_city[city])
        out[city].append(
            {
                "source_id": source_id,
                "registered": bool(registered),
                "interval_s": interval,
                "last_seen_ms": last_seen_ms,
                "status": classify(
                    last_seen_ms=last_seen_ms,
                    reported=reported,
                    reported_ms=reported_ms,
                    interval_s=interval,
                    now_ms=now_ms,
                ),
                "reporting": [m for m, has_value in mine if has_value],
            }
        )
    return out


def _tickets_open(conn: Connection, cities: list[str], now_ms: int) -> dict[str, tuple[int, int]]:
    """Per city: open tickets and, of those, overdue ones (app.overview.queries.ticket_counts' rule)."""
    t = TicketRow.__table__.c
    rows = conn.execute(
        select(t.city, func.count(), func.sum(case((t.due_ms < now_ms, 1), else_=0)))
        .where(t.city.in_(cities), is_active())
        .group_by(t.city)
    )
    return {city: (int(n), int(late or 0)) for city, n, late in rows}


Window = dict[tuple[str, str, str | None], list[int]]  # (city, agency, service) -> [opened, with_due, within_sla]


def _tickets_window(conn: Connection, cities: list[str], start_ms: int, end_ms: int) -> Window:
    """Per (city, agency, service): tickets opened in [start, end), and of those resolved in it, the SLA counts.

    The rule of app.services.queries: a ticket resolved or closed (not cancelled) in the window with a due time
    counts; on time when resolved_ms <= due_ms. The whole UTC days inside the window come from the per-day rollup
    (app.services.rollup, exact for these counts), the partial days at its two ends from the tickets table.
    """
    out: Window = {}

    def add(city: str, agency: str, service: str | None, counts: tuple[Any, Any, Any]) -> None:
        opened, with_due, within = counts
        figures = out.setdefault((city, agency, service or None), [0, 0, 0])
        figures[0] += int(opened or 0)
        figures[1] += int(with_due or 0)
        figures[2] += int(within or 0)

    first_day = -(-start_ms // DAY_MS) * DAY_MS
    last_day = end_ms // DAY_MS * DAY_MS
    if first_day >= last_day:
        first_day = last_day = end_ms  # no whole day inside: the tickets table for all of it
    else:
        d = TicketDayRow.__table__.c
        for row in conn.execute(
            select(
                d.city,
                d.agency,
                d.service,
                func.sum(d.opened),
                func.sum(d.resolved_with_due),
                func.sum(d.resolved_within_sla),
            )
            .where(d.city.in_(cities), d.day >= first_day // 1000, d.day < last_day // 1000)
            .group_by(d.city, d.agency, d.service)
        ):
            add(row[0], row[1], row[2], (row[3], row[4], row[5]))
    t = TicketRow.__table__.c

    def edges(col: Any) -> Any:
        return or_(and_(col >= start_ms, col < first_day), and_(col >= last_day, col < end_ms))

    for city, agency, service, n in conn.execute(
        select(t.city, t.agency, t.service, func.count())
        .where(t.city.in_(cities), edges(t.opened_ms))
        .group_by(t.city, t.agency, t.service)
    ):
        add(city, agency, service, (n, 0, 0))
    counted = t.status.in_(RESOLVED) & t.due_ms.is_not(None)
    for city, agency, service, with_due, within in conn.execute(
        select(
            t.city,
            t.agency,
            t.service,
            func.sum(case((counted, 1), else_=0)),
            func.sum(case((counted & (t.resolved_ms <= t.due_ms), 1), else_=0)),
        )
        .where(t.city.in_(cities), edges(t.resolved_ms))
        .group_by(t.city, t.agency, t.service)
    ):
        add(city, agency, service, (0, with_due, within))
    return out


def _alarms(conn: Connection, cities: list[str]) -> tuple[dict[str, dict[str, int]], dict[str, list[dict[str, Any]]]]:
    """Per city: open (active or acknowledged) alarms by severity, and those about a source (for the pillars)."""
    a = AlarmRow.__table__.c
    counts: dict[str, dict[str, int]] = {c: dict.fromkeys(SEVERITIES, 0) for c in cities}
    subjects: dict[str, list[dict[str, Any]]] = {c: [] for c in cities}
    for city, severity, state, source_id, metric in conn.execute(
        select(a.city, a.severity, a.state, a.source_id, a.metric).where(
            a.city.in_(cities), a.state.in_(ALARM_OPEN_STATES)
        )
    ):
        counts[city][severity] = counts[city].get(severity, 0) + 1
        if source_id is not None:
            subjects[city].append({"source_id": source_id, "metric": metric, "state": state})
    return counts, subjects


def _incidents(conn: Connection, cities: list[str]) -> dict[str, int]:
    """Per city: incidents not closed nor cancelled (app.incidents.store.count_open's rule)."""
    i = IncidentRow.__table__.c
    rows = conn.execute(
        select(i.city, func.count()).where(i.city.in_(cities), i.state.in_(INCIDENT_OPEN_STATES)).group_by(i.city)
    )
    return {city: int(n) for city, n in rows}


def _round(score: float | None) -> float | None:
    return None if score is None else round(score, 1)


def _agencies(profile: Profile, window: Window) -> dict[str, AgencyFigures]:
    """The city's agencies over the window: every one its profile lists, then those only its tickets name."""
    city = profile.city.id
    out = {a.id: AgencyFigures(a.id, a.short, a.name) for a in profile.agencies}
    for (c, agency, _service), (opened, with_due, within) in window.items():
        if c != city:
            continue
        f = out.setdefault(agency, AgencyFigures(agency, None, None))
        f.opened += opened
        f.with_due += with_due
        f.within_sla += within
    return out


def province_view(
    *, conn: Connection, profiles: Sequence[Profile], now_ms: int, window_days: int = WINDOW_DAYS
) -> ProvinceView:
    """The province view of `profiles` (the cities the caller may see) at `now_ms`.

    Eight statements whatever the number of cities and sources: each reads every city at once.
    """
    cities = [p.city.id for p in profiles]
    if not cities:
        return ProvinceView(now_ms, window_days, [], [])
    sources = _sources(conn, profiles, now_ms)
    pulses = last_pulses_ms(conn=conn, cities=cities)
    tickets = _tickets_open(conn, cities, now_ms)
    window = _tickets_window(conn, cities, now_ms - window_days * DAY_MS, now_ms)
    alarms, subjects = _alarms(conn, cities)
    incidents = _incidents(conn, cities)
    out = []
    for profile in profiles:
        city = profile.city.id
        mine = sources[city]
        counts: dict[str, int] = dict.fromkeys(HEALTH_STATES, 0)
        for s in mine:
            counts[s["status"]] += 1
        counts["total"] = len(mine)
        heard = [s["last_seen_ms"] for s in mine if s["last_seen_ms"] is not None]
        if pulses.get(city) is not None:
            heard.append(pulses[city])
        last_received = max(heard) if heard else None
        registered = [s["interval_s"] for s in mine if s["registered"]]
        interval_s = min(registered or [s["interval_s"] for s in mine] or [DEFAULT_INTERVAL_S])
        agencies = _agencies(profile, window)
        with_due = sum(a.with_due for a in agencies.values())
        within = sum(a.within_sla for a in agencies.values())
        scores = pillar_scores(
            profile,
            service_items=[
                {"service": service, "resolved_with_due": f[1], "resolved_within_sla": f[2]}
                for (c, _agency, service), f in window.items()
                if c == city
            ],
            latest=[{"source_id": s["source_id"], "metric": m} for s in mine for m in s["reporting"]],
            sources=mine,
            alarms=subjects[city],
        )
        open_, overdue = tickets.get(city, (0, 0))
        out.append(
            CityFigures(
                profile=profile,
                state=city_state(alarms[city], last_received),
                sources=counts,
                tickets_open=open_,
                tickets_overdue=overdue,
                alarms=alarms[city],
                incidents_open=incidents.get(city, 0),
                sla_pct=round(100 * within / with_due, 1) if with_due else None,
                last_received_ms=last_received,
                interval_s=interval_s,
                link=link_health(last_received, interval_s, now_ms),
                pillars={p: _round(scores[p].score) for p in PILLARS},
                agencies=agencies,
            )
        )
    return ProvinceView(now_ms, window_days, out, league(out))


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
