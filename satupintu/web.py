"""The web process's app: the API (app.api.main) with the single window (dashboards) mounted on it.

The composition root is the only place that knows both: `app` never imports
`dashboards`. `satupintu web` serves `create_app(settings)`; with uvicorn
directly: `uvicorn --factory satupintu.web:create_app`.
"""

from __future__ import annotations

from fastapi import FastAPI

from app.api.main import create_app as create_api
from app.settings import Settings
from dashboards.app import mount as mount_dashboard


def create_app(settings: Settings | None = None, *, migrate: bool = True) -> FastAPI:
    """The API for `settings` (default: from the environment), with the dashboard's pages on the same app."""
    return create_api(settings, migrate=migrate, mounts=(mount_dashboard,))
