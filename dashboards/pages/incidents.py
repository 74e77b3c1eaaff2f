"""Incidents (`/incidents`): the running incidents, one incident's SOP checklist and log, and the forms to work it.

Everything is read and written through the API as the signed-in user: a
viewer sees the same page without the buttons, and the API refuses a viewer's
write (403) whatever the browser sends. The page reads again on every live
tick (an incident, alarm or ticket changed) and after each write. Titles,
notes and names come from people and integrators and are shown as text.
"""

from __future__ import annotations

import time
from typing import Any

from dash import ALL, Input, Output, State, ctx as dash_ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from app.i18n import t
from dashboards import ids
from dashboards.apiclient import ApiError
from dashboards.auth import LANG_COOKIE
from dashboards.context import Ctx
from dashboards.incident_parts import (
    NEXT_STATES,
    Labels,
    alarm_options,
    incident_rows,
    incident_view,
    severities,
    type_options,
)
from dashboards.layout import choice
from dashboards.panels import panel

PANELS = ("inclist", "incview")


def _lang(cookies: dict) -> str:
    lang = cookies.get(LANG_COOKIE, "id")
    return lang if lang in ("id", "en") else "id"


def layout(*, lang: str, kiosk: bool = False) -> html.Div:
    """The page's frame: the forms are here from the start (the callbacks fill their choices and show them to
    operators), so a live tick that reads the lists again never wipes what an operator is typing."""
    open_box = html.Div(
        [
            html.H3(t("dash.inc.open_from_alarm", lang)),
            # Toggle buttons (layout/choice.py), not dropdowns: one touch each, and accessible (axe).
            choice.group(ids.INC_ALARM, t("dash.inc.pick_alarm", lang), [], None),
            choice.group(ids.INC_TYPE, t("dash.inc.type", lang), [], ""),
            choice.group(ids.INC_SEVERITY, t("dash.inc.severity", lang), severities(lang), "critical"),
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
                    choice.group(ids.INC_STATE, t("dash.inc.next_state", lang), [], None),
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
                    choice.group(ids.INC_TICKET, t("dash.inc.pick_ticket", lang), [], None),
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
            dcc.Store(id=ids.INC_SHOWN),
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


def register(app: Any, c: Ctx) -> None:
    """The page's callbacks on `app`."""
    for group in (ids.INC_ALARM, ids.INC_TYPE, ids.INC_STATE, ids.INC_TICKET):
        choice.register_dynamic(app, group)
    choice.register(app, ids.INC_SEVERITY, severities, _lang)

    def labels(sops: list[dict], lang: str) -> Labels:
        return Labels(c.district_names(), c.agency_short(), {s["id"]: s["body"]["name"][lang] for s in sops})

    @app.callback(
        Output(ids.INC_KPI, "children"),
        Output(ids.INC_LIST, "children"),
        Output(ids.INC_FORM, "hidden"),
        Output(ids.INC_ALARM, "children"),
        Output(ids.INC_TYPE, "children"),
        Output(ids.FRESH, "data", allow_duplicate=True),
        Input(ids.page_tick("incidents"), "data"),
        Input(ids.INC_BUMP, "data"),
        Input(ids.INC_SELECTED, "data"),
        State(f"{ids.INC_ALARM}-value", "data"),
        prevent_initial_call="initial_duplicate",
    )
    async def fill(_tick: Any, _bump: Any, selected: int | None, alarm: Any) -> tuple:
        cookies = dash_ctx.cookies
        token = await c.signed_in(cookies)
        lang = _lang(cookies)
        who = await c.who(cookies)
        operator = who is not None and c.acting_role(who) in ("operator", "admin")
        try:
            running = await c.client.get("/api/v1/incidents", token, state="active", limit=100, lang=lang)
            recent = await c.client.get("/api/v1/incidents", token, state=["closed", "cancelled"], limit=10, lang=lang)
            sops = await c.client.get("/api/v1/incident-sops", token)
            alarms: list = []
            situations: list = []
            if operator:
                found = await c.client.get("/api/v1/alarms", token, state="open", order="severity", limit=50, lang=lang)
                alarms = found["items"]
                situations = (await c.client.get("/api/v1/situations", token, lang=lang))["situations"]
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
        rows = incident_rows(items + recent["items"], selected, lang, c.profile.tz, labels=labels(sops, lang))
        stamps = dict.fromkeys(PANELS, int(time.time() * 1000))
        # The choices are drawn again with what is chosen (a live tick must not undo an operator's pick); the
        # type is only drawn when nothing is picked yet, so a pick there is not undone either.
        alarm_buttons = choice.buttons(ids.INC_ALARM, alarm_options(alarms, lang, situations), alarm)
        type_buttons = choice.buttons(ids.INC_TYPE, type_options(sops if operator else [], lang), "")
        return (
            kpis,
            rows,
            not operator,
            alarm_buttons,
            type_buttons if dash_ctx.triggered_id != ids.page_tick("incidents") else no_update,
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
            Output(ids.INC_STATE, "children"),
            Output(ids.INC_TICKET, "children"),
            Output(f"{ids.INC_STATE}-value", "data", allow_duplicate=True),
            Output(f"{ids.INC_TICKET}-value", "data", allow_duplicate=True),
            Output(ids.INC_SHOWN, "data"),
        ],
        inputs={
            "selected": Input(ids.INC_SELECTED, "data"),
            "_tick": Input(ids.page_tick("incidents"), "data"),
            "_bump": Input(ids.INC_BUMP, "data"),
        },
        state={
            "notes": State({"type": ids.INC_STEP_NOTE, "step": ALL}, "value"),
            "note_ids": State({"type": ids.INC_STEP_NOTE, "step": ALL}, "id"),
            "picked_state": State(f"{ids.INC_STATE}-value", "data"),
            "picked_ticket": State(f"{ids.INC_TICKET}-value", "data"),
            "shown": State(ids.INC_SHOWN, "data"),
        },
        prevent_initial_call="initial_duplicate",
    )
    async def view(
        *,
        selected: int | None,
        _tick: Any,
        _bump: Any,
        notes: list,
        note_ids: list,
        picked_state: Any,
        picked_ticket: Any,
        shown: Any,
    ) -> tuple:
        cookies = dash_ctx.cookies
        token = await c.signed_in(cookies)
        lang = _lang(cookies)
        if not selected:
            return html.Div(t("dash.inc.pick", lang), className="empty"), True, [], [], None, None, None
        who = await c.who(cookies)
        operator = who is not None and c.acting_role(who) in ("operator", "admin")
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
            return (
                html.Div(t("dash.inc.failed", lang, detail=str(exc.detail)), className="empty"),
                True,
                [],
                [],
                None,
                None,
                None,
            )
        # A live tick keeps the step notes being typed; after a write (or another incident) they start empty.
        typing = dash_ctx.triggered_id == ids.page_tick("incidents")
        kept = {i["step"]: v for v, i in zip(notes or [], note_ids or [], strict=False)} if typing else {}
        working = operator and inc["state"] in NEXT_STATES
        # A live tick draws the choices with what the operator picked; a write or another incident clears them.
        state_opts = [(s, t(f"inc.state.{s}", lang)) for s in NEXT_STATES.get(inc["state"], ())]
        picked_state = picked_state if typing and picked_state in dict(state_opts) else None
        linked = {k["ref"] for k in inc["links"] if k["kind"] == "ticket"}
        ticket_opts = [
            (k["ticket_id"], f"{k['ticket_id']} · {k.get('title') or k.get('service') or ''}")
            for k in tickets
            if k["ticket_id"] not in linked
        ]
        picked_ticket = picked_ticket if typing and picked_ticket in dict(ticket_opts) else None
        states = choice.buttons(ids.INC_STATE, state_opts, picked_state)
        ticket_buttons = choice.buttons(ids.INC_TICKET, ticket_opts, picked_ticket)
        version = f"{inc['id']}@{inc['updated_at']}"
        if typing and shown == version:
            # A live tick, and this incident did not change: the checklist stays as it is (nothing typed is lost);
            # only the tickets to link are drawn again.
            return no_update, not working, no_update, ticket_buttons, no_update, picked_ticket, version
        view = incident_view(inc, operator, lang, c.profile.tz, notes=kept, labels=labels(sops, lang))
        return view, not working, states, ticket_buttons, picked_state, picked_ticket, version

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
            Output(f"{ids.INC_ALARM}-value", "data", allow_duplicate=True),
        ],
        inputs={"n": Input(ids.INC_OPEN, "n_clicks")},
        state={
            "alarm": State(f"{ids.INC_ALARM}-value", "data"),
            "kind": State(f"{ids.INC_TYPE}-value", "data"),
            "sev": State(f"{ids.INC_SEVERITY}-value", "data"),
            "title": State(ids.INC_TITLE, "value"),
            "bump": State(ids.INC_BUMP, "data"),
        },
        prevent_initial_call=True,
    )
    async def open_incident(
        *, n: int, alarm: int | str | None, kind: str | None, sev: str, title: str | None, bump: int | None
    ) -> tuple:
        if not n:
            raise PreventUpdate
        body: dict = {"title": (title or "").strip() or "-", "severity": sev or "critical"}
        if isinstance(alarm, str) and alarm.startswith("s-"):
            body["situation_id"] = alarm  # a situation: all its alarms are linked
        elif alarm:
            body["alarm_ids"] = [int(alarm)]
        if kind:
            body["type"] = kind
        msg, new_bump, out = await _post("/api/v1/incidents", body, bump)
        if out is None:
            return msg, no_update, no_update, no_update, no_update
        return t("dash.inc.opened_ok", _lang(dash_ctx.cookies), id=out["id"]), new_bump, out["id"], "", None

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
        State(f"{ids.INC_STATE}-value", "data"),
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
        State(f"{ids.INC_TICKET}-value", "data"),
        State(ids.INC_SELECTED, "data"),
        State(ids.INC_BUMP, "data"),
        prevent_initial_call=True,
    )
    async def link(n: int, ticket: str | None, selected: int | None, bump: int | None) -> tuple:
        if not n or not ticket or not selected:
            raise PreventUpdate
        msg, new_bump, _ = await _post(f"/api/v1/incidents/{int(selected)}/links", {"ticket_ids": [ticket]}, bump)
        return msg, new_bump
