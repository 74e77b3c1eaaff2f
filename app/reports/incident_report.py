"""The printable after-action report of one incident, and the regent's incident summary over a period.

Built like the service report (app.reports.printable): plain strings, every
value from data or the profile through `html.escape`, labels from the
`app.i18n` catalogues, no external assets; the readings of the linked sources
are an inline SVG line, so the page prints and opens offline.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

import orjson

from app.http.timefmt import from_ms
from app.i18n import t
from app.incidents.after_action import AfterAction, Moment, Series
from app.incidents.queries import Summary
from app.profile import Profile
from app.reports.printable import Fmt, document

MAX_DOTS = 60  # each bucket's value marked as a dot too when there are few (a single bucket is a dot alone)
EXTRA_CSS = """
.facts { display: grid; grid-template-columns: repeat(4, 1fr); gap: 4px 16px; margin: 8px 0 0; }
.facts div { color: var(--muted); font-size: 11.5px; } .facts b { display: block; color: var(--ink); font-size: 13px; }
.steps col.n { width: 3%; } .steps col.step { width: 31%; } .steps col.agency { width: 10%; } .steps col.target { width: 8%; }
.steps col.status { width: 9%; } .steps col.at { width: 12%; } .steps col.el { width: 8%; } .steps col.by { width: 9%; }
.steps td, .timeline td { white-space: normal; text-align: left; }
.steps th, .timeline th { text-align: left; }
tr.late td { background: var(--bad-bg); }
.badge { font-size: 10.5px; font-weight: bold; padding: 0 4px; border-radius: 3px; }
.badge.late { color: #fff; background: var(--bad); }
.badge.must { color: var(--accent); border: 1px solid var(--accent); }
.timeline col.time { width: 16%; } .timeline col.origin { width: 14%; } .timeline col.who { width: 14%; }
.origin-alarm { color: var(--bad); } .origin-ticket { color: var(--fair); }
figure { margin: 8px 0 14px; break-inside: avoid; page-break-inside: avoid; }
figcaption { color: var(--muted); font-size: 11.5px; margin-bottom: 4px; }
svg.spark { width: 100%; height: 110px; border: 1px solid var(--rule); border-radius: 4px; }
.two { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
"""


class Names:
    """The profile's names for ids, and the words for severities and states, in one language."""

    def __init__(self, profile: Profile, lang: str) -> None:
        self.lang = lang
        self.districts = {d.id: d.name for d in profile.districts}
        self.agencies = {a.id: a.short for a in profile.agencies}
        self.metrics = {m.id: (m.name.en if lang == "en" else m.name.id, m.unit) for m in profile.metrics}

    def district(self, d: str | None) -> str:
        return self.districts.get(d or "", d or "-")

    def agency(self, a: str | None) -> str:
        return self.agencies.get(a, a) if a else t("inc.center", self.lang)

    def severity(self, s: str) -> str:
        return t(f"dash.sev.{s}", self.lang)

    def state(self, s: str) -> str:
        return t(f"inc.state.{s}", self.lang)


def _minutes(a_ms: int | None, b_ms: int | None) -> float | None:
    return None if a_ms is None or b_ms is None else (b_ms - a_ms) / 60_000


def _fact(label: str, value: str) -> str:
    return f"<div>{escape(label)}<b>{value}</b></div>"


def _kpi(value: str, label: str) -> str:
    return f'<div class="kpi"><div class="v">{value}</div><div class="l">{escape(label)}</div></div>'


def _step_rows(f: Fmt, n: Names, aa: AfterAction) -> str:
    lang, opened = n.lang, aa.incident["opened_ms"]
    rows = []
    for s in aa.steps:
        due = opened + s["within_min"] * 60_000 if s["within_min"] is not None else None
        end = s["done_ms"] if s["done_ms"] is not None else aa.end_ms
        late = s["late_ms"] is not None or (due is not None and end > due and s["status"] != "skipped")
        text = s["text_en"] if lang == "en" else s["text_id"]
        badges = f' <span class="badge must">{escape(t("inc.mandatory", lang))}</span>' if s["mandatory"] else ""
        badges += f' <span class="badge late">{escape(t("inc.late", lang))}</span>' if late else ""
        target = escape(t("inc.within", lang, n=s["within_min"])) if s["within_min"] is not None else f.none
        at = escape(f.local(from_ms(s["done_ms"]))) if s["done_ms"] is not None else f.none
        rows.append(
            f'<tr class="{"late" if late else ""}"><td>{s["seq"]}</td><td>{escape(text)}{badges}</td>'
            f"<td>{escape(n.agency(s['agency']))}</td><td>{target}</td>"
            f"<td>{escape(t('inc.step.' + s['status'], lang))}</td><td>{at}</td>"
            f"<td>{f.duration(_minutes(opened, s['done_ms']))}</td><td>{escape(s['done_by'] or '')}</td>"
            f"<td>{escape(s['note'] or '')}</td></tr>"
        )
    head = "".join(
        f"<th>{escape(t(k, lang))}</th>"
        for k in (
            "inc.col.step",
            "inc.col.agency",
            "inc.col.target",
            "inc.col.status",
            "inc.col.done_at",
            "inc.col.elapsed",
            "inc.col.by",
            "inc.col.note",
        )
    )
    cols = "".join(f'<col class="{c}">' for c in ("n", "step", "agency", "target", "status", "at", "el", "by", "note"))
    return (
        f'<table class="steps"><colgroup>{cols}</colgroup><thead><tr><th>#</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _what(m: Moment, n: Names, steps: Mapping[str, str]) -> str:
    """A timeline line's words."""
    lang, d = n.lang, m.detail
    if m.origin == "alarm":
        value = "-" if d.get("value") is None else f"{d['value']:g}"
        return t(f"inc.alarm.{m.what}", lang, severity=n.severity(str(d.get("severity"))), value=value)
    if m.origin == "ticket":
        return t("inc.ticket", lang, status=m.what)
    step = steps.get(str(d.get("step")), str(d.get("step")))
    if m.what == "state":
        return t("inc.log.state", lang, state=n.state(str(d["state"])))
    if m.what == "step":
        return t(f"inc.log.step.{d['status']}", lang, step=step)
    if m.what == "late":
        to = ", ".join(d.get("escalated_to") or [])
        if not to:
            return t("inc.log.late_nobody", lang, step=step)
        return t("inc.log.late2" if d.get("level") == 2 else "inc.log.late", lang, step=step, to=to)
    if m.what == "link":
        origin = "inc.origin.alarm" if d.get("link") == "alarm" else "inc.origin.ticket"
        return t("inc.log.link", lang, what=t(origin, lang, ref=d.get("ref")))
    if m.what == "handover":
        return t("inc.log.handover", lang, to=d.get("to"))
    return t(f"inc.log.{m.what}", lang)


def _timeline(f: Fmt, n: Names, aa: AfterAction) -> str:
    lang = n.lang
    steps = {s["step_id"]: (s["text_en"] if lang == "en" else s["text_id"]) for s in aa.steps}
    rows = []
    for m in aa.timeline:
        origin = t(f"inc.origin.{m.origin}", lang, ref=m.ref)
        who = m.actor or (t("inc.clock", lang) if m.origin == "incident" else "")
        text = escape(_what(m, n, steps)) + (f"<br><i>{escape(m.text)}</i>" if m.text else "")
        rows.append(
            f"<tr><td>{escape(f.local(from_ms(m.at_ms)))}</td><td class='origin-{m.origin}'>{escape(origin)}</td>"
            f"<td>{escape(who)}</td><td>{text}</td></tr>"
        )
    head = "".join(
        f"<th>{escape(t(k, lang))}</th>" for k in ("inc.col.time", "inc.col.origin", "inc.col.by", "inc.col.what")
    )
    cols = '<col class="time"><col class="origin"><col class="who"><col>'
    return f'<table class="timeline"><colgroup>{cols}</colgroup><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _spark(f: Fmt, n: Names, s: Series, opened_ms: int) -> str:
    """The series as an inline SVG line, with its range, its peak and the incident's start marked."""
    name, unit = n.metrics.get(s.metric, (s.metric, ""))
    caption = t("inc.readings.caption", n.lang, source=s.source_id, metric=f"{name} ({unit})", bucket=s.bucket)
    if not s.points:
        return f"<figure><figcaption>{escape(caption)}</figcaption>{f.none}</figure>"
    w, h, pad = 1000, 110, 6
    t0 = s.points[0][0]
    t1 = max(s.points[-1][0], opened_ms, t0 + 1)  # the incident's start is marked even after the last bucket
    lo, hi = min(v for _, v in s.points), max(v for _, v in s.points)
    span = (hi - lo) or 1.0

    def xy(ms: int, v: float) -> str:
        return f"{pad + (ms - t0) / (t1 - t0) * (w - 2 * pad):.1f},{h - pad - (v - lo) / span * (h - 2 * pad):.1f}"

    line = " ".join(xy(ms, v) for ms, v in s.points)
    dots = "".join(
        f'<circle cx="{xy(ms, v).split(",")[0]}" cy="{xy(ms, v).split(",")[1]}" r="3" fill="#0b5394"/>'
        for ms, v in s.points
        if len(s.points) <= MAX_DOTS
    )
    mark = ""
    if t0 <= opened_ms <= t1:
        x = pad + (opened_ms - t0) / (t1 - t0) * (w - 2 * pad)
        mark = f'<line x1="{x:.1f}" x2="{x:.1f}" y1="0" y2="{h}" stroke="#b3261e" stroke-dasharray="4 3"/>'
    peak_ms, peak = max(s.points, key=lambda p: p[1])
    label = f"max {peak:g} {unit} · {f.local(from_ms(peak_ms))} · min {lo:g}"
    return (
        f"<figure><figcaption>{escape(caption)} — {escape(label)}</figcaption>"
        f'<svg class="spark" viewBox="0 0 {w} {h}" preserveAspectRatio="none" role="img" aria-label="{escape(caption)}">'
        f'{mark}<polyline fill="none" stroke="#0b5394" stroke-width="2" points="{line}"/>{dots}</svg></figure>'
    )


def render_incident_report(
    aa: AfterAction, profile: Profile, *, sop_name: Mapping[str, Any] | None, lang: str, generated_ms: int
) -> str:
    """The after-action report page of one incident."""
    f, n, inc = Fmt(lang, profile), Names(profile, lang), aa.incident
    title = t("inc.report.title", lang, id=inc["id"], title=inc["title"])
    kind = str(sop_name.get(lang, inc["type"])) if sop_name else inc["type"]
    closed = f.local(from_ms(inc["closed_ms"])) if inc["closed_ms"] else None
    agencies = ", ".join(n.agency(a) for a in orjson.loads(inc["agencies"]))
    facts = [
        _fact(t("inc.type", lang), escape(kind)),
        _fact(t("inc.severity", lang), escape(n.severity(inc["severity"]))),
        _fact(t("inc.district", lang), escape(n.district(inc["district"]))),
        _fact(t("inc.state", lang), escape(n.state(inc["state"]))),
        _fact(t("inc.opened", lang), escape(f.local(from_ms(inc["opened_ms"])))),
        _fact(t("inc.closed", lang), escape(closed) if closed else f.none),
        _fact(t("inc.opened_by", lang), escape(inc["opened_by"])),
        _fact(t("inc.owner", lang), escape(inc["owner"])),
        _fact(t("inc.agencies", lang), escape(agencies)),
        _fact(t("inc.sop", lang), escape(t("inc.sop_version", lang, sop=inc["type"], version=inc["sop_version"]))),
    ]
    worked = sum(s["status"] != "open" for s in aa.steps)
    late = sum(s["late_ms"] is not None for s in aa.steps)
    kpis = [
        _kpi(f.duration(_minutes(inc["opened_ms"], inc["first_action_ms"])), t("inc.kpi.first_action", lang)),
        _kpi(f.duration(_minutes(inc["opened_ms"], inc["closed_ms"])), t("inc.kpi.close", lang)),
        _kpi(f"{worked}/{len(aa.steps)}", t("inc.kpi.steps_done", lang)),
        _kpi(f'<span class="{"late" if late else ""}">{late}</span>', t("inc.kpi.steps_late", lang)),
        _kpi(str(len(aa.links)), t("inc.kpi.links", lang)),
        _kpi(escape(f.local(from_ms(generated_ms))), t("report.generated", lang)),
    ]
    readings = [_spark(f, n, s, inc["opened_ms"]) for s in aa.series] or [
        f'<p class="meta">{escape(t("inc.no_readings", lang))}</p>'
    ]
    body = [
        '<header class="doc">',
        f'<div class="kicker">{escape(t("inc.report.kicker", lang))} · {escape(profile.city.name)}</div>',
        f"<h1>{escape(title)}</h1>",
        f'<div class="facts">{"".join(facts)}</div>',
        f'<button class="print" type="button">{escape(t("report.print", lang))}</button>',
        "</header>",
        f'<div class="kpis">{"".join(kpis)}</div>',
        f"<h2>{escape(t('inc.steps', lang))}</h2>",
        _step_rows(f, n, aa),
        f"<h2>{escape(t('inc.timeline', lang))}</h2>",
        _timeline(f, n, aa),
        f"<h2>{escape(t('inc.readings', lang))}</h2>",
        *readings,
        f'<div class="notes"><p>{escape(t("report.source", lang, city=profile.city.name))}</p></div>',
    ]
    return document(f"{title} — {profile.city.name}", body, lang=lang, extra_css=EXTRA_CSS)


def _count_table(n: Names, label: str, counts: Mapping[str, int], name: Any) -> str:
    rows = "".join(f"<tr><td>{escape(name(k))}</td><td>{v}</td></tr>" for k, v in counts.items())
    return (
        f"<table><thead><tr><th>{escape(label)}</th><th>{escape(t('inc.summary.count', n.lang))}</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def render_incident_summary(
    s: Summary,
    profile: Profile,
    *,
    start_ms: int,
    end_ms: int,
    type_names: Mapping[str, str],
    lang: str,
    generated_ms: int,
) -> str:
    """The regent's summary page of the incidents opened in [start_ms, end_ms)."""
    f, n = Fmt(lang, profile), Names(profile, lang)
    title, period = t("inc.summary.title", lang), f.period(start_ms, end_ms)
    kpis = [
        _kpi(str(s.total), t("inc.summary.total", lang)),
        _kpi(str(s.open), t("inc.summary.open", lang)),
        _kpi(f.duration(s.first_action_median_min), t("inc.summary.first_median", lang)),
        _kpi(f.duration(s.first_action_p90_min), t("inc.summary.first_p90", lang)),
        _kpi(f.duration(s.close_median_min), t("inc.summary.close_median", lang)),
        _kpi(f"{s.steps_late}/{s.steps_total}", t("inc.summary.steps_late", lang)),
    ]
    body = [
        '<header class="doc">',
        f'<div class="kicker">{escape(profile.city.name)} · {escape(profile.city.province)}</div>',
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">{escape(t("report.period", lang))}: <b>{escape(period)}</b></p>',
        f'<p class="meta">{escape(t("report.generated", lang))}: {escape(f.local(from_ms(generated_ms)))}</p>',
        f'<button class="print" type="button">{escape(t("report.print", lang))}</button>',
        "</header>",
        f'<div class="kpis">{"".join(kpis)}</div>',
    ]
    if not s.total:
        body.append(f'<p class="meta">{escape(t("inc.summary.none", lang))}</p>')
    body += [
        '<div class="two"><div>',
        f"<h2>{escape(t('inc.summary.by_type', lang))}</h2>",
        _count_table(n, t("inc.type", lang), s.by_type, lambda k: type_names.get(k, k)),
        "</div><div>",
        f"<h2>{escape(t('inc.summary.by_district', lang))}</h2>",
        _count_table(n, t("inc.district", lang), s.by_district, n.district),
        "</div></div>",
        f'<div class="notes"><p>{escape(t("inc.summary.notes", lang))}</p>'
        f"<p>{escape(t('report.source', lang, city=profile.city.name))}</p></div>",
    ]
    return document(f"{title} — {profile.city.name} — {period}", body, lang=lang, extra_css=EXTRA_CSS)
