"""The incidents' printable pages (`/api/v1/reports/incidents...`): one incident's after-action report, and the
regent's summary of a period."""

from __future__ import annotations

from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, HTTPException, Path, status
from fastapi.responses import HTMLResponse

from app.auth.deps import ViewerDep
from app.http.deps import ConnDep, ProfileDep
from app.http.timefmt import now_ms
from app.i18n import DEFAULT_LANG
from app.incidents.after_action import after_action
from app.incidents.queries import summary
from app.incidents.sops import list_sops
from app.reports.incident_report import render_incident_report, render_incident_summary
from app.services.routes import PeriodDep

router = APIRouter(prefix="/api/v1/reports/incidents", tags=["reports", "incidents"])


@router.get(
    "",
    response_class=HTMLResponse,
    summary="Printable incident summary for the regent (HTML, A4)",
    description="The incidents opened in the period: by type and district, time to first action and to close "
    "(median, P90), steps late.",
)
def incident_summary_report(
    _: ViewerDep, span: PeriodDep, conn: ConnDep, profile: ProfileDep, lang: Literal["id", "en"] = DEFAULT_LANG
) -> HTMLResponse:
    city = profile.city.id
    s = summary(conn=conn, city=city, start_ms=span.start_ms, end_ms=span.end_ms)
    names = {r["sop_id"]: orjson.loads(r["body"])["name"][lang] for r in list_sops(conn=conn, city=city)}
    html = render_incident_summary(
        s, profile, start_ms=span.start_ms, end_ms=span.end_ms, type_names=names, lang=lang, generated_ms=now_ms()
    )
    return HTMLResponse(html)


@router.get(
    "/{incident_id}",
    response_class=HTMLResponse,
    summary="Printable after-action report of one incident (HTML, A4)",
    description="Its facts, its SOP steps with their times against their targets, one timeline of its log and "
    "its linked alarms and tickets, and the readings of the linked sources around it.",
    responses={404: {"description": "No such incident"}},
)
def incident_report(
    _: ViewerDep,
    conn: ConnDep,
    profile: ProfileDep,
    incident_id: Annotated[int, Path(ge=1, le=2**62)],
    lang: Literal["id", "en"] = DEFAULT_LANG,
) -> HTMLResponse:
    now = now_ms()
    aa = after_action(conn=conn, profile=profile, incident_id=incident_id, now_ms=now)
    if aa is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no incident {incident_id}")
    sop = next((r for r in list_sops(conn=conn, city=profile.city.id) if r["sop_id"] == aa.incident["type"]), None)
    name = orjson.loads(sop["body"])["name"] if sop else None
    return HTMLResponse(render_incident_report(aa, profile, sop_name=name, lang=lang, generated_ms=now))
