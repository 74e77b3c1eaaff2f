"""The printable service performance report: one self-contained HTML page for a regent's meeting.

Plain string building with `html.escape` on every value from data or the
profile; every label comes from the `app.i18n` catalogues. No external assets
(no CDN, no web fonts, no images): it prints and opens offline. The styles
are for A4 portrait; an agency's table is not split across pages unless it is
longer than one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from html import escape

from app.http.timefmt import from_ms
from app.i18n import t
from app.profile import Profile
from app.services.queries import AgencyBlock, ServiceLine, ServiceStatus, Tally

# The print button's handler: an inline script whose hash the Content-Security-Policy allows (app.api.main), since
# the policy blocks inline event handlers (an `onclick` attribute).
PRINT_SCRIPT = "document.querySelector('button.print').addEventListener('click', function () { window.print(); });"

SLA_GOOD = 90.0
SLA_FAIR = 75.0

CSS = """
:root { --ink: #1d2329; --muted: #5b6670; --rule: #c9d1d8; --head: #eef2f5; --accent: #0b5394;
        --good: #1e7a34; --good-bg: #dcf1e1; --fair: #8a5a00; --fair-bg: #fdefc7; --bad: #b3261e; --bad-bg: #fadcd9; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0; padding: 24px; color: var(--ink); background: #fff;
       font: 13px/1.4 "Noto Sans", "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif; }
.page { max-width: 1120px; margin: 0 auto; }
header.doc { border-bottom: 3px solid var(--accent); padding-bottom: 10px; margin-bottom: 16px; position: relative; }
.kicker { color: var(--muted); font-size: 12px; letter-spacing: .06em; text-transform: uppercase; }
h1 { font-size: 24px; margin: 2px 0 6px; color: var(--accent); }
h2 { font-size: 16px; margin: 22px 0 8px; padding-bottom: 3px; border-bottom: 1px solid var(--rule); }
h3 { font-size: 14px; margin: 0 0 6px; }
h3 small { font-weight: normal; color: var(--muted); }
.meta { margin: 0; color: var(--muted); }
.meta b { color: var(--ink); }
.print { position: absolute; top: 0; right: 0; padding: 6px 12px; font: inherit; cursor: pointer;
         border: 1px solid var(--accent); background: #fff; color: var(--accent); border-radius: 4px; }
.kpis { display: grid; grid-template-columns: repeat(6, 1fr); gap: 8px; }
.kpi { border: 1px solid var(--rule); border-radius: 6px; padding: 8px 10px; }
.kpi .v { font-size: 20px; font-weight: bold; font-variant-numeric: tabular-nums; white-space: nowrap; }
.kpi .l { color: var(--muted); font-size: 11.5px; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; table-layout: fixed; }
col.name { width: 20%; } col.target { width: 8%; } col.count { width: 8.2%; } col.pct { width: 9%; } col.time { width: 14%; }
.overview col.name { width: 28%; }
th, td { padding: 4px 6px; border-bottom: 1px solid var(--rule); vertical-align: top; }
th { background: var(--head); font-size: 11.5px; text-align: right; font-weight: 600; vertical-align: bottom; }
th:first-child, td:first-child { text-align: left; }
td { text-align: right; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
td:first-child { white-space: normal; }
tfoot td { font-weight: bold; border-top: 2px solid var(--ink); border-bottom: none; }
.agency { margin: 0 0 16px; break-inside: avoid; page-break-inside: avoid; }
.sla { font-weight: bold; border-radius: 3px; }
.sla.good { color: var(--good); background: var(--good-bg); }
.sla.fair { color: var(--fair); background: var(--fair-bg); }
.sla.bad { color: var(--bad); background: var(--bad-bg); }
.late { color: var(--bad); font-weight: bold; }
.none { color: var(--muted); }
.tag { font-size: 11px; color: var(--bad); }
.notes { margin-top: 10px; color: var(--muted); font-size: 11.5px; break-inside: avoid; page-break-inside: avoid; }
.notes p { margin: 4px 0; }
@page { size: A4 portrait; margin: 14mm 12mm; }
@media print {
  body { padding: 0; font-size: 10.5px; }
  .page { max-width: none; }
  .print { display: none; }
  h2 { break-after: avoid; page-break-after: avoid; }
  h2.details { break-before: page; page-break-before: always; }  /* page 1: the summary a meeting reads first */
  thead { display: table-header-group; }
  tr { break-inside: avoid; page-break-inside: avoid; }
  .kpi .v { font-size: 15px; }
}
"""


class Fmt:
    """Numbers, durations and local times in one language."""

    def __init__(self, lang: str, profile: Profile) -> None:
        self.lang = lang
        self.tz = profile.tz
        self.dec = t("num.decimal", lang)
        self.thousands = t("num.thousands", lang)
        self.none = f'<span class="none">{escape(t("num.none", lang))}</span>'

    def int(self, n: int) -> str:
        return f"{n:,}".replace(",", self.thousands)

    def pct(self, v: float | None) -> str:
        return self.none if v is None else f"{v:.1f}".replace(".", self.dec) + "%"

    def duration(self, minutes: float | None) -> str:
        if minutes is None:
            return self.none
        m = round(minutes)
        units = [t("unit.day", self.lang), t("unit.hour", self.lang), t("unit.minute", self.lang)]
        if m < 60:
            parts = [(m, units[2])]
        elif m < 1440:
            parts = [(m // 60, units[1]), (m % 60, units[2])]
        else:
            parts = [(m // 1440, units[0]), (m % 1440 // 60, units[1])]
        shown = [f"{n} {u}" for i, (n, u) in enumerate(parts) if n or i == 0]
        return escape(" ".join(shown))

    def local(self, dt: datetime, with_time: bool = True) -> str:
        local = dt.astimezone(self.tz)
        date = f"{local.day} {t(f'month.{local.month}', self.lang)} {local.year}"
        if not with_time:
            return date
        sep = t("num.time_sep", self.lang)
        return f"{date} {local.hour:02d}{sep}{local.minute:02d} {local.tzname()}"

    def period(self, start_ms: int, end_ms: int) -> str:
        start, end = from_ms(start_ms).astimezone(self.tz), from_ms(end_ms).astimezone(self.tz)
        midnight = all(d.hour == d.minute == d.second == d.microsecond == 0 for d in (start, end))
        if not midnight:
            return f"{self.local(start)} – {self.local(end)}"
        last = end - timedelta(days=1)  # whole days: the end is exclusive, show the last day covered
        if last.date() == start.date():
            return self.local(start, with_time=False)
        return f"{self.local(start, with_time=False)} – {self.local(last, with_time=False)}"


def _sla_cell(f: Fmt, v: float | None) -> str:
    if v is None:
        return f"<td>{f.none}</td>"
    grade = "good" if v >= SLA_GOOD else "fair" if v >= SLA_FAIR else "bad"
    return f'<td class="sla {grade}">{f.pct(v)}</td>'


def _figure_cells(f: Fmt, tally: Tally) -> str:
    x = tally.figures()
    late = ' class="late"' if x["overdue"] else ""
    return (
        f"<td>{f.int(x['opened'])}</td><td>{f.int(x['resolved'])}</td><td>{f.int(x['open'])}</td>"
        f"<td{late}>{f.int(x['overdue'])}</td>{_sla_cell(f, x['sla_pct'])}"
        f"<td>{f.duration(x['median_resolution_min'])}</td><td>{f.duration(x['p90_resolution_min'])}</td>"
    )


def _head(lang: str, first: str, with_sla: bool) -> str:
    # Fixed column widths, so every agency's table lines up with the others.
    keys = ["col.opened", "col.resolved", "col.open", "col.overdue", "col.sla_pct", "col.median", "col.p90"]
    cols = ["name", *(["target"] if with_sla else []), "count", "count", "count", "count", "pct", "time", "time"]
    cells = [f"<th>{escape(first)}</th>"]
    if with_sla:
        cells.append(f"<th>{escape(t('col.sla_target', lang))}</th>")
    cells += [f"<th>{escape(t(k, lang))}</th>" for k in keys]
    colgroup = "".join(f'<col class="{c}">' for c in cols)
    return f"<colgroup>{colgroup}</colgroup><thead><tr>{''.join(cells)}</tr></thead>"


def _agency_label(lang: str, block: AgencyBlock) -> str:
    if block.registered:
        return escape(block.name or block.agency)
    return f'{escape(block.agency)} <span class="tag">({escape(t("report.unregistered", lang))})</span>'


def _service_label(lang: str, line: ServiceLine) -> str:
    if line.service is None:
        return escape(t("report.no_service", lang))
    label = escape(line.service_name[lang] if line.service_name else line.service)
    if not line.registered:
        label += f' <span class="tag">({escape(t("report.unregistered", lang))})</span>'
    return label


def _kpis(f: Fmt, lang: str, overall: Tally) -> str:
    x = overall.figures()
    tiles = [
        ("col.opened", f.int(x["opened"])),
        ("col.resolved", f.int(x["resolved"])),
        ("col.open", f.int(x["open"])),
        ("col.overdue", f.int(x["overdue"])),
        ("col.sla_pct", f.pct(x["sla_pct"])),
        ("col.median", f.duration(x["median_resolution_min"])),
    ]
    return "".join(
        f'<div class="kpi"><div class="v">{v}</div><div class="l">{escape(t(k, lang))}</div></div>' for k, v in tiles
    )


def _overview_table(f: Fmt, lang: str, blocks: Iterable[AgencyBlock], overall: Tally) -> str:
    rows = "".join(f"<tr><td>{_agency_label(lang, b)}</td>{_figure_cells(f, b.tally)}</tr>" for b in blocks)
    total = f"<tfoot><tr><td>{escape(t('report.city_total', lang))}</td>{_figure_cells(f, overall)}</tr></tfoot>"
    return f'<table class="overview">{_head(lang, t("col.agency", lang), False)}<tbody>{rows}</tbody>{total}</table>'


def _target(f: Fmt, lang: str, line: ServiceLine) -> str:
    # citizen services (issue 14): a target in working days is said so, not as a duration
    if line.sla_working_days is not None:
        return escape(t("publik.target_days", lang, days=f"{line.sla_working_days:g}"))
    return f.duration(line.sla_minutes)


def _agency_section(f: Fmt, lang: str, block: AgencyBlock) -> str:
    rows = "".join(
        f"<tr><td>{_service_label(lang, line)}</td><td>{_target(f, lang, line)}</td>{_figure_cells(f, line.tally)}</tr>"
        for line in block.services
    )
    total = (
        f"<tfoot><tr><td>{escape(t('report.agency_total', lang))}</td><td></td>{_figure_cells(f, block.tally)}</tr>"
        "</tfoot>"
    )
    full = f" <small>{escape(block.full_name)}</small>" if block.full_name and block.full_name != block.name else ""
    return (
        f'<section class="agency"><h3>{_agency_label(lang, block)}{full}</h3>'
        f"<table>{_head(lang, t('col.service', lang), True)}<tbody>{rows}</tbody>{total}</table></section>"
    )


def render_service_report(result: ServiceStatus, profile: Profile, *, lang: str, generated_ms: int) -> str:
    """The whole report page for `result` in `lang` ('id' or 'en')."""
    f = Fmt(lang, profile)
    title = t("report.title", lang)
    city = profile.city.name
    period = f.period(result.start_ms, result.end_ms)
    blocks = result.agencies
    body = [
        '<header class="doc">',
        f'<div class="kicker">{escape(city)} · {escape(profile.city.province)}</div>',
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">{escape(t("report.period", lang))}: <b>{escape(period)}</b></p>',
        f'<p class="meta">{escape(t("report.generated", lang))}: {escape(f.local(from_ms(generated_ms)))}</p>',
        f'<button class="print" type="button">{escape(t("report.print", lang))}</button>',
        "</header>",
        f"<h2>{escape(t('report.summary', lang))}</h2>",
        f'<div class="kpis">{_kpis(f, lang, result.overall)}</div>',
    ]
    if not (result.overall.opened or result.overall.resolved or result.overall.open or result.overall.cancelled):
        body.append(f'<p class="meta">{escape(t("report.no_data", lang))}</p>')
    body += [
        f"<h2>{escape(t('report.by_agency', lang))}</h2>",
        _overview_table(f, lang, blocks, result.overall),
        '<div class="notes">',
        f"<p>{escape(t('report.legend', lang))}</p>",
        f"<p>{escape(t('report.notes', lang))}</p>",
        f"<p>{escape(t('report.source', lang, city=city))}</p>",
        "</div>",
        f'<h2 class="details">{escape(t("report.by_service", lang))}</h2>',
        *(_agency_section(f, lang, b) for b in blocks),
    ]
    return document(f"{title} — {city} — {period}", body, lang=lang)


def document(title: str, body: Iterable[str], *, lang: str, extra_css: str = "") -> str:
    """A whole self-contained printable page: `body` (HTML, escaped by the caller) with the report styles."""
    return (
        f'<!doctype html>\n<html lang="{escape(lang)}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}{extra_css}</style>\n</head>\n"
        f'<body><main class="page">\n' + "\n".join(body) + f"\n</main><script>{PRINT_SCRIPT}</script></body>\n</html>\n"
    )
