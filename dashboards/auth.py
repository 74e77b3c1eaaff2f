"""Signing in to the single window: a token (typed once, or `?token=` for a wall display) becomes a session cookie.

The cookie is the API's own (`satupintu_token`, read by `app.api.deps`), so
every panel's read and every acknowledge goes through the API's role checks.
A wall display that boots to `/?token=<viewer token>` is answered with the
cookie and a redirect to the same address without the token, so the token
does not linger in the address bar or the history.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from urllib.parse import parse_qs, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from app.api.deps import TOKEN_COOKIE
from app.auth.tokens import Principal, authenticate
from app.i18n import DEFAULT_LANG, LANGS, t

COOKIE_MAX_AGE_S = 90 * 86_400  # a wall display runs for months on one sign-in; revoking the token ends it
LANG_COOKIE = "satupintu_lang"
CACHE_S = 30.0
# Inline: Dash loads every stylesheet in assets/ into the window, so the form keeps its own.
LOGIN_CSS = (
    'body { margin: 0; min-height: 100vh; display: flex; align-items: center; justify-content: center; background: #0b2540; font-family: "DejaVu Sans", Arial, sans-serif; } .login { background: #fff; padding: 32px 36px; border-radius: 10px; width: 380px; display: flex; flex-direction: column; gap: 12px; } .login h1 { margin: 0; color: #0'
    'b2540; } .login label { display: flex; flex-direction: column; gap: 4px; font-weight: 600; } .login input { padding: 8px; font-size: 16px; } .login button { padding: 10px; background: #0a84ff; color: #fff; border: 0; border-radius: 5px; font-size: 16px; font-weight: 700; cursor: pointer; } .err { color: #c0392b; font-weight: 600; } '
)  # a revoked token keeps the page (not the API) for at most this long


class Sessions:
    """Who a cookie belongs to, cached briefly so page loads cost no query each."""

    def __init__(self, api: FastAPI) -> None:
        self._api = api
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    def _lookup(self, token: str) -> Principal | None:
        with self._api.state.engine.connect() as conn:
            return authenticate(conn=conn, token=token)

    async def principal(self, token: str | None, *, fresh: bool = False) -> Principal | None:
        if not token:
            return None
        hit = self._cache.get(token)
        now = time.monotonic()
        if hit and not fresh and now - hit[0] < CACHE_S:
            return hit[1]
        who = await run_in_threadpool(self._lookup, token)
        if len(self._cache) > 1000:
            self._cache.clear()
        self._cache[token] = (now, who)
        return who


def lang_of(request: Request) -> str:
    lang = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or DEFAULT_LANG
    return lang if lang in LANGS else DEFAULT_LANG


def set_session(resp: Response, token: str) -> None:
    resp.set_cookie(TOKEN_COOKIE, token, max_age=COOKIE_MAX_AGE_S, httponly=True, samesite="strict", path="/")


def _without(request: Request, name: str) -> str:
    rest = [(k, v) for k, v in request.query_params.multi_items() if k != name]
    return request.url.path + (f"?{urlencode(rest)}" if rest else "")


def login_page(lang: str, *, failed: bool = False, next_path: str = "/") -> HTMLResponse:
    """A plain form: no scripts, so it works before anything else has loaded."""
    msg = f'<p class="err">{html.escape(t("ui.login.failed", lang))}</p>' if failed else ""
    body = f"""<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<title>SatuPintu · {html.escape(t("ui.login.title", lang))}</title>
<style>{LOGIN_CSS}</style></head>
<body><form method="post" action="/login" class="login">
<h1>SatuPintu</h1><p>{html.escape(t("ui.login.hint", lang))}</p>{msg}
<input type="hidden" name="next" value="{html.escape(next_path)}">
<label>{html.escape(t("ui.login.token", lang))}<input name="token" type="password" autocomplete="off" autofocus></label>
<button type="submit">{html.escape(t("ui.login.submit", lang))}</button></form></body></html>"""
    return HTMLResponse(body, status_code=401 if failed else 200)


def install(api: FastAPI, sessions: Sessions, index: Callable[[Request], str], pages: tuple[str, ...]) -> None:
    """The page routes (gated by the session), `/login` and `/logout`; registered before Dash's own."""

    async def page(request: Request) -> Response:
        lang = lang_of(request)
        token = request.query_params.get("token")
        if token is not None:
            who = await sessions.principal(token, fresh=True)
            if who is None:
                return login_page(lang, failed=True, next_path=request.url.path)
            resp = RedirectResponse(_without(request, "token"), status_code=303)
            set_session(resp, token)
            return resp
        if await sessions.principal(request.cookies.get(TOKEN_COOKIE)) is None:
            return login_page(lang, next_path=_without(request, "token"))
        resp = HTMLResponse(index(request))
        resp.headers["Cache-Control"] = "no-store"
        if request.query_params.get("lang") in LANGS:  # the language switch: `?lang=en` on any page
            resp.set_cookie(LANG_COOKIE, lang, max_age=400 * 86_400, samesite="lax", path="/")
        return resp

    for path in pages:
        api.add_api_route(path, page, methods=["GET"], include_in_schema=False)

    async def login(request: Request) -> Response:
        # A plain urlencoded form, parsed here: no multipart dependency for two fields.
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        token = (form.get("token") or [""])[0]
        next = (form.get("next") or ["/"])[0]  # noqa: A001
        lang = lang_of(request)
        if await sessions.principal(token.strip(), fresh=True) is None:
            return login_page(lang, failed=True, next_path=next)
        target = next if next.startswith("/") and not next.startswith("//") else "/"
        resp = RedirectResponse(target, status_code=303)
        set_session(resp, token.strip())
        return resp

    async def logout(_request: Request) -> Response:
        resp = RedirectResponse("/", status_code=303)
        resp.delete_cookie(TOKEN_COOKIE, path="/")
        return resp

    api.add_api_route("/login", login, methods=["POST"], include_in_schema=False)
    api.add_api_route("/logout", logout, methods=["GET"], include_in_schema=False)
