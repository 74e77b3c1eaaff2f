"""Alarm rules over HTTP (`/api/v1/alarm-rules`): listed for viewers, created, replaced and deleted by admins.

Every edit raises the rule's version and is audited with the rule's body; a
change of conditions clears the rule's open alarms (announced after commit).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, HTTPException, Path, Request, status
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import RowMapping

from app.alarms import rule_store
from app.alarms.commands import clear_rule_alarms
from app.alarms.rule_store import RuleKindChanged
from app.alarms.rules import RULE_ID_PATTERN, parse_rule
from app.alarms.store import Change, Lifecycle
from app.auth.audit import record
from app.auth.deps import AdminDep, ViewerDep
from app.http.deps import ConnDep, ProfileDep, SettingsDep
from app.http.errors import unprocessable
from app.http.timefmt import from_ms, now_ms
from app.live.hub import announce

router = APIRouter(prefix="/api/v1/alarm-rules", tags=["alarms"])


class RuleOut(BaseModel):
    rule_id: str
    kind: str
    metric: str | None
    enabled: bool
    webhook_url: str | None
    params: dict[str, Any] = Field(description="The kind's parameters (see the rule kinds in the docs)")
    origin: Literal["profile", "admin"]
    version: int = Field(description="Goes up with every edit; each version is in the audit log")
    updated_at: datetime
    updated_by: str | None


def _rule_out(row: RowMapping) -> RuleOut:
    return RuleOut(
        rule_id=row["rule_id"],
        kind=row["kind"],
        metric=row["metric"],
        enabled=row["enabled"],
        webhook_url=row["webhook_url"],
        params=orjson.loads(row["params"]),
        origin=row["origin"],
        version=row["version"],
        updated_at=from_ms(row["updated_ms"]),
        updated_by=row["updated_by"],
    )


RuleId = Annotated[str, Path(pattern=RULE_ID_PATTERN)]


@router.get("", response_model=list[RuleOut], summary="The city's alarm rules")
def list_rules(_who: ViewerDep, conn: ConnDep, profile: ProfileDep) -> list[RuleOut]:
    return [_rule_out(r) for r in rule_store.list_rules(conn=conn, city=profile.city.id)]


class RuleIn(BaseModel):
    """A rule's body: `kind`, the kind's parameters, and optionally `enabled`, `webhook_url`, `reraise_after_s`."""

    model_config = {
        "extra": "allow",
        "json_schema_extra": {
            "examples": [
                {
                    "kind": "threshold",
                    "metric": "water_level_cm",
                    "op": "above",
                    "hysteresis": 10,
                    "duration_s": 60,
                    "levels": [{"severity": "major", "value": 180}, {"severity": "critical", "value": 250}],
                },
                {"kind": "rate", "metric": "water_level_cm", "direction": "rise", "delta": 40, "window_s": 900},
            ]
        },
    }
    kind: Literal["threshold", "rate", "silence", "sla", "ticket_count"]


@router.put(
    "/{rule_id}",
    response_model=RuleOut,
    summary="Create or replace a rule (admin); its version goes up and the audit log keeps the body",
)
def put_rule(
    *,
    request: Request,
    who: AdminDep,
    conn: ConnDep,
    profile: ProfileDep,
    settings: SettingsDep,
    rule_id: RuleId,
    body: RuleIn,
) -> RuleOut:
    data = body.model_dump()
    data["rule_id"] = rule_id
    try:
        rule = parse_rule(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise unprocessable(".".join(str(p) for p in first["loc"]) or "body", first["msg"]) from None
    metric = getattr(rule, "metric", None)
    if metric is not None and profile.metric(metric) is None:
        raise unprocessable("metric", f"unknown metric {metric!r}: the profile's catalogue does not list it")
    city, t = profile.city.id, now_ms()
    changes: list[Change] = []
    with conn.begin():
        try:
            version, ended = rule_store.save_rule(conn=conn, city=city, rule=rule, by=who.name, now_ms=t)
        except RuleKindChanged as exc:
            raise unprocessable("kind", str(exc)) from None
        if ended:
            # New conditions apply from now: the old ones' alarms end, what still holds is raised afresh.
            life = Lifecycle(profile, settings.alarm_webhooks)
            changes = clear_rule_alarms(
                conn=conn, life=life, city=city, rule_id=rule_id, by=who.name, why="rule changed", now_ms=t
            )
        detail = orjson.dumps({"version": version, "rule": rule.model_dump(mode="json")}).decode()
        record(conn=conn, actor=who.name, role=who.role, action="alarm_rule.put", target=rule_id, detail=detail)
        out = rule_store.get_rule(conn=conn, city=city, rule_id=rule_id)
    announce(request.app, changes)
    if out is None:  # written just now, in this transaction
        raise RuntimeError(f"rule {rule_id!r} vanished right after it was saved")
    return _rule_out(out)


@router.delete(
    "/{rule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a rule (admin): its open alarms clear; the profile does not bring it back",
    responses={404: {"description": "No such rule"}},
)
def delete_rule(
    *, request: Request, who: AdminDep, conn: ConnDep, profile: ProfileDep, settings: SettingsDep, rule_id: RuleId
) -> None:
    city, t = profile.city.id, now_ms()
    with conn.begin():
        if not rule_store.delete_rule(conn=conn, city=city, rule_id=rule_id, by=who.name, now_ms=t):
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no rule {rule_id!r}")
        life = Lifecycle(profile, settings.alarm_webhooks)
        changes = clear_rule_alarms(
            conn=conn, life=life, city=city, rule_id=rule_id, by=who.name, why="rule deleted", now_ms=t
        )
        record(conn=conn, actor=who.name, role=who.role, action="alarm_rule.delete", target=rule_id)
    announce(request.app, changes)
