"""The regent view (`/regent`)."""

from __future__ import annotations

from typing import Any

from dash import html

from app.i18n import t


def layout(*, lang: str) -> html.Div:
    return html.Div(t("dash.regent.title", lang), className="regent")


def register(app: Any, c: Any) -> None:
    return None
