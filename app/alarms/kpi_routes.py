"""The alarm system's KPIs over HTTP (`/api/v1/alarm-kpis`, viewer): EEMUA 191 / ISA-18.2 figures for a period.

The CSV of the same figures is an export (app.reports.routes: `/api/v1/alarm-kpis.csv`).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.alarms import kpis as k
from app.auth.deps import ViewerDep
from app.http.deps import ConnDep, ProfileDep
from app.http.timefmt import from_ms, now_ms
from app.live.notices import DependsOn
from app.services.routes import Period, PeriodDep

router = APIRouter(prefix="/api/v1/alarm-kpis", tags=["alarms"])
depends_on = DependsOn("/api/v1/alarm-kpis", frozenset({"alarms"}))


class KpiOut(BaseModel):
    key: str = Field(
        description="alarms_per_hour, peak_10min, flood_pct, top10_share_pct, chattering, stale, "
        "priority_low_pct, priority_medium_pct, priority_high_pct, ack_median_s, ack_p90_s, "
        "standing_now, shelved_now"
    )
    value: float | None = Field(description="Null when there is nothing to measure (no alarms, no acknowledgement)")
    unit: str
    target: str = Field(description="The figure to meet, e.g. `<= 6`")
    meets: bool
    standard: str = Field(description="Where the target comes from (`SatuPintu`: our own choice, docs/alarms.md)")


class FrequentOut(BaseModel):
    rule: str
    subject: str
    source_id: str | None
    count: int
    share_pct: float


class FlaggedOut(BaseModel):
    rule: str
    subject: str
    source_id: str | None
    alarm_ids: list[int]


class AlarmKpisOut(BaseModel):
    start: datetime
    end: datetime
    as_of: datetime = Field(description="`standing_now` and `shelved_now` are at this instant")
    raised: int = Field(description="Alarms raised in the period")
    periods: int = Field(description="10-minute periods from `start` (the last may be shorter)")
    flood_periods: int = Field(description="Of those, periods with 10 or more alarms raised")
    priority_counts: dict[str, int] = Field(
        description="Alarms raised by priority: low (warning, minor), medium (major), high (critical)"
    )
    acknowledged: int = Field(description="Alarms of the period acknowledged: the time-to-acknowledge sample")
    kpis: list[KpiOut]
    top10: list[FrequentOut] = Field(description="The most frequent alarms (rule and subject), most first")
    chattering: list[FlaggedOut]
    stale: list[FlaggedOut]


def _flagged(f: k.Flagged) -> FlaggedOut:
    return FlaggedOut(rule=f.rule_id, subject=f.subject, source_id=f.source_id, alarm_ids=list(f.alarm_ids))


def compute(conn: ConnDep, profile: ProfileDep, span: Period) -> k.AlarmKpis:
    return k.alarm_kpis(conn=conn, city=profile.city.id, start_ms=span.start_ms, end_ms=span.end_ms, now_ms=now_ms())


@router.get(
    "",
    response_model=AlarmKpisOut,
    summary="The alarm system against EEMUA 191 / ISA-18.2 over a period (default: the last 30 days)",
)
def alarm_kpis(_who: ViewerDep, span: PeriodDep, conn: ConnDep, profile: ProfileDep) -> AlarmKpisOut:
    r = compute(conn, profile, span)
    return AlarmKpisOut(
        start=from_ms(r.start_ms),
        end=from_ms(r.end_ms),
        as_of=from_ms(r.now_ms),
        raised=r.raised,
        periods=r.periods,
        flood_periods=r.flood_periods,
        priority_counts=r.priority_counts,
        acknowledged=len(r.ack_delays_s),
        kpis=[
            KpiOut(key=x.key, value=x.value, unit=x.unit, target=x.target, meets=x.meets, standard=x.standard)
            for x in r.kpis
        ],
        top10=[
            FrequentOut(rule=f.rule_id, subject=f.subject, source_id=f.source_id, count=f.count, share_pct=f.share_pct)
            for f in r.top
        ],
        chattering=[_flagged(f) for f in r.chattering],
        stale=[_flagged(f) for f in r.stale],
    )
