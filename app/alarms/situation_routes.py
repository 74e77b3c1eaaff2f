"""Situations over HTTP (`/api/v1/situations`): alarms that share a cause as one line, the flood and its
suppressed alarms, stale alarms and chattering shelves (viewer); a situation acknowledged at once (operator).

A situation is computed from the alarms (app.alarms.situations), so it changes exactly when they do: the
live channel's `alarms` notices make clients read it again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, status
from pydantic import BaseModel, Field

from app.alarms.routes import CommentIn, DeskDep, Lang
from app.alarms.situation_store import (
    Picture,
    SituationNotFound,
    acknowledge_situation,
    picture,
    shown,
    situation_title,
)
from app.alarms.situations import RANK, Situation
from app.alarms.store import Lifecycle
from app.auth.audit import record
from app.auth.deps import OperatorDep, ViewerDep
from app.http.deps import ConnDep, ProfileDep
from app.http.timefmt import from_ms, now_ms
from app.live.hub import announce
from app.live.notices import DependsOn
from app.profile import Profile, Severity

router = APIRouter(prefix="/api/v1/situations", tags=["alarms"])
depends_on = DependsOn("/api/v1/situations", frozenset({"alarms"}))
SituationId = Annotated[str, Path(pattern=r"^s-[0-9]{1,19}$", description="`s-` and its first alarm's id")]


class SituationOut(BaseModel):
    id: str = Field(description="`s-` and the id of its first alarm: stable while it lasts")
    title: str = Field(description="Hazard and district, the regional warning's headline, or the source")
    cause: Literal["hazard", "warning", "source", "alarm"]
    hazard: str | None
    district: str | None
    source_id: str | None = Field(description="The source (or regional warning) all its alarms share, if one")
    severity: Severity = Field(description="The worst among its open alarms (among all once none is open)")
    state: Literal["active", "acknowledged", "cleared"] = Field(
        description="active while any alarm is active; acknowledged when every open one is; else cleared"
    )
    alarm_count: int
    open_count: int
    by_severity: dict[Severity, int] = Field(description="Its open alarms by severity")
    alarm_ids: list[int] = Field(description="Oldest first")
    started_at: datetime
    last_raised_at: datetime


class FloodOut(BaseModel):
    active: bool
    count: int = Field(description="Alarms raised in the window ending now")
    threshold: int = Field(description="This many in the window is a flood (ISA-18.2: 10 in 10 minutes)")
    window_s: int
    since: datetime | None = Field(description="When this flood began")
    suppress_below: Severity = Field(description="In a flood, open alarms below this are hidden from the panel")
    suppressed_ids: list[int] = Field(description="Open alarms hidden meanwhile: kept, in history and replay")


class ChatteringOut(BaseModel):
    shelf_id: int
    rule: str | None
    source_id: str | None
    since: datetime
    until: datetime


class SituationsOut(BaseModel):
    at: datetime
    situations: list[SituationOut] = Field(description="Worst first, then newest")
    flood: FloodOut
    stale_ids: list[int] = Field(description="Alarms open for longer than `stale_after_s` (24 h)")
    chattering: list[ChatteringOut] = Field(description="Rule+source pairs shelved for chattering, in force")
    escalated: dict[int, int] = Field(description="Open alarm id -> the duty-rota level it was escalated to")


def _out(sit: Situation, pic: Picture, profile: Profile, lang: str) -> SituationOut:
    kind = sit.cause[0]
    source = sit.cause[1] if kind in ("warning", "source") else None
    return SituationOut(
        id=sit.id,
        title=situation_title(sit, pic, profile, lang),
        cause=kind,
        hazard=sit.cause[2] if kind == "hazard" else None,
        district=sit.district,
        source_id=source,
        severity=sit.severity,
        state=sit.state,
        alarm_count=len(sit.members),
        open_count=sum(1 for m in sit.members if m.open),
        by_severity=sit.by_severity(),
        alarm_ids=[m.id for m in sit.members],
        started_at=from_ms(sit.started_ms),
        last_raised_at=from_ms(sit.last_ms),
    )


def _order(s: Situation) -> tuple[bool, bool, int, int]:
    return (s.state != "active", s.state == "cleared", -RANK.get(s.severity, 0), -s.last_ms)


@router.get("", response_model=SituationsOut, summary="Situations, the flood, stale and chattering alarms")
def list_situations(
    *,
    _who: ViewerDep,
    conn: ConnDep,
    profile: ProfileDep,
    state: Annotated[Literal["active", "all"], Query(description="`all` adds those of the last day now cleared")] = (
        "active"
    ),
    lang: Annotated[Lang, Query()] = "id",
) -> SituationsOut:
    at = now_ms()
    pic = picture(conn=conn, profile=profile, now_ms=at)
    am = profile.alarm_management
    return SituationsOut(
        at=from_ms(at),
        situations=[_out(s, pic, profile, lang) for s in sorted(shown(pic, profile, state=state), key=_order)],
        flood=FloodOut(
            active=pic.flood.active,
            count=pic.flood.count,
            threshold=am.flood_count,
            window_s=am.flood_window_s,
            since=from_ms(pic.flood.since_ms) if pic.flood.since_ms is not None else None,
            suppress_below=am.flood_suppress_below,
            suppressed_ids=list(pic.flood.suppressed),
        ),
        stale_ids=list(pic.stale),
        chattering=[
            ChatteringOut(
                shelf_id=r["id"],
                rule=r["rule_id"],
                source_id=r["source_id"],
                since=from_ms(r["from_ms"]),
                until=from_ms(r["until_ms"]),
            )
            for r in pic.chattering
        ],
        escalated=dict(pic.paged),
    )


class SituationAcked(BaseModel):
    id: str
    acknowledged_ids: list[int] = Field(description="The alarms this acknowledged (those that were active)")


@router.post(
    "/{situation_id}/ack",
    response_model=SituationAcked,
    summary="Acknowledge every active alarm of a situation (operator), each in its own history",
    responses={404: {"description": "No such situation"}},
)
def ack_situation(
    who: OperatorDep, desk: DeskDep, situation_id: SituationId, body: CommentIn | None = None
) -> SituationAcked:
    conn, profile = desk.conn, desk.profile
    comment = body.comment if body else None
    life = Lifecycle(profile, desk.settings.alarm_webhooks)
    try:
        with conn.begin():
            _sit, changes = acknowledge_situation(
                conn=conn,
                life=life,
                profile=profile,
                situation_id=situation_id,
                by=who.name,
                comment=comment,
                now_ms=now_ms(),
            )
            acked = [ch.alarm_id for ch in changes]
            record(
                conn=conn,
                actor=who.name,
                role=who.role,
                action="situation.ack",
                target=situation_id,
                detail=f"alarms {acked}" + (f": {comment}" if comment else ""),
            )
    except SituationNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no situation {situation_id}") from None
    announce(desk.request.app, changes)
    return SituationAcked(id=situation_id, acknowledged_ids=acked)
