"""History replay (`/replay`)."""

from __future__ import annotations

from typing import Any

from dash import html

from app.i18n import t


def layout(*, lang: str) -> html.Div:
    return html.Div(t("dash.replay.title", lang), className="replay")


def register(app: Any, c: Any) -> None:
    return None
