"""`GET /api/v1/live` (server-sent events) and `/api/v1/live/ws` (WebSocket): the live push channel.

Both carry the same events from the process's one hub (app.live.hub):
`hello`, `changes`, `resync`, `heartbeat`. A client re-reads through the
API what a `changes` event names, and everything after a `resync`. The
channel's HTTP face lives with the API (like health and metrics), so app.live
(hub, events, notices) never imports app.api.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Annotated

from fastapi import APIRouter, Query, Request, WebSocket
from fastapi.responses import StreamingResponse

from app.api.security import origin_allowed, trusted_origins
from app.auth.deps import ViewerDep, every_city_or
from app.auth.lookup import TOKEN_COOKIE
from app.auth.tokens import ALL_CITIES, Principal
from app.http.deps import CityDep
from app.live.events import SSE_RETRY
from app.live.hub import Cities, start_hub
from app.profile import ID_PATTERN, Deployment

router = APIRouter(prefix="/api/v1/live", tags=["live"])

WS_UNAUTHORIZED = 4401  # 4000-4999 are the application's; 4401 mirrors HTTP 401


def streamed(deployment: Deployment, city: str | None) -> Cities:
    """What a client streams (Smart Province): `city`, or for None every city of a deployment of several.

    A one-city deployment streams every notice to a caller of every city, as before cities.
    """
    if city is not None:
        return city
    return deployment.ids if deployment.multi else None


@router.get(
    "",
    summary="Live changes as server-sent events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "An endless event stream"}},
)
async def live_sse(request: Request, who: ViewerDep, city: CityDep) -> StreamingResponse:
    """Events `hello`, `changes`, `resync` and `heartbeat` (every 15 s), each `data:` a JSON object with its `type`.

    Smart Province: a token scoped to a city streams that city's changes; one of every city (province-wide or
    '*') streams the city it names with `?city=`, or every city of the deployment when it names none.
    """
    hub = start_hub(request.app)
    cities = streamed(request.app.state.deployment, every_city_or(request, who, city))

    async def body() -> AsyncIterator[bytes]:
        yield SSE_RETRY
        async with aclosing(hub.stream(cities)) as stream:
            async for ev in stream:
                yield ev.sse

    # X-Accel-Buffering: a reverse proxy (nginx) must pass each event on at once.
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(body(), media_type="text/event-stream", headers=headers)


WS_FORBIDDEN = 4403  # mirrors HTTP 403


async def _authenticate(ws: WebSocket, token: str | None) -> Principal | None:
    token = token or ws.cookies.get(TOKEN_COOKIE)
    if not token:
        return None
    who: Principal | None = await ws.app.state.token_cache.alookup(ws.app.state.engine, token)
    return who


def _refusal(deployment: Deployment, who: Principal, city: str | None) -> str | None:
    """Why `who` may not stream `city` (as get_principal answers HTTP 403 or get_city 404), or None."""
    if city is None:
        return None
    if deployment.get(city) is None:
        return f"city {city!r} is not served here (this deployment serves {', '.join(deployment.ids)})"
    if not who.serves(city):
        return f"this token is for city {who.city!r}, not {city!r}"
    return None


def _ws_city(deployment: Deployment, who: Principal, city: str | None) -> str | None:
    """The WebSocket's city as the HTTP routes pick it: the one named, else the token's own, else every city."""
    if city is not None:
        return city
    return who.city if who.city not in (None, ALL_CITIES) and deployment.get(who.city) is not None else None


def _foreign(ws: WebSocket, token: str | None) -> bool:
    """A socket the session cookie would authorize, opened by a page of another origin (as writes are refused)."""
    if token or TOKEN_COOKIE not in ws.cookies:
        return False
    trusted = trusted_origins(ws.app.state.settings.csrf_trusted_origins)
    return origin_allowed(ws.scope, trusted) is not True


@router.websocket("/ws")
async def live_ws(
    ws: WebSocket,
    city: Annotated[
        str | None,
        Query(
            pattern=ID_PATTERN,
            description="Only this city's changes; default: the token's city, else every city the caller may see",
        ),
    ] = None,
    token: Annotated[str | None, Query(description="A token, for clients that cannot send the cookie")] = None,
) -> None:
    """The same events as `GET /api/v1/live`, one JSON text frame each; closes with 4401 without a valid token."""
    foreign = _foreign(ws, token)
    who = None if foreign else await _authenticate(ws, token)
    await ws.accept()
    if foreign:
        await ws.close(WS_FORBIDDEN, "the session cookie is only accepted from this app's own pages (Origin)")
        return
    if who is None:
        # Accept first, then close: a refused handshake reaches a browser as a bare 403
        # without a reason, a close code it can read.
        await ws.close(WS_UNAUTHORIZED, "a valid API token is required (?token= or the session cookie)")
        return
    deployment: Deployment = ws.app.state.deployment
    refused = _refusal(deployment, who, city)
    if refused:  # Smart Province: a token of another city, as the HTTP routes answer 403
        await ws.close(WS_FORBIDDEN, refused[:120])  # a close reason is at most 123 bytes
        return
    cities = streamed(deployment, _ws_city(deployment, who, city))
    hub = start_hub(ws.app)

    async def pump() -> None:
        async with aclosing(hub.stream(cities)) as stream:
            async for ev in stream:
                await ws.send_text(ev.text)

    async def until_closed() -> None:
        while (await ws.receive())["type"] != "websocket.disconnect":
            pass  # clients have nothing to say; their frames are ignored

    sender, listener = asyncio.create_task(pump()), asyncio.create_task(until_closed())
    try:
        await asyncio.wait({sender, listener}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in (sender, listener):
            t.cancel()
        await asyncio.gather(sender, listener, return_exceptions=True)
    if sender.done() and not sender.cancelled() and sender.exception() is None:
        # The hub ended the stream: the server is shutting down (the client reconnects).
        await ws.close(1001, "the server is shutting down")
