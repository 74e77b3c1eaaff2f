"""The public page as one self-contained HTML document: tables, a plain SVG map, print styles; no script but print.

Every value passes `html.escape` (the profile's names too); every label comes
from the `app.i18n` catalogues. The map is drawn from the profile's geometry
(the land outline and the districts' centres), so it needs no tiles and prints.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from app.http.timefmt import from_ms
from app.i18n import t
from app.open311.service import open_services
from app.profile import Profile, Service
from app.public.queries import Figures, Line
from app.reports.printable import PRINT_SCRIPT

CSS = """
:root { --ink: #1d2329; --muted: #5b6670; --rule: #c9d1d8; --head: #eef2f5; --accent: #0b5394;
        --good: #1e7a34; --fair: #8a5a00; --bad: #b3261e; --sea: #e8f1f8; --land: #f4f1e8; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px; color: var(--ink); background: #fff;
       font: 15px/1.45 "Noto Sans", "DejaVu Sans", "Liberation Sans", Arial, sans-serif; }
.page { max-width: 1180px; margin: 0 auto; }
header { border-bottom: 3px solid var(--accent); padding-bottom: 10px; margin-bottom: 16px; display: flex;
         align-items: flex-end; gap: 16px; }
header .titles { flex: 1; }
h1 { font-size: 26px; margin: 0 0 4px; color: var(--accent); }
h2 { font-size: 18px; margin: 22px 0 8px; }
.meta { margin: 0; color: var(--muted); }
.tools { display: flex; gap: 8px; }
.tools a, .tools button { padding: 6px 12px; font: inherit; border: 1px solid var(--accent); background: #fff;
         color: var(--accent); border-radius: 4px; text-decoration: none; cursor: pointer; }
.grid { display: grid; grid-template-columns: 1.6fr 1fr; gap: 24px; align-items: start; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 8px; border-bottom: 1px solid var(--rule); text-align: right; }
th { background: var(--head); font-size: 13px; font-weight: 600; vertical-align: bottom; }
th:first-child, td:first-child { text-align: left; }
tr.agency td { font-weight: 700; background: #f7f9fb; }
tr.service td:first-child { padding-left: 22px; }
tfoot td { font-weight: 700; border-top: 2px solid var(--ink); }
.good { color: var(--good); font-weight: 700; } .fair { color: var(--fair); font-weight: 700; }
.bad { color: var(--bad); font-weight: 700; }
svg.map { width: 100%; height: auto; background: var(--sea); border: 1px solid var(--rule); border-radius: 6px; }
svg.map .land { fill: var(--land); stroke: #b9b096; stroke-width: 1; }
svg.map .dot { fill: var(--bad); fill-opacity: .75; stroke: #fff; stroke-width: 1.5; }
svg.map .none { fill: var(--good); fill-opacity: .6; }
svg.map text { font-size: 13px; fill: var(--ink); paint-order: stroke; stroke: #fff; stroke-width: 3px; }
.note { color: var(--muted); font-size: 13px; margin-top: 18px; }
@media (max-width: 800px) { .grid { grid-template-columns: 1fr; } }
@media print { body { padding: 0; font-size: 12px; } .tools { display: none; } .grid { grid-template-columns: 1.5fr 1fr; }
  @page { size: A4 landscape; margin: 12mm; } }
"""


def _num(v: float | None, lang: str, digits: int = 0) -> str:
    if v is None:
        return "–"
    text = f"{v:,.{digits}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".") if lang == "id" else text


def _pct(v: float | None, lang: str) -> str:
    if v is None:
        return "<td>–</td>"
    cls = "good" if v >= 90 else "fair" if v >= 75 else "bad"
    return f'<td class="{cls}">{_num(v, lang, 1)}%</td>'


def _target(s: Service, lang: str) -> str:
    if s.sla_working_days is not None:
        days = s.sla_working_days
        return t("publik.target_days", lang, days=_num(days, lang, 0 if days.is_integer() else 1))
    hours = (s.sla_minutes or 0) / 60
    return t("publik.target_hours", lang, hours=_num(hours, lang, 0 if hours.is_integer() else 1))


def _cells(line: Line, lang: str) -> str:
    return (
        f"<td>{_num(line.received, lang)}</td><td>{_num(line.resolved, lang)}</td>{_pct(line.sla_pct, lang)}"
        f"<td>{_num(line.median_days, lang, 1)}</td>"
    )


def _table(profile: Profile, fig: Figures, lang: str) -> str:
    head = "".join(
        f"<th>{escape(t(k, lang))}</th>"
        for k in (
            "col.agency",
            "publik.col.target",
            "publik.col.received",
            "publik.col.resolved",
            "publik.col.sla_pct",
            "publik.col.median_days",
        )
    )
    rows: list[str] = []
    total = Line()
    services = open_services(profile)
    for agency in profile.agencies:
        mine = [s for s in services if s.agency == agency.id]
        if not mine:
            continue
        sub = Line()
        body = []
        for s in mine:
            line = fig.services[s.id]
            sub.add(line)
            name = s.name.id if lang == "id" else s.name.en
            body.append(
                f'<tr class="service"><td>{escape(name)}</td><td>{escape(_target(s, lang))}</td>{_cells(line, lang)}</tr>'
            )
        total.add(sub)
        rows.append(f'<tr class="agency"><td colspan="2">{escape(agency.name)}</td>{_cells(sub, lang)}</tr>')
        rows.extend(body)
    foot = f'<tr><td colspan="2">{escape(t("publik.total", lang))}</td>{_cells(total, lang)}</tr>'
    return (
        f'<table id="publik-services"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody>'
        f"<tfoot>{foot}</tfoot></table>"
    )


def _map(profile: Profile, fig: Figures, lang: str) -> str:
    """Open complaints per district as circles on the land outline (an equirectangular sketch, north up)."""
    points = [p for ring in profile.city.outline for p in ring] + [
        (d.center.lat, d.center.lon) for d in profile.districts
    ]
    if not points:
        return ""
    lats, lons = [p[0] for p in points], [p[1] for p in points]
    pad = 0.04
    # Room on the east for the labels, which are written right of their circle.
    s_, n_, w_, e_ = min(lats) - pad, max(lats) + pad, min(lons) - pad, max(lons) + pad + 0.3 * (max(lons) - min(lons))
    width = 420.0
    height = width * (n_ - s_) / max(e_ - w_, 1e-6)

    def xy(lat: float, lon: float) -> tuple[float, float]:
        return (lon - w_) / (e_ - w_) * width, (n_ - lat) / (n_ - s_) * height

    land = "".join(
        '<polygon class="land" points="'
        + " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(lat, lon) for lat, lon in ring))
        + '"/>'
        for ring in profile.city.outline
    )
    dots = []
    most = max([*fig.open_by_district.values(), 1])
    for d in profile.districts:
        n = fig.open_by_district.get(d.id, 0)
        x, y = xy(d.center.lat, d.center.lon)
        r = 6 + 18 * (n / most) ** 0.5 if n else 5
        label = f"{d.name}: {_num(n, lang)} {t('publik.open', lang)}"
        dots.append(
            f'<g id="publik-district-{escape(d.id)}"><circle class="dot{"" if n else " none"}" cx="{x:.1f}" '
            f'cy="{y:.1f}" r="{r:.1f}"><title>{escape(label)}</title></circle>'
            f'<text x="{x + r + 3:.1f}" y="{y + 4:.1f}">{escape(d.name)} · {_num(n, lang)}</text></g>'
        )
    return (
        f'<svg class="map" viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
        f'aria-label="{escape(t("publik.map", lang))}">{land}{"".join(dots)}</svg>'
    )


def render_public_page(profile: Profile, fig: Figures, lang: str, computed: datetime) -> str:
    """The whole page in `lang` (id or en)."""
    other = "en" if lang == "id" else "id"
    tz = profile.tz
    end = from_ms(fig.end_ms).astimezone(tz)
    title = t("publik.title", lang, city=profile.city.name)
    return f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><style>{CSS}</style></head>
<body><div class="page">
<header><div class="titles"><h1>{escape(title)}</h1>
<p class="meta">{escape(t("publik.period", lang, date=end.strftime("%d-%m-%Y")))} ·
{escape(t("publik.updated", lang, time=computed.astimezone(tz).strftime("%H:%M %Z")))}</p></div>
<div class="tools"><a href="?lang={other}" hreflang="{other}" lang="{other}">{escape(t("publik.other_lang", lang))}</a>
<button class="print" type="button">{escape(t("publik.print", lang))}</button></div></header>
<div class="grid"><section><h2>{escape(t("publik.by_agency", lang))}</h2>{_table(profile, fig, lang)}</section>
<section><h2>{escape(t("publik.map", lang))}</h2>{_map(profile, fig, lang)}</section></div>
<p class="note">{escape(t("publik.note", lang))}</p>
</div><script>{PRINT_SCRIPT}</script></body></html>"""
