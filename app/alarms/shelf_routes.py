"""Shelving over HTTP (`/api/v1/alarm-shelves`): the shelves in force (viewer); shelve and unshelve (admin, audited)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import BaseModel, Field
from sqlalchemy import RowMapping

from app.alarms import shelves
from app.alarms.rule_store import rule_exists
from app.alarms.rules import RULE_ID_PATTERN
from app.auth.audit import record
from app.auth.deps import AdminDep, ViewerDep
from app.http.deps import ConnDep, ProfileDep
from app.http.errors import unprocessable
from app.http.timefmt import from_ms, now_ms
from app.profile import ID_PATTERN

router = APIRouter(prefix="/api/v1/alarm-shelves", tags=["alarms"])


class ShelfIn(BaseModel):
    rule_id: str | None = Field(
        None, pattern=RULE_ID_PATTERN, description="Shelve this rule (for every source, or for `source_id`)"
    )
    source_id: str | None = Field(
        None, pattern=ID_PATTERN, description="Shelve this source (for every rule, or for `rule_id`)"
    )
    minutes: int = Field(gt=0, le=30 * 24 * 60, description="For how long")
    reason: str = Field(min_length=3, max_length=500, pattern=r"^[^\x00]*$", description="Why: shown to every operator")


class ShelfOut(BaseModel):
    id: int
    rule_id: str | None
    source_id: str | None
    from_at: datetime
    until: datetime
    by: str
    reason: str
    ended_at: datetime | None


def _shelf_out(r: RowMapping) -> ShelfOut:
    return ShelfOut(
        id=r["id"],
        rule_id=r["rule_id"],
        source_id=r["source_id"],
        from_at=from_ms(r["from_ms"]),
        until=from_ms(r["until_ms"]),
        by=r["actor"],
        reason=r["reason"],
        ended_at=from_ms(r["ended_ms"]) if r["ended_ms"] else None,
    )


@router.get("", response_model=list[ShelfOut], summary="Rules and sources shelved now")
def list_shelves(_who: ViewerDep, conn: ConnDep, profile: ProfileDep) -> list[ShelfOut]:
    return [_shelf_out(r) for r in shelves.list_shelves(conn=conn, city=profile.city.id, now_ms=now_ms())]


@router.post(
    "",
    response_model=ShelfOut,
    status_code=status.HTTP_201_CREATED,
    summary="Shelve a rule, a source, or one rule for one source, for a period (admin); it raises nothing meanwhile",
)
def shelve(who: AdminDep, conn: ConnDep, profile: ProfileDep, body: ShelfIn) -> ShelfOut:
    if body.rule_id is None and body.source_id is None:
        raise unprocessable("rule_id", "name a rule_id, a source_id, or both")
    city = profile.city.id
    with conn.begin():
        if body.rule_id is not None and not rule_exists(conn=conn, city=city, rule_id=body.rule_id):
            raise unprocessable("rule_id", f"no rule {body.rule_id!r}")
        row = shelves.add_shelf(
            conn=conn,
            city=city,
            rule_id=body.rule_id,
            source_id=body.source_id,
            minutes=body.minutes,
            by=who.name,
            reason=body.reason.strip(),
            now_ms=now_ms(),
        )
        target = f"{body.rule_id or '*'}@{body.source_id or '*'}"
        record(
            conn=conn,
            actor=who.name,
            role=who.role,
            action="alarm.shelve",
            target=target,
            detail=f"{body.minutes} min: {body.reason}",
        )
    return _shelf_out(row)


@router.delete(
    "/{shelf_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Unshelve before the period ends (admin)",
    responses={404: {"description": "No such shelf in force"}},
)
def unshelve(who: AdminDep, conn: ConnDep, profile: ProfileDep, shelf_id: Annotated[int, Path(ge=1, le=2**62)]) -> None:
    with conn.begin():
        if not shelves.end_shelf(conn=conn, city=profile.city.id, shelf_id=shelf_id, now_ms=now_ms()):
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no shelf {shelf_id} in force")
        record(conn=conn, actor=who.name, role=who.role, action="alarm.unshelve", target=str(shelf_id))
