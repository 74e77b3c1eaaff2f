"""`GET /api/v1/replay/state?at=`: the window's figures as they were at a past instant (history replay)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field

from app.auth.deps import ViewerDep
from app.http.deps import ConnDep, ProfileDep
from app.http.errors import unprocessable
from app.http.timefmt import from_ms, now_ms, to_ms
from app.replay import queries as q
from app.tickets.lifecycle import TERMINAL

router = APIRouter(prefix="/api/v1/replay", tags=["replay"])

FEED_WINDOW_MS = 3_600_000


class SourceThen(BaseModel):
    source_id: str
    name: str | None
    district: str | None
    lat: float | None
    lon: float | None
    status: str = Field(description="online, stale or offline at the instant")
    last_seen: datetime | None = Field(description="Its last reading up to the instant")


class TicketThen(BaseModel):
    ticket_id: str
    agency: str
    service: str | None
    status: str = Field(description="Its status at the instant")
    priority: str
    district: str | None
    title: str | None
    lat: float | None
    lon: float | None
    opened_at: datetime
    due_at: datetime | None
    overdue: bool = Field(description="Past due at the instant")


class StepThen(BaseModel):
    at: datetime
    ticket_id: str
    agency: str
    service: str | None
    district: str | None
    title: str | None
    priority: str
    status: str = Field(description="`open` when it was opened, else how it finished")


class SourcesThen(BaseModel):
    online: int
    stale: int
    offline: int
    total: int


class ReplayState(BaseModel):
    city: str
    at: datetime
    sources: SourcesThen
    open_tickets: int
    overdue_tickets: int
    messages_last_minute: int
    source_items: list[SourceThen]
    tickets: list[TicketThen] = Field(description=f"Open at the instant, newest first (at most {q.MAX_TICKETS})")
    feed: list[StepThen] = Field(description="Tickets opened or finished in the hour before the instant, newest first")


@router.get("/state", response_model=ReplayState, summary="The city as it was at a past instant")
def replay_state(
    _who: ViewerDep,
    conn: ConnDep,
    profile: ProfileDep,
    at: Annotated[AwareDatetime, Query(description="The instant, with its offset")],
) -> ReplayState:
    """Sources with their health then, open tickets then, and the feed up to then; alarms: `GET /api/v1/alarms?at=`."""
    at_ms = to_ms(at)
    if at_ms > now_ms() + 60_000:
        raise unprocessable("query.at", "the instant is in the future")
    city = profile.city.id
    sources = q.sources_at(conn=conn, profile=profile, city=city, at_ms=at_ms)
    tickets = q.tickets_open_at(conn=conn, city=city, at_ms=at_ms)
    steps = q.ticket_steps(conn=conn, city=city, start_ms=at_ms - FEED_WINDOW_MS, at_ms=at_ms)
    return ReplayState(
        city=city,
        at=from_ms(at_ms),
        sources=SourcesThen(**q.health_counts_at(sources)),
        open_tickets=len(tickets),
        overdue_tickets=sum(1 for t in tickets if t.overdue and t.status not in TERMINAL),
        messages_last_minute=q.messages_around(conn=conn, city=city, at_ms=at_ms),
        source_items=[
            SourceThen(
                source_id=s.source_id,
                name=s.name,
                district=s.district,
                lat=s.lat,
                lon=s.lon,
                status=s.status,
                last_seen=from_ms(s.last_seen_ms),
            )
            for s in sources
        ],
        tickets=[
            TicketThen(
                **{k: getattr(t, k) for k in TicketThen.model_fields if hasattr(t, k)},
                opened_at=from_ms(t.opened_ms),
                due_at=from_ms(t.due_ms),
            )
            for t in tickets
        ],
        feed=[
            StepThen(**{k: getattr(s, k) for k in StepThen.model_fields if hasattr(s, k)}, at=from_ms(s.at_ms))
            for s in steps
        ],
    )
