"""The frame around every page: routing, the live channel's stores, header and banner.

The static skeleton is the same for everyone; the header and the page are
rendered by the routing callback, which knows the session (role, language)
from the cookie and the page (and kiosk mode) from the address.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dash import ALL, Input, Output, dcc, html

from app.i18n import t
from dashboards import ids

POLL_MS = 15_000
TZ_LABELS = {
    "Asia/Jakarta": "WIB",
    "Asia/Pontianak": "WIB",
    "Asia/Makassar": "WITA",
    "Asia/Jayapura": "WIT",
}  # the fallback refresh while the live channel is down; live.js shortens it then


def skeleton(
    *,
    header: Any = None,
    page: Any = None,
    session: dict | None = None,
    root_class: str = "app",
    rendered: str | None = None,
    fresh: dict | None = None,
) -> html.Div:
    """The layout every page load starts from: empty (the routing callback renders the page) or already `rendered`."""
    return html.Div(
        id="app-root",
        className=root_class,
        children=[
            dcc.Location(id=ids.URL, refresh=False),
            dcc.Store(id=ids.RENDERED, data=rendered),  # which address the page was rendered for
            dcc.Store(id=ids.SESSION, data=session),
            dcc.Store(id=ids.LIVE_TICK),
            dcc.Store(id=ids.LINK),
            dcc.Interval(id=ids.POLL, interval=POLL_MS),
            dcc.Store(id=ids.FRESH, data=fresh),  # {panel: as-of ms}, from whichever page is shown
            dcc.Store(id=ids.SINK),  # where clientside side effects "return" (they return no_update)
            # The banner sits in the header landmark: every part of the page is in a landmark (axe: region).
            html.Header(
                [
                    html.Div(header, id="header", className="header"),
                    html.Div(id=ids.BANNER, className="banner hidden", role="status"),
                ],
                className="top",
            ),
            html.Main(page, id=ids.PAGE, className="page"),
        ],
    )


def header(
    *,
    lang: str,
    role: str,
    name: str,
    city: str,
    city_id: str,
    tz: str,
    path: str,
    kiosk: bool,
    keep: str = "",
    switch: Sequence[tuple[str, str]] = (),
) -> list:
    """The header's children: brand, navigation, clock, language, sound, who is signed in.

    Smart Province: `keep` ('?city=ID') goes with every link, so the window stays on its city; `switch` (the
    cities a province user may see, (id, name)) adds a city switcher and the province view to the navigation.
    """
    nav = [
        dcc.Link(
            t(f"ui.nav.{key}", lang),
            href=href + ("" if href == "/province" else keep),
            className="nav-link" + (" active" if path == href else ""),
        )
        for key, href in (
            ("operator", "/"),
            ("regent", "/regent"),
            ("replay", "/replay"),
            ("alarm_kpis", "/alarm-kpis"),
            ("incidents", "/incidents"),  # incidents with SOPs (issue 13)
            *((("integrators", "/integrators"),) if role in ("operator", "admin") else ()),
            *((("province", "/province"),) if switch else ()),  # Smart Province (issue 15)
        )
    ]
    other = "en" if lang == "id" else "id"
    lang_href = f"{keep}&lang={other}" if keep else f"?lang={other}"
    controls = (
        []
        if kiosk
        else [
            html.Nav(nav, id=ids.NAV, className="nav"),
            *([city_switch(switch, city_id, path, lang)] if switch else []),
            html.A(other.upper(), href=lang_href, id=ids.LANG, className="lang", title="Bahasa / Language"),
            html.Button(
                "♪ " + t("ui.sound", lang), id=ids.SOUND, className="sound", title=t("ui.sound", lang), n_clicks=0
            ),
            html.Span(f"{name} · {t(f'ui.role.{role}', lang)}", className="who", id="who", **{"data-role": role}),
            html.A(t("ui.logout", lang), href="/logout", className="logout"),
        ]
    )
    # The page's level-one heading: the window's own name where the page has no title of its own (regent, replay do).
    heading = html.H1 if path == "/" else html.Div
    return [
        heading([html.Span("SatuPintu", className="brand"), html.Span(city, className="city")], className="brand-box"),
        *controls,
        html.Span(
            "",
            id=ids.CLOCK,
            className="clock",
            **{"data-tz": tz, "data-tzlabel": TZ_LABELS.get(tz, tz), "data-city": city_id, **banner_text(lang)},
        ),
    ]


def city_switch(cities: Sequence[tuple[str, str]], current: str, path: str, lang: str) -> html.Details:
    """The city switcher of a province user: each city's window (a full load: the live channel follows the city)."""
    here = path if path != "/province" else "/"
    return html.Details(
        [
            html.Summary(t("ui.city.switch", lang), className="city-switch-label"),
            html.Ul(
                [
                    html.Li(
                        html.A(
                            name,
                            href=f"{here}?city={cid}",
                            id=f"city-link-{cid}",
                            className="city-link" + (" active" if cid == current else ""),
                        )
                    )
                    for cid, name in cities
                ],
                className="city-menu",
            ),
        ],
        id="city-switch",
        className="city-switch",
    )


def banner_text(lang: str) -> dict:
    """The texts live.js needs, as data attributes (it has no catalogue of its own)."""
    return {
        "data-lost": t("ui.conn.lost", lang),
        "data-stale": t("ui.fresh.stale", lang),
        "data-live": t("ui.fresh.live", lang),
        "data-lang": lang,
    }


def register(app: Any) -> None:
    """The shell's clientside wiring: freshness stamps handed to live.js, which ages them every second."""
    app.clientside_callback(
        "function(f){ if (window.spFresh) { window.spFresh(f); } return window.dash_clientside.no_update; }",
        Output(ids.SINK, "data"),
        Input(ids.FRESH, "data"),  # also on load: a filled first layout carries its stamps
    )
    # <html lang> follows the language the page is shown in (screen readers and hyphenation read it).
    app.clientside_callback(
        "function(s){ if (s && s.lang) { document.documentElement.lang = s.lang; } return window.dash_clientside.no_update; }",
        Output(ids.SINK, "data", allow_duplicate=True),
        Input(ids.SESSION, "data"),
        prevent_initial_call="initial_duplicate",
    )
    # The live tick (and the fallback poll) relayed into whichever page is shown: a
    # callback may only name components that exist, and pages come and go.
    app.clientside_callback(
        """function(tick, n) {
            var outs = window.dash_clientside.callback_context.outputs_list || [];
            var v = {tick: tick, poll: n, at: Date.now()};
            return outs.map(function () { return v; });
        }""",
        Output({"type": ids.PAGE_TICK, "page": ALL}, "data"),
        Input(ids.LIVE_TICK, "data"),
        Input(ids.POLL, "n_intervals"),
        prevent_initial_call=True,
    )
