"""The public page's figures: per agency and service over 30 days, and open complaints per district.

Only counts and times: no ticket ids, no titles or descriptions (citizens' free
text), no personal data. The services are those citizens report to through
Open311 (the emergency lines and patient referrals stay off, as there).
Times to resolve are in working days of each service's calendar
(app.workdays), as standar pelayanan and SP4N-LAPOR! count them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, func, select

from app.open311.service import open_services
from app.profile import Profile
from app.services.queries import percentile
from app.storage.models import TicketRow
from app.tickets.queries import RESOLVED, is_active

T = TicketRow.__table__
DAY_MS = 86_400_000
PERIOD_DAYS = 30


@dataclass(slots=True)
class Line:
    """One service's month, or an agency's, or the city's."""

    received: int = 0
    resolved: int = 0
    with_due: int = 0
    on_time: int = 0
    days: list[float] = field(default_factory=list)

    def add(self, other: Line) -> None:
        self.received += other.received
        self.resolved += other.resolved
        self.with_due += other.with_due
        self.on_time += other.on_time
        self.days.extend(other.days)

    @property
    def sla_pct(self) -> float | None:
        return None if not self.with_due else round(100 * self.on_time / self.with_due, 1)

    @property
    def median_days(self) -> float | None:
        m = percentile(sorted(self.days), 0.5)
        return None if m is None else round(m, 1)


@dataclass(slots=True)
class Figures:
    """Everything the public page shows."""

    start_ms: int
    end_ms: int
    services: dict[str, Line]  # service id -> its month
    open_by_district: dict[str, int]  # district id -> open complaints ('' for none stated)


def public_figures(*, conn: Connection, profile: Profile, now_ms: int) -> Figures:
    """The last 30 days up to `now`, for the Open311 services of the profile's city."""
    start = now_ms - PERIOD_DAYS * DAY_MS
    services = {s.id: s for s in open_services(profile)}
    scope = [T.c.city == profile.city.id, T.c.service.in_(list(services))]
    lines = {sid: Line() for sid in services}
    for sid, n in conn.execute(
        select(T.c.service, func.count())
        .where(*scope, T.c.opened_ms >= start, T.c.opened_ms < now_ms)
        .group_by(T.c.service)
    ):
        lines[sid].received = int(n)
    for sid, opened, resolved, due in conn.execute(
        select(T.c.service, T.c.opened_ms, T.c.resolved_ms, T.c.due_ms).where(
            *scope, T.c.status.in_(RESOLVED), T.c.resolved_ms >= start, T.c.resolved_ms < now_ms
        )
    ):
        line = lines[sid]
        line.resolved += 1
        line.days.append(profile.calendar(services[sid]).elapsed(opened, resolved))
        if due is not None:
            line.with_due += 1
            line.on_time += int(resolved <= due)
    open_by_district = {
        (d or ""): int(n)
        for d, n in conn.execute(select(T.c.district, func.count()).where(*scope, is_active()).group_by(T.c.district))
    }
    return Figures(start, now_ms, lines, open_by_district)
