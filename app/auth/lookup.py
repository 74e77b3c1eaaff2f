"""Who is calling: the request's token (bearer header or session cookie) and one short-lived cache of look-ups.

The API's dependencies, its response cache, the live channel and the
dashboard's pages and callbacks all find the caller here, through the one
`TokenCache` of the process (`app.state.token_cache`), so a token costs one
database read per `api_token_cache_s` however many parts of the process ask.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping

from cachetools import TTLCache
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import cookie_parser

from app.auth.tokens import Principal, authenticate, hash_token

TOKEN_COOKIE = "satupintu_token"  # noqa: S105 - the cookie's name, not a secret
MAX_ENTRIES = 2048  # distinct tokens kept; past it the least recently used goes


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if there is one."""
    auth = headers.get("authorization")
    if auth:
        scheme, _, cred = auth.partition(" ")
        if scheme.lower() == "bearer" and cred.strip():
            return cred.strip()
    return None


def cookie_token(headers: Mapping[str, str]) -> str | None:
    """The dashboard's session cookie, if the request carries one."""
    cookie = headers.get("cookie")
    return cookie_parser(cookie).get(TOKEN_COOKIE) or None if cookie else None


def request_token(headers: Mapping[str, str]) -> str | None:
    """The bearer token of a request, else the dashboard's session cookie."""
    return bearer_token(headers) or cookie_token(headers)


class TokenCache:
    """Token -> principal for `ttl_s` (keyed by the token's hash); only valid tokens are kept, LRU-bounded."""

    def __init__(
        self,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
        maxsize: int = MAX_ENTRIES,
        *,
        serves: str | Collection[str] | None = None,
    ) -> None:
        self.ttl_s = ttl_s
        # Smart Province: the deployment's cities. A token scoped to a city not among them is no caller here for
        # the response cache, the live channel and the window (lookup gives None); the API's dependency asks with
        # `any_city` to answer it 403 rather than 401. Which of the cities a caller may see is the caller's check.
        self.serves = (serves,) if isinstance(serves, str) else tuple(serves) if serves is not None else None
        self._known: TTLCache[str, Principal] | None = (
            TTLCache(maxsize=maxsize, ttl=ttl_s, timer=clock) if ttl_s > 0 else None
        )

    def cached(self, token: str) -> Principal | None:
        return self._known.get(hash_token(token)) if self._known is not None else None

    def lookup(self, engine: Engine, token: str, *, fresh: bool = False, any_city: bool = False) -> Principal | None:
        """The token's principal (blocking: a database read on a miss, or always when `fresh`); None for a token
        scoped to a city this deployment does not serve, unless `any_city`."""
        who = None if fresh else self.cached(token)
        if who is None:
            who = self._read(engine, token)
        return who if any_city or who is None or self._here(who) else None

    def _read(self, engine: Engine, token: str) -> Principal | None:
        with engine.connect() as conn:
            who = authenticate(conn=conn, token=token)
        if self._known is not None:
            if who is not None:
                self._known[hash_token(token)] = who
            else:
                self._known.pop(hash_token(token), None)
        return who

    async def alookup(
        self, engine: Engine, token: str, *, fresh: bool = False, any_city: bool = False
    ) -> Principal | None:
        """The same, on the event loop: a hit costs no thread hop, a miss reads in the threadpool."""
        hit = None if fresh else self.cached(token)
        if hit is not None:
            return hit if any_city or self._here(hit) else None
        return await run_in_threadpool(lambda: self.lookup(engine, token, fresh=fresh, any_city=any_city))

    def _here(self, who: Principal) -> bool:
        return self.serves is None or any(who.serves(city) for city in self.serves)

    def forget(self, token: str) -> None:
        if self._known is not None:
            self._known.pop(hash_token(token), None)

    def clear(self) -> None:
        if self._known is not None:
            self._known.clear()
