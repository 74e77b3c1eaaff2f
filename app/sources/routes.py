"""`GET /api/v1/sources`: every sensor and station of the city with its health."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Response, status
from pydantic import BaseModel, Field

from app.auth.audit import record
from app.auth.deps import AdminDep, ViewerDep
from app.http.deps import ConnDep, ProfileDep
from app.http.fields import LABEL_PATTERN
from app.http.paging import Limit, Offset, Page
from app.http.timefmt import from_ms, now_ms
from app.live.notices import DependsOn
from app.profile import ID_PATTERN
from app.sources import queries
from app.sources.queries import HEALTH_RULE, SourceHealth

router = APIRouter(prefix="/api/v1", tags=["sources"])
depends_on = DependsOn(
    "/api/v1/sources", frozenset({"readings", "sources_new", "status"})
)  # what its answers change with


class SourceOut(BaseModel):
    source_id: str
    city: str
    district: str | None
    district_registered: bool = Field(description="The district is one of the city profile's")
    kind: str | None
    name: str | None
    lat: float | None
    lon: float | None
    registered: bool = Field(description="Listed in the city profile (else registered on first sight)")
    status: Literal["online", "stale", "offline"] = Field(description=HEALTH_RULE)
    last_seen: datetime | None = Field(description="When the last message of any kind arrived from it (UTC)")
    first_seen: datetime | None
    status_reported: Literal["online", "offline"] | None = Field(description="Its last word on its status topic")
    status_reported_at: datetime | None
    expected_interval_s: int

    @classmethod
    def of(cls, s: SourceHealth) -> SourceOut:
        return cls(
            source_id=s.source_id,
            city=s.city,
            district=s.district,
            district_registered=s.district_registered,
            kind=s.kind,
            name=s.name,
            lat=s.lat,
            lon=s.lon,
            registered=s.registered,
            status=s.status,
            last_seen=from_ms(s.last_seen_ms),
            first_seen=from_ms(s.first_seen_ms),
            status_reported=s.status_reported,
            status_reported_at=from_ms(s.status_reported_ms),
            expected_interval_s=s.expected_interval_s,
        )


SourcePage = Page[SourceOut]


@router.get("/sources", response_model=SourcePage, summary="Sources with their health")
def list_sources(
    *,
    _who: ViewerDep,
    conn: ConnDep,
    profile: ProfileDep,
    district: Annotated[
        str | None, Query(pattern=ID_PATTERN, description="District id (unregistered ones too)")
    ] = None,
    status: Annotated[Literal["online", "stale", "offline"] | None, Query(description="Health")] = None,
    kind: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    registered: Annotated[bool | None, Query(description="Listed in the city profile or not")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> SourcePage:
    found = queries.source_health(
        conn=conn,
        profile=profile,
        city=profile.city.id,
        now_ms=now_ms(),
        district=district,
        kind=kind,
        registered=registered,
        status=status,
    )
    return SourcePage(
        items=[SourceOut.of(s) for s in found[offset : offset + limit]], total=len(found), limit=limit, offset=offset
    )


class SourceIn(BaseModel):
    """What an admin says about a source: register it ahead of its first message, or correct it."""

    name: str | None = Field(None, max_length=200, pattern=LABEL_PATTERN)
    kind: str | None = Field(None, max_length=64, pattern=ID_PATTERN)
    district: str | None = Field(None, pattern=ID_PATTERN)
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    interval_s: int | None = Field(None, gt=0, le=86_400 * 7, description="Expected reporting interval")
    registered: bool = Field(True, description="False: keep its data but show it as unregistered")


@router.put(
    "/sources/{source_id}",
    response_model=SourceOut,
    summary="Register or update a source (admin)",
    responses={
        201: {"description": "Created"},
        403: {"description": "Not an admin"},
        409: {"description": "The id is an agency's: a source and an agency never share an id (docs/mqtt.md)"},
    },
)
def put_source(
    *,
    who: AdminDep,
    conn: ConnDep,
    profile: ProfileDep,
    source_id: Annotated[str, Path(pattern=ID_PATTERN)],
    body: SourceIn,
    response: Response,
) -> SourceOut:
    if any(a.id == source_id for a in profile.agencies):
        # Both would read city/{city}/rejected/{id}: one party would read the other's refusals.
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"{source_id!r} is an agency of the city, not a source")
    fields = body.model_dump(exclude_unset=True, exclude={"registered"})
    city = profile.city.id
    with conn.begin():
        created = queries.register_source(
            conn=conn, city=city, source_id=source_id, fields=fields, registered=body.registered
        )
        record(
            conn=conn,
            actor=who.name,
            role=who.role,
            action="source.create" if created else "source.update",
            target=f"{city}/{source_id}",
            detail=body.model_dump_json(exclude_unset=True),
        )
    if created:
        response.status_code = 201
    [health] = [
        s
        for s in queries.source_health(conn=conn, profile=profile, city=city, now_ms=now_ms())
        if s.source_id == source_id
    ]
    return SourceOut.of(health)
