"""Finding the caller (app.auth.lookup): the token of a request, and the one TTL cache of look-ups."""

from __future__ import annotations

from starlette.datastructures import Headers

from app.auth.lookup import TokenCache, bearer_token, cookie_token, request_token
from app.auth.tokens import create_token, revoke_token


def test_a_token_revoked_elsewhere_stops_within_the_token_cache_time(engine) -> None:
    now = [0.0]
    tc = TokenCache(5, clock=lambda: now[0])
    with engine.begin() as conn:
        token = create_token(conn=conn, name="cli", role="viewer")
    who = tc.lookup(engine, token)
    assert who is not None
    with engine.begin() as conn:
        revoke_token(conn=conn, token_id=who.token_id)  # as `satupintu token revoke` does, in another process
    assert tc.lookup(engine, token) == who  # still trusted inside the time
    now[0] = 5.0
    assert tc.lookup(engine, token) is None


def test_the_cache_keeps_only_valid_tokens_and_drops_the_least_recently_used(engine) -> None:
    now = [0.0]
    tc = TokenCache(60, clock=lambda: now[0], maxsize=2)
    with engine.begin() as conn:
        a, b, c = (create_token(conn=conn, name=f"t{i}", role="viewer") for i in range(3))
    assert tc.lookup(engine, "sp_not-a-token") is None and tc.cached("sp_not-a-token") is None
    tc.lookup(engine, a)
    tc.lookup(engine, b)
    assert tc.cached(a) is not None  # a is now the most recently used
    tc.lookup(engine, c)  # full: b, the least recently used, goes; the others stay
    assert tc.cached(b) is None and tc.cached(a) is not None and tc.cached(c) is not None
    with engine.begin() as conn:
        revoke_token(conn=conn, token_id=tc.cached(a).token_id)
    assert tc.lookup(engine, a) is not None  # trusted inside its time...
    assert tc.lookup(engine, a, fresh=True) is None  # ...unless asked fresh, which also forgets it
    assert tc.cached(a) is None


def test_the_request_token_is_the_bearer_header_else_the_cookie() -> None:
    both = Headers({"authorization": "Bearer sp_header", "cookie": "x=1; satupintu_token=sp_cookie"})
    assert request_token(both) == "sp_header"
    assert bearer_token(both) == "sp_header" and cookie_token(both) == "sp_cookie"
    assert request_token(Headers({"cookie": "satupintu_token=sp_cookie"})) == "sp_cookie"
    assert request_token(Headers({"authorization": "Basic abc", "cookie": "other=1"})) is None
    assert request_token(Headers({"authorization": "Bearer   "})) is None
