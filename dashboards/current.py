"""Which city the request being served is about (Smart Province: one web process, one window per city).

Set once per request: a page from its `?city=` (dashboards.app), a callback
from the `X-SatuPintu-City` header that assets/city.js adds to Dash's own
requests (dashboards.guard). `Ctx.city`/`Ctx.profile` and every in-process
API call (dashboards.apiclient) read it, so a callback needs no city argument.
Unset (None): the deployment's home city, as before there were several.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from urllib.parse import parse_qs

from app.profile import ID_RE

HEADER = "X-SatuPintu-City"
CITY: ContextVar[str | None] = ContextVar("satupintu_window_city", default=None)


def current() -> str | None:
    """The city of the request being served; None when nothing set one (the home city)."""
    return CITY.get()


@contextmanager
def about(city: str | None) -> Iterator[None]:
    """Serve what runs inside for `city`."""
    token = CITY.set(city)
    try:
        yield
    finally:
        CITY.reset(token)


def city_of_search(search: str | None) -> str | None:
    """`?city=ID` of a query string ('?a=1&city=ternate'); None when it names none.

    A value that is not an id comes back as it is, so the caller answers it as an unknown city.
    """
    values = parse_qs((search or "").lstrip("?")).get("city")
    return values[0] if values else None


def resolve(deployment: Any, who: Any, asked: str | None) -> tuple[str, int]:
    """(city, status) of a window request: the city asked for, else the caller's own, else the home city.

    status 200; 404 for a city this deployment does not serve; 403 for one the caller may not see.
    """
    home = deployment.home.city.id
    if asked is None:
        own = getattr(who, "city", None)
        city = own if own and deployment.get(own) is not None else home
        return city, 200
    if not ID_RE.match(asked) or deployment.get(asked) is None:
        return home, 404
    if who is not None and not who.serves(asked):
        return asked, 403
    return asked, 200


def may_switch(deployment: Any, who: Any) -> bool:
    """Whether the caller sees several cities of this deployment (a province user: a city switcher, /province)."""
    return bool(deployment.multi and who is not None and sum(1 for c in deployment.ids if who.serves(c)) > 1)


def query(prefix: str = "&") -> str:
    """`&city=ID` of the request's city for a link the browser follows (an export, a report); '' when none is set
    (a one-city deployment: its links stay as they were)."""
    city = current()
    return f"{prefix}city={city}" if city else ""
