"""`GET /api/health`: is the service able to do its job, and if not, why."""

from __future__ import annotations

import socket
import time
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from app.http.deps import EngineDep, SettingsDep
from app.http.timefmt import from_ms
from app.storage.models import IngestMinuteRow

router = APIRouter(tags=["health"])


class Component(BaseModel):
    ok: bool
    detail: str


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: Component
    broker: Component
    last_ingest_at: str | None = None


def _broker_reachable(host: str, port: int) -> tuple[bool, str]:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True, f"{host}:{port} accepts connections"
    except OSError as exc:
        return False, f"{host}:{port} unreachable: {exc.strerror or exc}"


@router.get("/api/health", response_model=Health, summary="Service health (no token needed)")
def health(engine: EngineDep, settings: SettingsDep) -> Health:
    last = None
    try:
        t0 = time.perf_counter()
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            bucket = conn.execute(select(func.max(IngestMinuteRow.bucket))).scalar()
        db = Component(ok=True, detail=f"{engine.dialect.name} answers in {(time.perf_counter() - t0) * 1000:.0f} ms")
        last = from_ms(bucket * 1000).isoformat() if bucket is not None else None
    except SQLAlchemyError as exc:
        db = Component(ok=False, detail=f"{engine.dialect.name} unavailable: {str(exc).splitlines()[0][:200]}")
    ok, detail = _broker_reachable(settings.mqtt.host, settings.mqtt.port)
    broker = Component(ok=ok, detail=detail)
    return Health(status="ok" if db.ok and broker.ok else "degraded", database=db, broker=broker, last_ingest_at=last)
