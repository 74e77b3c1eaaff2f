"""`GET /api/v1/cap/alerts.atom` and `GET /api/v1/cap/alerts/{id}.xml`: our alarms as CAP 1.2, for radio, WhatsApp or the province.

A viewer token reads every alarm. Without one, `SATUPINTU_CAP_OUT_PUBLIC_SEVERITIES`
(default: none) names the severities anyone may read; otherwise 401.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.security import HTTPAuthorizationCredentials

from app.alarms.queries import AlarmFilter, get_alarm, history, list_alarms
from app.alarms.routes import AlarmId
from app.alerts.capout import alarm_cap, atom
from app.auth.deps import _bearer, get_principal
from app.http.deps import CityDep, ConnDep, ProfileDep, SettingsDep
from app.http.timefmt import now_ms

router = APIRouter(prefix="/api/v1/cap", tags=["alerts"])


class AtomResponse(Response):
    media_type = "application/atom+xml"


class CapResponse(Response):
    media_type = "application/cap+xml"


async def readable(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    settings: SettingsDep,
    city: CityDep,
) -> tuple[str, ...] | None:
    """The severities the caller may read: None for all (a valid token), else the public ones; 401 when none."""
    try:
        who = await get_principal(request, creds, city)
    except HTTPException:
        if settings.cap_out_public_severities:
            return tuple(settings.cap_out_public_severities)
        raise
    if not who.may("viewer"):
        raise HTTPException(403, detail=f"this needs the viewer role; your token is {who.role}")
    return None


ReadableDep = Annotated[tuple[str, ...] | None, Depends(readable)]


@router.get(
    "/alerts.atom",
    response_class=AtomResponse,
    summary="Atom feed of the city's open alarms, each linking its CAP 1.2 document",
)
def cap_feed(*, request: Request, severities: ReadableDep, conn: ConnDep, profile: ProfileDep) -> AtomResponse:
    rows, _ = list_alarms(
        conn=conn,
        f=AlarmFilter(city=profile.city.id, states=("active", "acknowledged"), severities=severities or ()),
        order="severity",
        limit=500,
        offset=0,
    )
    base = str(request.base_url).rstrip("/")
    return AtomResponse(atom(rows, profile, base_url=base, now_ms=now_ms()))


@router.get(
    "/alerts/{alarm_id}.xml",
    response_class=CapResponse,
    summary="One alarm as a CAP 1.2 document (Alert, Update or Cancel)",
    responses={404: {"description": "No such alarm (or not public)"}},
)
def cap_alert(*, alarm_id: AlarmId, severities: ReadableDep, conn: ConnDep, profile: ProfileDep) -> CapResponse:
    row = get_alarm(conn=conn, city=profile.city.id, alarm_id=alarm_id)
    if row is None or (severities is not None and row["severity"] not in severities):
        raise HTTPException(404, detail=f"no alarm {alarm_id}")
    return CapResponse(alarm_cap(row, history(conn=conn, alarm_id=alarm_id), profile))
