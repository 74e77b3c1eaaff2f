"""`GET /api/v1/tickets` (filtered, paged) and `GET /api/v1/tickets/{ticket_id}` (with its lifecycle)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import AwareDatetime, BaseModel, Field

from app.auth.deps import ViewerDep
from app.http.deps import ConnDep, ProfileDep
from app.http.errors import unprocessable
from app.http.paging import Limit, Offset, Page
from app.http.timefmt import from_ms, now_ms, to_ms
from app.live.notices import DependsOn
from app.profile import ID_PATTERN
from app.tickets import queries as q

TICKET_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"  # as ingest.parser accepts them

router = APIRouter(prefix="/api/v1", tags=["tickets"])
depends_on = DependsOn("/api/v1/tickets", frozenset({"tickets"}))  # what its answers change with

Priority = Literal["low", "normal", "high", "critical"]


class Ticket(BaseModel):
    """A service ticket's current state."""

    ticket_id: str
    city: str
    agency: str
    agency_name: str | None = Field(description="The agency's short name from the city profile")
    agency_registered: bool = Field(description="Whether the city profile lists the agency")
    service: str | None
    service_name: str | None = Field(description="The service's Indonesian name from the city profile")
    status: str
    priority: str
    district: str | None
    title: str | None
    opened_at: datetime
    resolved_at: datetime | None = Field(description="When it last became resolved/closed/cancelled; null while open")
    due_at: datetime | None = Field(description="When it breaches its SLA: a stated due time, else opened + SLA")
    overdue: bool = Field(description="Still open and past due")
    breached: bool = Field(description="Missed its SLA: open past due, or resolved/closed after due (never cancelled)")
    sla_minutes: int | None = Field(description="Effective SLA: the events' override, else the profile's target")
    lat: float | None
    lon: float | None
    updated_at: datetime = Field(description="Time of its latest event")
    sla_working_days: float | None = Field(None, description="The profile's SLA in working days, when it has one")
    stage: str | None = Field(None, description="SP4N-LAPOR! stage: verifikasi, tindak_lanjut or selesai")
    stage_since: datetime | None = Field(None, description="When the ticket entered its stage")
    stage_due_at: datetime | None = Field(None, description="When it is late in its stage (working days)")
    stage_late: bool = Field(False, description="Still open and past its stage's target")


TicketPage = Page[Ticket]


class TicketEvent(BaseModel):
    """One step of a ticket's lifecycle, with the fields that event stated (null: not stated)."""

    status: str
    at: datetime
    received_at: datetime
    agency: str
    service: str | None
    priority: str | None
    district: str | None
    title: str | None
    description: str | None
    lat: float | None
    lon: float | None
    sla_minutes: int | None
    due_at: datetime | None
    stage: str | None = None


class TicketDetail(Ticket):
    description: str | None
    events: list[TicketEvent] = Field(description="In lifecycle order")


def _statuses(values: list[str] | None) -> tuple[str, ...]:
    out: list[str] = []
    for raw in values or []:
        for s in (p.strip() for p in raw.split(",")):
            if not s:
                continue
            if s in q.STATUS_GROUPS:
                out.extend(q.STATUS_GROUPS[s])
            elif s in q.STATUSES:
                out.append(s)
            else:
                allowed = ", ".join((*q.STATUSES, *q.STATUS_GROUPS))
                raise unprocessable("query.status", f"unknown status {s!r} (one of: {allowed})")
    return tuple(dict.fromkeys(out))


def ticket_filters(
    *,
    conn: ConnDep,
    profile: ProfileDep,
    status_: Annotated[
        list[str] | None,
        Query(
            alias="status",
            description="Repeat or comma-separate; `active` = any open status, `terminal` = resolved/closed/cancelled",
        ),
    ] = None,
    agency: Annotated[
        str | None, Query(pattern=ID_PATTERN, description="An agency id (profile or seen in tickets)")
    ] = None,
    service: Annotated[
        str | None, Query(pattern=ID_PATTERN, description="A service id (profile or seen in tickets)")
    ] = None,
    district: Annotated[
        str | None, Query(pattern=ID_PATTERN, description="A district id (profile or seen in tickets)")
    ] = None,
    priority: Priority | None = None,
    overdue: Annotated[bool | None, Query(description="Still open and past due (true) or not (false)")] = None,
    breached: Annotated[bool | None, Query(description="Missed its SLA (open past due or resolved late)")] = None,
    stage_late: Annotated[
        bool | None, Query(description="Still open and past its SP4N-LAPOR! stage's working-day target")
    ] = None,
    opened_from: Annotated[AwareDatetime | None, Query(description="Opened at or after (with offset)")] = None,
    opened_to: Annotated[AwareDatetime | None, Query(description="Opened before (with offset)")] = None,
) -> q.TicketFilter:
    """The ticket filters of a request, checked: unknown ids and empty time ranges are a 422.

    The city is the request's (`?city=`, app.http.deps.get_city: 404 for one not served here)."""
    city = profile.city.id
    in_profile = {
        "agency": profile.has_agency,
        "service": lambda v: profile.service(v) is not None,
        "district": profile.has_district,
    }
    named: tuple[tuple[Literal["agency", "service", "district"], str | None], ...] = (
        ("agency", agency),
        ("service", service),
        ("district", district),
    )
    for column, value in named:
        if (
            value is not None
            and not in_profile[column](value)
            and not q.id_in_tickets(conn=conn, city=city, column=column, value=value)
        ):
            raise unprocessable(
                f"query.{column}", f"unknown {column} {value!r}: not in the city profile nor in any ticket"
            )
    if opened_from and opened_to and opened_from >= opened_to:
        raise unprocessable("query.opened_to", "opened_to must be after opened_from")
    return q.TicketFilter(
        city=city,
        statuses=_statuses(status_),
        agency=agency,
        service=service,
        district=district,
        priority=priority,
        overdue=overdue,
        breached=breached,
        stage_late=stage_late,
        opened_from_ms=to_ms(opened_from) if opened_from else None,
        opened_to_ms=to_ms(opened_to) if opened_to else None,
    )


TicketFilterDep = Annotated[q.TicketFilter, Depends(ticket_filters)]


def _ticket(view: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in view.items() if not k.endswith("_ms")}
    for name in ("opened", "resolved", "due", "updated", "stage_due"):
        out[f"{name}_at"] = from_ms(view[f"{name}_ms"])
    out["stage_since"] = from_ms(view["stage_since_ms"])
    return out


@router.get("/tickets", response_model=TicketPage, summary="Service tickets, filtered, newest first")
def list_tickets(
    _: ViewerDep,
    filters: TicketFilterDep,
    conn: ConnDep,
    profile: ProfileDep,
    limit: Limit = 100,
    offset: Offset = 0,
) -> TicketPage:
    now = now_ms()
    rows, total = q.list_tickets(conn=conn, filters=filters, now_ms=now, limit=limit, offset=offset)
    items = [Ticket.model_validate(_ticket(q.ticket_view(r, profile, now))) for r in rows]
    return TicketPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/tickets/{ticket_id}", response_model=TicketDetail, summary="One ticket with its lifecycle events")
def get_ticket(
    _: ViewerDep,
    ticket_id: Annotated[str, Path(pattern=TICKET_ID_PATTERN, description="As the agency publishes it")],
    conn: ConnDep,
    profile: ProfileDep,
) -> TicketDetail:
    city = profile.city.id  # the request's (`?city=`)
    row = q.get_ticket(conn=conn, city=city, ticket_id=ticket_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no ticket {ticket_id!r} in city {city!r}")
    events = [
        TicketEvent(
            **{k: e[k] for k in TicketEvent.model_fields if k in e},
            at=from_ms(e["ts_ms"]),
            received_at=from_ms(e["received_ms"]),
            due_at=from_ms(e["due_ms"]),
        )
        for e in q.ticket_events(conn=conn, ticket_pk=row["id"])
    ]
    return TicketDetail(**_ticket(q.ticket_view(row, profile, now_ms())), events=events)
