"""The FastAPI application: `/api/health`, `/api/v1/...`, `/metrics` and `/docs` in one ASGI app.

Each domain owns its routes in `app/<domain>/routes.py` (a module-level
`router`); they are included here in name order, so adding a domain needs no
edit of this file.
"""

from __future__ import annotations

import importlib
import pkgutil
from importlib.metadata import entry_points
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry
from prometheus_fastapi_instrumentator import Instrumentator

import app as app_pkg
from app.api.cache import CacheMiddleware, ResponseCache
from app.api.deps import require
from app.api.docs import install_docs
from app.api.errors import problem
from app.api.health import router as health_router
from app.api.metrics import IngestTotals, WebTotals
from app.api.security import BodyLimit, OriginGuard, SecureHeaders
from app.auth.lookup import TokenCache
from app.live.hub import start_hub, stop_hub
from app.profile import load_profile
from app.settings import Settings, get_settings
from app.storage.engine import engine_from_settings
from app.storage.maintenance import optimize
from app.storage.migrate import upgrade
from app.storage.seed import sync_profile


def domain_routers() -> list:
    """The `router` of every `app/<domain>/routes.py`, in name order."""
    routers = []
    for mod in sorted(pkgutil.iter_modules(app_pkg.__path__), key=lambda m: m.name):
        if not mod.ispkg:
            continue
        try:
            routes = importlib.import_module(f"app.{mod.name}.routes")
        except ModuleNotFoundError as exc:
            if exc.name != f"app.{mod.name}.routes":
                raise
            continue
        routers.append(routes.router)
    return routers


def create_app(settings: Settings | None = None, *, migrate: bool = True) -> FastAPI:
    """The API application for `settings` (default: from the environment)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        hub = start_hub(app)  # the live channel's one broker subscription for this process
        cache = app.state.response_cache
        if cache is not None:
            hub.listeners.append(cache.on_event)  # change notices stale the cached answers that depend on them
            hub.before_announce.append(cache.refresh)  # which are computed again before clients hear of it
        yield
        stop_hub(app)
        app.state.engine.dispose()

    api = FastAPI(
        title="SatuPintu API",
        version="1",
        summary="Real-time command center for a regency: sensors, public services, alarms.",
        description="All times are ISO 8601 in UTC. Every route but `/api/health` and `/api/v1/auth/login` needs a "
        "token (`Authorization: Bearer <token>`): an API token, or the session token that signing in with a username "
        "and password returns; roles: viewer (read), operator (alarms), admin (configuration).",
        lifespan=lifespan,
        docs_url=None,  # served from local files below (app.api.docs): no CDN
        redoc_url=None,
    )
    api.state.settings = settings
    api.state.csp_script_hashes = []  # inline scripts the Content-Security-Policy allows (docs, dashboard)
    api.state.profile = load_profile(settings.profile)
    api.state.engine = engine_from_settings(settings)
    if migrate:
        upgrade(api.state.engine)
        # The profile's sources are listed (and show offline while silent) before the ingestor runs.
        with api.state.engine.begin() as conn:
            sync_profile(conn=conn, profile=api.state.profile)
    optimize(api.state.engine)  # planner statistics, so reads take the right index from the first request
    api.state.token_cache = TokenCache(settings.api_token_cache_s)
    api.state.response_cache = (
        ResponseCache(api.state.profile.city.id, settings.api_cache_s) if settings.api_cache_s > 0 else None
    )
    # Added first, so inside CORS (whose headers depend on the caller's Origin) and the metrics (which count hits).
    api.add_middleware(CacheMiddleware)
    if settings.cors_origins:
        api.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )  # fmt: skip
    api.include_router(health_router)
    install_docs(api, api.state.csp_script_hashes)
    for router in domain_routers():
        api.include_router(router)

    @api.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # A readable 422: which parameter, and what is wrong with it.
        problems = [problem(".".join(str(p) for p in e["loc"]), e["msg"], e["type"]) for e in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": problems})

    @api.exception_handler(HTTPException)
    async def _http(_request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content={"detail": exc.detail}, headers=exc.headers)

    # A registry of the app's own: several apps in one process (tests) must not clash.
    registry = CollectorRegistry()
    registry.register(IngestTotals(api.state.engine, api.state.profile.city.id))
    registry.register(WebTotals(api.state.engine, api.state.response_cache))
    # /metrics takes any valid API token (a viewer one is enough): Prometheus sends it as a bearer token.
    Instrumentator(excluded_handlers=["/metrics", "/api/v1/live.*"], registry=registry).instrument(api).expose(
        api, include_in_schema=False, dependencies=[Depends(require("viewer"))]
    )
    for plugin in entry_points(group="satupintu.web"):  # the dashboard mounts itself; app never imports it
        plugin.load()(api)

    # Web security and transfer, outermost (added last): whatever answers, Dash's routes included, passes them.
    api.add_middleware(OriginGuard, trusted=settings.csrf_trusted_origins)
    api.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    tiles = urlsplit(settings.map_tile_url) if settings.map_tile_url else None
    api.add_middleware(
        SecureHeaders, script_hashes=api.state.csp_script_hashes, frame_ancestors=settings.frame_ancestors,
        extra_sources=[f"{tiles.scheme}://{tiles.netloc}"] if tiles else [], allow_eval=tiles is not None,
    )  # fmt: skip
    # Text answers over 1 KB compressed; the SSE stream is excluded by the middleware, WebSockets are not HTTP.
    api.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=6)
    return api
