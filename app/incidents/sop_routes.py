"""SOPs over HTTP (`/api/v1/incident-sops`): read by everyone, replaced by admins (versioned, audited)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, HTTPException, Path, status
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import RowMapping

from app.auth.audit import record
from app.auth.deps import AdminDep, ViewerDep
from app.http.deps import ConnDep, ProfileDep
from app.http.errors import unprocessable
from app.http.timefmt import from_ms, now_ms
from app.incidents import sops
from app.profile import ID_PATTERN

router = APIRouter(prefix="/api/v1/incident-sops", tags=["incidents"])
SopId = Annotated[str, Path(pattern=ID_PATTERN)]


class SopOut(BaseModel):
    id: str
    body: dict[str, Any] = Field(description="The SOP: name, for (its default match), steps")
    origin: Literal["profile", "admin"]
    version: int = Field(description="Goes up with every edit; each version's body is in the audit log")
    updated_at: datetime
    updated_by: str | None


def _out(row: RowMapping) -> SopOut:
    return SopOut(
        id=row["sop_id"],
        body=orjson.loads(row["body"]),
        origin=row["origin"],
        version=row["version"],
        updated_at=from_ms(row["updated_ms"]),
        updated_by=row["updated_by"],
    )


@router.get("", response_model=list[SopOut], summary="The city's SOPs, one per incident type")
def list_sops(_who: ViewerDep, conn: ConnDep, profile: ProfileDep) -> list[SopOut]:
    return [_out(r) for r in sops.list_sops(conn=conn, city=profile.city.id)]


@router.put(
    "/{sop_id}",
    response_model=SopOut,
    summary="Create or replace an SOP (admin); open incidents keep the steps they copied",
    responses={422: {"description": "Not a valid SOP"}},
)
def put_sop(who: AdminDep, conn: ConnDep, profile: ProfileDep, sop_id: SopId, body: dict[str, Any]) -> SopOut:
    try:
        sop = sops.Sop.model_validate({**body, "id": sop_id})
        sops.check_agencies(sop, profile)
    except ValidationError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[{"loc": ["body", *map(str, e["loc"])], "msg": e["msg"], "type": e["type"]} for e in exc.errors()],
        ) from None
    except ValueError as exc:
        raise unprocessable("body.steps", str(exc)) from None
    city = profile.city.id
    with conn.begin():
        version = sops.save_sop(conn=conn, city=city, sop=sop, by=who.name, now_ms=now_ms())
        record(
            conn=conn,
            actor=who.name,
            role=who.role,
            action="incident_sop.put",
            target=f"{sop_id}@v{version}",
            detail=orjson.dumps(sop.body()).decode(),
        )
    row = next(r for r in sops.list_sops(conn=conn, city=city) if r["sop_id"] == sop_id)
    return _out(row)
