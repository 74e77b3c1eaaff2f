"""Alarms over HTTP (`/api/v1/alarms`): list and detail with history (viewer); acknowledge, clear, comment (operator).

Every write is audited and announced after commit. Rules, shelves and webhook
deliveries have routers of their own (rule_routes, shelf_routes, webhook_routes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from pydantic import AwareDatetime, BaseModel, Field, field_validator
from sqlalchemy import Connection

from app.alarms import queries as q
from app.alarms.commands import Action, operate
from app.alarms.messages import message
from app.alarms.rules import RULE_ID_PATTERN
from app.alarms.store import OPEN_STATES, AlarmNotFound, AlarmStateConflict, Lifecycle
from app.auth.audit import record
from app.auth.deps import OperatorDep, ViewerDep
from app.auth.tokens import Principal
from app.http.deps import ConnDep, ProfileDep, SettingsDep
from app.http.errors import unprocessable
from app.http.paging import Limit, Offset, Page
from app.http.timefmt import from_ms, now_ms, to_ms
from app.live.hub import announce
from app.live.notices import DependsOn
from app.profile import ID_PATTERN, Profile, Severity
from app.settings import Settings

router = APIRouter(prefix="/api/v1/alarms", tags=["alarms"])
depends_on = DependsOn("/api/v1/alarms", frozenset({"alarms"}))

Lang = Literal["id", "en"]
StateFilter = Literal["active", "acknowledged", "cleared", "open"]
AlarmId = Annotated[int, Path(ge=1, le=2**62)]


class Alarm(BaseModel):
    id: int
    rule: str
    kind: str = Field(description="threshold, rate, silence, sla, ticket_count or warning (a regional alert)")
    severity: Severity
    state: Literal["active", "acknowledged", "cleared"]
    source_id: str | None
    district: str | None
    ticket_id: str | None
    metric: str | None
    value: float | None = Field(description="The value that raised it or last changed its severity")
    message: str = Field(description="What happened, in the requested language")
    raised_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    cleared_at: datetime | None
    cleared_by: str | None = Field(description="The operator who cleared it; null when the condition ended")
    lat: float | None
    lon: float | None


class AlarmEvent(BaseModel):
    at: datetime
    action: Literal["raised", "escalated", "deescalated", "acknowledged", "cleared", "comment", "reraised", "paged"] = (
        Field(description="`paged`: escalated to the duty rota; `value` is the rota level, `comment` who")
    )
    by: str | None = Field(description="Who; null for the rule engine")
    comment: str | None
    severity: Severity
    value: float | None


class AlarmDetail(Alarm):
    history: list[AlarmEvent] = Field(description="Every transition, oldest first")


class CommentIn(BaseModel):
    comment: str | None = Field(None, max_length=2000, description="Optional for ack and clear")

    @field_validator("comment")
    @classmethod
    def _printable(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = v.strip()
        if "\x00" in v:
            raise ValueError("a comment cannot contain NUL characters")
        return v or None


class CommentRequired(CommentIn):
    comment: str = Field(min_length=1, max_length=2000)


def _alarm(row: Mapping[Any, Any], profile: Profile, lang: str) -> Alarm:
    return Alarm(
        id=row["id"],
        rule=row["rule_id"],
        kind=row["kind"],
        severity=row["severity"],
        state=row["state"],
        source_id=row["source_id"],
        district=row["district"],
        ticket_id=row["ticket_id"],
        metric=row["metric"],
        value=row["value"],
        message=message(row["kind"], orjson.loads(row["detail"]), lang, profile),
        raised_at=from_ms(row["raised_ms"]),
        updated_at=from_ms(row["updated_ms"]),
        acknowledged_at=from_ms(row["acked_ms"]) if row["acked_ms"] else None,
        acknowledged_by=row["acked_by"],
        cleared_at=from_ms(row["cleared_ms"]) if row["cleared_ms"] else None,
        cleared_by=row["cleared_by"],
        lat=row["lat"],
        lon=row["lon"],
    )


@router.get("", response_model=Page[Alarm], summary="Alarms, filtered; or those open at a past instant")
def list_alarms(
    *,
    _who: ViewerDep,
    conn: ConnDep,
    profile: ProfileDep,
    limit: Limit = 100,
    offset: Offset = 0,
    state: Annotated[StateFilter | None, Query(description="`open` = active or acknowledged")] = None,
    severity: Annotated[list[Severity] | None, Query()] = None,
    source: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    district: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    rule: Annotated[str | None, Query(pattern=RULE_ID_PATTERN)] = None,
    kind: Annotated[Literal["threshold", "rate", "silence", "sla", "ticket_count", "warning"] | None, Query()] = None,
    at: Annotated[
        AwareDatetime | None,
        Query(description="The alarms open at this past instant, in the state they had then (history replay)"),
    ] = None,
    order: Annotated[Literal["recent", "severity"], Query(description="Newest first, or worst first")] = "recent",
    lang: Annotated[Lang, Query(description="Language of `message`")] = "id",
) -> Page[Alarm]:
    if district is not None and not profile.has_district(district):
        raise unprocessable(
            "district", f"unknown district {district!r}; the profile lists {sorted(d.id for d in profile.districts)}"
        )
    if at is not None and state == "cleared":
        raise unprocessable("state", "alarms open at an instant are active or acknowledged, never cleared")
    states = OPEN_STATES if state == "open" else (state,) if state else ()
    f = q.AlarmFilter(
        city=profile.city.id,
        states=states,
        severities=tuple(severity or ()),
        source_id=source,
        district=district,
        rule_id=rule,
        kind=kind,
        at_ms=to_ms(at) if at is not None else None,
    )
    rows, total = q.list_alarms(conn=conn, f=f, order=order, limit=limit, offset=offset)
    return Page[Alarm](items=[_alarm(r, profile, lang) for r in rows], total=total, limit=limit, offset=offset)


def _detail(conn: Connection, profile: Profile, alarm_id: int, lang: str) -> AlarmDetail:
    row = q.get_alarm(conn=conn, city=profile.city.id, alarm_id=alarm_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no alarm {alarm_id}")
    events = [
        AlarmEvent(
            at=from_ms(e["at_ms"]),
            action=e["action"],
            by=e["actor"],
            comment=e["comment"],
            severity=e["severity"],
            value=e["value"],
        )
        for e in q.history(conn=conn, alarm_id=alarm_id)
    ]
    return AlarmDetail(**_alarm(row, profile, lang).model_dump(), history=events)


@router.get(
    "/{alarm_id}",
    response_model=AlarmDetail,
    summary="One alarm with its history",
    responses={404: {"description": "No such alarm"}},
)
def get_alarm(
    _who: ViewerDep, conn: ConnDep, profile: ProfileDep, alarm_id: AlarmId, lang: Annotated[Lang, Query()] = "id"
) -> AlarmDetail:
    return _detail(conn, profile, alarm_id, lang)


@dataclass(frozen=True, slots=True)
class Desk:
    """What an operator's write needs from its request: the app (to announce), the connection, profile, settings."""

    request: Request
    conn: Connection
    profile: Profile
    settings: Settings


async def get_desk(request: Request, conn: ConnDep, profile: ProfileDep, settings: SettingsDep) -> Desk:
    return Desk(request, conn, profile, settings)


DeskDep = Annotated[Desk, Depends(get_desk)]


def _operate(
    desk: Desk, who: Principal, alarm_id: int, action: Action, *, comment: str | None, lang: Lang
) -> AlarmDetail:
    """Run an operator's action in one transaction, audited; announce it after commit; the alarm as it is now."""
    conn, profile = desk.conn, desk.profile
    life = Lifecycle(profile, desk.settings.alarm_webhooks)
    try:
        with conn.begin():
            ch = operate(
                conn=conn,
                life=life,
                city=profile.city.id,
                alarm_id=alarm_id,
                action=action,
                by=who.name,
                comment=comment,
                now_ms=now_ms(),
            )
            record(
                conn=conn, actor=who.name, role=who.role, action=f"alarm.{action}", target=str(alarm_id), detail=comment
            )
    except AlarmNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no alarm {alarm_id}") from None
    except AlarmStateConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    announce(desk.request.app, [ch])
    return _detail(conn, profile, alarm_id, lang)


_WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such alarm"},
    409: {"description": "The alarm is not in a state this leaves"},
}


@router.post(
    "/{alarm_id}/ack", response_model=AlarmDetail, summary="Acknowledge (operator)", responses=_WRITE_RESPONSES
)
def ack_alarm(
    who: OperatorDep,
    desk: DeskDep,
    alarm_id: AlarmId,
    body: CommentIn | None = None,
    lang: Annotated[Lang, Query()] = "id",
) -> AlarmDetail:
    return _operate(desk, who, alarm_id, "ack", comment=body.comment if body else None, lang=lang)


@router.post(
    "/{alarm_id}/clear",
    response_model=AlarmDetail,
    summary="Clear by hand (operator); a condition that still holds raises a new alarm",
    responses=_WRITE_RESPONSES,
)
def clear_alarm(
    who: OperatorDep,
    desk: DeskDep,
    alarm_id: AlarmId,
    body: CommentIn | None = None,
    lang: Annotated[Lang, Query()] = "id",
) -> AlarmDetail:
    return _operate(desk, who, alarm_id, "clear", comment=body.comment if body else None, lang=lang)


@router.post(
    "/{alarm_id}/comment", response_model=AlarmDetail, summary="Comment (operator)", responses=_WRITE_RESPONSES
)
def comment_alarm(
    who: OperatorDep,
    desk: DeskDep,
    alarm_id: AlarmId,
    body: CommentRequired,
    lang: Annotated[Lang, Query()] = "id",
) -> AlarmDetail:
    return _operate(desk, who, alarm_id, "comment", comment=body.comment, lang=lang)
