"""The auth domain's routes: tokens (`/api/v1/tokens`) and the audit log (`/api/v1/audit`).

Sign-in (app.auth.session_routes) and users (app.auth.user_routes) have routers of their own."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from app.auth.audit import record
from app.auth.deps import AdminDep
from app.auth.scope import CITY_SCOPE_PATTERN, check_agency, check_city, covers
from app.auth.tokens import SESSION_PREFIX, Role, create_token, list_tokens, revoke_token
from app.http.deps import ConnDep, DeploymentDep, ProfileDep
from app.http.errors import unprocessable
from app.http.fields import LABEL_PATTERN
from app.http.paging import Limit, Offset, Page
from app.http.timefmt import from_ms
from app.storage.models import AuditRow, TokenRow

router = APIRouter(prefix="/api/v1", tags=["admin"])


class TokenOut(BaseModel):
    id: int
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None
    expires_at: datetime | None = Field(None, description="Set on a user's sign-in session; API tokens do not expire")
    session_of: str | None = Field(None, description="The user whose sign-in session this is; None for an API token")
    agency: str | None = Field(None, description="The agency it speaks for; None: city-wide")
    city: str | None = Field(
        None, description="The one city it may see; '*': every city, acting on each; None: every city (read-only)"
    )


class TokenIn(BaseModel):
    name: str = Field(
        min_length=1, max_length=100, pattern=LABEL_PATTERN, description="Who or what uses it, e.g. 'wall display lt.2'"
    )
    role: Role
    agency: str | None = Field(
        None,
        max_length=64,
        description="Scope it to one of the profile's agencies: an admin scoped to an agency reads the personal data "
        "of that agency's Open311 requests (city-wide admins do not). None: city-wide",
        examples=["dinas-pupr"],
    )
    city: str | None = Field(
        None,
        pattern=CITY_SCOPE_PATTERN,
        description="Smart Province: the one city it may see and act on (every route, the live channel, the "
        "window); '*': every city, acting on each; none: every city, read-only when the deployment serves several "
        "(a province user). An admin scoped to a city grants that city only, and its tokens are of that city when "
        "none is named",
    )


class TokenCreated(TokenOut):
    token: str = Field(description="Shown only in this response; only its hash is stored")


class AuditOut(BaseModel):
    at: datetime
    actor: str
    role: str | None
    action: str
    target: str | None
    detail: str | None


def _token_out(r: TokenRow) -> TokenOut:
    return TokenOut(
        id=r.id,
        name=r.name,
        role=r.role,
        created_at=from_ms(r.created_ms),
        revoked_at=from_ms(r.revoked_ms),
        expires_at=from_ms(r.expires_ms),
        session_of=r.name.removeprefix(SESSION_PREFIX) if r.user_id else None,
        agency=r.agency,
        city=r.city,
    )


@router.get("/tokens", response_model=list[TokenOut], summary="API tokens, newest first (admin)")
def get_tokens(who: AdminDep, conn: ConnDep, deployment: DeploymentDep) -> list[TokenOut]:
    # Smart Province: an admin of one city lists that city's tokens only.
    return [_token_out(r) for r in list_tokens(conn=conn) if covers(who, r.city, multi=deployment.multi)]


@router.post("/tokens", response_model=TokenCreated, status_code=201, summary="Create a token (admin)")
def post_token(
    who: AdminDep, conn: ConnDep, profile: ProfileDep, deployment: DeploymentDep, body: TokenIn
) -> TokenCreated:
    check_agency(who, profile, body.agency)
    city = check_city(who, deployment, body.city)
    detail = f"{body.role}; agency {body.agency}" if body.agency else body.role
    if city is not None:
        detail += f"; city {city}"
    try:
        with conn.begin():
            token = create_token(conn=conn, name=body.name, role=body.role, agency=body.agency, city=city)
            record(conn=conn, actor=who.name, role=who.role, action="token.create", target=body.name, detail=detail)
    except ValueError as exc:
        raise unprocessable("body.name", str(exc)) from exc
    row = conn.execute(select(TokenRow).order_by(TokenRow.id.desc()).limit(1)).one()
    return TokenCreated(**_token_out(row).model_dump(), token=token)


@router.delete(
    "/tokens/{token_id}",
    status_code=204,
    summary="Revoke a token (admin)",
    responses={404: {"description": "No live token with that id"}, 409: {"description": "It is the last admin token"}},
)
def delete_token(
    who: AdminDep, conn: ConnDep, deployment: DeploymentDep, token_id: Annotated[int, Path(ge=1, le=2**62)]
) -> Response:
    with conn.begin():
        row = conn.execute(select(TokenRow).where(TokenRow.id == token_id, TokenRow.revoked_ms.is_(None))).first()
        if row is None or not covers(who, row.city, multi=deployment.multi):  # another city's: not this admin's
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no live token with id {token_id}")
        if row.role == "admin" and row.user_id is None:  # sessions end anyway; they do not keep anyone in
            admins = conn.execute(
                select(func.count()).where(
                    TokenRow.role == "admin", TokenRow.revoked_ms.is_(None), TokenRow.user_id.is_(None)
                )
            ).scalar()
            if admins <= 1:
                raise HTTPException(status.HTTP_409_CONFLICT, detail="refusing to revoke the last admin token")
        revoke_token(conn=conn, token_id=token_id)
        record(conn=conn, actor=who.name, role=who.role, action="token.revoke", target=f"{token_id} ({row.name})")
    return Response(status_code=204)


@router.get("/audit", response_model=Page[AuditOut], summary="The audit log of writes, newest first (admin)")
def get_audit(
    *,
    who: AdminDep,
    conn: ConnDep,
    deployment: DeploymentDep,
    action: Annotated[
        str | None, Query(pattern=r"^[a-z0-9_.]{1,64}$", description="e.g. token.create, open311.personal.read")
    ] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[AuditOut]:
    if not covers(who, None, multi=deployment.multi):
        # The log is the deployment's (its rows name no city): for an admin of every city, not of one.
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"the audit log covers every city of this deployment; your token is scoped to city {who.city}",
        )
    q = select(AuditRow)
    if action:
        q = q.where(AuditRow.action == action)
    total = conn.execute(select(func.count()).select_from(q.subquery())).scalar()
    rows = conn.execute(q.order_by(AuditRow.id.desc()).limit(limit).offset(offset)).all()
    items = [
        AuditOut(at=from_ms(r.ts_ms), actor=r.actor, role=r.role, action=r.action, target=r.target, detail=r.detail)
        for r in rows
    ]
    return Page[AuditOut](items=items, total=total, limit=limit, offset=offset)
