"""`/docs` (Swagger UI) and `/redoc` from files this server holds: the API reference works without internet.

The pages are FastAPI's own; their scripts and styles come from the
`fastapi-offline` package's copies of swagger-ui-dist 5 and ReDoc 2 instead of
a CDN, under `/_docs/<file>?v=<content hash>` so browsers keep them for a year
and fetch again only when the package changes them.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, HTTPException
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from app.api.security import script_hashes

STATIC = Path(fastapi_offline.__file__).parent / "static"
FILES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}
IMMUTABLE = "public, max-age=31536000, immutable"


@cache
def versions() -> dict[str, str]:
    """File name -> the first 12 hex digits of its SHA-256, the `?v=` of its URL."""
    return {name: hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12] for name in FILES}


def asset_url(name: str) -> str:
    return f"/_docs/{name}?v={versions()[name]}"


def install_docs(api: FastAPI, csp_hashes: list[str]) -> None:
    """Add `/docs`, `/redoc` and their assets to `api` (built with docs_url=None, redoc_url=None).

    The Swagger page's inline start-up script is added to `csp_hashes`, the
    Content-Security-Policy's allowed inline scripts.
    """
    title = f"{api.title} - docs"
    swagger = get_swagger_ui_html(
        openapi_url=api.openapi_url or "/openapi.json",
        title=title,
        swagger_js_url=asset_url("swagger-ui-bundle.js"),
        swagger_css_url=asset_url("swagger-ui.css"),
        swagger_favicon_url=asset_url("favicon.png"),
    ).body
    redoc = get_redoc_html(
        openapi_url=api.openapi_url or "/openapi.json",
        title=title,
        redoc_js_url=asset_url("redoc.standalone.js"),
        redoc_favicon_url=asset_url("favicon.png"),
        with_google_fonts=False,
    ).body
    csp_hashes.extend(script_hashes(bytes(swagger).decode()) + script_hashes(bytes(redoc).decode()))

    async def docs() -> HTMLResponse:
        return HTMLResponse(swagger)

    async def redoc_page() -> HTMLResponse:
        return HTMLResponse(redoc)

    async def asset(name: str) -> FileResponse:
        if name not in FILES:
            raise HTTPException(404, detail="no such file")
        return FileResponse(STATIC / name, media_type=FILES[name], headers={"Cache-Control": IMMUTABLE})

    api.add_api_route("/docs", docs, methods=["GET"], include_in_schema=False)
    api.add_api_route("/redoc", redoc_page, methods=["GET"], include_in_schema=False)
    api.add_api_route("/_docs/{name}", asset, methods=["GET"], include_in_schema=False)
