"""Exports (`/api/v1/exports/*.csv`) and the printable service report (`/api/v1/reports/services`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import AwareDatetime

from app.api.deps import ConnDep, EngineDep, ProfileDep, ViewerDep
from app.api.timefmt import from_ms, now_ms, to_ms
from app.i18n import DEFAULT_LANG
from app.profile import ID_PATTERN, Profile
from app.readings import queries as readings
from app.reports import csvexport
from app.reports.printable import render_service_report
from app.services.queries import service_status
from app.services.routes import AgencyFilterDep, PeriodDep
from app.tickets.routes import TicketFilterDep
from app.api.errors import unprocessable

router = APIRouter(prefix="/api/v1", tags=["reports"])

SERIES_DEFAULT_MS = 24 * 3_600_000  # as GET /api/v1/readings/series


class CSVResponse(StreamingResponse):
    media_type = "text/csv"  # Starlette adds "; charset=utf-8"


def _download(body: Iterator[str], filename: str) -> CSVResponse:
    return CSVResponse(body, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _day(ms: int, profile: Profile) -> str:
    return from_ms(ms).astimezone(profile.tz).strftime("%Y%m%d")




@router.get(
    "/exports/tickets.csv",
    response_class=CSVResponse,
    summary="Tickets as CSV (the list's filters, no paging)",
    description="Columns as in `GET /api/v1/tickets` plus `description`; each time as `<name>_at` (UTC) and "
    "`<name>_local` (the city's time zone, with its offset).",
)
def export_tickets(_: ViewerDep, filters: TicketFilterDep, engine: EngineDep, profile: ProfileDep) -> CSVResponse:
    now = now_ms()
    stamp = from_ms(now).astimezone(profile.tz).strftime("%Y%m%d-%H%M")
    body = csvexport.tickets_csv(engine=engine, filters=filters, profile=profile, now_ms=now)
    return _download(body, f"{profile.city.id}-tickets-{stamp}.csv")


@router.get(
    "/exports/services.csv",
    response_class=CSVResponse,
    summary="Service performance per agency and service as CSV",
    description="The figures of `GET /api/v1/services/status`, one row per agency and service.",
)
def export_services(
    _: ViewerDep, span: PeriodDep, agency: AgencyFilterDep, conn: ConnDep, profile: ProfileDep
) -> CSVResponse:
    result = service_status(
        conn=conn, profile=profile, start_ms=span.start_ms, end_ms=span.end_ms, now_ms=now_ms(), agency=agency
    )
    name = f"{profile.city.id}-services-{_day(span.start_ms, profile)}-{_day(span.end_ms - 1, profile)}.csv"
    return _download(csvexport.services_csv(result, profile), name)


@router.get(
    "/exports/series.csv",
    response_class=CSVResponse,
    summary="A metric over time, bucketed, as CSV",
    description="The buckets of `GET /api/v1/readings/series` (same parameters), one row per bucket with data.",
)
def export_series(
    _: ViewerDep,
    conn: ConnDep,
    profile: ProfileDep,
    metric: Annotated[str, Query(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")],
    source: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    district: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    start: Annotated[AwareDatetime | None, Query(description="With a time zone; default: 24 h before end")] = None,
    end: Annotated[AwareDatetime | None, Query(description="With a time zone; default: now")] = None,
    bucket: readings.Bucket = "5m",
    agg: readings.Agg = "avg",
) -> CSVResponse:
    # The same checks, in the same order, as GET /api/v1/readings/series.
    if source is not None and district is not None:
        raise unprocessable("query.district", "give source or district, not both")
    end_ms = to_ms(end) if end is not None else now_ms()
    start_ms = to_ms(start) if start is not None else end_ms - SERIES_DEFAULT_MS
    if start_ms >= end_ms:
        raise unprocessable("query.start", "start must be before end")
    try:
        plan = readings.plan_buckets(start_ms=start_ms, end_ms=end_ms, bucket=bucket, tz=profile.tz)
    except readings.TooManyPoints as exc:
        raise unprocessable("query.bucket", str(exc)) from exc
    info = readings.metric_info(conn=conn, profile=profile, metric=metric)
    if info is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"unknown metric {metric!r}: not in the catalogue and never seen in data"
        )
    pk = None
    if source is not None:
        pk = readings.find_source_pk(conn=conn, city=profile.city.id, source_id=source)
        if pk is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"unknown source {source!r}")
    ids = readings.series_ids(conn=conn, city=profile.city.id, metric=metric, source_pk=pk, district=district)
    values = readings.bucketed(conn=conn, ids=ids, plan=plan, agg=agg)
    body = csvexport.series_csv(
        values, profile, metric=metric, unit=info.unit, source=source, district=district, bucket=bucket, agg=agg
    )
    scope = source or district or profile.city.id
    first, last = plan.first_s * 1000, plan.stop_s * 1000 - 1
    days = f"{_day(first, profile)}-{_day(last, profile)}"
    return _download(body, f"{profile.city.id}-{metric}-{scope}-{bucket}-{agg}-{days}.csv")


@router.get(
    "/reports/services",
    response_class=HTMLResponse,
    summary="Printable service performance report (HTML, A4)",
    description="A self-contained page for a meeting: per agency, its services with opened, resolved, open, "
    "overdue, SLA % and resolution times; print it or save it as PDF from the browser. `lang`: `id` (default) "
    "or `en`.",
)
def service_report(
    _: ViewerDep,
    span: PeriodDep,
    agency: AgencyFilterDep,
    conn: ConnDep,
    profile: ProfileDep,
    lang: Literal["id", "en"] = DEFAULT_LANG,
) -> HTMLResponse:
    now = now_ms()
    result = service_status(
        conn=conn, profile=profile, start_ms=span.start_ms, end_ms=span.end_ms, now_ms=now, agency=agency
    )
    return HTMLResponse(render_service_report(result, profile, lang=lang, generated_ms=now))

