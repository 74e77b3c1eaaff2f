"""Signing in to the single window: a username and password, or a token, becomes a session cookie.

A person signs in with a username and password (app.auth.sessions: the
password is traded for a session token with the user's role, which ends after
`session_hours` or at sign-out). A token can be typed instead, and a wall
display boots to `/?token=<viewer token>`: it is answered with the cookie and
a redirect to the same address without the token, so the token does not linger
in the address bar or the history.

Either way the cookie holds an API token (`satupintu_token`, read by
`app.auth.deps`), so every panel's read and every acknowledge goes through the
API's role checks. Signing out (a POST: a link elsewhere cannot sign anybody
out) revokes a session token; an API token stays valid (revoke it as admin),
only the cookie goes. A `?token=` address opened by a browser that is already
signed in asks before replacing that session. Over HTTPS the cookie is
`Secure`; a token's cookie lasts `token_cookie_days`.
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Callable
from urllib.parse import parse_qs, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from app.auth.brake import brake_of
from app.auth.lookup import TOKEN_COOKIE
from app.auth.session_routes import client_of
from app.auth.sessions import Refused, sign_in, sign_out
from app.auth.tokens import Principal
from app.auth.users import has_users
from app.i18n import DEFAULT_LANG, LANGS, t

LANG_COOKIE = "satupintu_lang"
# Inline: Dash loads every stylesheet in assets/ into the window, so the form keeps its own.
LOGIN_CSS = (
    'body { margin: 0; min-height: 100vh; display: flex; align-items: center; justify-content: center; background: #0b2540; font-family: "DejaVu Sans", Arial, sans-serif; } .login { background: #fff; padding: 32px 36px; border-radius: 10px; width: 380px; display: flex; flex-direction: column; gap: 12px; } .login h1 { margin: 0; color: #0'
    "b2540; } .login label { display: flex; flex-direction: column; gap: 4px; font-weight: 600; } .login input { padding: 8px; font-size: 16px; } .login button { padding: 10px; background: #0062cc; color: #fff; border: 0; border-radius: 5px; font-size: 16px; font-weight: 700; cursor: pointer; } .err { color: #c0392b; font-weight: 600; } "
    ".login details { margin-top: 4px; } .login summary { cursor: pointer; color: #0a5fb8; } .login details label { margin-top: 8px; } "
)


class Sessions:
    """Who a cookie belongs to: the API's own token cache (app.auth.lookup), so a page load costs no query each
    and a token revoked through the API stops the window at once too."""

    def __init__(self, api: FastAPI) -> None:
        self._api = api

    async def principal(self, token: str | None, *, fresh: bool = False) -> Principal | None:
        if not token:
            return None
        return await self._api.state.token_cache.alookup(self._api.state.engine, token, fresh=fresh)

    def forget(self, token: str) -> None:
        self._api.state.token_cache.forget(token)


def lang_of(request: Request) -> str:
    lang = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or DEFAULT_LANG
    return lang if lang in LANGS else DEFAULT_LANG


def set_session(resp: Response, request: Request, token: str, max_age_s: float) -> None:
    """The session cookie: script cannot read it, no other site sends it, and over HTTPS it never travels in clear."""
    resp.set_cookie(
        TOKEN_COOKIE,
        token,
        max_age=max(1, int(max_age_s)),
        httponly=True,
        samesite="strict",
        path="/",
        secure=request.url.scheme == "https",
    )


def _page(lang: str, title_key: str, body: str, status_code: int = 200) -> HTMLResponse:
    """A small page in the sign-in form's style; no scripts."""
    resp = HTMLResponse(
        f"""<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<title>SatuPintu · {html.escape(t(title_key, lang))}</title><style>{LOGIN_CSS}</style></head>
<body><div class="login"><h1>SatuPintu</h1>{body}</div></body></html>""",
        status_code=status_code,
    )
    resp.headers["Cache-Control"] = "no-store"
    return resp


def replace_page(lang: str, who: Principal, token: str, next_path: str) -> HTMLResponse:
    """`?token=` opened while signed in: ask before the token's session replaces the current one."""
    e = lambda key, **v: html.escape(t(key, lang, **v))  # noqa: E731
    return _page(
        lang,
        "ui.switch.title",
        f"""<p id="switch-question">{e("ui.switch.question", name=who.name, role=who.role)}</p>
<form method="post" action="/login" class="login-inline"><input type="hidden" name="token" value="{html.escape(token)}">
<input type="hidden" name="next" value="{html.escape(next_path)}">
<button type="submit" id="switch-confirm">{e("ui.switch.confirm")}</button></form>
<p><a href="{html.escape(next_path)}" id="switch-keep">{e("ui.switch.keep", name=who.name)}</a></p>""",
    )


def logout_page(lang: str) -> HTMLResponse:
    """GET /logout: a button that signs out; following a link alone signs nobody out."""
    e = lambda key: html.escape(t(key, lang))  # noqa: E731
    return _page(
        lang,
        "ui.logout",
        f"""<p>{e("ui.logout.question")}</p>
<form method="post" action="/logout"><button type="submit" id="logout-confirm">{e("ui.logout")}</button></form>
<p><a href="/">{e("ui.logout.cancel")}</a></p>""",
    )


def _no_users(api: FastAPI) -> bool:
    with api.state.engine.connect() as conn:
        return not has_users(conn=conn)


def _without(request: Request, name: str) -> str:
    rest = [(k, v) for k, v in request.query_params.multi_items() if k != name]
    return request.url.path + (f"?{urlencode(rest)}" if rest else "")


def login_page(
    lang: str,
    *,
    error: str | None = None,
    next_path: str = "/",
    username: str = "",
    status_code: int | None = None,
    first_run: bool = False,
) -> HTMLResponse:
    """A plain form: no scripts, so it works before anything else has loaded. `error`: a catalogue key.

    `first_run`: no user exists yet, so the form says how to get in (a user made with the CLI, or the sign-in
    link that `satupintu up` prints)."""
    msg = f'<p class="err" id="login-error">{html.escape(error)}</p>' if error else ""
    e = lambda key: html.escape(t(key, lang))  # noqa: E731
    if first_run:
        msg += f'<p class="first-run" id="login-first-run">{e("ui.login.no_users")}</p>'
    body = f"""<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<title>SatuPintu · {e("ui.login.title")}</title>
<style>{LOGIN_CSS}</style></head>
<body><main><form method="post" action="/login" class="login">
<h1>SatuPintu</h1><p>{e("ui.login.hint")}</p>{msg}
<input type="hidden" name="next" value="{html.escape(next_path)}">
<label>{e("ui.login.username")}<input name="username" id="login-username" value="{html.escape(username)}" autocomplete="username" autocapitalize="none" spellcheck="false"{"" if username else " autofocus"}></label>
<label>{e("ui.login.password")}<input name="password" id="login-password" type="password" autocomplete="current-password"{" autofocus" if username else ""}></label>
<details><summary>{e("ui.login.or_token")}</summary>
<label>{e("ui.login.token")}<input name="token" id="login-token" type="password" autocomplete="off"></label></details>
<button type="submit" id="login-submit">{e("ui.login.submit")}</button></form></main></body></html>"""
    return HTMLResponse(body, status_code=status_code or (401 if error else 200))


def refused_page(lang: str, status: int, *, asked: str, name: str, own: tuple[str, str] | None) -> HTMLResponse:
    """A window asked for a city not served here (404) or not the signed-in user's (403), saying which and where to
    go instead (`own`: the user's city, (id, name))."""
    e = lambda key, **v: html.escape(t(key, lang, **v))  # noqa: E731
    key = "ui.city.forbidden" if status == 403 else "ui.city.unknown"
    back = (
        f'<p><a href="/?city={html.escape(own[0])}" id="city-own">{e("ui.city.go_own", city=own[1])}</a></p>'
        if own
        else f'<p><a href="/" id="city-own">{e("ui.city.go_home")}</a></p>'
    )
    return _page(
        lang,
        "ui.city.refused_title",
        f'<p class="err" id="city-refused">{e(key, city=name or asked)}</p>{back}',
        status,
    )


def install(
    api: FastAPI,
    sessions: Sessions,
    index: Callable[[Request], str],
    pages: tuple[str, ...],
    gate: Callable[[Request, Principal], Response | None] | None = None,
) -> None:
    """The page routes (gated by the session), `/login` and `/logout`; registered before Dash's own.

    `gate`: a page the signed-in user may not have (Smart Province: another city's window), else None.
    """

    token_cookie_s = api.state.settings.token_cookie_days * 86_400

    async def first_run() -> bool:
        return await run_in_threadpool(_no_users, api)

    async def page(request: Request) -> Response:
        lang = lang_of(request)
        token = request.query_params.get("token")
        current = request.cookies.get(TOKEN_COOKIE)
        if token is not None:
            who = await sessions.principal(token, fresh=True)
            if who is None:
                return login_page(lang, error=t("ui.login.failed", lang), next_path=request.url.path)
            signed_in = await sessions.principal(current) if current and current != token else None
            if signed_in is not None:  # a link must not swap the session of whoever is signed in without asking
                return replace_page(lang, signed_in, token, _without(request, "token"))
            resp = RedirectResponse(_without(request, "token"), status_code=303)
            set_session(resp, request, token, token_cookie_s)
            return resp
        who = await sessions.principal(current)
        if who is None:
            return login_page(lang, next_path=_without(request, "token"), first_run=await first_run())
        refused = gate(request, who) if gate is not None else None
        if refused is not None:
            return refused
        resp = HTMLResponse(index(request))
        resp.headers["Cache-Control"] = "no-store"
        if request.query_params.get("lang") in LANGS:  # the language switch: `?lang=en` on any page
            resp.set_cookie(LANG_COOKIE, lang, max_age=400 * 86_400, samesite="lax", path="/")
        return resp

    for path in pages:
        api.add_api_route(path, page, methods=["GET"], include_in_schema=False)

    async def login(request: Request) -> Response:
        # A plain urlencoded form, parsed here: no multipart dependency for a few fields.
        body = await request.body()
        form = parse_qs(body[:8192].decode("utf-8", "replace"))
        field = lambda name: (form.get(name) or [""])[0]  # noqa: E731
        token, username, password, next_path = (
            field("token").strip(),
            field("username"),
            field("password"),
            field("next") or "/",
        )
        lang = lang_of(request)
        target = next_path if next_path.startswith("/") and not next_path.startswith("//") else "/"
        if token and not username.strip():
            if await sessions.principal(token, fresh=True) is None:
                return login_page(lang, error=t("ui.login.failed", lang), next_path=target)
            resp = RedirectResponse(target, status_code=303)
            set_session(resp, request, token, token_cookie_s)
            return resp
        if not username.strip() or not password:  # an empty form: nothing to check, nothing to count
            return login_page(lang, error=t("ui.login.failed_password", lang), next_path=target, username=username[:64])
        settings = api.state.settings
        got = await run_in_threadpool(
            lambda: sign_in(
                engine=api.state.engine,
                brake=brake_of(api.state, settings),
                username=username,
                password=password,
                client=client_of(request),
                session_s=settings.session_hours * 3600,
            )
        )
        if isinstance(got, Refused):
            if got.busy:
                return login_page(
                    lang, error=t("ui.login.busy", lang), next_path=target, username=username[:64], status_code=503
                )
            if got.retry_after_s > 0:
                error = t("ui.login.braked", lang, seconds=math.ceil(got.retry_after_s))
                return login_page(lang, error=error, next_path=target, username=username[:64], status_code=429)
            return login_page(
                lang,
                error=t("ui.login.failed_password", lang),
                next_path=target,
                username=username[:64],
                first_run=await first_run(),
            )
        resp = RedirectResponse(target, status_code=303)
        set_session(resp, request, got.token, (got.expires_ms - int(time.time() * 1000)) / 1000)
        return resp

    async def logout(request: Request) -> Response:
        token = request.cookies.get(TOKEN_COOKIE)
        who = await sessions.principal(token, fresh=True) if token else None
        if who is not None and who.user_id is not None:

            def end() -> None:
                with api.state.engine.begin() as conn:
                    sign_out(conn=conn, who=who)

            await run_in_threadpool(end)
            api.state.token_cache.clear()  # the API stops taking it at once, not after its token cache time
        if token:
            sessions.forget(token)
        resp = RedirectResponse("/", status_code=303)
        resp.delete_cookie(
            TOKEN_COOKIE, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https"
        )
        return resp

    async def logout_form(request: Request) -> Response:
        return logout_page(lang_of(request))

    api.add_api_route("/login", login, methods=["POST"], include_in_schema=False)
    api.add_api_route("/logout", logout, methods=["POST"], include_in_schema=False)
    api.add_api_route("/logout", logout_form, methods=["GET"], include_in_schema=False)
