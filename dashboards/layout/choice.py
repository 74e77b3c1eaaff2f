"""One choice among a few (the regent's period, the replay's speed) as a labelled group of toggle buttons.

Not dcc.Dropdown, which keeps a focusable input under aria-hidden, nor
dcc.RadioItems, whose options are labels with the role `option` around
focusable inputs (axe: aria-hidden-focus, nested-interactive): plain buttons
with `aria-pressed` in a `role=group` named by its label. The chosen value
lives in a store; a click re-renders the group with the new button pressed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from dash import ALL, Input, Output, ctx as dash_ctx, dcc, html
from dash.exceptions import PreventUpdate

Options = Callable[[str], Sequence[tuple[Any, str]]]  # lang -> [(value, label)]


def buttons(group_id: str, options: Sequence[tuple[Any, str]], value: Any) -> list:
    """The group's buttons, the one of `value` pressed."""
    return [
        html.Button(
            label,
            id={"type": f"{group_id}-option", "value": v},
            n_clicks=0,
            className="choice-btn" + (" on" if v == value else ""),
            **{"aria-pressed": str(v == value).lower()},
        )
        for v, label in options
    ]


def group(group_id: str, label: str, options: Sequence[tuple[Any, str]], value: Any) -> html.Div:
    """The labelled group (its buttons under `group_id`) and the store `<group_id>-value` holding the choice."""
    return html.Div(
        [
            html.Span(label, id=f"{group_id}-label", className="choice-label"),
            html.Div(
                buttons(group_id, options, value),
                id=group_id,
                className="choice",
                role="group",
                **{"aria-labelledby": f"{group_id}-label"},
            ),
            dcc.Store(id=f"{group_id}-value", data=value),
        ],
        className="choice-box",
    )


def register(app: Any, group_id: str, options: Options, lang_of: Callable[[dict], str]) -> None:
    """The click that chooses: the store takes the button's value, the group is drawn with it pressed."""

    @app.callback(
        Output(f"{group_id}-value", "data"),
        Output(group_id, "children"),
        Input({"type": f"{group_id}-option", "value": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def choose(_clicks: list) -> tuple:
        trig = dash_ctx.triggered_id
        # Buttons drawn anew fire this with n_clicks 0: only a real click chooses.
        if not isinstance(trig, dict) or not (dash_ctx.triggered and dash_ctx.triggered[0]["value"]):
            raise PreventUpdate
        value = trig["value"]
        return value, buttons(group_id, options(lang_of(dash_ctx.cookies)), value)


def register_dynamic(app: Any, group_id: str) -> None:
    """The click that chooses, for a group whose options a page callback draws (open alarms, tickets): the store
    takes the button's value and the buttons drawn now show which one is pressed (incidents, issue 13)."""
    option = {"type": f"{group_id}-option", "value": ALL}

    @app.callback(
        Output(f"{group_id}-value", "data"),
        Output(option, "className"),
        Output(option, "aria-pressed"),
        Input(option, "n_clicks"),
        prevent_initial_call=True,
    )
    def choose(_clicks: list) -> tuple:
        trig = dash_ctx.triggered_id
        if not isinstance(trig, dict) or not (dash_ctx.triggered and dash_ctx.triggered[0]["value"]):
            raise PreventUpdate
        value = trig["value"]
        drawn = [o["id"]["value"] for o in dash_ctx.outputs_list[1]]
        return (
            value,
            ["choice-btn" + (" on" if v == value else "") for v in drawn],
            [str(v == value).lower() for v in drawn],
        )
