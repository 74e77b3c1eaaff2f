"""The incidents page's parts (`/incidents`): pure builders from the API's answers to components.

Titles, notes, names and messages come from people and integrators: they are
given to components as text, never as HTML or markdown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dash import dcc, html

from app.i18n import t
from dashboards import ids
from dashboards.current import query as city_query
from dashboards.fmt import clock, to_ms, when
from dashboards.panels import glyph

SEVERITIES = ("critical", "major", "minor", "warning")
NEXT_STATES = {
    "open": ("responding", "monitoring", "closed", "cancelled"),
    "responding": ("monitoring", "closed", "cancelled"),
    "monitoring": ("responding", "closed", "cancelled"),
}


@dataclass(frozen=True)
class Labels:
    """Names for the ids an incident carries: districts and agencies (profile), types (the SOPs)."""

    districts: dict[str, str] = field(default_factory=dict)
    agencies: dict[str, str] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)

    def district(self, d: str | None) -> str:
        return self.districts.get(d or "", d or "-")

    def kind(self, k: str) -> str:
        return self.types.get(k, k)


def severities(lang: str) -> list[tuple[str, str]]:
    return [(s, t(f"dash.sev.{s}", lang)) for s in SEVERITIES]


def alarm_options(alarms: list[dict], lang: str, situations: list[dict] | None = None) -> list[tuple[int | str, str]]:
    """What an incident can be opened from: the active situations (issue 17: alarms of one cause, by their
    `s-` id), then the open alarms, worst first."""
    sits: list[tuple[int | str, str]] = [
        (
            s["id"],
            f"{t('dash.sev.' + s['severity'], lang)} · {s['title']} ({t('dash.situation.count', lang, count=s['alarm_count'])})",
        )
        for s in situations or []
    ]
    return [*sits, *((a["id"], f"#{a['id']} {t('dash.sev.' + a['severity'], lang)} · {a['message']}") for a in alarms)]


def type_options(sops: list[dict], lang: str) -> list[tuple[str, str]]:
    """The incident types (one per SOP), after 'as the alarm says'."""
    return [("", t("dash.inc.type_auto", lang)), *((s["id"], s["body"]["name"][lang]) for s in sops)]


def incident_rows(items: list[dict], selected: int | None, lang: str, tz: Any, *, labels: Labels | None = None) -> list:
    """One button per incident: severity, title, type, state, late steps."""
    if not items:
        return [html.Div(t("dash.inc.none", lang), className="empty")]
    labels = labels or Labels()
    rows = []
    for i in items:
        sev = i["severity"]
        late = i["steps_late"]
        rows.append(
            html.Button(
                [
                    html.Span([glyph(sev), t(f"dash.sev.{sev}", lang)], className=f"sev sev-{sev}"),
                    html.Span(
                        [
                            html.Span(f"#{i['id']} {i['title']}", className="inc-title"),
                            html.Span(
                                f"{t('inc.state.' + i['state'], lang)} · {labels.kind(i['type'])} · {labels.district(i['district'])} · "
                                f"{when(to_ms(i['opened_at']), tz, lang)}",
                                className="alarm-meta",
                            ),
                        ],
                        className="alarm-text",
                    ),
                    html.Span(f"{late} {t('dash.inc.late_badge', lang)}", className="inc-late") if late else None,
                ],
                id={"type": ids.INC_ROW, "incident": i["id"]},
                n_clicks=0,
                className="inc-row" + (" selected" if i["id"] == selected else "") + f" state-{i['state']}",
            )
        )
    return rows


def step_rows(
    inc: dict, operator: bool, lang: str, tz: Any, *, notes: dict | None = None, labels: Labels | None = None
) -> list:
    """The SOP checklist: each step with its agency, target and status; done/skip buttons for an operator."""
    working = operator and inc["state"] in NEXT_STATES
    rows = []
    for s in inc["steps"]:
        status = s["status"]
        meta = [(labels.agencies.get(s["agency"], s["agency"]) if labels else s["agency"]) or t("inc.center", lang)]
        if s["due_at"]:
            meta.append(t("dash.inc.due", lang, time=clock(to_ms(s["due_at"]), tz, lang)))
        if s["mandatory"]:
            meta.append(t("inc.mandatory", lang))
        if s["done_at"]:
            meta.append(f"{t(f'inc.step.{status}', lang)} {clock(to_ms(s['done_at']), tz, lang)} · {s['done_by']}")
        actions: list = []
        if working and status == "open":
            actions = [
                dcc.Input(
                    id={"type": ids.INC_STEP_NOTE, "step": s["step"]},
                    value=(notes or {}).get(s["step"]),
                    placeholder=t("dash.inc.note", lang),
                    maxLength=2000,
                    className="inc-note",
                ),
                html.Button(
                    t("dash.inc.done", lang),
                    id={"type": ids.INC_STEP_DONE, "step": s["step"]},
                    n_clicks=0,
                    className="ack",
                ),
                html.Button(
                    t("dash.inc.skip", lang),
                    id={"type": ids.INC_STEP_SKIP, "step": s["step"]},
                    n_clicks=0,
                    className="ack ghost",
                ),
            ]
        rows.append(
            html.Li(
                [
                    html.Span(
                        "✓" if status == "done" else "–" if status == "skipped" else str(s["seq"]), className="inc-mark"
                    ),
                    html.Div(
                        [
                            html.Div(
                                [
                                    s["text"],
                                    html.Span(t("inc.late", lang), className="inc-late") if s["late"] else None,
                                ],
                                className="alarm-msg",
                            ),
                            html.Div(" · ".join(meta), className="alarm-meta"),
                            html.Div(s["note"], className="inc-step-note") if s["note"] else None,
                        ],
                        className="alarm-text",
                    ),
                    html.Div(actions, className="inc-actions"),
                ],
                className=f"inc-step step-{status}" + (" late" if s["late"] and status == "open" else ""),
                id=f"inc-step-{s['step']}",
            )
        )
    return rows


def incident_view(
    inc: dict, operator: bool, lang: str, tz: Any, *, notes: dict | None = None, labels: Labels | None = None
) -> html.Div:
    """One incident: its facts, its links, its checklist and its log; `notes`: step notes being typed."""
    sev, labels = inc["severity"], labels or Labels()
    head = html.Div(
        [
            html.Span([glyph(sev), t(f"dash.sev.{sev}", lang)], className=f"sev sev-{sev}"),
            html.H2(f"#{inc['id']} {inc['title']}", className="inc-h"),
            html.Span(
                t(f"inc.state.{inc['state']}", lang), className=f"inc-state state-{inc['state']}", id="inc-state-now"
            ),
            html.A(
                t("dash.inc.report", lang),
                href=f"/api/v1/reports/incidents/{inc['id']}?lang={lang}{city_query()}",
                target="_blank",
                className="btn",
                id=ids.INC_REPORT,
            ),
        ],
        className="inc-head",
    )
    facts = html.Div(
        f"{labels.kind(inc['type'])} · {labels.district(inc['district'])} · {t('inc.owner', lang)}: {inc['owner']} · "
        f"{t('inc.opened', lang)} {when(to_ms(inc['opened_at']), tz, lang)}"
        + (
            f" · {t('dash.inc.steps_left', lang, n=inc['steps_open_mandatory'])}" if inc["steps_open_mandatory"] else ""
        ),
        className="alarm-meta",
    )
    links = html.Div(
        [html.Span(f"{k['kind']} {k['ref']}", className="inc-chip") for k in inc["links"]], className="inc-links"
    )
    steps = {s["step"]: s["text"] for s in inc["steps"]}
    log = html.Ol(
        [
            html.Li(
                [
                    html.Span(clock(to_ms(e["at"]), tz, lang), className="feed-time"),
                    html.Span(log_text(e, lang, steps)),
                ]
            )
            for e in reversed(inc["log"])
        ],
        className="inc-log",
    )
    viewer = [] if operator else [html.Div(t("dash.inc.viewer_only", lang), className="note inc-viewer-only")]
    return html.Div(
        [
            head,
            facts,
            links,
            *viewer,
            html.Ol(step_rows(inc, operator, lang, tz, notes=notes, labels=labels), className="inc-steps"),
            log,
        ],
        className="inc-view",
    )


def log_text(e: dict, lang: str, steps: dict[str, str]) -> str:
    d, who = e["detail"], e["by"] or t("inc.clock", lang)
    step = steps.get(str(d.get("step")), d.get("step"))
    what = {
        "opened": t("inc.log.opened", lang),
        "state": t("inc.log.state", lang, state=t(f"inc.state.{d.get('state', 'open')}", lang)),
        "step": t(f"inc.log.step.{d.get('status', 'done')}", lang, step=step),
        "late": t(
            "inc.log.late2" if d.get("level") == 2 else "inc.log.late",
            lang,
            step=step,
            to=", ".join(d.get("escalated_to") or []) or "-",
        ),
        "link": t("inc.log.link", lang, what=f"{d.get('link')} {d.get('ref')}"),
        "handover": t("inc.log.handover", lang, to=d.get("to")),
        "note": t("inc.log.note", lang),
    }.get(e["kind"], e["kind"])
    return f"{who}: {what}" + (f" — {e['text']}" if e.get("text") else "")
