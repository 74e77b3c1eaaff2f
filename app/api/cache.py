"""The web process's short-lived cache of GET answers per (URL, role, city); token look-ups are app.auth.lookup's.

The response cache is an ASGI middleware in front of the `/api/v1` routes. A
GET with a valid token is answered from memory when the same URL (path and
query string, byte for byte) was answered for the same role less than
`api_cache_s` ago; concurrent identical misses are computed once (the others
wait for the first and get its answer). Only 200 JSON answers are kept; errors,
writes, the live channel, `/metrics`, `/api/health` and the admin lists
(tokens, audit, users) never are. One role's answer is never served to another role, nor one
city's answer for another city (Smart Province).

An answer stops being current sooner than its time when something it depends
on changes:

- a change notice for a city reaches the live hub (`city/+/changes`): that
  city's answers that depend on what the notice names (each router declares what its
  answers depend on: app.live.notices.DependsOn) are computed again at
  once, by running their request again, when somebody read them since they were
  last computed (the rest go, and their next reader computes them). Until the
  new answer is there, readers get the previous one (`x-cache: stale`) instead
  of all waiting for it; and the hub announces the notice to live clients only
  once it is there (`refresh`), so a client that heard of a change and reads
  again never gets an answer from before it. A notice stream that never stops
  (a busy city) costs one computation of each answer being read at a time, not
  one per notice or per reader. A resync (the hub lost the broker, or fell
  behind) drops everything;
- a write through the API (any POST/PUT/PATCH/DELETE) drops everything, and
  the token cache too, so a revocation through the API takes effect at once and
  the writer reads its own write.

What only time changes (a silent source turning stale, `as_of`) shows within
`api_cache_s`: an answer past its time by less than as long again is served
while it is computed again in the background; an older one is computed for its
reader. Each web process has its own caches: with several workers, a write
through one worker reaches the others' answers within `api_cache_s`, and a
token revoked with the CLI (another process) stops within `api_token_cache_s`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

import orjson
from starlette.datastructures import Headers, QueryParams
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth.lookup import request_token
from app.auth.tokens import ALL_CITIES, Principal
from app.live.events import Event
from app.live.notices import KINDS, Dependencies, changed_kinds
from app.profile import Deployment
from app.settings import Settings

log = logging.getLogger(__name__)

MAX_ENTRIES = 2048
MAX_REFRESH = 64  # stale answers recomputed ahead per notice; past it they are dropped (computed when next read)
MAX_BODY = 8 * 2**20  # bigger answers are served, not kept

# /api/v1/integrators: an integrator token's answer is its own, but the cache keys answers by role.
_NEVER = (
    "/api/v1/live",
    "/api/v1/ws",
    "/api/v1/tokens",
    "/api/v1/audit",
    "/api/v1/users",
    "/api/v1/auth",
    "/api/v1/integrators",
    "/api/v1/open311",  # citizen services: personal data, each read audited
)
# Smart Province (issue 15): answers about every city the caller may see differ with the token's city scope too.
_BY_SCOPE = ("/api/v1/province",)
_READS = frozenset({"GET", "HEAD", "OPTIONS"})
# The window's callbacks are POSTs that write nothing themselves: the ones that do (acknowledge) call the API,
# whose write clears the cache. Counting each callback as a write would clear it a few times a second per window.
_NOT_WRITES = ("/_dash-update-component",)


def cacheable_path(path: str) -> bool:
    return path.startswith("/api/v1/") and not path.startswith(_NEVER)


# ----------------------------------------------------------------------------- answers


@dataclass(slots=True)
class Entry:
    expires: float
    headers: list[tuple[bytes, bytes]]
    body: bytes


@dataclass(slots=True)
class Slot:
    """A kept answer, what it depends on, and how to compute it again."""

    entry: Entry
    kinds: frozenset[str]
    stamp: tuple[int, ...]  # the generations of `kinds` when its computation started
    version: int  # the cache's version then
    replay: Scope | None = None  # a pristine copy of the request that computed it (None: never recomputed here)
    used: bool = False  # served since it was computed: only answers somebody reads are recomputed ahead
    city: str | None = None  # the city it is about (Smart Province): only that city's notices stale it


Runner = Callable[[Scope], Awaitable["Entry | None"]]
Key = tuple[str, ...]  # (URL, role, city): one role's answer about one city
_ANY_CITY = ""  # generations bumped by any one city's invalidation (no city id is empty)
EVERY_CITY = "*"  # a key's city for a caller of every city that named none (its slot: staled by any city's notice)


def request_city(scope: Scope, who: Principal, deployment: Deployment) -> str | None:
    """The city a request is about, as app.http.deps.get_city picks it; None when the route refuses it (404, 403).

    `?city=`, else the city the caller's token is scoped to (in a deployment of several), else the home city.
    EVERY_CITY for a caller of every city that names none: the few answers that span cities then
    (app.auth.deps.every_city_or: the quarantine) are theirs, never a city token's, and any city's notice stales them.
    """
    named = QueryParams(scope.get("query_string", b"")).getlist("city")
    if len(named) > 1:
        return None  # the route decides what several mean
    if not named and who.city in (None, ALL_CITIES):
        return EVERY_CITY
    if named:
        city = named[0]
    elif deployment.multi and who.city is not None and deployment.get(who.city) is not None:
        city = who.city
    else:
        city = deployment.home.city.id
    return city if deployment.get(city) is not None and who.serves(city) else None


@dataclass(eq=False)  # one per app: compared (and hashed) by identity
class ResponseCache:
    """The answers of one app, with per-city, per-kind generations so a slow miss never stores a stale answer.

    Every invalidation bumps the generation of each kind it names, for the city it
    names (or for every city), and the cache's `version`. An answer is current
    while the generations of what it depends on, for its city and for every city,
    are those its computation started with. Smart Province: the middleware keys an
    answer by the city it is about too (a request's `?city=`, else the token's city,
    else the home city `city`), so two cities' answers to one URL are never mixed.
    """

    city: str  # the deployment's home city (its first)
    ttl_s: float
    clock: Callable[[], float] = time.monotonic
    refresh_wait_s: float = Settings.model_fields["api_cache_refresh_wait_s"].default  # the longest `refresh` waits
    entries: dict[Key, Slot] = field(default_factory=dict)
    inflight: dict[Key, asyncio.Future] = field(default_factory=dict)
    # (city, kind) -> generation; city None: an invalidation of every city's answers
    generation: dict[tuple[str | None, str], int] = field(default_factory=dict)
    cities: tuple[str, ...] = ()  # the deployment's cities, whose notices count (default: `city` alone)
    version: int = 0
    runner: Runner | None = None  # computes an answer again from its request (set by the middleware)
    hits: int = 0
    stale_hits: int = 0
    misses: int = 0
    recomputed: int = 0
    _tasks: set[asyncio.Task] = field(default_factory=set)

    def current(self, slot: Slot) -> bool:
        return self.stamp(slot.kinds, slot.city) == slot.stamp

    def serve(self, key: Key) -> tuple[Entry, bool] | None:
        """What to answer `key` with without computing: (answer, stale?), or None (compute it).

        A current answer is served. One that a notice made stale is being computed
        again (that started with the notice) and is served until then: the hub
        announces a notice only once the answers it staled are recomputed (`refresh`),
        so nobody who was told of a change reads an answer from before it. One past
        its time by less than `ttl_s` is served while it is computed again in the
        background (time alone changed it: a source turning stale, `as_of`).
        Anything else is computed for the asker.
        """
        slot = self.entries.get(key)
        if slot is None:
            return None
        fresh = self.current(slot)
        if fresh and slot.entry.expires > self.clock():
            slot.used = True
            return slot.entry, False
        if slot.replay is None or self.runner is None:
            del self.entries[key]
            return None
        if fresh:  # past its time
            if slot.entry.expires + self.ttl_s <= self.clock():
                del self.entries[key]
                return None
            self._recompute(key)
        elif key not in self.inflight:
            del self.entries[key]  # its recomputation failed or was given up
            return None
        slot.used = True
        return slot.entry, True

    def stamp(self, kinds: frozenset[str], city: str | None = None) -> tuple[int, ...]:
        """The generations an answer about `city` that depends on `kinds` is current with."""
        scopes = (None, city if city is not None else _ANY_CITY)
        return tuple(self.generation.get((c, k), 0) for k in sorted(kinds) for c in scopes)

    def put(
        self,
        key: Key,
        entry: Entry,
        kinds: frozenset[str],
        stamp: tuple[int, ...],
        replay: Scope | None = None,
        *,
        version: int | None = None,
        city: str | None = None,
    ) -> bool:
        """Keep `entry` unless what it depends on changed since `stamp` was taken (then it may be stale)."""
        if self.stamp(kinds, city) != stamp:
            return False
        if len(self.entries) >= MAX_ENTRIES and key not in self.entries:
            now = self.clock()
            self.entries = {k: v for k, v in self.entries.items() if v.entry.expires + self.ttl_s > now}
            if len(self.entries) >= MAX_ENTRIES:
                self.entries.clear()
        self.entries[key] = Slot(entry, kinds, stamp, self.version if version is None else version, replay, city=city)
        return True

    def invalidate(
        self, kinds: Iterable[str] | None = None, *, city: str | None = None, recompute: bool = False
    ) -> None:
        """The answers about `city` (every city's when None) that depend on any of `kinds` (all when None) go stale.

        With `recompute` (a change notice, on the event loop), those somebody read
        since they were computed (up to MAX_REFRESH) are computed again at once and
        served as they were meanwhile; the rest go.
        """
        kinds = KINDS if kinds is None else frozenset(kinds) & KINDS
        if not kinds:
            return
        self.version += 1
        for k in kinds:
            self.generation[city, k] = self.generation.get((city, k), 0) + 1
            if city is not None:  # and the answers that span cities (their city None) depend on every city's
                self.generation[_ANY_CITY, k] = self.generation.get((_ANY_CITY, k), 0) + 1
        budget = MAX_REFRESH if recompute and self.runner is not None else 0
        out: dict[Key, Slot] = {}
        again: list[Key] = []
        for key, slot in self.entries.items():
            if not slot.kinds & kinds or (city is not None and slot.city not in (None, city)):
                out[key] = slot
            elif budget and (slot.used or key in self.inflight) and slot.replay is not None:
                out[key] = slot
                again.append(key)
                budget -= 1
        self.entries = out
        for key in again:
            self._recompute(key)

    def on_event(self, ev: Event) -> None:
        """A live-hub event: `changes` stales what it names of its city's answers, `resync` drops all."""
        if ev.type == "resync":
            self.invalidate()
        elif ev.type == "changes" and ev.city in (self.cities or (self.city,)):  # another deployment's: nothing
            self.invalidate(changed_kinds(orjson.loads(ev.text)), city=ev.city, recompute=True)

    async def refresh(self, timeout_s: float | None = None) -> None:
        """Wait until every kept answer reflects every invalidation so far (the hub awaits this before announcing).

        What is not computed again within `timeout_s` is dropped instead (the next
        reader computes it), so an announced change is never answered from before it.
        """
        target = self.version
        timeout_s = self.refresh_wait_s if timeout_s is None else timeout_s
        if self.runner is None:
            self.entries = {k: s for k, s in self.entries.items() if self.current(s)}
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s

        def behind() -> list[Key]:
            late = [k for k, s in self.entries.items() if s.version < target and not self.current(s)]
            for k in [k for k in late if self.entries[k].replay is None]:
                del self.entries[k]
            return [k for k in late if k in self.entries]

        while (keys := behind()) and (left := deadline - loop.time()) > 0:
            waits = [self.inflight.get(k) or self._recompute(k) for k in keys]
            await asyncio.wait(waits, timeout=left)
        if keys := behind():
            log.warning("%d cached answers not computed again within %.1f s: dropped", len(keys), timeout_s)
            for k in keys:
                del self.entries[k]

    def _recompute(self, key: Key) -> asyncio.Future:
        """Compute `key` again from its request, once however often asked; the answer replaces the kept one."""
        fut = self.inflight.get(key)
        if fut is not None:
            return fut
        slot = self.entries[key]
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self.inflight[key] = fut
        stamp, version = self.stamp(slot.kinds, slot.city), self.version

        async def run() -> None:
            entry = None
            try:
                entry = await self.runner(dict(slot.replay, state=dict(slot.replay.get("state", {}))))
            except Exception:
                log.exception("computing the cached answer of %s again failed", key[0])
            now = self.entries.get(key)
            if now is not None and now.version <= version:  # nobody put a newer one meanwhile
                if entry is None:
                    del self.entries[key]  # an error, or the token that asked is gone: the next reader computes
                else:
                    self.recomputed += 1
                    entry.expires = self.clock() + self.ttl_s
                    self.entries[key] = Slot(
                        entry, slot.kinds, stamp, version, slot.replay, used=now.used, city=slot.city
                    )
            self.inflight.pop(key, None)
            fut.set_result(entry)
            fresh = self.entries.get(key)
            if fresh is not None and not self.current(fresh) and fresh.used:
                self._recompute(key)  # a notice came in meanwhile and somebody is reading: once more

        task = loop.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return fut


class CacheMiddleware:
    """The ASGI side: answer from the cache, or run the app once per key and keep a 200 JSON answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def recompute(self, scope: Scope) -> Entry | None:
        """Run a kept request again, with nobody waiting on the other end; its answer if it may be kept."""
        sent = False

        async def receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.Event().wait()  # nothing more will come (a GET has no body)
            raise AssertionError("unreachable")

        async def discard(_message: Message) -> None:
            pass

        return await _run_and_keep(self.app, scope, receive, discard, 0.0)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        state = scope["app"].state
        cache: ResponseCache | None = getattr(state, "response_cache", None)
        if scope["method"] not in _READS and scope["path"] not in _NOT_WRITES:
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
        if cache.runner is None:
            cache.runner = self.recompute
        token = request_token(Headers(scope=scope))
        who = await state.token_cache.alookup(state.engine, token) if token else None
        if who is None:
            return await self.app(scope, receive, send)  # the route answers 401 itself
        query = path + "?" + scope["query_string"].decode("latin-1")
        city: str | None
        if path.startswith(_BY_SCOPE):  # Smart Province: about every city the caller may see, stale on any's notice
            city, key = None, (query, who.role, f"@{who.city or ''}")
        else:
            city = request_city(scope, who, state.deployment)
            if city is None:
                return await self.app(scope, receive, send)  # the route answers 404 or 403 itself
            key = (query, who.role, city)
        while True:
            served = cache.serve(key)
            if served is not None:
                entry, stale = served
                if stale:
                    cache.stale_hits += 1
                else:
                    cache.hits += 1
                return await _replay(entry, send, b"stale" if stale else b"hit")
            waiting = cache.inflight.get(key)
            if waiting is None:
                break
            if await asyncio.shield(waiting) is None:  # the first one's answer is not to be shared: compute our own
                return await self.app(scope, receive, send)
        cache.misses += 1
        fut = asyncio.get_running_loop().create_future()
        cache.inflight[key] = fut
        depends_on: Dependencies = state.depends_on
        kinds = depends_on(path)
        slot_city = None if city == EVERY_CITY else city
        stamp = cache.stamp(kinds, slot_city)
        version = cache.version
        replay = dict(scope, state=dict(scope.get("state", {})))  # before the app adds to it
        entry = None
        try:
            entry = await _run_and_keep(self.app, scope, receive, send, cache.clock() + cache.ttl_s)
            if entry is not None:
                cache.put(key, entry, kinds, stamp, replay, version=version, city=slot_city)
        finally:
            cache.inflight.pop(key, None)
            fut.set_result(entry)


async def _run_and_keep(app: ASGIApp, scope: Scope, receive: Receive, send: Send, expires: float) -> Entry | None:
    """Run the app, passing its answer through as it comes; returns it when it may be kept."""
    start: Message | None = None
    headers: list[tuple[bytes, bytes]] = []
    parts: list[bytes] = []
    size = 0
    keep = True

    async def tee(message: Message) -> None:
        nonlocal start, headers, size, keep
        if message["type"] == "http.response.start":
            start = message
            # A copy taken now: the middlewares outside (GZip: Content-Encoding and the compressed length) change
            # the message's header list in place once it is sent, and a replay passes through them again.
            headers = list(message.get("headers", []))
            h = Headers(raw=headers)
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
    return Entry(expires, headers, b"".join(parts))


async def _replay(entry: Entry, send: Send, how: bytes) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [*entry.headers, (b"x-cache", how)]})
    await send({"type": "http.response.body", "body": entry.body})
