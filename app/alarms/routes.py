"""Alarms over HTTP: list and detail with history (viewer), acknowledge/clear/comment (operator),
rules, shelving and webhook dead letters (admin). Every write is audited and announced after commit."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from pydantic import AwareDatetime, BaseModel, Field, ValidationError, field_validator
from sqlalchemy import func, select, update

from app.alarms import queries as q
from app.alarms.engine import rule_row
from app.alarms.messages import message
from app.alarms.rules import RULE_ID_PATTERN, parse_rule
from app.alarms.store import OPEN_STATES, AlarmNotFound, AlarmStateConflict, Change, Lifecycle
from app.api.deps import AdminDep, ConnDep, OperatorDep, ProfileDep, SettingsDep, ViewerDep
from app.api.errors import unprocessable
from app.api.paging import Limit, Offset, Page
from app.api.timefmt import from_ms, now_ms, to_ms
from app.auth.audit import record
from app.live.notices import Notice, alarm_topic
from app.profile import ID_PATTERN, Profile, Severity
from app.storage.models import AlarmRow, AlarmRuleRow, AlarmShelfRow, WebhookDeliveryRow

router = APIRouter(prefix="/api/v1", tags=["alarms"])

R = AlarmRuleRow.__table__
S = AlarmShelfRow.__table__
W = WebhookDeliveryRow.__table__
Lang = Literal["id", "en"]
StateFilter = Literal["active", "acknowledged", "cleared", "open"]


class Alarm(BaseModel):
    id: int
    rule: str
    kind: str = Field(description="threshold, rate, silence, sla or ticket_count")
    severity: Severity
    state: Literal["active", "acknowledged", "cleared"]
    source_id: str | None
    district: str | None
    ticket_id: str | None
    metric: str | None
    value: float | None = Field(description="The value that raised it or last changed its severity")
    message: str = Field(description="What happened, in the requested language")
    raised_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    cleared_at: datetime | None
    cleared_by: str | None = Field(description="The operator who cleared it; null when the condition ended")
    lat: float | None
    lon: float | None


class AlarmEvent(BaseModel):
    at: datetime
    action: Literal["raised", "escalated", "deescalated", "acknowledged", "cleared", "comment", "reraised"]
    by: str | None = Field(description="Who; null for the rule engine")
    comment: str | None
    severity: Severity
    value: float | None


class AlarmDetail(Alarm):
    history: list[AlarmEvent] = Field(description="Every transition, oldest first")


class CommentIn(BaseModel):
    comment: str | None = Field(None, max_length=2000, description="Optional for ack and clear")

    @field_validator("comment")
    @classmethod
    def _printable(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = v.strip()
        if "\x00" in v:
            raise ValueError("a comment cannot contain NUL characters")
        return v or None


class CommentRequired(CommentIn):
    comment: str = Field(min_length=1, max_length=2000)


def _alarm(row, profile: Profile, lang: str) -> Alarm:  # noqa: ANN001
    return Alarm(
        id=row["id"],
        rule=row["rule_id"],
        kind=row["kind"],
        severity=row["severity"],
        state=row["state"],
        source_id=row["source_id"],
        district=row["district"],
        ticket_id=row["ticket_id"],
        metric=row["metric"],
        value=row["value"],
        message=message(row["kind"], orjson.loads(row["detail"]), lang, profile),
        raised_at=from_ms(row["raised_ms"]),
        updated_at=from_ms(row["updated_ms"]),
        acknowledged_at=from_ms(row["acked_ms"]) if row["acked_ms"] else None,
        acknowledged_by=row["acked_by"],
        cleared_at=from_ms(row["cleared_ms"]) if row["cleared_ms"] else None,
        cleared_by=row["cleared_by"],
        lat=row["lat"],
        lon=row["lon"],
    )


def announce(request: Request, changes: list[Change]) -> None:
    """After commit: each transition on `city/{city}/alarm/{id}`, and a change notice for the live channel."""
    hub = getattr(request.app.state, "live_hub", None)
    if hub is None or not changes:
        return
    for ch in changes:
        hub.publish(alarm_topic(ch.city, ch.alarm_id), ch.payload)
    by_city: dict[str, dict[int, str]] = {}
    for ch in changes:
        by_city.setdefault(ch.city, {})[ch.alarm_id] = ch.state
    for city, alarms in by_city.items():
        notice = Notice(city=city, at_ms=now_ms(), alarms=tuple(alarms.items()))
        hub.publish(notice.topic, notice.payload())


# --- alarms ---------------------------------------------------------------------


@router.get("/alarms", response_model=Page[Alarm], summary="Alarms, filtered; or those open at a past instant")
def list_alarms(
    _who: ViewerDep,
    conn: ConnDep,
    profile: ProfileDep,
    limit: Limit = 100,
    offset: Offset = 0,
    state: Annotated[StateFilter | None, Query(description="`open` = active or acknowledged")] = None,
    severity: Annotated[list[Severity] | None, Query()] = None,
    source: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    district: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    rule: Annotated[str | None, Query(pattern=RULE_ID_PATTERN)] = None,
    kind: Annotated[Literal["threshold", "rate", "silence", "sla", "ticket_count"] | None, Query()] = None,
    at: Annotated[
        AwareDatetime | None,
        Query(description="The alarms open at this past instant, in the state they had then (history replay)"),
    ] = None,
    order: Annotated[Literal["recent", "severity"], Query(description="Newest first, or worst first")] = "recent",
    lang: Annotated[Lang, Query(description="Language of `message`")] = "id",
) -> Page[Alarm]:
    if district is not None and not profile.has_district(district):
        raise unprocessable("district", f"unknown district {district!r}; the profile lists {sorted(d.id for d in profile.districts)}")
    if at is not None and state == "cleared":
        raise unprocessable("state", "alarms open at an instant are active or acknowledged, never cleared")
    states = OPEN_STATES if state == "open" else (state,) if state else ()
    f = q.AlarmFilter(
        city=profile.city.id,
        states=states,
        severities=tuple(severity or ()),
        source_id=source,
        district=district,
        rule_id=rule,
        kind=kind,
        at_ms=to_ms(at) if at is not None else None,
    )
    rows, total = q.list_alarms(conn=conn, f=f, order=order, limit=limit, offset=offset)
    return Page[Alarm](items=[_alarm(r, profile, lang) for r in rows], total=total, limit=limit, offset=offset)


AlarmId = Annotated[int, Path(ge=1, le=2**62)]


def _detail(conn, profile: Profile, alarm_id: int, lang: str) -> AlarmDetail:  # noqa: ANN001
    row = q.get_alarm(conn=conn, city=profile.city.id, alarm_id=alarm_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no alarm {alarm_id}")
    events = [
        AlarmEvent(
            at=from_ms(e["at_ms"]), action=e["action"], by=e["actor"], comment=e["comment"],
            severity=e["severity"], value=e["value"],
        )  # fmt: skip
        for e in q.history(conn=conn, alarm_id=alarm_id)
    ]
    return AlarmDetail(**_alarm(row, profile, lang).model_dump(), history=events)


@router.get(
    "/alarms/{alarm_id}",
    response_model=AlarmDetail,
    summary="One alarm with its history",
    responses={404: {"description": "No such alarm"}},
)
def get_alarm(
    _who: ViewerDep, conn: ConnDep, profile: ProfileDep, alarm_id: AlarmId, lang: Annotated[Lang, Query()] = "id"
) -> AlarmDetail:
    return _detail(conn, profile, alarm_id, lang)


def _operate(request: Request, conn, profile: Profile, settings, who, alarm_id: int, action: str, comment: str | None, lang: str) -> AlarmDetail:  # noqa: ANN001, PLR0913
    life = Lifecycle(profile, settings.alarm_webhooks)
    try:
        with conn.begin():
            if q.get_alarm(conn=conn, city=profile.city.id, alarm_id=alarm_id) is None:
                raise AlarmNotFound(alarm_id)
            t = now_ms()
            if action == "ack":
                ch = life.acknowledge(conn, alarm_id, by=who.name, comment=comment, now_ms=t)
            elif action == "clear":
                ch = life.operator_clear(conn, alarm_id, by=who.name, comment=comment, now_ms=t)
            else:
                ch = life.comment(conn, alarm_id, by=who.name, comment=comment or "", now_ms=t)
            record(conn=conn, actor=who.name, role=who.role, action=f"alarm.{action}", target=str(alarm_id), detail=comment)
    except AlarmNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no alarm {alarm_id}") from None
    except AlarmStateConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    announce(request, [ch])
    return _detail(conn, profile, alarm_id, lang)


_WRITE_RESPONSES = {404: {"description": "No such alarm"}, 409: {"description": "The alarm is not in a state this leaves"}}


@router.post("/alarms/{alarm_id}/ack", response_model=AlarmDetail, summary="Acknowledge (operator)", responses=_WRITE_RESPONSES)
def ack_alarm(
    request: Request, who: OperatorDep, conn: ConnDep, profile: ProfileDep, settings: SettingsDep,
    alarm_id: AlarmId, body: CommentIn | None = None, lang: Annotated[Lang, Query()] = "id",
) -> AlarmDetail:  # fmt: skip
    return _operate(request, conn, profile, settings, who, alarm_id, "ack", body.comment if body else None, lang)


@router.post(
    "/alarms/{alarm_id}/clear",
    response_model=AlarmDetail,
    summary="Clear by hand (operator); a condition that still holds raises a new alarm",
    responses=_WRITE_RESPONSES,
)
def clear_alarm(
    request: Request, who: OperatorDep, conn: ConnDep, profile: ProfileDep, settings: SettingsDep,
    alarm_id: AlarmId, body: CommentIn | None = None, lang: Annotated[Lang, Query()] = "id",
) -> AlarmDetail:  # fmt: skip
    return _operate(request, conn, profile, settings, who, alarm_id, "clear", body.comment if body else None, lang)


@router.post("/alarms/{alarm_id}/comment", response_model=AlarmDetail, summary="Comment (operator)", responses=_WRITE_RESPONSES)
def comment_alarm(
    request: Request, who: OperatorDep, conn: ConnDep, profile: ProfileDep, settings: SettingsDep,
    alarm_id: AlarmId, body: CommentRequired, lang: Annotated[Lang, Query()] = "id",
) -> AlarmDetail:  # fmt: skip
    return _operate(request, conn, profile, settings, who, alarm_id, "comment", body.comment, lang)


# --- rules ------------------------------------------------------------------------


class RuleOut(BaseModel):
    rule_id: str
    kind: str
    metric: str | None
    enabled: bool
    webhook_url: str | None
    params: dict = Field(description="The kind's parameters (see the rule kinds in the docs)")
    origin: Literal["profile", "admin"]
    version: int = Field(description="Goes up with every edit; each version is in the audit log")
    updated_at: datetime
    updated_by: str | None


def _rule_out(row) -> RuleOut:  # noqa: ANN001
    return RuleOut(
        rule_id=row["rule_id"], kind=row["kind"], metric=row["metric"], enabled=row["enabled"],
        webhook_url=row["webhook_url"], params=orjson.loads(row["params"]), origin=row["origin"],
        version=row["version"], updated_at=from_ms(row["updated_ms"]), updated_by=row["updated_by"],
    )  # fmt: skip


RuleId = Annotated[str, Path(pattern=RULE_ID_PATTERN)]


@router.get("/alarm-rules", response_model=list[RuleOut], summary="The city's alarm rules")
def list_rules(_who: ViewerDep, conn: ConnDep, profile: ProfileDep) -> list[RuleOut]:
    rows = conn.execute(
        select(R).where(R.c.city == profile.city.id, R.c.deleted_ms.is_(None)).order_by(R.c.rule_id)
    ).mappings()
    return [_rule_out(r) for r in rows]


class RuleIn(BaseModel):
    """A rule's body: `kind`, the kind's parameters, and optionally `enabled`, `webhook_url`, `reraise_after_s`."""

    model_config = {"extra": "allow", "json_schema_extra": {"examples": [
        {"kind": "threshold", "metric": "water_level_cm", "op": "above", "hysteresis": 10, "duration_s": 60,
         "levels": [{"severity": "major", "value": 180}, {"severity": "critical", "value": 250}]},
        {"kind": "rate", "metric": "water_level_cm", "direction": "rise", "delta": 40, "window_s": 900},
    ]}}  # fmt: skip
    kind: Literal["threshold", "rate", "silence", "sla", "ticket_count"]


def _clear_rule_alarms(conn, profile: Profile, settings, rule_id: str, who, why: str) -> list[Change]:  # noqa: ANN001
    A = AlarmRow.__table__
    life = Lifecycle(profile, settings.alarm_webhooks)
    ids = conn.execute(
        select(A.c.id).where(A.c.city == profile.city.id, A.c.rule_id == rule_id, A.c.state.in_(OPEN_STATES))
    ).scalars().all()
    t = now_ms()
    return [ch for i in ids if (ch := life.clear(conn, i, now_ms=t, by=who.name, comment=why)) is not None]


@router.put(
    "/alarm-rules/{rule_id}",
    response_model=RuleOut,
    summary="Create or replace a rule (admin); its version goes up and the audit log keeps the body",
)
def put_rule(
    request: Request, who: AdminDep, conn: ConnDep, profile: ProfileDep, settings: SettingsDep,
    rule_id: RuleId, body: RuleIn,
) -> RuleOut:  # fmt: skip
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
    t = now_ms()
    changes: list[Change] = []
    with conn.begin():
        old = conn.execute(select(R).where(R.c.city == profile.city.id, R.c.rule_id == rule_id)).mappings().first()
        row = rule_row(profile.city.id, rule, origin="admin", now_ms=t, by=who.name)
        if old is None:
            conn.execute(R.insert().values(**row))
        else:
            if old["kind"] != rule.kind:
                raise unprocessable("kind", f"rule {rule_id!r} is a {old['kind']} rule; delete it to reuse its id")
            row["version"] = old["version"] + 1
            row["origin"] = old["origin"] if old["deleted_ms"] is None else "admin"
            conn.execute(update(R).where(R.c.id == old["id"]).values(**row, deleted_ms=None))
            if not rule.enabled or old["params"] != row["params"]:
                # New conditions apply from now: the old ones' alarms end, what still holds is raised afresh.
                changes = _clear_rule_alarms(conn, profile, settings, rule_id, who, "rule changed")
        detail = orjson.dumps({"version": row["version"], "rule": rule.model_dump(mode="json")}).decode()
        record(conn=conn, actor=who.name, role=who.role, action="alarm_rule.put", target=rule_id, detail=detail)
        out = conn.execute(select(R).where(R.c.city == profile.city.id, R.c.rule_id == rule_id)).mappings().one()
    announce(request, changes)
    return _rule_out(out)


@router.delete(
    "/alarm-rules/{rule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a rule (admin): its open alarms clear; the profile does not bring it back",
    responses={404: {"description": "No such rule"}},
)
def delete_rule(
    request: Request, who: AdminDep, conn: ConnDep, profile: ProfileDep, settings: SettingsDep, rule_id: RuleId
) -> None:
    with conn.begin():
        n = conn.execute(
            update(R)
            .where(R.c.city == profile.city.id, R.c.rule_id == rule_id, R.c.deleted_ms.is_(None))
            .values(deleted_ms=now_ms(), updated_by=who.name)
        ).rowcount
        if n != 1:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no rule {rule_id!r}")
        changes = _clear_rule_alarms(conn, profile, settings, rule_id, who, "rule deleted")
        record(conn=conn, actor=who.name, role=who.role, action="alarm_rule.delete", target=rule_id)
    announce(request, changes)


# --- shelving ---------------------------------------------------------------------


class ShelfIn(BaseModel):
    rule_id: str | None = Field(None, pattern=RULE_ID_PATTERN, description="Shelve this rule (for every source, or for `source_id`)")
    source_id: str | None = Field(None, pattern=ID_PATTERN, description="Shelve this source (for every rule, or for `rule_id`)")
    minutes: int = Field(gt=0, le=30 * 24 * 60, description="For how long")
    reason: str = Field(min_length=3, max_length=500, pattern=r"^[^\x00]*$", description="Why: shown to every operator")


class ShelfOut(BaseModel):
    id: int
    rule_id: str | None
    source_id: str | None
    from_at: datetime
    until: datetime
    by: str
    reason: str
    ended_at: datetime | None


def _shelf_out(r) -> ShelfOut:  # noqa: ANN001
    return ShelfOut(
        id=r["id"], rule_id=r["rule_id"], source_id=r["source_id"], from_at=from_ms(r["from_ms"]),
        until=from_ms(r["until_ms"]), by=r["actor"], reason=r["reason"],
        ended_at=from_ms(r["ended_ms"]) if r["ended_ms"] else None,
    )  # fmt: skip


@router.get("/alarm-shelves", response_model=list[ShelfOut], summary="Rules and sources shelved now")
def list_shelves(_who: ViewerDep, conn: ConnDep, profile: ProfileDep) -> list[ShelfOut]:
    t = now_ms()
    rows = conn.execute(
        select(S)
        .where(S.c.city == profile.city.id, S.c.until_ms > t, S.c.ended_ms.is_(None))
        .order_by(S.c.until_ms)
    ).mappings()
    return [_shelf_out(r) for r in rows]


@router.post(
    "/alarm-shelves",
    response_model=ShelfOut,
    status_code=status.HTTP_201_CREATED,
    summary="Shelve a rule, a source, or one rule for one source, for a period (admin); it raises nothing meanwhile",
)
def shelve(who: AdminDep, conn: ConnDep, profile: ProfileDep, body: ShelfIn) -> ShelfOut:
    if body.rule_id is None and body.source_id is None:
        raise unprocessable("rule_id", "name a rule_id, a source_id, or both")
    t = now_ms()
    with conn.begin():
        if body.rule_id is not None and conn.execute(
            select(R.c.id).where(R.c.city == profile.city.id, R.c.rule_id == body.rule_id, R.c.deleted_ms.is_(None))
        ).first() is None:
            raise unprocessable("rule_id", f"no rule {body.rule_id!r}")
        shelf_id = conn.execute(
            S.insert().values(
                city=profile.city.id, rule_id=body.rule_id, source_id=body.source_id, from_ms=t,
                until_ms=t + body.minutes * 60_000, actor=who.name, reason=body.reason.strip(),
            )  # fmt: skip
        ).inserted_primary_key[0]
        target = f"{body.rule_id or '*'}@{body.source_id or '*'}"
        record(conn=conn, actor=who.name, role=who.role, action="alarm.shelve", target=target, detail=f"{body.minutes} min: {body.reason}")
        row = conn.execute(select(S).where(S.c.id == shelf_id)).mappings().one()
    return _shelf_out(row)


@router.delete(
    "/alarm-shelves/{shelf_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Unshelve before the period ends (admin)",
    responses={404: {"description": "No such shelf in force"}},
)
def unshelve(who: AdminDep, conn: ConnDep, profile: ProfileDep, shelf_id: Annotated[int, Path(ge=1, le=2**62)]) -> None:
    t = now_ms()
    with conn.begin():
        n = conn.execute(
            update(S)
            .where(S.c.id == shelf_id, S.c.city == profile.city.id, S.c.ended_ms.is_(None), S.c.until_ms > t)
            .values(ended_ms=t)
        ).rowcount
        if n != 1:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no shelf {shelf_id} in force")
        record(conn=conn, actor=who.name, role=who.role, action="alarm.unshelve", target=str(shelf_id))


# --- webhook deliveries -------------------------------------------------------------


class DeliveryOut(BaseModel):
    id: int
    alarm_id: int
    url: str
    status: Literal["pending", "delivered", "dead"]
    attempts: int
    next_at: datetime
    last_error: str | None
    created_at: datetime
    done_at: datetime | None


@router.get("/alarm-webhooks", response_model=Page[DeliveryOut], summary="Webhook deliveries (admin): `dead` = the dead letters")
def list_deliveries(
    _who: AdminDep,
    conn: ConnDep,
    limit: Limit = 100,
    offset: Offset = 0,
    delivery_status: Annotated[Literal["pending", "delivered", "dead"] | None, Query(alias="status")] = None,
) -> Page[DeliveryOut]:
    where = [W.c.status == delivery_status] if delivery_status else []
    total = conn.execute(select(func.count()).select_from(W).where(*where)).scalar_one()
    rows = conn.execute(select(W).where(*where).order_by(W.c.id.desc()).limit(limit).offset(offset)).mappings()
    items = [
        DeliveryOut(
            id=r["id"], alarm_id=r["alarm_id"], url=r["url"], status=r["status"], attempts=r["attempts"],
            next_at=from_ms(r["next_ms"]), last_error=r["last_error"], created_at=from_ms(r["created_ms"]),
            done_at=from_ms(r["done_ms"]) if r["done_ms"] else None,
        )  # fmt: skip
        for r in rows
    ]
    return Page[DeliveryOut](items=items, total=total, limit=limit, offset=offset)


@router.post(
    "/alarm-webhooks/{delivery_id}/retry",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Send a dead letter again (admin)",
    responses={404: {"description": "No such dead delivery"}},
)
def retry_delivery(who: AdminDep, conn: ConnDep, delivery_id: Annotated[int, Path(ge=1, le=2**62)]) -> None:
    with conn.begin():
        n = conn.execute(
            update(W)
            .where(W.c.id == delivery_id, W.c.status == "dead")
            .values(status="pending", attempts=0, next_ms=now_ms(), claimed_until_ms=0, done_ms=None)
        ).rowcount
        if n != 1:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no dead delivery {delivery_id}")
        record(conn=conn, actor=who.name, role=who.role, action="alarm_webhook.retry", target=str(delivery_id))

