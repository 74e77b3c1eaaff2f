"""`GET /api/v1/integrators/health`: is each vendor's gateway sending, and sending right?"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, Field

from app.auth.deps import get_principal
from app.auth.tokens import Principal
from app.http.deps import ConnDep, ProfileDep, SettingsDep
from app.http.timefmt import from_ms, now_ms
from app.integrators.grants import read_grants
from app.integrators.service import HOURS, health

router = APIRouter(prefix="/api/v1", tags=["integrators"])


class LastRefusal(BaseModel):
    at: datetime
    reason: str
    detail: str
    topic: str


class TargetOut(BaseModel):
    id: str = Field(description="source or agency id")
    kind: str | None = Field(description="source or agency (from the ACL grants or the profile); null if unknown")
    integrators: list[str] = Field(description="MQTT users granted to publish for it")
    messages_1h: int = Field(description="messages received in the last hour (exact to 5 minutes)")
    messages_24h: int
    warnings_24h: int = Field(description="accepted messages that carried a warning")
    refused_24h: dict[str, int] = Field(description="quarantined messages (or parts) by reason")
    sparkline: list[int] = Field(description=f"messages per hour over the last {HOURS} h, oldest first")
    last_seen: datetime | None
    last_refusal: LastRefusal | None


class IntegratorOut(BaseModel):
    name: str = Field(description="the MQTT username")
    targets: list[str]
    messages_1h: int
    warnings_24h: int
    refused_24h: int
    last_seen: datetime | None
    silent: list[str] = Field(description="its sources and agencies with no message in the last hour")


class HealthOut(BaseModel):
    city: str
    at: datetime
    integrators: list[IntegratorOut]
    targets: list[TargetOut]


def _operator_or_integrator(who: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if who.role == "integrator" or who.may("operator"):
        return who
    raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"this needs the operator role; your token is {who.role}")


@router.get(
    "/integrators/health", response_model=HealthOut, summary="Per integrator and source: traffic, refusals, warnings"
)
def integrators_health(
    conn: ConnDep,
    profile: ProfileDep,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(_operator_or_integrator)],
) -> HealthOut:
    """Operators and admins see every integrator; an `integrator` token sees its own grants (its name is its MQTT user)."""
    city = profile.city.id
    grants = read_grants(settings.mqtt_auth_dir)
    only = None
    if who.role == "integrator":
        only = {gid for c, _kind, gid in grants.get(who.name, set()) if c == city}
        grants = {who.name: grants.get(who.name, set())}
    now = now_ms()
    users, targets = health(
        conn=conn, city=city, agencies={a.id for a in profile.agencies}, grants=grants, now_ms=now, only=only
    )
    return HealthOut(
        city=city,
        at=from_ms(now),
        integrators=[
            IntegratorOut(**{k: v for k, v in u.items() if k != "last_seen_ms"}, last_seen=from_ms(u["last_seen_ms"]))
            for u in users
        ],
        targets=[
            TargetOut(
                id=t.id,
                kind=t.kind,
                integrators=t.integrators,
                messages_1h=t.messages_1h,
                messages_24h=t.messages_24h,
                warnings_24h=t.warnings_24h,
                refused_24h=t.refused_24h,
                sparkline=t.sparkline,
                last_seen=from_ms(t.last_seen_ms),
                last_refusal=None
                if t.last_refusal is None
                else LastRefusal(
                    at=from_ms(t.last_refusal["at_ms"]),
                    reason=t.last_refusal["reason"],
                    detail=t.last_refusal["detail"],
                    topic=t.last_refusal["topic"],
                ),
            )
            for t in targets
        ],
    )
