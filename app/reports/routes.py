"""Exports (`/api/v1/exports/*.csv`) and the printable service report (`/api/v1/reports/services`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, StreamingResponse

from app.alarms import kpi_routes, kpis
from app.auth.deps import ViewerDep
from app.http.deps import ConnDep, EngineDep, ProfileDep
from app.http.timefmt import from_ms, now_ms
from app.i18n import DEFAULT_LANG
from app.profile import Profile
from app.readings.routes import SeriesDep
from app.reports import csvexport
from app.reports.printable import render_service_report
from app.services.queries import service_status
from app.services.routes import AgencyFilterDep, PeriodDep
from app.tickets.routes import TicketFilterDep

router = APIRouter(prefix="/api/v1", tags=["reports"])


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
def export_series(result: SeriesDep, profile: ProfileDep) -> CSVResponse:
    plan, metric, source, district, bucket, agg = (
        result.plan,
        result.metric,
        result.source,
        result.district,
        result.bucket,
        result.agg,
    )
    body = csvexport.series_csv(
        result.values,
        profile,
        metric=metric,
        unit=result.unit,
        source=source,
        district=district,
        bucket=bucket,
        agg=agg,
    )
    scope = source or district or profile.city.id
    first, last = plan.first_s * 1000, plan.stop_s * 1000 - 1
    days = f"{_day(first, profile)}-{_day(last, profile)}"
    return _download(body, f"{profile.city.id}-{metric}-{scope}-{bucket}-{agg}-{days}.csv")


@router.get(
    "/alarm-kpis.csv",
    response_class=CSVResponse,
    summary="The alarm-system KPIs as CSV",
    description="The figures of `GET /api/v1/alarm-kpis` (same parameters): one row per KPI, then the top 10.",
)
def export_alarm_kpis(_: ViewerDep, span: PeriodDep, conn: ConnDep, profile: ProfileDep) -> CSVResponse:
    body = csvexport.csv_text(kpis.KPI_CSV_COLUMNS, kpis.kpi_csv_rows(kpi_routes.compute(conn, profile, span)))
    name = f"{profile.city.id}-alarm-kpis-{_day(span.start_ms, profile)}-{_day(span.end_ms - 1, profile)}.csv"
    return _download(body, name)


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
