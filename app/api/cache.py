"""Short-lived caches of the web process: GET answers per (URL, role), and token look-ups.

The response cache is an ASGI middleware in front of the `/api/v1` routes. A
GET with a valid token is answered from memory when the same URL (path and
query string, byte for byte) was answered for the same role less than
`api_cache_s` ago; concurrent identical misses are computed once (the others
wait for the first and get its answer). Only 200 JSON answers are kept; errors,
writes, the live channel, `/metrics`, `/api/health` and the admin lists
(tokens, audit) never are. One role's answer is never served to another role.

An entry goes sooner than its time when something it depends on changes:

- a change notice for the city reaches the live hub (`city/+/changes`): the
  entries that depend on what the notice names go (readings -> readings,
  sources, overview; tickets -> tickets, services, overview; ...); a resync
  (the hub lost the broker, or fell behind) clears everything;
- a write through the API (any POST/PUT/PATCH/DELETE) clears everything, and
  the token cache too, so a revocation through the API takes effect at once;
- `invalidate(city)`, for writers that want to say so themselves.

What only time changes (a silent source turning stale, `as_of`) shows within
`api_cache_s`. Each web process has its own caches: with several workers, a
write through one worker reaches the others' answers within `api_cache_s`, and
a token revoked with the CLI (another process) stops within `api_token_cache_s`.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import orjson
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth.tokens import Principal, authenticate, hash_token

TOKEN_COOKIE = "satupintu_token"
MAX_ENTRIES = 2048
MAX_BODY = 8 * 2**20  # bigger answers are served, not kept

# What a notice can say changed (its non-empty fields), and what each route family depends on.
KINDS = frozenset({"readings", "tickets", "sources_new", "status", "quarantined", "alarms"})
_DEPENDS: tuple[tuple[str, frozenset[str]], ...] = (
    ("/api/v1/readings/", frozenset({"readings", "sources_new"})),
    ("/api/v1/sources", frozenset({"readings", "sources_new", "status"})),
    ("/api/v1/tickets", frozenset({"tickets"})),
    ("/api/v1/services/", frozenset({"tickets"})),
    ("/api/v1/quarantine", frozenset({"quarantined"})),
    ("/api/v1/alarms", frozenset({"alarms"})),
)
_NEVER = ("/api/v1/live", "/api/v1/ws", "/api/v1/tokens", "/api/v1/audit")
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def depends_on(path: str) -> frozenset[str]:
    """The kinds of change an answer for `path` depends on; everything for routes not listed (overview, reports)."""
    for prefix, kinds in _DEPENDS:
        if path.startswith(prefix):
            return kinds
    return KINDS


def cacheable_path(path: str) -> bool:
    return path.startswith("/api/v1/") and not path.startswith(_NEVER)


def changed_kinds(notice: dict) -> frozenset[str]:
    """What a decoded change notice says changed; an unknown non-empty field (a newer ingestor) counts as everything."""
    out = set()
    for k, v in notice.items():
        if k in ("type", "v", "at", "city") or not v:
            continue
        if k not in KINDS:
            return KINDS
        out.add(k)
    return frozenset(out)


# ----------------------------------------------------------------------------- tokens


class TokenCache:
    """Token -> principal for `ttl_s` (by the token's hash); only valid tokens are kept."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s, self._clock = ttl_s, clock
        self._known: dict[str, tuple[float, Principal]] = {}

    def cached(self, token: str) -> Principal | None:
        hit = self._known.get(hash_token(token))
        if hit is not None and hit[0] > self._clock():
            return hit[1]
        return None

    def lookup(self, engine: Engine, token: str) -> Principal | None:
        """The token's principal (blocking: a database read on a miss)."""
        who = self.cached(token)
        if who is not None:
            return who
        with engine.connect() as conn:
            who = authenticate(conn=conn, token=token)
        if who is not None and self.ttl_s > 0:
            if len(self._known) >= MAX_ENTRIES:
                self._known.clear()
            self._known[hash_token(token)] = (self._clock() + self.ttl_s, who)
        return who

    async def alookup(self, engine: Engine, token: str) -> Principal | None:
        """The same, on the event loop: a hit costs no thread hop, a miss reads in the threadpool."""
        return self.cached(token) or await run_in_threadpool(self.lookup, engine, token)

    def clear(self) -> None:
        self._known.clear()


def request_token(headers: Headers) -> str | None:
    """The bearer token of a request, else the dashboard's session cookie."""
    auth = headers.get("authorization")
    if auth:
        scheme, _, cred = auth.partition(" ")
        if scheme.lower() == "bearer" and cred.strip():
            return cred.strip()
    cookie = headers.get("cookie")
    return cookie_parser(cookie).get(TOKEN_COOKIE) if cookie else None


# ----------------------------------------------------------------------------- answers


@dataclass(slots=True)
class Entry:
    expires: float
    headers: list[tuple[bytes, bytes]]
    body: bytes


@dataclass(eq=False)  # kept in a WeakSet: hashed by identity
class ResponseCache:
    """The answers of one app (one city), with per-kind generations so a slow miss never stores a stale answer."""

    city: str
    ttl_s: float
    clock: Callable[[], float] = time.monotonic
    entries: dict[tuple[str, str], tuple[Entry, frozenset[str]]] = field(default_factory=dict)
    inflight: dict[tuple[str, str], asyncio.Future] = field(default_factory=dict)
    generation: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    hits: int = 0
    misses: int = 0

    def __post_init__(self) -> None:
        _CACHES.add(self)

    def get(self, key: tuple[str, str]) -> Entry | None:
        hit = self.entries.get(key)
        if hit is None:
            return None
        if hit[0].expires <= self.clock():
            del self.entries[key]
            return None
        return hit[0]

    def stamp(self, kinds: frozenset[str]) -> tuple[int, ...]:
        return tuple(self.generation[k] for k in sorted(kinds))

    def put(self, key: tuple[str, str], entry: Entry, kinds: frozenset[str], stamp: tuple[int, ...]) -> bool:
        """Keep `entry` unless what it depends on changed since `stamp` was taken (then it may be stale)."""
        if self.stamp(kinds) != stamp:
            return False
        if len(self.entries) >= MAX_ENTRIES:
            now = self.clock()
            self.entries = {k: v for k, v in self.entries.items() if v[0].expires > now}
            if len(self.entries) >= MAX_ENTRIES:
                self.entries.clear()
        self.entries[key] = (entry, kinds)
        return True

    def invalidate(self, kinds: Iterable[str] | None = None) -> None:
        """Drop the answers that depend on any of `kinds` (all when None)."""
        kinds = KINDS if kinds is None else frozenset(kinds) & KINDS
        if not kinds:
            return
        for k in kinds:
            self.generation[k] += 1
        self.entries = {key: v for key, v in self.entries.items() if not (v[1] & kinds)}

    def on_event(self, ev: object) -> None:
        """A live-hub event (app.live.events.Event): `changes` for this city drops what it names, `resync` all."""
        kind = getattr(ev, "type", None)
        if kind == "resync":
            self.invalidate()
        elif kind == "changes" and getattr(ev, "city", None) == self.city:
            self.invalidate(changed_kinds(orjson.loads(ev.text)))


_CACHES: weakref.WeakSet[ResponseCache] = weakref.WeakSet()


def invalidate(city: str | None = None, kinds: Iterable[str] | None = None) -> None:
    """Drop cached answers of `city` (every city when None) in this process: call after a write outside a request."""
    for cache in list(_CACHES):
        if city is None or cache.city == city:
            cache.invalidate(kinds)


class CacheMiddleware:
    """The ASGI side: answer from the cache, or run the app once per key and keep a 200 JSON answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        state = scope["app"].state
        cache: ResponseCache | None = getattr(state, "response_cache", None)
        if scope["method"] not in _READS:
            # A write through the API: whatever it touched is read again, tokens too; before its answer goes
            # out (the caller may ask again at once), and once more at the end for reads that overlapped it.
            def forget() -> None:
                state.token_cache.clear()
                if cache is not None:
                    cache.invalidate()

            async def send_after_forgetting(message: Message) -> None:
                if message["type"] == "http.response.start":
                    forget()
                await send(message)

            try:
                return await self.app(scope, receive, send_after_forgetting)
            finally:
                forget()
        path = scope["path"]
        if cache is None or scope["method"] != "GET" or not cacheable_path(path):
            return await self.app(scope, receive, send)
        token = request_token(Headers(scope=scope))
        who = await state.token_cache.alookup(state.engine, token) if token else None
        if who is None:
            return await self.app(scope, receive, send)  # the route answers 401 itself
        key = (path + "?" + scope["query_string"].decode("latin-1"), who.role)
        while True:
            entry = cache.get(key)
            if entry is not None:
                cache.hits += 1
                return await _replay(entry, send)
            waiting = cache.inflight.get(key)
            if waiting is None:
                break
            if await asyncio.shield(waiting) is None:  # the first one's answer is not to be shared: compute our own
                return await self.app(scope, receive, send)
        cache.misses += 1
        fut = asyncio.get_running_loop().create_future()
        cache.inflight[key] = fut
        kinds = depends_on(path)
        stamp = cache.stamp(kinds)
        entry = None
        try:
            entry = await _run_and_keep(self.app, scope, receive, send, cache.clock() + cache.ttl_s)
            if entry is not None:
                cache.put(key, entry, kinds, stamp)
        finally:
            cache.inflight.pop(key, None)
            fut.set_result(entry)


async def _run_and_keep(app: ASGIApp, scope: Scope, receive: Receive, send: Send, expires: float) -> Entry | None:
    """Run the app, passing its answer through as it comes; returns it when it may be kept."""
    start: Message | None = None
    parts: list[bytes] = []
    size = 0
    keep = True

    async def tee(message: Message) -> None:
        nonlocal start, size, keep
        if message["type"] == "http.response.start":
            start = message
            h = Headers(raw=message.get("headers", []))
            keep = (
                message["status"] == 200
                and h.get("content-type", "").startswith("application/json")
                and "set-cookie" not in h
            )
        elif message["type"] == "http.response.body" and keep:
            body = message.get("body", b"")
            size += len(body)
            keep = size <= MAX_BODY
            parts.append(body)
        await send(message)

    await app(scope, receive, tee)
    if start is None or not keep:
        return None
    return Entry(expires, list(start.get("headers", [])), b"".join(parts))


async def _replay(entry: Entry, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [*entry.headers, (b"x-cache", b"hit")]})
    await send({"type": "http.response.body", "body": entry.body})
