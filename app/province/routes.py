"""`GET /api/v1/province` and `/api/v1/province.csv`: every city the caller may see, at a glance.

A province-wide token (no city, or every city) sees every city of the
deployment; a city's token sees its own only. The figures and their rules:
app.province.queries.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from app.auth.deps import ViewerDep
from app.auth.tokens import Principal
from app.http.deps import ConnDep, DeploymentDep
from app.http.timefmt import from_ms, now_ms
from app.live.notices import DependsOn
from app.profile import PILLARS, SEVERITIES, Deployment
from app.province import queries
from app.province.queries import LINK_RULE, STATE_RULE, CityFigures, ProvinceView
from app.reports.csvexport import csv_text, iso_local, iso_utc
from app.sources.queries import HEALTH_RULE

router = APIRouter(prefix="/api/v1", tags=["province"])
# What its answers change with: every city's sources, tickets, alarms and incidents (time alone moves the link
# health and the sources' state: the cache's time bounds that).
depends_on = DependsOn(
    "/api/v1/province", frozenset({"readings", "sources_new", "status", "tickets", "alarms", "incidents"})
)

State = Literal["critical", "major", "minor", "warning", "ok", "no_data"]
Link = Literal["ok", "late", "down", "never"]


class LatLon(BaseModel):
    lat: float
    lon: float


class ProvinceOut(BaseModel):
    id: str
    name: str
    kemendagri: str
    center: LatLon
    zoom: float


class SourcesOut(BaseModel):
    online: int
    stale: int
    offline: int
    total: int


class TicketsOut(BaseModel):
    open: int = Field(description="Tickets not resolved, closed or cancelled")
    overdue: int = Field(description="Of those, past their due time")


class AlarmsOut(BaseModel):
    critical: int
    major: int
    minor: int
    warning: int


class IncidentsOut(BaseModel):
    open: int = Field(description="Incidents not closed nor cancelled")


class PillarsOut(BaseModel):
    governance: float | None
    branding: float | None
    economy: float | None
    living: float | None
    society: float | None
    environment: float | None


class CityOut(BaseModel):
    id: str
    name: str
    kind: Literal["kabupaten", "kota"]
    kemendagri: str | None
    timezone: str
    centre: LatLon
    outline: list[list[tuple[float, float]]] = Field(description="Land polygons as [lat, lon] rings")
    state: State = Field(description=STATE_RULE)
    sources: SourcesOut = Field(description=HEALTH_RULE)
    tickets: TicketsOut
    alarms: AlarmsOut = Field(description="Open (active or acknowledged) alarms by severity")
    incidents: IncidentsOut
    sla_pct_30d: float | None = Field(
        description="Of the tickets resolved in the window that had a due time, the share resolved by it (%)"
    )
    last_received: datetime | None = Field(description="The last message of any kind received from the city")
    link: Link = Field(description=LINK_RULE)
    expected_interval_s: int = Field(description="The city's expected interval I that `link` is measured against")
    pillars: PillarsOut = Field(description="The six smart-city pillars scored 0-100 as the regent view does")


class LeagueCityOut(BaseModel):
    sla_pct: float | None
    tickets: int = Field(description="Tickets resolved in the window with a due time: what `sla_pct` is over")
    opened: int = Field(description="Tickets opened in the window")


class LeagueOut(BaseModel):
    agency: str
    short: str | None
    name: str | None
    overall_pct: float | None = Field(description="Pooled over the cities: resolved on time / resolved with a due time")
    tickets: int = Field(description="Tickets resolved in the window with a due time, summed over the cities")
    opened: int = Field(description="Tickets opened in the window, summed over the cities")
    cities: dict[str, LeagueCityOut] = Field(description="Per city id where the agency is listed or has tickets")


class ProvinceViewOut(BaseModel):
    province: ProvinceOut | None = Field(description="The province the deployment names, if any")
    computed_at: datetime
    window_days: int
    cities: list[CityOut]
    league: list[LeagueOut] = Field(description="Per agency id: best pooled SLA first, agencies without one last")


def compute(conn: Connection, deployment: Deployment, who: Principal) -> ProvinceView:
    """The view of the cities `who` may see."""
    visible = [p for p in deployment.cities if who.serves(p.city.id)]
    return queries.province_view(conn=conn, profiles=visible, now_ms=now_ms())


def _city(c: CityFigures) -> CityOut:
    city = c.profile.city
    return CityOut(
        id=city.id,
        name=city.name,
        kind=city.kind,
        kemendagri=city.kemendagri,
        timezone=city.timezone,
        centre=LatLon(lat=city.center.lat, lon=city.center.lon),
        outline=city.outline,
        state=c.state,
        sources=SourcesOut(**c.sources),
        tickets=TicketsOut(open=c.tickets_open, overdue=c.tickets_overdue),
        alarms=AlarmsOut(**c.alarms),
        incidents=IncidentsOut(open=c.incidents_open),
        sla_pct_30d=c.sla_pct,
        last_received=from_ms(c.last_received_ms),
        link=c.link,
        expected_interval_s=c.interval_s,
        pillars=PillarsOut(**c.pillars),
    )


def view_out(v: ProvinceView, deployment: Deployment) -> ProvinceViewOut:
    p = deployment.province
    return ProvinceViewOut(
        province=None
        if p is None
        else ProvinceOut(
            id=p.id,
            name=p.name,
            kemendagri=p.kemendagri,
            center=LatLon(lat=p.center.lat, lon=p.center.lon),
            zoom=p.zoom,
        ),
        computed_at=from_ms(v.now_ms),
        window_days=v.window_days,
        cities=[_city(c) for c in v.cities],
        league=[
            LeagueOut(
                agency=line.agency,
                short=line.short,
                name=line.name,
                overall_pct=line.overall_pct,
                tickets=line.with_due,
                opened=line.opened,
                cities={
                    cid: LeagueCityOut(sla_pct=a.sla_pct, tickets=a.with_due, opened=a.opened)
                    for cid, a in line.cities.items()
                },
            )
            for line in v.league
        ],
    )


@router.get(
    "/province",
    response_model=ProvinceViewOut,
    summary="Every city the caller may see at a glance: state, sources, tickets, alarms, SLA, link, pillars, league",
)
def province(who: ViewerDep, conn: ConnDep, deployment: DeploymentDep) -> ProvinceViewOut:
    """A province-wide token sees every city of the deployment; a city's token its own only."""
    return view_out(compute(conn, deployment, who), deployment)


CSV_COLUMNS = (
    "computed_at",
    "window_days",
    "city",
    "name",
    "kind",
    "kemendagri",
    "timezone",
    "state",
    "link",
    "expected_interval_s",
    "last_received_at",
    "last_received_local",
    "sources_online",
    "sources_stale",
    "sources_offline",
    "sources_total",
    "tickets_open",
    "tickets_overdue",
    *(f"alarms_{s}" for s in SEVERITIES),
    "incidents_open",
    "sla_pct_30d",
    *(f"pillar_{p}" for p in PILLARS),
)


def _csv_rows(v: ProvinceView) -> Iterator[list[Any]]:
    for c in v.cities:
        city = c.profile.city
        yield [
            iso_utc(v.now_ms),
            v.window_days,
            city.id,
            city.name,
            city.kind,
            city.kemendagri,
            city.timezone,
            c.state,
            c.link,
            c.interval_s,
            iso_utc(c.last_received_ms),
            iso_local(c.last_received_ms, c.profile.tz),
            *(c.sources[k] for k in ("online", "stale", "offline", "total")),
            c.tickets_open,
            c.tickets_overdue,
            *(c.alarms[s] for s in SEVERITIES),
            c.incidents_open,
            c.sla_pct,
            *(c.pillars[p] for p in PILLARS),
        ]


class CSVResponse(StreamingResponse):
    media_type = "text/csv"  # Starlette adds "; charset=utf-8"


@router.get(
    "/province.csv",
    response_class=CSVResponse,
    summary="The province view as CSV: one row per city",
    description="The figures of `GET /api/v1/province` per city in flat columns; text that a spreadsheet would run "
    "as a formula is defused (a leading `'`), as in the other exports.",
)
def province_csv(who: ViewerDep, conn: ConnDep, deployment: DeploymentDep) -> CSVResponse:
    v = compute(conn, deployment, who)
    home = deployment.province.id if deployment.province else "-".join(p.profile.city.id for p in v.cities)
    stamp = from_ms(v.now_ms).strftime("%Y%m%d-%H%M")
    return CSVResponse(
        csv_text(CSV_COLUMNS, _csv_rows(v)),
        headers={"Content-Disposition": f'attachment; filename="{home or "province"}-{stamp}.csv"'},
    )
