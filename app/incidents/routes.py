"""Incidents over HTTP (`/api/v1/incidents`): listed and read by viewers; opened and worked by operators.

Every write is one transaction, audited, and announced after commit on the
live channel (a change notice's `incidents`). A viewer's token reads
everything and writes nothing (403).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, HTTPException, Path, Query, status
from pydantic import AwareDatetime
from sqlalchemy import Connection

from app.alarms.queries import get_alarm
from app.alarms.routes import Desk, DeskDep
from app.alarms.situation_store import picture
from app.alarms.situations import Situation
from app.auth.audit import record
from app.auth.deps import OperatorDep, ViewerDep
from app.auth.tokens import Principal
from app.http.deps import ConnDep, ProfileDep
from app.http.errors import unprocessable
from app.http.paging import Limit, Offset, Page
from app.http.timefmt import from_ms, now_ms, to_ms
from app.incidents import queries as q, store
from app.incidents.requests import IncidentIn, LinksIn, LogIn, OwnerIn, StateIn, StepIn, SummaryOut
from app.incidents.sops import default_sop, get_sop
from app.incidents.store import BadLink, IncidentConflict, IncidentNotFound, Opening, State
from app.incidents.views import Incident, IncidentDetail, incident_out, link_out, log_out
from app.live.hub import announce
from app.live.notices import DependsOn, IncidentMoved
from app.profile import ID_PATTERN, Profile
from app.services.routes import PeriodDep
from app.tickets.queries import get_ticket

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])
# The list and detail change with incidents; the reports show the linked alarms and tickets too.
depends_on = DependsOn("/api/v1/incidents", frozenset({"incidents", "alarms", "tickets"}))

Lang = Literal["id", "en"]
IncidentId = Annotated[int, Path(ge=1, le=2**62)]
_WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such incident (or step)"},
    409: {"description": "The incident's state forbids it (e.g. closing with an open mandatory step)"},
}


def _check_place(profile: Profile, body: IncidentIn) -> None:
    if body.district is not None and not profile.has_district(body.district):
        raise unprocessable("body.district", f"unknown district {body.district!r}")
    if (body.lat is None) != (body.lon is None):
        raise unprocessable("body.lat", "give both lat and lon, or neither")
    for a in body.agencies:
        if not profile.has_agency(a):
            raise unprocessable("body.agencies", f"unknown agency {a!r}")


def _situation(conn: Connection, profile: Profile, situation_id: str | None, at_ms: int) -> Situation | None:
    """The situation named (as GET /api/v1/situations shows it now); 422 for one the city does not have."""
    if situation_id is None:
        return None
    pic = picture(conn=conn, profile=profile, now_ms=at_ms)
    sit = next((s for s in pic.situations if s.id == situation_id), None)
    if sit is None:
        raise unprocessable("body.situation_id", f"no situation {situation_id!r}; GET /api/v1/situations lists them")
    return sit


def _type_for(conn: Connection, city: str, body: IncidentIn, alarm_ids: list[int]) -> str:
    """The incident type asked, or the default SOP of the first alarm or ticket it is opened from."""
    if body.type is not None:
        return body.type
    for a in alarm_ids:
        alarm = get_alarm(conn=conn, city=city, alarm_id=a)
        if alarm is not None and (
            t := default_sop(conn=conn, city=city, rule_kind=alarm["kind"], metric=alarm["metric"])
        ):
            return t
    for tid in body.ticket_ids:
        ticket = get_ticket(conn=conn, city=city, ticket_id=tid)
        if ticket is not None and (t := default_sop(conn=conn, city=city, service=ticket["service"])):
            return t
    raise unprocessable("body.type", "give the incident type (an SOP id): nothing it is opened from names one")


def _severity_for(conn: Connection, city: str, body: IncidentIn, sit: Situation | None, alarm_ids: list[int]) -> str:
    """The severity asked, or the situation's (its worst open alarm's), or the first alarm's."""
    if body.severity is not None:
        return body.severity
    if sit is not None:
        return sit.severity
    for a in alarm_ids:
        if (alarm := get_alarm(conn=conn, city=city, alarm_id=a)) is not None:
            return str(alarm["severity"])
    raise unprocessable("body.severity", "give the severity: it is not opened from an alarm or a situation")


def _detail(conn: Connection, city: str, incident_id: int, lang: str) -> IncidentDetail:
    row = q.get_incident(conn=conn, city=city, incident_id=incident_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no incident {incident_id}")
    base = incident_out(row, q.steps_of(conn=conn, incident_id=incident_id), lang, now_ms())
    return IncidentDetail(
        **base.model_dump(),
        links=[link_out(k) for k in q.links_of(conn=conn, incident_id=incident_id)],
        log=[log_out(e) for e in q.log_of(conn=conn, incident_id=incident_id)],
    )


def _as_of(step: dict[str, Any], at_ms: int) -> dict[str, Any]:
    """A step as it was at a past instant."""
    if step["done_ms"] is not None and step["done_ms"] > at_ms:
        step.update(status="open", done_ms=None, done_by=None, note=None)
    for mark in ("late_ms", "late2_ms"):
        if step[mark] is not None and step[mark] > at_ms:
            step[mark] = None
    return step


@router.get("", response_model=Page[Incident], summary="Incidents, newest first; or those open at a past instant")
def list_incidents(
    *,
    _who: ViewerDep,
    conn: ConnDep,
    profile: ProfileDep,
    limit: Limit = 100,
    offset: Offset = 0,
    state: Annotated[
        list[State | Literal["active"]] | None, Query(description="`active`: not closed nor cancelled")
    ] = None,
    at: Annotated[
        AwareDatetime | None, Query(description="Those open at this past instant, as they were (replay)")
    ] = None,
    lang: Annotated[Lang, Query()] = "id",
) -> Page[Incident]:
    states: list[str] = []
    for s in state or ():
        states.extend(store.OPEN_STATES if s == "active" else (s,))
    at_ms = to_ms(at) if at is not None else None
    rows, total = q.list_incidents(
        conn=conn, city=profile.city.id, states=states, at_ms=at_ms, limit=limit, offset=offset
    )
    items = []
    for r in rows:
        steps = [dict(s) for s in q.steps_of(conn=conn, incident_id=r["id"])]
        if at_ms is not None:
            steps = [_as_of(s, at_ms) for s in steps]
        items.append(incident_out(r, steps, lang, at_ms if at_ms is not None else now_ms()))
    return Page[Incident](items=items, total=total, limit=limit, offset=offset)


@router.get("/summary", response_model=SummaryOut, summary="The regent's summary of the incidents opened in a period")
def incident_summary(_who: ViewerDep, conn: ConnDep, profile: ProfileDep, span: PeriodDep) -> SummaryOut:
    start_ms, end_ms = span.start_ms, span.end_ms
    s = q.summary(conn=conn, city=profile.city.id, start_ms=start_ms, end_ms=end_ms)
    return SummaryOut(start=from_ms(start_ms), end=from_ms(end_ms), **vars(s))


@router.get("/{incident_id}", response_model=IncidentDetail, summary="One incident with its steps, links and log")
def get_incident(
    _who: ViewerDep, conn: ConnDep, profile: ProfileDep, incident_id: IncidentId, lang: Annotated[Lang, Query()] = "id"
) -> IncidentDetail:
    return _detail(conn, profile.city.id, incident_id, lang)


def _write(
    desk: Desk, who: Principal, *, incident_id: int | None, action: str, detail: Any, do: Any, lang: str
) -> IncidentDetail:
    """Run `do(conn, now_ms)` in one transaction, audited; announce after commit; the incident as it is now."""
    conn, city = desk.conn, desk.profile.city.id
    try:
        with conn.begin():
            moved: IncidentMoved = do(conn, now_ms())
            record(
                conn=conn,
                actor=who.name,
                role=who.role,
                action=f"incident.{action}",
                target=str(moved.incident_id),
                detail=orjson.dumps(detail).decode(),
            )
    except IncidentNotFound as exc:
        what = exc.args[0] if exc.args else incident_id
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"no incident {what}" if isinstance(what, int) else str(what)
        ) from None
    except IncidentConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    except BadLink as exc:
        raise unprocessable("body", str(exc)) from None
    except ValueError as exc:
        raise unprocessable("body.note", str(exc)) from None
    announce(desk.request.app, [moved])
    return _detail(conn, city, moved.incident_id, lang)


def _work(
    desk: Desk, who: Principal, *, incident_id: int, lang: str, action: str, detail: Any, fn: Any, **args: Any
) -> IncidentDetail:
    """An operator's write on one incident: `fn(conn=, city=, incident_id=, by=, now_ms=, **args)` through _write."""
    city = desk.profile.city.id
    return _write(
        desk,
        who,
        incident_id=incident_id,
        action=action,
        detail=detail,
        do=lambda c, t: fn(conn=c, city=city, incident_id=incident_id, by=who.name, now_ms=t, **args),
        lang=lang,
    )


@router.post(
    "",
    response_model=IncidentDetail,
    status_code=status.HTTP_201_CREATED,
    summary="Open an incident (operator): its SOP's steps are copied, the alarms and tickets linked",
    responses={422: {"description": "Unknown type, district, agency, alarm or ticket"}},
)
def open_incident(
    who: OperatorDep, desk: DeskDep, body: IncidentIn, lang: Annotated[Lang, Query()] = "id"
) -> IncidentDetail:
    _check_place(desk.profile, body)
    city = desk.profile.city.id

    def do(conn: Connection, at_ms: int) -> IncidentMoved:
        sit = _situation(conn, desk.profile, body.situation_id, at_ms)
        alarm_ids = list(dict.fromkeys([*body.alarm_ids, *(m.id for m in sit.members)] if sit else body.alarm_ids))
        kind = _type_for(conn, city, body, alarm_ids)
        found = get_sop(conn=conn, city=city, sop_id=kind)
        if found is None:
            raise unprocessable("body.type", f"no SOP for incident type {kind!r}; GET /api/v1/incident-sops lists them")
        sop, version = found
        o = Opening(
            city=city,
            type=kind,
            title=body.title,
            severity=_severity_for(conn, city, body, sit, alarm_ids),
            district=body.district or (sit.district if sit else None),
            lat=body.lat,
            lon=body.lon,
            agencies=body.agencies,
            alarm_ids=alarm_ids,
            ticket_ids=body.ticket_ids,
            note=body.note,
            situation_id=sit.id if sit else None,
        )
        return store.open_incident(conn=conn, o=o, sop=sop, sop_version=version, by=who.name, now_ms=at_ms)

    return _write(desk, who, incident_id=None, action="open", detail=body.model_dump(mode="json"), do=do, lang=lang)


@router.post(
    "/{incident_id}/steps/{step}",
    response_model=IncidentDetail,
    summary="Tick a step done, or skip it with a reason (operator)",
    responses=_WRITE_RESPONSES,
)
def work_step(
    *,
    who: OperatorDep,
    desk: DeskDep,
    incident_id: IncidentId,
    step: Annotated[str, Path(pattern=ID_PATTERN)],
    body: StepIn,
    lang: Annotated[Lang, Query()] = "id",
) -> IncidentDetail:
    return _work(
        desk,
        who,
        incident_id=incident_id,
        lang=lang,
        action=f"step.{body.action}",
        detail={"step": step, "note": body.note},
        fn=store.work_step,
        step_id=step,
        outcome=body.action,
        note=body.note,
    )


@router.post(
    "/{incident_id}/log",
    response_model=IncidentDetail,
    summary="Add a note to the log (operator)",
    responses=_WRITE_RESPONSES,
)
def add_note(
    who: OperatorDep, desk: DeskDep, incident_id: IncidentId, body: LogIn, lang: Annotated[Lang, Query()] = "id"
) -> IncidentDetail:
    return _work(
        desk,
        who,
        incident_id=incident_id,
        lang=lang,
        action="note",
        detail={"text": body.text},
        fn=store.note,
        text=body.text,
    )


@router.post(
    "/{incident_id}/links",
    response_model=IncidentDetail,
    summary="Link more alarms, tickets and a situation's alarms (operator)",
    responses={**_WRITE_RESPONSES, 422: {"description": "An unknown alarm, ticket or situation"}},
)
def add_links(
    who: OperatorDep, desk: DeskDep, incident_id: IncidentId, body: LinksIn, lang: Annotated[Lang, Query()] = "id"
) -> IncidentDetail:
    city = desk.profile.city.id

    def do(conn: Connection, at_ms: int) -> IncidentMoved:
        sit = _situation(conn, desk.profile, body.situation_id, at_ms)
        alarm_ids = [*body.alarm_ids, *(m.id for m in sit.members)] if sit else body.alarm_ids
        return store.link(
            conn=conn,
            city=city,
            incident_id=incident_id,
            alarm_ids=alarm_ids,
            ticket_ids=body.ticket_ids,
            by=who.name,
            now_ms=at_ms,
            situation_id=body.situation_id,
        )

    return _write(desk, who, incident_id=incident_id, action="link", detail=body.model_dump(), do=do, lang=lang)


@router.post(
    "/{incident_id}/state",
    response_model=IncidentDetail,
    summary="Move through the lifecycle (operator); closing needs every mandatory step done or skipped",
    responses=_WRITE_RESPONSES,
)
def change_state(
    who: OperatorDep, desk: DeskDep, incident_id: IncidentId, body: StateIn, lang: Annotated[Lang, Query()] = "id"
) -> IncidentDetail:
    return _work(
        desk,
        who,
        incident_id=incident_id,
        lang=lang,
        action=f"state.{body.state}",
        detail={"state": body.state, "note": body.note},
        fn=store.move,
        to=body.state,
        note=body.note,
    )


@router.post(
    "/{incident_id}/owner",
    response_model=IncidentDetail,
    summary="Hand the incident over to another operator, with a note (operator)",
    responses=_WRITE_RESPONSES,
)
def hand_over(
    who: OperatorDep, desk: DeskDep, incident_id: IncidentId, body: OwnerIn, lang: Annotated[Lang, Query()] = "id"
) -> IncidentDetail:
    return _work(
        desk,
        who,
        incident_id=incident_id,
        lang=lang,
        action="handover",
        detail={"to": body.to, "note": body.note},
        fn=store.hand_over,
        to=body.to,
        text=body.note,
    )
