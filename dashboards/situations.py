"""The alarm panel under a storm (issue 17): one expandable line per situation, the flood banner with the
alarms it hides listed on demand, chattering shelves, and stale and escalated alarms tagged.

Reads what `/api/v1/situations` answers (the `situations` part of the shared picture) next to the open
alarms; with no such answer the panel is the plain list of app.panels.alarm_rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import tzinfo
from typing import Any

from dash import html

from app.i18n import t
from app.profile import SEVERITIES
from dashboards import ids
from dashboards.fmt import clock, to_ms
from dashboards.panels import ack_button, alarm_row, alarm_rows, glyph, more_row, sorted_alarms


def _tags(a: Mapping[str, Any], pic: Mapping[str, Any], lang: str) -> list[str]:
    tags = []
    if a["id"] in set(pic.get("stale_ids") or []):
        tags.append(t("dash.alarm.stale", lang))
    level = (pic.get("escalated") or {}).get(str(a["id"])) or (pic.get("escalated") or {}).get(a["id"])
    if level:
        tags.append(t("dash.alarm.paged", lang, level=level))
    return tags


def flood_banner(
    pic: Mapping[str, Any], hidden: Sequence[Mapping[str, Any]], *, lang: str, tz: tzinfo, can_ack: bool
) -> html.Div | None:
    """The flood banner (None when there is no flood): the count, and the suppressed alarms behind a toggle."""
    flood = pic.get("flood") or {}
    if not flood.get("active"):
        return None
    head = html.Div(
        [
            glyph("critical"),
            t("dash.flood.banner", lang, count=flood.get("count", 0), minutes=int(flood.get("window_s", 600)) // 60),
        ],
        className="flood-head",
    )
    parts: list[Any] = [head]
    if hidden:
        sev = t(f"dash.sev.{flood.get('suppress_below', 'major')}", lang)
        parts.append(
            html.Details(
                [
                    html.Summary(t("dash.flood.suppressed", lang, count=len(hidden), severity=sev)),
                    *(alarm_row(a, lang=lang, tz=tz, can_ack=can_ack) for a in sorted_alarms(hidden)),
                ],
                className="flood-hidden",
                id="flood-hidden",
            )
        )
    return html.Div(
        parts, className="flood-banner", id="flood-banner", role="alert", **{"data-alarms": str(len(hidden))}
    )


def chattering_line(pic: Mapping[str, Any], *, lang: str, tz: tzinfo) -> html.Div | None:
    rows = pic.get("chattering") or []
    if not rows:
        return None
    what = ", ".join(f"{r.get('rule')} · {r.get('source_id')}" for r in rows)
    until = clock(min(to_ms(r.get("until")) or 0 for r in rows), tz, lang)
    return html.Div(
        t("dash.chatter.line", lang, until=until, what=what), className="chatter-line", **{"data-alarms": "0"}
    )


def situation_line(
    sit: Mapping[str, Any],
    members: Sequence[Mapping[str, Any]],
    pic: Mapping[str, Any],
    *,
    lang: str,
    tz: tzinfo,
    can_ack: bool,
    actions: bool,
) -> html.Details:
    """One situation: "Hujan lebat Morotai Selatan: 7 alarm, 2 Awas" that opens onto its alarms."""
    sev = sit.get("severity", "warning")
    counts = sit.get("by_severity") or {}
    split = ", ".join(f"{counts[s]} {t(f'dash.sev.{s}', lang)}" for s in SEVERITIES if counts.get(s))
    summary: list[Any] = [
        html.Span([glyph(sev), t(f"dash.sev.{sev}", lang)], className=f"sev sev-{sev}"),
        html.Div(
            [
                html.Div(
                    f"{sit.get('title')}: {t('dash.situation.count', lang, count=len(members))}, {split}",
                    className="alarm-msg",
                ),
                html.Div(clock(to_ms(sit.get("started_at")), tz, lang), className="alarm-meta"),
            ],
            className="alarm-text",
        ),
    ]
    if actions and any(m.get("state") == "active" for m in members):
        summary.append(
            ack_button(
                t("dash.situation.ack", lang),
                {"type": ids.SITUATION_ACK_BUTTON, "situation": sit["id"]},
                lang,
                can_ack,
            )
        )
    active = sit.get("state") == "active"
    return html.Details(
        [
            html.Summary(
                summary,
                className=f"alarm-row situation-head state-{sit.get('state')}"
                + (" blink" if sev == "critical" and active else ""),
            ),
            *(
                alarm_row(a, lang=lang, tz=tz, can_ack=can_ack, actions=actions, tags=_tags(a, pic, lang))
                for a in sorted_alarms(members)
            ),
        ],
        className="situation",
        id=f"situation-{sit['id']}",
        **{"data-alarms": str(len(members))},
    )


def alarm_panel(
    alarms: Sequence[Mapping[str, Any]],
    pic: Mapping[str, Any] | None,
    *,
    lang: str,
    tz: tzinfo,
    can_ack: bool,
    limit: int = 14,
    actions: bool = True,
) -> list:
    """The alarm panel: flood banner, chattering, then situations and lone alarms, worst and newest first."""
    if not pic:
        return alarm_rows(alarms, lang=lang, tz=tz, can_ack=can_ack, limit=limit, actions=actions)
    by_id = {a["id"]: a for a in alarms}
    flood = pic.get("flood") or {}
    suppressed = set(flood.get("suppressed_ids") or []) if flood.get("active") else set()
    hidden = [by_id[i] for i in sorted(suppressed) if i in by_id]
    head = [
        x
        for x in (
            flood_banner(pic, hidden, lang=lang, tz=tz, can_ack=can_ack and actions),
            chattering_line(pic, lang=lang, tz=tz),
        )
        if x is not None
    ]
    shown = [a for a in alarms if a["id"] not in suppressed]
    lines: list[tuple[tuple, Any, int]] = []  # (order, line, alarms it stands for)
    grouped: set[int] = set()
    for sit in pic.get("situations") or []:
        members = [by_id[i] for i in sit.get("alarm_ids") or [] if i in by_id and i not in suppressed]
        if len(members) < 2:
            continue
        grouped.update(m["id"] for m in members)
        line = situation_line(sit, members, pic, lang=lang, tz=tz, can_ack=can_ack, actions=actions)
        lines.append((_order(members), line, len(members)))
    for a in shown:
        if a["id"] not in grouped:
            row = alarm_row(a, lang=lang, tz=tz, can_ack=can_ack, actions=actions, tags=_tags(a, pic, lang))
            lines.append((_order([a]), row, 1))
    if not lines and not head:
        return [html.Div(t("dash.alarm.none", lang), className="empty")]
    lines.sort(key=lambda x: x[0])
    left_out = sum(n for _, _, n in lines[limit:])
    return [*head, *(line for _, line, _ in lines[:limit]), more_row(left_out)]


def _order(members: Sequence[Mapping[str, Any]]) -> tuple:
    """Unacknowledged first, then the worst severity, then the newest (as app.panels.sorted_alarms)."""
    first = sorted_alarms(members)[0]
    sev = first.get("severity")
    return (
        all(m.get("state") != "active" for m in members),
        SEVERITIES.index(sev) if sev in SEVERITIES else 9,
        -max(to_ms(m.get("raised_at")) or 0 for m in members),
    )
