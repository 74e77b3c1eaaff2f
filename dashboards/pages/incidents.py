"""Incidents (`/incidents`): the running incidents, one incident's SOP checklist and log, and the forms to work it.

Everything is read and written through the API as the signed-in user: a
viewer sees the same page without the buttons, and the API refuses a viewer's
write (403) whatever the browser sends. The page reads again on every live
tick (an incident, alarm or ticket changed) and after each write. Titles,
notes and names come from people and integrators and are shown as text.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from dash import ALL, Input, Output, State, ctx as dash_ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from app.i18n import t
from dashboards import ids
from dashboards.apiclient import ApiError
from dashboards.auth import LANG_COOKIE
from dashboards.context import Ctx
from dashboards.fmt import clock, to_ms, when
from dashboards.panels import glyph, panel

SEVERITIES = ("critical", "major", "minor", "warning")
NEXT_STATES = {
    "open": ("responding", "monitoring", "closed", "cancelled"),
    "responding": ("monitoring", "closed", "cancelled"),
    "monitoring": ("responding", "closed", "cancelled"),
}
PANELS = ("inclist", "incview")


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


def _lang(cookies: dict) -> str:
    lang = cookies.get(LANG_COOKIE, "id")
    return lang if lang in ("id", "en") else "id"


def layout(*, lang: str, kiosk: bool = False) -> html.Div:
    """The page's frame: the forms are here from the start (the callbacks fill their choices and show them to
    operators), so a live tick that reads the lists again never wipes what an operator is typing."""
    open_box = html.Div(
        [
            html.H3(t("dash.inc.open_from_alarm", lang)),
            # Radio items, not a dropdown: one touch on a wall's touch screen, and each alarm readable at once.
            dcc.RadioItems(id=ids.INC_ALARM, options=[], className="inc-radio"),
            html.Div(
                [
                    dcc.Dropdown(id=ids.INC_TYPE, options=[], value="", clearable=False, className="inc-type"),
                    dcc.Dropdown(
                        id=ids.INC_SEVERITY,
                        options=[{"label": t(f"dash.sev.{s}", lang), "value": s} for s in SEVERITIES],
                        value="critical",
                        clearable=False,
                        className="inc-sev",
                    ),
                ],
                className="inc-form-row",
            ),
            dcc.Input(
                id=ids.INC_TITLE, placeholder=t("dash.inc.title_field", lang), maxLength=200, className="inc-input"
            ),
            html.Button(t("dash.inc.open", lang), id=ids.INC_OPEN, className="btn", n_clicks=0),
        ],
        id=ids.INC_FORM,
        className="inc-open",
        hidden=True,
    )
    controls = html.Div(
        [
            html.Div(
                [
                    dcc.RadioItems(id=ids.INC_STATE, options=[], className="inc-radio inc-state-pick", inline=True),
                    dcc.Input(
                        id=ids.INC_STATE_NOTE,
                        placeholder=t("dash.inc.note", lang),
                        maxLength=2000,
                        className="inc-note",
                    ),
                    html.Button(t("dash.inc.move", lang), id=ids.INC_STATE_GO, n_clicks=0, className="ack"),
                ],
                className="inc-form-row",
            ),
            html.Div(
                [
                    html.Span(t("dash.inc.link_ticket", lang), className="alarm-meta"),
                    dcc.RadioItems(id=ids.INC_TICKET, options=[], className="inc-radio inc-ticket-pick"),
                    html.Button(t("dash.inc.link", lang), id=ids.INC_LINK, n_clicks=0, className="ack"),
                ],
                className="inc-form-row",
            ),
        ],
        id=ids.INC_CONTROLS,
        className="inc-controls",
        hidden=True,
    )
    return html.Div(
        className="incidents",
        children=[
            dcc.Store(id=ids.page_tick("incidents")),
            dcc.Store(id=ids.INC_SELECTED),
            dcc.Store(id=ids.INC_BUMP, data=0),
            html.Div(
                [html.H1(t("dash.inc.title", lang)), html.Div(id=ids.INC_KPI, className="inc-kpis")],
                className="regent-bar",
            ),
            html.Div(id=ids.INC_MSG, className="note", role="status"),
            html.Div(
                [
                    panel("inclist", t("dash.inc.title", lang), [open_box, html.Div(id=ids.INC_LIST)], max_age_s=120),
                    panel("incview", t("dash.inc.log", lang), [html.Div(id=ids.INC_VIEW), controls], max_age_s=120),
                ],
                className="inc-grid",
            ),
        ],
    )


def alarm_options(alarms: list[dict], lang: str) -> list[dict]:
    """The open alarms an incident can be opened from, worst first."""
    return [
        {"label": f"#{a['id']} {t('dash.sev.' + a['severity'], lang)} · {a['message']}", "value": a["id"]}
        for a in alarms
    ]


def type_options(sops: list[dict], lang: str) -> list[dict]:
    """The incident types (one per SOP), after 'as the alarm says'."""
    return [{"label": t("dash.inc.type_auto", lang), "value": ""}] + [
        {"label": s["body"]["name"][lang], "value": s["id"]} for s in sops
    ]


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
                href=f"/api/v1/reports/incidents/{inc['id']}?lang={lang}",
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
                    html.Span(_log_text(e, lang, steps)),
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


def _log_text(e: dict, lang: str, steps: dict[str, str]) -> str:
    d, who = e["detail"], e["by"] or t("inc.clock", lang)
    step = steps.get(str(d.get("step")), d.get("step"))
    what = {
        "opened": t("inc.log.opened", lang),
        "state": t("inc.log.state", lang, state=t(f"inc.state.{d.get('state', 'open')}", lang)),
        "step": t(f"inc.log.step.{d.get('status', 'done')}", lang, step=step),
        "late": t("inc.log.late", lang, step=step, to=", ".join(d.get("escalated_to") or []) or "-"),
        "link": t("inc.log.link", lang, what=f"{d.get('link')} {d.get('ref')}"),
        "handover": t("inc.log.handover", lang, to=d.get("to")),
        "note": t("inc.log.note", lang),
    }.get(e["kind"], e["kind"])
    return f"{who}: {what}" + (f" — {e['text']}" if e.get("text") else "")


def register(app: Any, c: Ctx) -> None:
    """The page's callbacks on `app`."""
    tz = c.profile.tz

    def labels(sops: list[dict], lang: str) -> Labels:
        return Labels(c.district_names(), c.agency_short(), {s["id"]: s["body"]["name"][lang] for s in sops})

    @app.callback(
        Output(ids.INC_KPI, "children"),
        Output(ids.INC_LIST, "children"),
        Output(ids.INC_FORM, "hidden"),
        Output(ids.INC_ALARM, "options"),
        Output(ids.INC_TYPE, "options"),
        Output(ids.FRESH, "data", allow_duplicate=True),
        Input(ids.page_tick("incidents"), "data"),
        Input(ids.INC_BUMP, "data"),
        Input(ids.INC_SELECTED, "data"),
        prevent_initial_call="initial_duplicate",
    )
    async def fill(_tick: Any, _bump: Any, selected: int | None) -> tuple:
        cookies = dash_ctx.cookies
        token = await c.signed_in(cookies)
        lang = _lang(cookies)
        who = await c.who(cookies)
        operator = who is not None and who.may("operator")
        try:
            running = await c.client.get("/api/v1/incidents", token, state="active", limit=100, lang=lang)
            recent = await c.client.get("/api/v1/incidents", token, state=["closed", "cancelled"], limit=10, lang=lang)
            sops = await c.client.get("/api/v1/incident-sops", token)
            alarms: list = []
            if operator:
                found = await c.client.get("/api/v1/alarms", token, state="open", order="severity", limit=50, lang=lang)
                alarms = found["items"]
        except ApiError as exc:
            raise PreventUpdate from exc
        items = running["items"]
        late = sum(i["steps_late"] for i in items)
        kpis = [
            html.Div(
                [
                    html.Div(str(running["total"]), className="kpi-value"),
                    html.Div(t("dash.inc.kpi", lang), className="kpi-label"),
                ],
                className="kpi",
                id="inc-kpi-running",
            ),
            html.Div(
                [
                    html.Div(str(late), className="kpi-value"),
                    html.Div(t("inc.kpi.steps_late", lang), className="kpi-label"),
                ],
                className="kpi" + (" hot" if late else ""),
                id="inc-kpi-late",
            ),
        ]
        rows = incident_rows(items + recent["items"], selected, lang, tz, labels=labels(sops, lang))
        stamps = dict.fromkeys(PANELS, int(time.time() * 1000))
        return (
            kpis,
            rows,
            not operator,
            alarm_options(alarms, lang),
            type_options(sops if operator else [], lang),
            stamps,
        )

    @app.callback(
        Output(ids.INC_SELECTED, "data"),
        Input({"type": ids.INC_ROW, "incident": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def select(clicks: list) -> int:
        trig = dash_ctx.triggered_id
        if not isinstance(trig, dict) or not any(clicks or ()):
            raise PreventUpdate
        return int(trig["incident"])

    @app.callback(
        output=[
            Output(ids.INC_VIEW, "children"),
            Output(ids.INC_CONTROLS, "hidden"),
            Output(ids.INC_STATE, "options"),
            Output(ids.INC_TICKET, "options"),
        ],
        inputs={
            "selected": Input(ids.INC_SELECTED, "data"),
            "_tick": Input(ids.page_tick("incidents"), "data"),
            "_bump": Input(ids.INC_BUMP, "data"),
        },
        state={
            "notes": State({"type": ids.INC_STEP_NOTE, "step": ALL}, "value"),
            "note_ids": State({"type": ids.INC_STEP_NOTE, "step": ALL}, "id"),
        },
    )
    async def view(*, selected: int | None, _tick: Any, _bump: Any, notes: list, note_ids: list) -> tuple:
        cookies = dash_ctx.cookies
        token = await c.signed_in(cookies)
        lang = _lang(cookies)
        if not selected:
            return html.Div(t("dash.inc.pick", lang), className="empty"), True, [], []
        who = await c.who(cookies)
        operator = who is not None and who.may("operator")
        try:
            inc = await c.client.get(f"/api/v1/incidents/{int(selected)}", token, lang=lang)
            sops = await c.client.get("/api/v1/incident-sops", token)
            tickets = []
            if operator and inc["district"]:
                found = await c.client.get(
                    "/api/v1/tickets", token, status="active", district=inc["district"], limit=50
                )
                tickets = found["items"]
        except ApiError as exc:
            return html.Div(t("dash.inc.failed", lang, detail=str(exc.detail)), className="empty"), True, [], []
        # A live tick keeps the step notes being typed; after a write (or another incident) they start empty.
        typing = dash_ctx.triggered_id == ids.page_tick("incidents")
        kept = {i["step"]: v for v, i in zip(notes or [], note_ids or [], strict=False)} if typing else {}
        working = operator and inc["state"] in NEXT_STATES
        states = [{"label": t(f"inc.state.{s}", lang), "value": s} for s in NEXT_STATES.get(inc["state"], ())]
        linked = {k["ref"] for k in inc["links"] if k["kind"] == "ticket"}
        ticket_opts = [
            {"label": f"{k['ticket_id']} · {k.get('title') or k.get('service') or ''}", "value": k["ticket_id"]}
            for k in tickets
            if k["ticket_id"] not in linked
        ]
        view = incident_view(inc, operator, lang, tz, notes=kept, labels=labels(sops, lang))
        return view, not working, states, ticket_opts

    async def _post(path: str, body: dict, bump: int | None) -> tuple:
        """POST as the signed-in user; (message, bump) so the page reads again."""
        cookies = dash_ctx.cookies
        token = await c.signed_in(cookies)
        lang = _lang(cookies)
        try:
            out = await c.client.post(path, token, json=body)
        except ApiError as exc:
            return t("dash.inc.failed", lang, detail=str(exc.detail)), no_update, None
        return "", (bump or 0) + 1, out

    @app.callback(
        output=[
            Output(ids.INC_MSG, "children"),
            Output(ids.INC_BUMP, "data"),
            Output(ids.INC_SELECTED, "data", allow_duplicate=True),
            Output(ids.INC_TITLE, "value"),
        ],
        inputs={"n": Input(ids.INC_OPEN, "n_clicks")},
        state={
            "alarm": State(ids.INC_ALARM, "value"),
            "kind": State(ids.INC_TYPE, "value"),
            "sev": State(ids.INC_SEVERITY, "value"),
            "title": State(ids.INC_TITLE, "value"),
            "bump": State(ids.INC_BUMP, "data"),
        },
        prevent_initial_call=True,
    )
    async def open_incident(
        *, n: int, alarm: int | None, kind: str | None, sev: str, title: str | None, bump: int | None
    ) -> tuple:
        if not n:
            raise PreventUpdate
        body: dict = {"title": (title or "").strip() or "-", "severity": sev or "critical"}
        if alarm:
            body["alarm_ids"] = [int(alarm)]
        if kind:
            body["type"] = kind
        msg, new_bump, out = await _post("/api/v1/incidents", body, bump)
        if out is None:
            return msg, no_update, no_update, no_update
        return t("dash.inc.opened_ok", _lang(dash_ctx.cookies), id=out["id"]), new_bump, out["id"], ""

    @app.callback(
        output=[
            Output(ids.INC_MSG, "children", allow_duplicate=True),
            Output(ids.INC_BUMP, "data", allow_duplicate=True),
        ],
        inputs={
            "done": Input({"type": ids.INC_STEP_DONE, "step": ALL}, "n_clicks"),
            "skip": Input({"type": ids.INC_STEP_SKIP, "step": ALL}, "n_clicks"),
        },
        state={
            "notes": State({"type": ids.INC_STEP_NOTE, "step": ALL}, "value"),
            "note_ids": State({"type": ids.INC_STEP_NOTE, "step": ALL}, "id"),
            "selected": State(ids.INC_SELECTED, "data"),
            "bump": State(ids.INC_BUMP, "data"),
        },
        prevent_initial_call=True,
    )
    async def work_step(
        *, done: list, skip: list, notes: list, note_ids: list, selected: int | None, bump: int | None
    ) -> tuple:
        trig = dash_ctx.triggered_id
        if not isinstance(trig, dict) or not selected or not any((done or []) + (skip or [])):
            raise PreventUpdate
        if not (dash_ctx.triggered and dash_ctx.triggered[0].get("value")):
            raise PreventUpdate  # a new button appearing, not a click
        step = trig["step"]
        note = next((v for v, i in zip(notes, note_ids, strict=False) if i["step"] == step), None)
        action = "done" if trig["type"] == ids.INC_STEP_DONE else "skip"
        msg, new_bump, _ = await _post(
            f"/api/v1/incidents/{int(selected)}/steps/{step}", {"action": action, "note": note}, bump
        )
        return msg, new_bump

    @app.callback(
        Output(ids.INC_MSG, "children", allow_duplicate=True),
        Output(ids.INC_BUMP, "data", allow_duplicate=True),
        Input(ids.INC_STATE_GO, "n_clicks"),
        State(ids.INC_STATE, "value"),
        State(ids.INC_STATE_NOTE, "value"),
        State(ids.INC_SELECTED, "data"),
        State(ids.INC_BUMP, "data"),
        prevent_initial_call=True,
    )
    async def move(n: int, state: str | None, note: str | None, selected: int | None, bump: int | None) -> tuple:
        if not n or not state or not selected:
            raise PreventUpdate
        msg, new_bump, _ = await _post(f"/api/v1/incidents/{int(selected)}/state", {"state": state, "note": note}, bump)
        return msg, new_bump

    @app.callback(
        Output(ids.INC_MSG, "children", allow_duplicate=True),
        Output(ids.INC_BUMP, "data", allow_duplicate=True),
        Input(ids.INC_LINK, "n_clicks"),
        State(ids.INC_TICKET, "value"),
        State(ids.INC_SELECTED, "data"),
        State(ids.INC_BUMP, "data"),
        prevent_initial_call=True,
    )
    async def link(n: int, ticket: str | None, selected: int | None, bump: int | None) -> tuple:
        if not n or not ticket or not selected:
            raise PreventUpdate
        msg, new_bump, _ = await _post(f"/api/v1/incidents/{int(selected)}/links", {"ticket_ids": [ticket]}, bump)
        return msg, new_bump
