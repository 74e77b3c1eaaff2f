"""What every request and answer of the web process goes through: the origin rule, the body limit, the headers.

- `OriginGuard` refuses (403) a write (POST/PUT/PATCH/DELETE) that the
  session cookie would authorize when it comes from a page of another origin:
  its `Origin` (or, absent, its `Referer`) must be the app's own
  (scheme://host:port of the request) or one of `csrf_trusted_origins`. A
  browser always sends `Origin` with a POST; a write with the cookie and
  neither header is refused too. A call with `Authorization: Bearer` (which a
  page of another origin cannot add without CORS) and no cookie is not
  concerned. The sign-in and sign-out forms are checked even without a cookie
  (no page elsewhere may sign a browser in as somebody else). SameSite=Strict
  alone does not do this: a page on another port of the same host is the
  same *site*.
- `BodyLimit` answers 413 to a body over `max_body_bytes` before reading it
  (by its Content-Length) or as soon as a chunked body passes it.
- `SecureHeaders` adds the Content-Security-Policy and its companions to every
  answer. A small middleware rather than a library (`secure`): the script
  hashes are known only once the dashboard is built (Dash's inline renderer
  start, the docs page's), and the policy's sources depend on settings.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

import orjson
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth.lookup import bearer_token, cookie_token
from app.http.errors import problem

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORMS = frozenset({"/login", "/logout"})
_DEFAULT_PORT = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_AS_HTTP = {"ws": "http", "wss": "https"}

Origin = tuple[str, str, int]


def parse_origin(url: str) -> Origin | None:
    """(scheme, host, port) of an origin or URL; None for `null` or anything unparsable."""
    try:
        u = urlsplit(url.strip())
        scheme = _AS_HTTP.get(u.scheme.lower(), u.scheme.lower())
        if scheme not in ("http", "https") or not u.hostname:
            return None
        return scheme, u.hostname.lower(), u.port or _DEFAULT_PORT[scheme]
    except ValueError:
        return None


def own_origin(scope: Scope) -> Origin | None:
    """The origin the request was sent to: its scheme and its Host header."""
    host = Headers(scope=scope).get("host")
    scheme = _AS_HTTP.get(scope.get("scheme", "http"), scope.get("scheme", "http"))
    return parse_origin(f"{scheme}://{host}") if host else None


def request_origin(headers: Headers) -> str | None:
    """Where the request comes from: its Origin header, else its Referer."""
    return headers.get("origin") or headers.get("referer")


def origin_allowed(scope: Scope, trusted: Iterable[Origin]) -> bool | None:
    """True when the request comes from the app's own origin or a trusted one; None when it does not say."""
    said = request_origin(Headers(scope=scope))
    if said is None:
        return None
    came = parse_origin(said)
    return came is not None and (came == own_origin(scope) or came in set(trusted))


def trusted_origins(urls: Iterable[str]) -> frozenset[Origin]:
    parsed = {parse_origin(u) for u in urls}
    return frozenset(o for o in parsed if o is not None)


async def _refuse(send: Send, status: int, where: str, message: str, kind: str) -> None:
    body = orjson.dumps({"detail": [problem(where, message, kind)]})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class OriginGuard:
    """403 for a cookie-authorized write from another origin (see the module's docstring)."""

    def __init__(self, app: ASGIApp, trusted: Sequence[str] = ()) -> None:
        self.app = app
        self.trusted = trusted_origins(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in UNSAFE and not self.allowed(scope):
            return await _refuse(
                send,
                403,
                "header.origin",
                "a write with the session cookie must come from this app's own pages (Origin or Referer)",
                "csrf",
            )
        await self.app(scope, receive, send)

    def allowed(self, scope: Scope) -> bool:
        headers = Headers(scope=scope)
        cookie = cookie_token(headers) is not None
        if scope["path"] not in FORMS and (bearer_token(headers) or not cookie):
            return True  # authorized by a header that a page of another origin cannot set, or not at all
        ok = origin_allowed(scope, self.trusted)
        return ok if ok is not None else not cookie  # no Origin and no Referer: fine only without the cookie


class BodyTooLarge(HTTPException):
    """A request body over the limit; an HTTPException so FastAPI's routes answer it as 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


class BodyLimit:
    """413 for a request body over `limit` bytes: by Content-Length before reading, or while a chunked one streams."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = Headers(scope=scope).get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            return await self._too_large(send)
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watch)
        except BodyTooLarge:
            if started:
                raise
            await self._too_large(send)

    async def _too_large(self, send: Send) -> None:
        await _refuse(send, 413, "body", f"the request body is larger than {self.limit} bytes", "too_large")


_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>(.*?)</script>", re.S | re.I)


def script_hashes(page: str) -> list[str]:
    """CSP sources ('sha256-...') of the inline scripts of an HTML page."""
    return [
        f"'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'"
        for body in _SCRIPT.findall(page)
        if body.strip()
    ]


class SecureHeaders:
    """Content-Security-Policy, nosniff, Referrer-Policy, frame rules and (over HTTPS) HSTS on every answer.

    `script_hashes` is a list the app fills as inline scripts are known (the
    dashboard's, the docs'); it is read for each answer. `extra_sources` are
    origins the page may load images and data from (map tiles).
    """

    def __init__(
        self,
        app: ASGIApp,
        script_hashes: list[str],
        frame_ancestors: Sequence[str] = (),
        extra_sources: Sequence[str] = (),
        allow_eval: bool = False,
    ) -> None:
        self.app, self.hashes = app, script_hashes
        self.frames = " ".join(frame_ancestors) or "'none'"
        self.extra = "".join(f" {s}" for s in extra_sources)
        # The full plotly.js bundle (only loaded for tile maps) compiles its WebGL shaders with `new Function`.
        self.eval = " 'unsafe-eval'" if allow_eval else ""
        self.deny_frames = not frame_ancestors

    def policy(self) -> str:
        scripts = " ".join(dict.fromkeys(self.hashes))
        return (
            f"default-src 'self'; script-src 'self' {scripts}{self.eval}; "
            # plotly.js and ReDoc add <style> elements at run time.
            "style-src 'self' 'unsafe-inline'; "
            f"img-src 'self' data: blob:{self.extra}; connect-src 'self'{self.extra}; "
            "font-src 'self' data:; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; "
            f"form-action 'self'; frame-ancestors {self.frames}"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                h = MutableHeaders(scope=message)
                h.setdefault("content-security-policy", self.policy())
                h.setdefault("x-content-type-options", "nosniff")
                h.setdefault("referrer-policy", "same-origin")
                h.setdefault("cross-origin-opener-policy", "same-origin")
                if self.deny_frames:
                    h.setdefault("x-frame-options", "DENY")
                if scope.get("scheme") == "https":
                    h.setdefault("strict-transport-security", "max-age=31536000")
            await send(message)

        await self.app(scope, receive, with_headers)
