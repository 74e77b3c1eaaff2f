"""Sign-in routes: `POST /api/v1/auth/login` trades a username and password for a session token, `logout` ends it."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, Field

from app.auth.brake import brake_of
from app.auth.deps import ViewerDep
from app.auth.lookup import TOKEN_COOKIE
from app.auth.passwords import MAX_LENGTH
from app.auth.sessions import MAX_USERNAME, Refused, sign_in, sign_out
from app.auth.tokens import Role
from app.http.deps import ConnDep, EngineDep, SettingsDep
from app.http.timefmt import from_ms

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

WRONG = "wrong username or password"


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=MAX_USERNAME, examples=["sari"])
    password: str = Field(min_length=1, max_length=MAX_LENGTH)


class LoginOut(BaseModel):
    token: str = Field(description="Send as `Authorization: Bearer <token>`; only its hash is stored")
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    username: str
    role: Role
    expires_at: datetime = Field(description="The session ends then (setting `session_hours`); sign in again")


class LogoutOut(BaseModel):
    revoked: bool = Field(description="True when a session ended; an API token is left alone (revoke it as admin)")


def client_of(request: Request) -> str:
    """The caller's address; behind a reverse proxy listed in SATUPINTU_TRUSTED_PROXIES, the one it forwarded."""
    return request.client.host if request.client else "unknown"


@router.post(
    "/login",
    response_model=LoginOut,
    summary="Sign in with a username and password; returns a session token with the user's role",
    responses={
        401: {"description": "Wrong username or password (the same answer for an unknown or disabled user)"},
        429: {"description": "Too many failed sign-ins from this client or for this user: wait `Retry-After` seconds"},
        503: {"description": "Too many sign-ins being checked at once: retry after `Retry-After` seconds"},
    },
)
def login(body: LoginIn, request: Request, engine: EngineDep, settings: SettingsDep) -> LoginOut:
    # A plain `def`: checking a password takes a good part of a second of CPU, so it runs in the threadpool.
    got = sign_in(
        engine=engine,
        brake=brake_of(request.app.state, settings),
        username=body.username,
        password=body.password,
        client=client_of(request),
        session_s=settings.session_hours * 3600,
    )
    if isinstance(got, Refused):
        if got.busy:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                detail="too many sign-ins at once; try again in 1 s",
                headers={"Retry-After": "1"},
            )
        if got.retry_after_s > 0:
            wait = math.ceil(got.retry_after_s)
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                detail=f"too many failed sign-ins; try again in {wait} s",
                headers={"Retry-After": str(wait)},
            )
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail=WRONG)
    return LoginOut(token=got.token, username=got.username, role=got.role, expires_at=from_ms(got.expires_ms))


@router.post("/logout", response_model=LogoutOut, summary="End the caller's sign-in session (its token stops at once)")
def logout(who: ViewerDep, conn: ConnDep, request: Request, response: Response) -> LogoutOut:
    with conn.begin():
        revoked = sign_out(conn=conn, who=who)
    if TOKEN_COOKIE in request.cookies:
        response.delete_cookie(TOKEN_COOKIE, path="/")
    return LogoutOut(revoked=revoked)
