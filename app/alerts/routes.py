"""`GET /api/v1/alerts`: the regional warnings received (CAP 1.2), with whether and where they concern the city."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import RowMapping

from app.alerts import queries
from app.alerts.store import subject_of
from app.auth.deps import ViewerDep
from app.http.deps import ConnDep, ProfileDep
from app.http.paging import Limit, Offset, Page
from app.http.timefmt import from_ms, now_ms, to_ms
from app.live.notices import DependsOn

router = APIRouter(prefix="/api/v1", tags=["alerts"])
# A relevant alert changes the warning alarms; a stored one that concerns nobody needs no push.
depends_on = DependsOn("/api/v1/alerts", frozenset({"alarms"}))


class AlertOut(BaseModel):
    id: int
    identifier: str = Field(description="CAP <identifier>")
    sender: str = Field(description="CAP <sender>")
    msg_type: str = Field(description="Alert or Update")
    status: str = Field(description="Actual, Exercise, System, Test or Draft: only Actual alerts raise alarms")
    state: str = Field(description="active, updated (replaced by a later Update) or cancelled")
    event: str | None
    category: str | None
    severity: str | None = Field(description="CAP severity: Extreme, Severe, Moderate, Minor, Unknown")
    urgency: str | None
    certainty: str | None
    headline: str | None
    description: str | None
    sent: datetime
    effective: datetime | None
    expires: datetime | None
    relevant: bool = Field(description="It concerns the city by the profile's warning rules")
    distance_km: float | None = Field(description="From its area or epicentre to the city's outline")
    districts: list[str]
    alarm_severity: str | None = Field(description="The warning alarm's severity when relevant")
    alarm_source_id: str = Field(description="The source id of its warning alarm (alert:<thread>)")
    parameters: dict[str, str] = Field(description="CAP parameters (an earthquake: magnitude, depth_km, tsunami)")
    areas: dict[str, Any] = Field(description="GeoJSON FeatureCollection; a circle is a Point with radius_km")

    @classmethod
    def of(cls, r: RowMapping) -> AlertOut:
        return cls(
            id=r["id"],
            identifier=r["identifier"],
            sender=r["sender"],
            msg_type=r["msg_type"],
            status=r["status"],
            state=r["state"],
            event=r["event"],
            category=r["category"],
            severity=r["severity"],
            urgency=r["urgency"],
            certainty=r["certainty"],
            headline=r["headline"],
            description=r["description"],
            sent=from_ms(r["sent_ms"]),
            effective=from_ms(r["effective_ms"]) if r["effective_ms"] is not None else None,
            expires=from_ms(r["expires_ms"]) if r["expires_ms"] is not None else None,
            relevant=bool(r["relevant"]),
            distance_km=r["distance_km"],
            districts=orjson.loads(r["districts"]),
            alarm_severity=r["alarm_severity"],
            alarm_source_id=subject_of(r["thread_id"] or r["id"]),
            parameters=dict(orjson.loads(r["parameters"])),
            areas=orjson.loads(r["areas"]),
        )


AlertPage = Page[AlertOut]


@router.get("/alerts", response_model=AlertPage, summary="Regional warnings (CAP alerts) received, newest first")
def list_alerts(
    *,
    _who: ViewerDep,
    conn: ConnDep,
    profile: ProfileDep,
    state: Annotated[Literal["active", "all"], Query(description="active: in force now; all: every one")] = "active",
    relevant: Annotated[
        bool | None, Query(description="Only those that do (true) or do not (false) concern us")
    ] = None,
    at: Annotated[
        AwareDatetime | None, Query(description="Those in force at this past instant (replay); overrides `state`")
    ] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> AlertPage:
    rows, total = queries.list_alerts(
        conn=conn,
        city=profile.city.id,
        active_at_ms=now_ms() if state == "active" and at is None else None,
        relevant=relevant,
        in_force_at_ms=to_ms(at) if at is not None else None,
        limit=limit,
        offset=offset,
    )
    return AlertPage(items=[AlertOut.of(r) for r in rows], total=total, limit=limit, offset=offset)
