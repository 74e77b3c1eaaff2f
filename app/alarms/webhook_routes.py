"""Webhook deliveries over HTTP (`/api/v1/alarm-webhooks`, admin): the outbox listed, a dead letter sent again."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, status
from pydantic import BaseModel, Field

from app.alarms import webhooks
from app.auth.audit import record
from app.auth.deps import AdminDep
from app.http.deps import ConnDep
from app.http.paging import Limit, Offset, Page
from app.http.timefmt import from_ms, now_ms

router = APIRouter(prefix="/api/v1/alarm-webhooks", tags=["alarms"])


class DeliveryOut(BaseModel):
    id: int
    alarm_id: int | None = Field(description="The alarm whose transition this is; null for an incident's")
    incident_id: int | None = Field(None, description="The incident whose late step this escalates (issue 13)")
    url: str
    status: Literal["pending", "delivered", "dead"]
    attempts: int
    next_at: datetime
    last_error: str | None
    created_at: datetime
    done_at: datetime | None


@router.get("", response_model=Page[DeliveryOut], summary="Webhook deliveries (admin): `dead` = the dead letters")
def list_deliveries(
    _who: AdminDep,
    conn: ConnDep,
    limit: Limit = 100,
    offset: Offset = 0,
    delivery_status: Annotated[Literal["pending", "delivered", "dead"] | None, Query(alias="status")] = None,
) -> Page[DeliveryOut]:
    rows, total = webhooks.list_deliveries(conn=conn, status=delivery_status, limit=limit, offset=offset)
    items = [
        DeliveryOut(
            id=r["id"],
            alarm_id=r["alarm_id"],
            incident_id=r["incident_id"],
            url=r["url"],
            status=r["status"],
            attempts=r["attempts"],
            next_at=from_ms(r["next_ms"]),
            last_error=r["last_error"],
            created_at=from_ms(r["created_ms"]),
            done_at=from_ms(r["done_ms"]) if r["done_ms"] else None,
        )
        for r in rows
    ]
    return Page[DeliveryOut](items=items, total=total, limit=limit, offset=offset)


@router.post(
    "/{delivery_id}/retry",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Send a dead letter again (admin)",
    responses={404: {"description": "No such dead delivery"}},
)
def retry_delivery(who: AdminDep, conn: ConnDep, delivery_id: Annotated[int, Path(ge=1, le=2**62)]) -> None:
    with conn.begin():
        if not webhooks.retry_delivery(conn=conn, delivery_id=delivery_id, now_ms=now_ms()):
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no dead delivery {delivery_id}")
        record(conn=conn, actor=who.name, role=who.role, action="alarm_webhook.retry", target=str(delivery_id))
