"""Dependencies every route uses: settings, profile, and a database connection (the caller's role: app.auth.deps)."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request, status
from sqlalchemy import Connection, Engine

from app.profile import ID_PATTERN, Deployment, Profile
from app.settings import Settings

__all__ = [
    "CityDep",
    "ConnDep",
    "DeploymentDep",
    "EngineDep",
    "ProfileDep",
    "SettingsDep",
    "get_city",
    "get_conn",
    "get_engine",
]


async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


async def get_deployment(request: Request) -> Deployment:
    return request.app.state.deployment


async def get_city(
    request: Request,
    city: Annotated[
        str | None,
        Query(
            pattern=ID_PATTERN,
            description="The city (GET /api/v1/cities) this request is about; default: the city the token is "
            "scoped to, else the deployment's first city",
        ),
    ] = None,
) -> str:
    """The city a request is about (Smart Province: one deployment serves several); 404 for one it does not serve.

    Without `?city=` it is the caller's own city when the token is scoped to one, so a Ternate operator's tools
    need not name it; else the deployment's first (home) city. Whether the caller may see that city is
    app.auth.deps's check, which depends on this.
    """
    deployment: Deployment = request.app.state.deployment
    if city is None:
        city = await _token_city(request) or deployment.home.city.id
    if deployment.get(city) is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"city {city!r} is not served here (this deployment serves {', '.join(deployment.ids)})",
        )
    return city


async def _token_city(request: Request) -> str | None:
    """The city the caller's token is scoped to, when it is one this deployment serves (else None)."""
    deployment: Deployment = request.app.state.deployment
    if not deployment.multi:
        return None
    lookup = getattr(request.app.state, "caller_city", None)  # installed by app.api.main (auth sits above http)
    city = await lookup(request) if lookup else None
    return city if isinstance(city, str) and deployment.get(city) is not None else None


async def get_profile(request: Request, city: Annotated[str, Depends(get_city)]) -> Profile:
    """The profile of the request's city (its time zone, catalogue, rules and SLAs)."""
    profile: Profile | None = request.app.state.deployment.get(city)
    if profile is None:  # get_city answered 404 already; kept for the type
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"city {city!r} is not served here")
    return profile


async def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_conn(request: Request, engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Connection]:
    """A connection for the request; a route that writes opens `with conn.begin():` itself.

    For a write (not GET/HEAD) on SQLite the transaction takes the write lock up front (BEGIN IMMEDIATE, as
    `app.storage.engine.writing` does): a deferred one that reads first failed at once with "database is locked"
    (a 500) when the ingestor was writing, instead of waiting for the busy timeout. Not for an `async def` route
    (the dry run `POST /api/v1/validate`, which only reads): waiting for the lock would hold up the event loop.
    """
    route = request.scope.get("route")
    sync = not inspect.iscoroutinefunction(getattr(route, "endpoint", None))
    with engine.connect() as conn:
        immediate = conn.dialect.name == "sqlite" and request.method not in ("GET", "HEAD") and sync
        yield conn.execution_options(sqlite_begin="IMMEDIATE") if immediate else conn


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
ProfileDep = Annotated[Profile, Depends(get_profile)]
CityDep = Annotated[str, Depends(get_city)]
DeploymentDep = Annotated[Deployment, Depends(get_deployment)]
EngineDep = Annotated[Engine, Depends(get_engine)]
ConnDep = Annotated[Connection, Depends(get_conn)]
