"""CSV exports: tickets and service performance, streamed row by row.

Every instant appears twice: `<name>_at` in UTC (ISO 8601, `Z`) for programs,
and `<name>_local` in the city's time zone (ISO 8601 with its offset, e.g.
`+09:00` for WIT) for people. Booleans are `true`/`false`; missing values are
empty cells. UTF-8 without a byte-order mark.

Text that a spreadsheet would run as a formula (a ticket title `=HYPERLINK(...)`
from an integrator) is defused as OWASP advises: a text cell starting with
`=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`. Numbers are
written as numbers, so a real negative value stays `-3.5`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import Engine

from app.http.timefmt import from_ms
from app.profile import Profile
from app.readings.queries import BucketValue
from app.services.queries import ServiceStatus
from app.tickets.queries import TicketFilter, iter_tickets, ticket_view

CHUNK_ROWS = 500

TICKET_TIMES = ("opened", "resolved", "due", "updated")
TICKET_COLUMNS = (
    "ticket_id",
    "city",
    "agency",
    "agency_name",
    "agency_registered",
    "service",
    "service_name",
    "status",
    "priority",
    "district",
    "title",
    "description",
    *(f"{name}_{kind}" for name in TICKET_TIMES for kind in ("at", "local")),
    "overdue",
    "breached",
    "sla_minutes",
    "lat",
    "lon",
    # citizen services (issue 14): the SLA in working days and the SP4N-LAPOR! stage
    "sla_working_days",
    "stage",
    "stage_due_at",
    "stage_due_local",
    "stage_late",
)
FIGURES = (
    "opened",
    "resolved",
    "resolved_with_due",
    "resolved_within_sla",
    "cancelled",
    "open",
    "overdue",
    "sla_pct",
    "median_resolution_min",
    "p90_resolution_min",
)
SERVICE_COLUMNS = (
    "period_start_at",
    "period_start_local",
    "period_end_at",
    "period_end_local",
    "as_of_at",
    "agency",
    "agency_name",
    "agency_registered",
    "service",
    "service_name",
    "service_name_en",
    "service_registered",
    "sla_minutes",
    *FIGURES,
    "sla_working_days",  # citizen services (issue 14)
)


def iso_utc(ms: int | None) -> str:
    """Epoch ms as ISO 8601 UTC with a `Z` (milliseconds only when there are any); '' for None."""
    if ms is None:
        return ""
    return _iso(from_ms(ms)).replace("+00:00", "Z")


def iso_local(ms: int | None, tz: tzinfo) -> str:
    """Epoch ms as ISO 8601 in the city's zone, with its offset; '' for None."""
    return "" if ms is None else _iso(from_ms(ms).astimezone(tz))


def _iso(dt: datetime) -> str:
    return dt.isoformat(timespec="milliseconds" if dt.microsecond else "seconds")


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """A header and rows as CSV text, yielded in chunks of CHUNK_ROWS rows."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")
    out.writerow(header)
    for n, row in enumerate(rows, start=1):
        out.writerow([_cell(v) for v in row])
        if n % CHUNK_ROWS == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def _ticket_rows(engine: Engine, filters: TicketFilter, profile: Profile, now_ms: int) -> Iterator[list[Any]]:
    tz = profile.tz
    # Its own connection: the rows are read while the response streams, after the request's dependencies closed.
    with engine.connect() as conn:
        for row in iter_tickets(conn=conn, filters=filters, now_ms=now_ms):
            v = ticket_view(row, profile, now_ms)
            for name in (*TICKET_TIMES, "stage_due"):
                ms = v[f"{name}_ms"]
                v[f"{name}_at"], v[f"{name}_local"] = iso_utc(ms), iso_local(ms, tz)
            yield [v[c] for c in TICKET_COLUMNS]


def tickets_csv(*, engine: Engine, filters: TicketFilter, profile: Profile, now_ms: int) -> Iterator[str]:
    """Every ticket matching `filters` as CSV, newest opened first."""
    return csv_text(TICKET_COLUMNS, _ticket_rows(engine, filters, profile, now_ms))


def services_csv(result: ServiceStatus, profile: Profile) -> Iterator[str]:
    """Service performance as CSV: one row per agency and service (no total rows: sum them as you need)."""
    tz = profile.tz
    period = [
        iso_utc(result.start_ms),
        iso_local(result.start_ms, tz),
        iso_utc(result.end_ms),
        iso_local(result.end_ms, tz),
        iso_utc(result.now_ms),
    ]
    rows = []
    for block in result.agencies:
        for line in block.services:
            figures = line.tally.figures()
            name = line.service_name or {}
            rows.append(
                [
                    *period,
                    block.agency,
                    block.name,
                    block.registered,
                    line.service,
                    name.get("id"),
                    name.get("en"),
                    line.registered,
                    line.sla_minutes,
                    *(figures[c] for c in FIGURES),
                    line.sla_working_days,
                ]
            )
    return csv_text(SERVICE_COLUMNS, rows)


SERIES_COLUMNS = (
    "bucket_start_at",
    "bucket_start_local",
    "value",
    "count",
    "metric",
    "unit",
    "source",
    "district",
    "bucket",
    "agg",
)


def series_csv(
    values: Iterable[BucketValue],
    profile: Profile,
    *,
    metric: str,
    unit: str | None,
    source: str | None,
    district: str | None,
    bucket: str,
    agg: str,
) -> Iterator[str]:
    """Bucketed values of a metric as CSV, oldest first, one row per bucket with data."""
    tz = profile.tz
    rows = (
        [
            iso_utc(v.start_s * 1000),
            iso_local(v.start_s * 1000, tz),
            v.value,
            v.count,
            metric,
            unit,
            source,
            district,
            bucket,
            agg,
        ]
        for v in values
    )
    return csv_text(SERIES_COLUMNS, rows)
