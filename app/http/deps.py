"""Dependencies every route uses: settings, profile, and a database connection (the caller's role: app.auth.deps)."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection, Engine

from app.profile import Profile
from app.settings import Settings

__all__ = ["ConnDep", "EngineDep", "ProfileDep", "SettingsDep", "get_conn", "get_engine"]


async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


async def get_profile(request: Request) -> Profile:
    return request.app.state.profile


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
EngineDep = Annotated[Engine, Depends(get_engine)]
ConnDep = Annotated[Connection, Depends(get_conn)]
