"""The web process's app: the API (app.api.main) with the dry run (ingest) and the single window (dashboards).

The composition root is the only place that knows all three: `app` never imports
`ingest` or `dashboards`. The dry run (`POST /api/v1/validate`) lives beside the
one parser in ingest. `satupintu web` serves `create_app(settings)`; with uvicorn
directly: `uvicorn --factory satupintu.web:create_app`.
"""

from __future__ import annotations

from fastapi import FastAPI

from app.api.main import create_app as create_api
from app.settings import Settings
from dashboards.app import mount as mount_dashboard
from ingest.validate_routes import mount as mount_validate


def create_app(settings: Settings | None = None, *, migrate: bool = True) -> FastAPI:
    """The API for `settings` (default: from the environment), with the dry run and the dashboard's pages on the same app."""
    return create_api(settings, migrate=migrate, mounts=(mount_validate, mount_dashboard))
