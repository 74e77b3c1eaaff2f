"""Admin routes for users who sign in with a password (`/api/v1/users`); every write is in the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import BaseModel, Field

from app.auth.audit import record
from app.auth.deps import AdminDep
from app.auth.passwords import MAX_LENGTH, MIN_LENGTH
from app.auth.scope import CITY_SCOPE_PATTERN, check_agency, check_city, covers
from app.auth.tokens import Role
from app.auth.users import (
    USERNAME_PATTERN,
    UserError,
    create_user,
    get_user,
    list_users,
    new_password_hash,
    set_agency,
    set_disabled,
    set_password,
    set_role,
)
from app.http.deps import ConnDep, DeploymentDep, ProfileDep
from app.http.errors import unprocessable
from app.http.timefmt import from_ms
from app.storage.models import UserRow

router = APIRouter(prefix="/api/v1/users", tags=["admin"])
Username = Annotated[str, Path(pattern=USERNAME_PATTERN, description="lower case, e.g. sari")]


class UserOut(BaseModel):
    username: str
    role: Role
    created_at: datetime
    password_changed_at: datetime
    last_login_at: datetime | None
    disabled_at: datetime | None
    agency: str | None = Field(None, description="The agency the user works for; None: city-wide")
    city: str | None = Field(
        None, description="The one city they may see; '*': every city, acting on each; None: a province user"
    )


AGENCY_FIELD = Field(
    None,
    max_length=64,
    description="Scope the user to one of the profile's agencies: an admin scoped to an agency reads the personal "
    "data of that agency's Open311 requests (city-wide admins do not). None: city-wide",
    examples=["dinas-pupr"],
)


class UserIn(BaseModel):
    username: str = Field(pattern=USERNAME_PATTERN, examples=["sari"])
    role: Role
    password: str = Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH)
    agency: str | None = AGENCY_FIELD
    city: str | None = Field(
        None,
        pattern=CITY_SCOPE_PATTERN,
        description="Smart Province: the one city it may see and act on (every route, the live channel, the "
        "window); '*': every city, acting on each; none: every city, read-only when the deployment serves several "
        "(a province user). An admin scoped to a city grants that city only, and its users are of that city when "
        "none is named",
    )


class UserPatch(BaseModel):
    role: Role | None = None
    password: str | None = Field(None, min_length=MIN_LENGTH, max_length=MAX_LENGTH)
    disabled: bool | None = None
    agency: str | None = AGENCY_FIELD  # sent as null: city-wide again; left out: unchanged


def _out(u: UserRow) -> UserOut:
    return UserOut(
        username=u.username,
        role=u.role,
        created_at=from_ms(u.created_ms),
        password_changed_at=from_ms(u.password_changed_ms),
        last_login_at=from_ms(u.last_login_ms),
        disabled_at=from_ms(u.disabled_ms),
        agency=u.agency,
        city=u.city,
    )


@router.get("", response_model=list[UserOut], summary="Users who sign in with a password, by name (admin)")
def get_users(who: AdminDep, conn: ConnDep, deployment: DeploymentDep) -> list[UserOut]:
    # Smart Province: an admin of one city lists that city's users only.
    return [_out(u) for u in list_users(conn=conn) if covers(who, u.city, multi=deployment.multi)]


@router.post(
    "",
    response_model=UserOut,
    status_code=201,
    summary="Create a user (admin)",
    responses={409: {"description": "The username is taken"}},
)
def post_user(who: AdminDep, conn: ConnDep, profile: ProfileDep, deployment: DeploymentDep, body: UserIn) -> UserOut:
    check_agency(who, profile, body.agency)
    city = check_city(who, deployment, body.city)
    try:
        password_hash = new_password_hash(body.password)  # before the transaction: it takes a while
    except UserError as exc:
        raise unprocessable("body.password", str(exc)) from exc
    with conn.begin():
        if get_user(conn=conn, username=body.username) is not None:
            raise HTTPException(status.HTTP_409_CONFLICT, detail=f"the username {body.username!r} is taken")
        user = create_user(
            conn=conn,
            username=body.username,
            role=body.role,
            password_hash=password_hash,
            agency=body.agency,
            city=city,
        )
        detail = f"{body.role}; agency {body.agency}" if body.agency else body.role
        if city is not None:
            detail += f"; city {city}"
        record(conn=conn, actor=who.name, role=who.role, action="user.create", target=user.username, detail=detail)
    return _out(user)


@router.patch(
    "/{username}",
    response_model=UserOut,
    summary="Change a user's role, agency or password, or disable or enable them (admin); ends their sessions",
    responses={404: {"description": "No such user"}, 409: {"description": "Disabling yourself"}},
)
def patch_user(
    *, who: AdminDep, conn: ConnDep, profile: ProfileDep, deployment: DeploymentDep, username: Username, body: UserPatch
) -> UserOut:
    new_agency = "agency" in body.model_fields_set
    if new_agency:
        check_agency(who, profile, body.agency)
    try:
        password_hash = new_password_hash(body.password) if body.password is not None else None
    except UserError as exc:
        raise unprocessable("body.password", str(exc)) from exc
    with conn.begin():
        user = get_user(conn=conn, username=username)
        if user is None or not covers(who, user.city, multi=deployment.multi):  # another city's: not this admin's
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no user called {username!r}")
        if body.disabled and who.user_id == user.id:
            raise HTTPException(status.HTTP_409_CONFLICT, detail="refusing to disable the user you are signed in as")
        changes = []
        if body.role is not None and body.role != user.role:
            ended = set_role(conn=conn, username=username, role=body.role)
            changes.append(("user.role", f"{user.role} -> {body.role}; {ended} sessions ended"))
        if new_agency and body.agency != user.agency:
            ended = set_agency(conn=conn, username=username, agency=body.agency)
            was, now = user.agency or "city-wide", body.agency or "city-wide"
            changes.append(("user.agency", f"{was} -> {now}; {ended} sessions ended"))
        if password_hash is not None:
            ended = set_password(conn=conn, username=username, password_hash=password_hash)
            changes.append(("user.password", f"{ended} sessions ended"))
        if body.disabled is not None and body.disabled != (user.disabled_ms is not None):
            ended = set_disabled(conn=conn, username=username, disabled=body.disabled)
            changes.append(("user.disable", f"{ended} sessions ended") if body.disabled else ("user.enable", None))
        for action, detail in changes:
            record(conn=conn, actor=who.name, role=who.role, action=action, target=user.username, detail=detail)
        user = get_user(conn=conn, username=username)
    return _out(user)
