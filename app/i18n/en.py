"""English: switchable on every page and panel."""

STRINGS: dict[str, str] = {
    # Numbers and durations.
    "num.decimal": ".",
    "num.thousands": ",",
    "num.none": "–",
    "num.time_sep": ":",
    "unit.minute": "min",
    "unit.hour": "h",
    "unit.day": "d",
    "month.1": "January",
    "month.2": "February",
    "month.3": "March",
    "month.4": "April",
    "month.5": "May",
    "month.6": "June",
    "month.7": "July",
    "month.8": "August",
    "month.9": "September",
    "month.10": "October",
    "month.11": "November",
    "month.12": "December",
    # Service performance columns (report, exports, dashboard).
    "col.agency": "Agency",
    "col.service": "Service",
    "col.sla_target": "SLA target",
    "col.opened": "Opened",
    "col.resolved": "Resolved",
    "col.open": "Still open",
    "col.overdue": "Overdue",
    "col.cancelled": "Cancelled",
    "col.sla_pct": "SLA met",
    "col.median": "Median resolution time",
    "col.p90": "P90 resolution time",
    # The printable service performance report.
    "report.title": "Public Service Performance Report",
    "report.period": "Period",
    "report.generated": "Generated",
    "report.summary": "Summary",
    "report.by_agency": "Performance by agency",
    "report.by_service": "Detail by service",
    "report.agency_total": "Agency total",
    "report.city_total": "Total, all agencies",
    "report.unregistered": "not registered in the city profile",
    "report.no_service": "(no service type)",
    "report.no_data": "No tickets in this period.",
    "report.print": "Print / save as PDF",
    "report.legend": "SLA colours: green ≥ 90%, amber ≥ 75%, red < 75%.",
    "report.notes": (
        "Opened: tickets opened in the period. Resolved: tickets resolved or closed in the period "
        "(cancelled tickets are not counted). Still open and overdue: as at the time of the report. "
        "SLA met: share of resolved tickets resolved by their due time. "
        "Resolution time runs from opening to resolution; P90: 90% of tickets were resolved within it."
    ),
    "report.source": "Source: SatuPintu, {city} command center.",
}
