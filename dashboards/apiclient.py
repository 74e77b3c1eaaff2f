"""The dashboard's way to the data: the API itself, called in-process as the signed-in user.

Panels read exactly what integrators and the regent's staff read (the public
contract), with the caller's own token, so the API's role checks decide what
a browser may do: a viewer's acknowledge is refused by the API, not by a
hidden button. No socket is opened; the request runs through the ASGI stack.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from dashboards.current import current

# Every panel refresh is a handful of in-process requests: not worth a log line each.
logging.getLogger("httpx").setLevel(logging.WARNING)


class ApiError(Exception):
    """The API refused a request: its status and `detail`."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


class ApiClient:
    """In-process calls to the FastAPI app the dashboard is mounted on."""

    def __init__(self, asgi_app: Any) -> None:
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=asgi_app),
            base_url="http://satupintu.internal",
            timeout=30.0,
            headers={"Accept-Encoding": "identity"},  # in-process: compressing for ourselves would only cost CPU
        )

    async def get(self, path: str, token: str, **params: Any) -> Any:
        """GET `path` as the holder of `token`; the JSON body, or ApiError.

        About the request's city (dashboards.current) unless `city=` is given: every in-process read of a window
        is about that window's city.
        """
        params.setdefault("city", current())
        clean = {k: v for k, v in params.items() if v is not None}
        r = await self._client.get(path, params=clean, headers=_auth(token))
        return _body(r)

    async def post(self, path: str, token: str, json: Any = None, *, city: str | None = None) -> Any:
        """POST `json` to `path` as the holder of `token` about `city` (default: the request's); the JSON body, or
        ApiError."""
        city = city or current()
        params = {"city": city} if city else None
        r = await self._client.post(path, json=json, params=params, headers=_auth(token))
        return _body(r)

    async def get_all(self, path: str, token: str, *, page: int = 1000, cap: int = 10_000, **params: Any) -> list:
        """Every item of a paged list route, up to `cap` items."""
        items: list = []
        while len(items) < cap:
            body = await self.get(path, token, limit=page, offset=len(items), **params)
            items.extend(body["items"])
            if len(items) >= body["total"] or not body["items"]:
                break
        return items


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _body(r: httpx.Response) -> Any:
    if r.status_code >= 400:
        try:
            detail = r.json().get("detail")
        except ValueError:
            detail = r.text[:200]
        raise ApiError(r.status_code, detail)
    return r.json()
