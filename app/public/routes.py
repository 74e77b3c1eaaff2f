"""`GET /publik`: the public page of service performance, opt-in (`public_page`), with no sign-in.

Cached: the page is computed at most once per `public_page_cache_s` per city
and language (`?city=` picks one of the deployment's cities, default the first), however many people open it (cachetools' TTLCache). Rate-limited per
client address (`public_page_rate_per_min`, a fixed one-minute window: a TTLCache
of counters), answering 429 with Retry-After past it; the client address is the
peer's, or the one a trusted proxy gave (`trusted_proxies`).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Annotated, Literal

from cachetools import TTLCache
from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse

from app.http.deps import EngineDep, ProfileDep, SettingsDep
from app.http.timefmt import now_ms
from app.i18n import t
from app.public.page import render_public_page
from app.public.queries import public_figures

router = APIRouter(tags=["public"])
_lock = threading.Lock()


def _state(request: Request, ttl: float) -> tuple[TTLCache[tuple[str, str], str], TTLCache[str, int]]:
    st = request.app.state
    if getattr(st, "public_page_cache", None) is None:
        st.public_page_cache = TTLCache(maxsize=2 * len(st.deployment.cities), ttl=ttl)  # per city and language
        st.public_page_hits = TTLCache(maxsize=100_000, ttl=60)
    return st.public_page_cache, st.public_page_hits


@router.get("/publik", response_class=HTMLResponse, summary="Public service performance (no sign-in; opt-in)")
def public_page(
    request: Request,
    engine: EngineDep,
    profile: ProfileDep,
    settings: SettingsDep,
    lang: Annotated[Literal["id", "en"], Query(description="Language of the page")] = "id",
) -> HTMLResponse:
    if not settings.public_page:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="the public page is not enabled here")
    pages, hits = _state(request, settings.public_page_cache_s)
    who = request.client.host if request.client else "-"
    with _lock:
        n = hits.get(who, 0) + 1
        hits[who] = n
        page = pages.get((profile.city.id, lang))
    if n > settings.public_page_rate_per_min:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS, detail=t("publik.busy", lang), headers={"Retry-After": "60"}
        )
    if page is None:
        with engine.connect() as conn:
            fig = public_figures(conn=conn, profile=profile, now_ms=now_ms())
        page = render_public_page(profile, fig, lang, datetime.now(tz=UTC))
        with _lock:
            pages[profile.city.id, lang] = page
    max_age = int(settings.public_page_cache_s)
    return HTMLResponse(page, headers={"Cache-Control": f"public, max-age={max_age}"})
