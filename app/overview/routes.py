"""`GET /api/v1/overview`: the city's vital signs in one answer."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.alarms.queries import open_counts
from app.auth.deps import ViewerDep
from app.http.deps import ConnDep, ProfileDep
from app.http.timefmt import from_ms, now_ms
from app.overview import queries
from app.sources.queries import HEALTH_RULE

router = APIRouter(prefix="/api/v1", tags=["overview"])


class SourcesByHealth(BaseModel):
    online: int
    stale: int
    offline: int
    total: int


class AlarmsBySeverity(BaseModel):
    critical: int
    major: int
    minor: int
    warning: int
    total: int = Field(description="Open alarms: active or acknowledged")
    unacknowledged: int = Field(description="Of those, still active (nobody acknowledged them yet)")


class OverviewOut(BaseModel):
    city: str
    as_of: datetime = Field(description="The instant the figures describe (UTC)")
    sources: SourcesByHealth = Field(description=HEALTH_RULE)
    open_tickets: int = Field(description="Tickets not resolved, closed or cancelled")
    overdue_tickets: int = Field(description="Open tickets past their due time")
    messages_last_minute: int = Field(description="Messages received in the previous full minute and the current one")
    readings_last_minute: int = Field(
        description="Of those, messages stored (readings, ticket events, status words) rather than quarantined"
    )
    quarantined_last_hour: int = Field(
        description="Messages quarantined whole in the 60 previous full minutes and the current one"
    )
    alarms: AlarmsBySeverity = Field(description="Open alarms by severity")


@router.get(
    "/overview",
    response_model=OverviewOut,
    summary="Sources by health, tickets, and the ingest pulse",
    responses={404: {"description": "A city this deployment does not serve"}},
)
def overview(
    _who: ViewerDep,
    conn: ConnDep,
    profile: ProfileDep,
) -> OverviewOut:
    o = queries.overview(conn=conn, profile=profile, city=profile.city.id, now_ms=now_ms())
    return OverviewOut(
        city=o.city,
        as_of=from_ms(o.now_ms),
        sources=SourcesByHealth(**o.sources),
        open_tickets=o.open_tickets,
        overdue_tickets=o.overdue_tickets,
        messages_last_minute=o.messages_last_minute,
        readings_last_minute=o.readings_last_minute,
        quarantined_last_hour=o.quarantined_last_hour,
        alarms=AlarmsBySeverity(**open_counts(conn=conn, city=o.city)),
    )
