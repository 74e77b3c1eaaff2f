"""`GET /api/v1/services/status`: service performance per agency and service over a period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, Field

from app.auth.deps import ViewerDep
from app.http.deps import ConnDep, ProfileDep
from app.http.errors import unprocessable
from app.http.timefmt import from_ms, now_ms, to_ms
from app.live.notices import DependsOn
from app.profile import ID_PATTERN, LAPOR_STAGES
from app.services import queries as q, rollup
from app.tickets.queries import id_in_tickets, stage_counts

router = APIRouter(prefix="/api/v1", tags=["services"])
depends_on = DependsOn("/api/v1/services/", frozenset({"tickets"}))  # what its answers change with

DEFAULT_DAYS = 30
MAX_DAYS = 400
DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Period:
    """A checked [start, end) in epoch ms."""

    start_ms: int
    end_ms: int


def period(
    start: Annotated[
        AwareDatetime | None, Query(description=f"Inclusive, with offset; default end - {DEFAULT_DAYS} days")
    ] = None,
    end: Annotated[AwareDatetime | None, Query(description="Exclusive, with offset; default now")] = None,
) -> Period:
    """The period a request asks for: start before end, at most MAX_DAYS long; else 422."""
    end_ms = to_ms(end) if end else now_ms()
    start_ms = to_ms(start) if start else end_ms - DEFAULT_DAYS * DAY_MS
    if start_ms >= end_ms:
        raise unprocessable("query.start", "start must be before end")
    if end_ms - start_ms > MAX_DAYS * DAY_MS:
        raise unprocessable("query.end", f"the period is longer than {MAX_DAYS} days; ask for a shorter one")
    return Period(start_ms, end_ms)


def agency_filter(
    conn: ConnDep,
    profile: ProfileDep,
    agency: Annotated[
        str | None, Query(pattern=ID_PATTERN, description="Only this agency (profile or seen in tickets)")
    ] = None,
) -> str | None:
    """The agency a request narrows to, if any: known to the profile or to the tickets, else 422."""
    if (
        agency is not None
        and not profile.has_agency(agency)
        and not id_in_tickets(conn=conn, city=profile.city.id, column="agency", value=agency)
    ):
        raise unprocessable("query.agency", f"unknown agency {agency!r}: not in the city profile nor in any ticket")
    return agency


PeriodDep = Annotated[Period, Depends(period)]
AgencyFilterDep = Annotated[str | None, Depends(agency_filter)]


class Performance(BaseModel):
    opened: int = Field(description="Tickets opened in the period")
    resolved: int = Field(description="Tickets resolved or closed in the period (cancelled ones not counted)")
    resolved_with_due: int = Field(description="Of those, the ones with a due time: the SLA % denominator")
    resolved_within_sla: int = Field(description="Of those, the ones resolved by their due time")
    cancelled: int = Field(description="Tickets cancelled in the period")
    open: int = Field(description="Tickets open now that were opened before the period's end")
    overdue: int = Field(description="Of the open ones, those past their due time now")
    sla_pct: float | None = Field(description="resolved_within_sla / resolved_with_due in percent; null when none")
    median_resolution_min: float | None = Field(
        description="Median of opened-to-resolved time of resolved tickets, in minutes. Exact when the period's whole "
        f"UTC days resolved at most {q.EXACT_UP_TO} tickets; otherwise from the per-day resolution-time histogram, "
        f"{rollup.PRECISION}"
    )
    p90_resolution_min: float | None = Field(
        description="90th percentile (linear interpolation) of the same, with the same precision"
    )


class ServicePerformance(Performance):
    agency: str
    agency_name: str | None = Field(description="The agency's short name from the profile")
    agency_registered: bool
    service: str | None
    service_name: str | None = Field(description="The service's Indonesian name from the profile")
    service_registered: bool = Field(description="Whether the profile lists this service under this agency")
    sla_minutes: int | None = Field(description="The profile's SLA target for the service")
    sla_working_days: float | None = Field(None, description="The profile's SLA in working days, when it has one")


class AgencyPerformance(Performance):
    agency: str
    agency_name: str | None
    agency_registered: bool


class ServiceStatusOut(BaseModel):
    start: datetime
    end: datetime
    as_of: datetime = Field(description="The 'now' that open and overdue refer to")
    items: list[ServicePerformance] = Field(description="Per agency and service, profile order, unregistered last")
    agencies: list[AgencyPerformance] = Field(description="Per agency totals")
    overall: Performance = Field(description="The whole city")


def status_out(result: q.ServiceStatus) -> ServiceStatusOut:
    """The API shape of a service status result."""
    items = [
        ServicePerformance(
            agency=b.agency,
            agency_name=b.name,
            agency_registered=b.registered,
            service=line.service,
            service_name=line.service_name["id"] if line.service_name else None,
            service_registered=line.registered,
            sla_minutes=line.sla_minutes,
            sla_working_days=line.sla_working_days,
            **line.tally.figures(),
        )
        for b in result.agencies
        for line in b.services
    ]
    agencies = [
        AgencyPerformance(agency=b.agency, agency_name=b.name, agency_registered=b.registered, **b.tally.figures())
        for b in result.agencies
    ]
    return ServiceStatusOut(
        start=from_ms(result.start_ms),
        end=from_ms(result.end_ms),
        as_of=from_ms(result.now_ms),
        items=items,
        agencies=agencies,
        overall=Performance(**result.overall.figures()),
    )


@router.get("/services/status", response_model=ServiceStatusOut, summary="Service performance per agency and service")
def services_status(
    _: ViewerDep, span: PeriodDep, agency: AgencyFilterDep, conn: ConnDep, profile: ProfileDep
) -> ServiceStatusOut:
    result = q.service_status(
        conn=conn, profile=profile, start_ms=span.start_ms, end_ms=span.end_ms, now_ms=now_ms(), agency=agency
    )
    return status_out(result)


# --- citizen services (issue 14): SP4N-LAPOR! stages per agency ---------------------------------------------------


class StageCount(BaseModel):
    open: int = Field(description="Open tickets in the stage")
    late: int = Field(description="Of them, past the stage's working-day target")


class AgencyStages(BaseModel):
    agency: str
    agency_name: str | None = Field(description="The agency's short name from the city profile")
    stages: dict[str, StageCount] = Field(description="verifikasi, tindak_lanjut, selesai")
    late: int = Field(description="Open tickets late in their stage, all stages")


class StagesOut(BaseModel):
    as_of: datetime
    targets: dict[str, float] = Field(description="Working days each stage may take (the city profile)")
    agencies: list[AgencyStages] = Field(description="Agencies with open tickets in a stage, most late first")


@router.get("/services/stages", response_model=StagesOut, summary="SP4N-LAPOR! stages per agency: open and late")
def services_stages(_: ViewerDep, conn: ConnDep, profile: ProfileDep) -> StagesOut:
    now = now_ms()
    per: dict[str, dict[str, StageCount]] = {}
    for agency, stage, n, late in stage_counts(conn=conn, city=profile.city.id, now_ms=now):
        per.setdefault(agency, {})[stage] = StageCount(open=n, late=late)
    short = {a.id: a.short for a in profile.agencies}
    agencies = [
        AgencyStages(
            agency=a,
            agency_name=short.get(a),
            stages={st: stages.get(st, StageCount(open=0, late=0)) for st in LAPOR_STAGES},
            late=sum(c.late for c in stages.values()),
        )
        for a, stages in per.items()
    ]
    agencies.sort(key=lambda x: (-x.late, x.agency))
    targets = {st: float(getattr(profile.workdays.lapor, st)) for st in LAPOR_STAGES}
    return StagesOut(as_of=from_ms(now), targets=targets, agencies=agencies)
