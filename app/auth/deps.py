"""The caller of a route and their role, as dependencies: `who: ViewerDep`, `OperatorDep`, `AdminDep`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth.lookup import TOKEN_COOKIE, request_token
from app.auth.tokens import ALL_CITIES, RANK, Principal, Role
from app.http.deps import CityDep

__all__ = [
    "AdminDep",
    "IntegratorDep",
    "OperatorDep",
    "ViewerDep",
    "caller_city",
    "every_city",
    "every_city_or",
    "get_principal",
    "require",
]
_bearer = HTTPBearer(auto_error=False, description="An API token (`satupintu token create`)")


async def caller_city(request: Request) -> str | None:
    """The city the caller's token is scoped to, if any (app.http.deps.get_city's default; no 401 here)."""
    token = request_token(request.headers)
    if not token:
        return None
    who = await request.app.state.token_cache.alookup(request.app.state.engine, token, any_city=True)
    return who.city if who is not None else None


async def get_principal(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    city: CityDep,
) -> Principal:
    """The caller, from `Authorization: Bearer <token>` or the dashboard's session cookie; else 401.

    Looked up through the process's token cache (app.auth.lookup): a token revoked through the API stops at
    once, one revoked elsewhere (the CLI) within the `api_token_cache_s` setting.
    """
    token = creds.credentials if creds else request.cookies.get(TOKEN_COOKIE)
    if token:
        who = await request.app.state.token_cache.alookup(request.app.state.engine, token, any_city=True)
        if who is not None:
            if not who.serves(city):  # Smart Province: a token scoped to another city sees nothing of this one
                raise HTTPException(
                    status.HTTP_403_FORBIDDEN, detail=f"this token is for city {who.city!r}, not {city!r}"
                )
            return who
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail="a valid API token is required (Authorization: Bearer <token>)",
        headers={"WWW-Authenticate": "Bearer"},
    )


def require(role: Role):  # noqa: ANN201 - a FastAPI dependency
    """A dependency that lets through callers with at least `role`; else 403."""

    async def check(request: Request, who: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if not who.may(role):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, detail=f"this needs the {role} role; your token is {who.role}"
            )
        if RANK[role] > RANK["viewer"] and who.read_only(multi=request.app.state.deployment.multi):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail="a province-wide token reads every city but acts on none: scope it to a city (--city ID), "
                "or to every city with --city '*'",
            )
        return who

    return check


IntegratorDep = Annotated[Principal, Depends(require("integrator"))]  # any valid token but a reporter's
ViewerDep = Annotated[Principal, Depends(require("viewer"))]
OperatorDep = Annotated[Principal, Depends(require("operator"))]
AdminDep = Annotated[Principal, Depends(require("admin"))]


def every_city_or(request: Request, who: Principal, city: str) -> str | None:
    """For the few answers that span cities (the live channel, the quarantine): None for "every city", else `city`.

    A caller who sees every city (a province-wide or '*' token, or any token of a one-city deployment as before
    cities) and names none with `?city=` gets every city; otherwise the request's city (its own, or the one it
    named, which get_principal checked it may see).
    """
    if "city" in request.query_params or who.city not in (None, ALL_CITIES):
        return city
    return None


async def every_city(request: Request, who: Annotated[Principal, Depends(get_principal)]) -> Principal:
    """For what spans every city of the deployment (`/metrics`): a token of one city is refused (403) when the
    deployment serves several; province-wide and '*' tokens pass, and every token of a one-city deployment."""
    if request.app.state.deployment.multi and who.city not in (None, ALL_CITIES):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"this covers every city of the deployment; your token is scoped to city {who.city}",
        )
    return who
