"""Dash's own routes answer bad input with 4xx, not Dash's 500.

Dash turns any exception in its routes into a 500: a callback request from
someone not signed in, a body that is not a callback's (`{}`, `[]`, `null`,
not JSON), a callback id it does not have, a component-suite path that is not
one of its files (`../../etc/passwd`). This ASGI middleware, in front of Dash,
answers those itself:

- `POST /_dash-update-component`: 401 without a valid session (the cookie, or
  a bearer token), 400 for a body that is not a callback request of this app
  (a callback that runs in the browser included); the body it read is handed
  on to Dash unchanged. A callback that fails on the values sent (a list where
  it reads a dict: TypeError, ValueError, ...; `on_callback_error`, Dash's
  `on_error`, notes it) answers 400 instead of Dash's 500 (logged in one
  line); any other failure is logged with its traceback (Dash logs none).
  Smart Province: the callback is about the city its `X-SatuPintu-City` header names (assets/city.js sends
  the page's `?city=`; default the user's own city, else the home city): 400 for a city not served here, 403
  for one the user may not see; the callback runs with it set (dashboards.current).
- `GET /_dash-component-suites/<package>/<path>`: 404 unless it is a file
  Dash registered for the page (Dash serves nothing else either, but with 500).
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any

import orjson
from dash.fingerprint import check_fingerprint
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth.lookup import request_token
from app.http.errors import problem
from dashboards.current import HEADER, about, resolve

UPDATE = "/_dash-update-component"
SUITES = "/_dash-component-suites/"
# What a callback raises when the browser sent values of another shape than the page's components make.
BAD_VALUES = (TypeError, ValueError, AttributeError, KeyError, IndexError)

log = logging.getLogger(__name__)
_failures: ContextVar[list[Exception] | None] = ContextVar("dash_callback_failures", default=None)


def on_callback_error(error: Exception) -> None:
    """Dash's `on_error`: note the failure for DashGuard (which answers for it) and raise it on to Dash."""
    failures = _failures.get()
    if failures is not None:
        failures.append(error)
    raise error


async def _answer(send: Send, status: int, where: str, message: str) -> None:
    body = orjson.dumps({"detail": [problem(where, message, "dash_request")]})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _is_dependency(item: Any) -> bool:
    """One input or state entry: {id, property, ...}, or a list of them (a pattern-matching wildcard)."""
    if isinstance(item, list):
        return all(isinstance(i, dict) and "id" in i and isinstance(i.get("property"), str) for i in item)
    return isinstance(item, dict) and "id" in item and isinstance(item.get("property"), str)


def callback_problem(body: Any, callback_map: dict[str, dict]) -> str | None:
    """Why `body` is not a callback request of this app; None when it is one."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    output = body.get("output")
    if not isinstance(output, str) or output not in callback_map:
        return "'output' must name one of this app's callbacks"
    inputs, state = body.get("inputs"), body.get("state", [])
    if not isinstance(inputs, list) or not isinstance(state, list):
        return "'inputs' and 'state' must be lists"
    if not all(_is_dependency(i) for i in inputs + state):
        return "each input and state must be an object with 'id' and 'property'"
    cb = callback_map[output]
    if "callback" not in cb:
        return "'output' names a callback that runs in the browser"
    if len(inputs) != len(cb.get("inputs", inputs)) or len(state) != len(cb.get("state", state)):
        return "the inputs and state do not match the callback's"
    if not isinstance(body.get("changedPropIds", []), list):
        return "'changedPropIds' must be a list"
    expected, outputs = cb.get("output"), body.get("outputs")
    if cb.get("no_output"):
        return None
    if isinstance(expected, list):
        if not isinstance(outputs, list) or len(outputs) != len(expected) or not all(map(_is_dependency, outputs)):
            return "'outputs' must list the callback's outputs"
    elif not _is_dependency(outputs):
        return "'outputs' must be the callback's output"
    return None


class DashGuard:
    """See the module's docstring. `dash_app`: the Dash app whose routes are guarded; `api`: its FastAPI app."""

    def __init__(self, app: ASGIApp, dash_app: Any, api: Any) -> None:
        self.app, self.dash, self.api = app, dash_app, api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if path == UPDATE:
                return await self._update(scope, receive, send)
            if path.startswith(SUITES) and not self._registered(path[len(SUITES) :]):
                return await _answer(send, 404, "path", "not a file of the dashboard's components")
        await self.app(scope, receive, send)

    def _registered(self, rest: str) -> bool:
        package, _, fingerprinted = rest.partition("/")
        path, _ = check_fingerprint(fingerprinted)
        if ".." in path.split("/") or "\\" in path:
            return False
        self.dash._setup_server()  # noqa: SLF001 - idempotent; fills registered_paths before the first page
        return path in self.dash.registered_paths.get(package, ())

    async def _update(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            return await _answer(send, 405, "method", "callbacks are POSTed")
        headers = Headers(scope=scope)
        token = request_token(headers)
        state = self.api.state
        who = await state.token_cache.alookup(state.engine, token) if token else None
        if who is None:
            return await _answer(send, 401, "cookie", "sign in first")
        city = None
        deployment = getattr(state, "deployment", None)
        if deployment is not None and deployment.multi:
            city, status = resolve(deployment, who, headers.get(HEADER) or None)
            if status == 404:
                return await _answer(send, 400, HEADER, "not a city this deployment serves")
            if status == 403:
                return await _answer(send, 403, HEADER, f"this session is for city {who.city!r}, not {city!r}")
        chunks: list[bytes] = []
        while True:
            message = await receive()  # bounded by the body limit outside (app.api.security.BodyLimit)
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        raw = b"".join(chunks)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return await _answer(send, 400, "body", "the body is not JSON")
        why = callback_problem(body, self.dash.callback_map)
        if why is not None:
            return await _answer(send, 400, "body", why)
        sent = False
        failures: list[Exception] = []
        replaced = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()  # after the body: wait for the disconnect as Dash would
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}

        async def answer(message: Message) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and message["status"] >= 500 and failures:
                error = failures[-1]
                output = body["output"][:200]
                if isinstance(error, BAD_VALUES):  # one line: a client that sends garbage does not fill the log
                    log.warning(
                        "callback %s: 400, the values sent do not fit (%s: %s)", output, type(error).__name__, error
                    )
                    replaced = True
                    return await _answer(send, 400, "body", "the callback cannot use the values sent")
                log.error("callback %s failed", output, exc_info=(type(error), error, error.__traceback__))
            if not replaced:
                await send(message)

        token_ = _failures.set(failures)
        try:
            with about(city):
                await self.app(scope, replay, answer)
        finally:
            _failures.reset(token_)


class AssetCaching:
    """Cache-Control for the files in assets/: a year when the URL names their version (Dash's `?m=<mtime>`, our
    `?v=<content hash>`), else revalidated each time (StaticFiles' ETag), so a changed file is never served stale."""

    IMMUTABLE = b"public, max-age=31536000, immutable"

    def __init__(self, app: ASGIApp, prefix: str = "/assets/") -> None:
        self.app, self.prefix = app, prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            return await self.app(scope, receive, send)
        query = scope.get("query_string", b"")
        versioned = any(part.startswith((b"m=", b"v=")) for part in query.split(b"&"))

        async def cached(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (200, 304):
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
                headers.append((b"cache-control", self.IMMUTABLE if versioned else b"no-cache"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, cached)
