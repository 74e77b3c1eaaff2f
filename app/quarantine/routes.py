"""`GET /api/v1/quarantine`: what the ingestor refused, and why, newest first."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime, BaseModel, Field

from app.auth.deps import ViewerDep, every_city_or
from app.http.deps import CityDep, ConnDep
from app.http.errors import unprocessable
from app.http.paging import Limit, Offset, Page
from app.http.timefmt import from_ms, now_ms, to_ms
from app.live.notices import DependsOn
from app.profile import ID_PATTERN
from app.quarantine import queries
from app.quarantine.queries import Quarantined

router = APIRouter(prefix="/api/v1", tags=["quarantine"])
depends_on = DependsOn("/api/v1/quarantine", frozenset({"quarantined"}))  # what its answers change with

# The quarantine is never pruned; a default window keeps an unfiltered request to a bounded index range.
DEFAULT_WINDOW = timedelta(days=7)


class QuarantinedOut(BaseModel):
    id: int
    received_at: datetime
    city: str | None = Field(description="Set when the topic named a valid city")
    target: str | None = Field(description="Source or agency id, when the topic named a valid one")
    topic: str = Field(description="Truncated to 512 characters")
    reason: str = Field(description="A stable code: bad_json, out_of_range, unknown_city, ...")
    detail: str
    payload: str = Field(description="The kept bytes decoded as UTF-8 (undecodable bytes replaced by U+FFFD)")
    payload_base64: str = Field(description="The kept bytes exactly")
    payload_size: int = Field(description="The size of the whole payload as received, in bytes")
    truncated: bool = Field(description="Only the first bytes of the payload were kept")

    @classmethod
    def of(cls, r: Quarantined) -> QuarantinedOut:
        return cls(
            id=r.id,
            received_at=from_ms(r.received_ms),
            city=r.city,
            target=r.target,
            topic=r.topic,
            reason=r.reason,
            detail=r.detail,
            payload=r.payload.decode("utf-8", errors="replace"),
            payload_base64=base64.b64encode(r.payload).decode("ascii"),
            payload_size=r.payload_size,
            truncated=r.payload_size > len(r.payload),
        )


QuarantinePage = Page[QuarantinedOut]


@router.get("/quarantine", response_model=QuarantinePage, summary="Quarantined messages, newest first")
def list_quarantine(
    *,
    request: Request,
    who: ViewerDep,
    conn: ConnDep,
    city: CityDep,
    reason: Annotated[str | None, Query(pattern=r"^[a-z_]{1,32}$", description="Reason code")] = None,
    target: Annotated[str | None, Query(pattern=ID_PATTERN, description="Source or agency id")] = None,
    since: Annotated[
        AwareDatetime | None, Query(description="With a time zone; default: 7 days before until (or now)")
    ] = None,
    until: Annotated[AwareDatetime | None, Query(description="With a time zone; default: no end")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> QuarantinePage:
    until_ms = to_ms(until) if until is not None else None
    if since is not None:
        since_ms = to_ms(since)
    else:
        since_ms = (until_ms if until_ms is not None else now_ms()) - int(DEFAULT_WINDOW.total_seconds() * 1000)
    if until_ms is not None and since_ms >= until_ms:
        raise unprocessable("query.since", "since must be before until")
    items, total = queries.quarantined(
        conn=conn,
        since_ms=since_ms,
        limit=limit,
        offset=offset,
        until_ms=until_ms,
        reason=reason,
        # Smart Province: a city's token sees its city's refusals; one of every city all of them (those that named
        # no valid city too) unless it names one with ?city=.
        city=every_city_or(request, who, city),
        target=target,
    )
    return QuarantinePage(items=[QuarantinedOut.of(r) for r in items], total=total, limit=limit, offset=offset)
