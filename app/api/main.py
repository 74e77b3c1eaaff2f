"""The FastAPI application: `/api/health`, `/api/v1/...`, `/metrics` and `/docs` in one ASGI app.

Each domain owns its routes (`app/<domain>/routes.py` and, for a domain with
several resources, `<resource>_routes.py`); `ROUTERS` below lists every one
of them by name, so the whole API reads from this file. A router whose
answers change only with some kinds of change declares it next to itself
(`depends_on`, app.live.notices.DependsOn): `DEPENDS_ON` gathers those
declarations for the response cache and the dashboard. The single window is
mounted on this app by the composition root (satupintu.web), not here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry
from prometheus_fastapi_instrumentator import Instrumentator

from app.alarms import (
    kpi_routes as alarm_kpis,
    routes as alarms,
    rule_routes as alarm_rules,
    shelf_routes as alarm_shelves,
    situation_routes as alarm_situations,
    webhook_routes as alarm_webhooks,
)
from app.alerts import cap_routes as cap_out, routes as alerts  # regional warnings (issue 12)
from app.api import health, live
from app.api.cache import CacheMiddleware, ResponseCache
from app.api.docs import install_docs
from app.api.metrics import IngestTotals, WebTotals
from app.api.security import BodyLimit, OriginGuard, SecureHeaders, script_hashes
from app.auth import routes as tokens, session_routes as sessions, user_routes as users
from app.auth.deps import caller_city, every_city, require
from app.auth.lookup import TokenCache
from app.catalogue import routes as catalogue
from app.cities import routes as cities  # Smart Province (issue 15)
from app.http.errors import problem
from app.incidents import routes as incidents, sop_routes as incident_sops
from app.integrators import routes as integrators
from app.live.hub import start_hub, stop_hub
from app.live.notices import Dependencies
from app.open311 import routes as open311  # citizen services (issue 14)
from app.open311.formats import Open311Error, error_response
from app.overview import routes as overview
from app.profile import load_deployment
from app.province import routes as province  # Smart Province (issue 15): the province view
from app.public import routes as public
from app.quarantine import routes as quarantine
from app.readings import routes as readings
from app.replay import routes as replay
from app.reports import incident_routes as incident_reports, routes as reports
from app.reports.printable import PRINT_SCRIPT
from app.seed import sync_profile
from app.services import routes as services
from app.settings import Settings, get_settings
from app.sources import routes as sources
from app.storage.engine import engine_from_settings
from app.storage.maintenance import optimize
from app.storage.migrate import upgrade
from app.tickets import routes as tickets

# Every router of the API, in the order requests are matched against them.
ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    alarms.router,
    alarm_rules.router,
    alarm_shelves.router,
    alarm_webhooks.router,
    alarm_kpis.router,
    catalogue.router,
    integrators.router,
    tokens.router,
    sessions.router,
    users.router,
    live.router,
    overview.router,
    quarantine.router,
    readings.router,
    replay.router,
    reports.router,
    services.router,
    sources.router,
    tickets.router,
    # regional warnings (issue 12)
    alerts.router,
    cap_out.router,
    # citizen services (issue 14)
    open311.router,
    open311.personal_router,
    public.router,
    cities.router,  # Smart Province (issue 15)
    province.router,  # Smart Province (issue 15): the province view
    # Incidents with SOPs (issue 13).
    incidents.router,
    incident_sops.router,
    incident_reports.router,
    # alarm management (issue 17): situations, the flood, stale and chattering alarms
    alarm_situations.router,
)
# What the answers of a path depend on, from the routers that declare it; the others depend on every change.
DEPENDS_ON = Dependencies(
    (
        readings.depends_on,
        sources.depends_on,
        tickets.depends_on,
        services.depends_on,
        quarantine.depends_on,
        alarms.depends_on,
        alarm_kpis.depends_on,
        alerts.depends_on,  # regional warnings (issue 12)
        incidents.depends_on,  # incidents (issue 13)
        # alarm management (issue 17)
        alarm_situations.depends_on,
        province.depends_on,  # Smart Province (issue 15): the province view
    )
)


def create_app(
    settings: Settings | None = None, *, migrate: bool = True, mounts: Sequence[Callable[[FastAPI], None]] = ()
) -> FastAPI:
    """The API application for `settings` (default: from the environment), with `mounts` added on it.

    Each mount (the composition root's: the dashboard) adds its routes and middleware before the web security
    middleware is added around everything, so whatever answers passes the origin rule, the body limit and the
    secure headers.
    """
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub = start_hub(app)  # the live channel's one broker subscription for this process
        cache = app.state.response_cache
        if cache is not None:
            hub.listeners.append(cache.on_event)  # change notices stale the cached answers that depend on them
            hub.before_announce.append(cache.refresh)  # which are computed again before clients hear of it
        yield
        stop_hub(app)
        open311.close_publisher(app)  # citizen services (issue 14)
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
    # Smart Province: every city of SATUPINTU_PROFILE; a request names its own (app.http.deps.get_city).
    api.state.deployment = load_deployment(settings.profile)
    api.state.profile = api.state.deployment.home  # the home city, for the parts that serve one city
    api.state.caller_city = caller_city  # get_city's default: the city of the caller's token
    api.state.engine = engine_from_settings(settings)
    if migrate:
        upgrade(api.state.engine)
        # The profiles' sources are listed (and show offline while silent) before the ingestor runs.
        with api.state.engine.begin() as conn:
            for profile in api.state.deployment.cities:
                sync_profile(conn=conn, profile=profile)
    optimize(api.state.engine)  # planner statistics, so reads take the right index from the first request
    api.state.depends_on = DEPENDS_ON
    api.state.token_cache = TokenCache(settings.api_token_cache_s, serves=api.state.deployment.ids)
    api.state.response_cache = (
        ResponseCache(
            api.state.deployment.home.city.id,
            settings.api_cache_s,
            refresh_wait_s=settings.api_cache_refresh_wait_s,
            cities=api.state.deployment.ids,
        )  # Smart Province: answers kept per city, staled by their own city's notices
        if settings.api_cache_s > 0
        else None
    )
    # Added first, so inside CORS (whose headers depend on the caller's Origin) and the metrics (which count hits).
    api.add_middleware(CacheMiddleware)
    if settings.cors_origins:
        api.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    install_docs(api, api.state.csp_script_hashes)
    api.state.csp_script_hashes.extend(script_hashes(f"<script>{PRINT_SCRIPT}</script>"))  # the report's print button
    for router in ROUTERS:
        api.include_router(router)

    @api.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # A readable 422: which parameter, and what is wrong with it.
        problems = [problem(".".join(str(p) for p in e["loc"]), e["msg"], e["type"]) for e in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": problems})

    @api.exception_handler(HTTPException)
    async def _http(_request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content={"detail": exc.detail}, headers=exc.headers)

    @api.exception_handler(Open311Error)  # citizen services (issue 14): the GeoReport v2 error list
    async def _open311(_request: Request, exc: Open311Error) -> Response:
        return error_response(exc)

    # A registry of the app's own: several apps in one process (tests) must not clash.
    registry = CollectorRegistry()
    registry.register(IngestTotals(api.state.engine, *api.state.deployment.ids))  # every city of the deployment
    registry.register(WebTotals(api.state.engine, api.state.response_cache))
    # /metrics takes any valid API token (a viewer one is enough): Prometheus sends it as a bearer token.
    Instrumentator(excluded_handlers=["/metrics", "/api/v1/live.*"], registry=registry).instrument(api).expose(
        api,
        include_in_schema=False,
        dependencies=[Depends(require("viewer")), Depends(every_city)],  # Smart Province: every city's counts
    )
    for mount in mounts:  # the composition root's parts on this app (satupintu.web: the single window)
        mount(api)

    # Web security and transfer, outermost (added last): whatever answers, Dash's routes included, passes them.
    api.add_middleware(OriginGuard, trusted=settings.csrf_trusted_origins)
    api.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    tiles = urlsplit(settings.map_tile_url) if settings.map_tile_url else None
    api.add_middleware(
        SecureHeaders,
        script_hashes=api.state.csp_script_hashes,
        frame_ancestors=settings.frame_ancestors,
        extra_sources=[f"{tiles.scheme}://{tiles.netloc}"] if tiles else [],
        allow_eval=tiles is not None,
    )
    # Text answers over 1 KB compressed; the SSE stream is excluded by the middleware, WebSockets are not HTTP.
    api.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=6)
    return api
