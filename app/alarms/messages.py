"""An alarm's human message in the UI's languages, made from its stored `detail` and the i18n catalogues."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.i18n import t
from app.profile import Profile


def _num(value: float | None, lang: str) -> str:
    if value is None:
        return t("num.none", lang)
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text.replace(".", t("num.decimal", lang))


def _local(ms: int | None, lang: str, profile: Profile) -> str:
    if ms is None:
        return t("num.none", lang)
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(profile.tz)
    return f"{dt.day} {t(f'month.{dt.month}', lang)[:3]} {dt:%H}{t('num.time_sep', lang)}{dt:%M}"


def _metric_name(metric: str | None, lang: str, profile: Profile) -> str:
    m = profile.metric(metric) if metric else None
    if m is None:
        return metric or ""
    return m.name.id if lang == "id" else m.name.en


def message(kind: str, detail: dict[str, Any], lang: str, profile: Profile) -> str:
    """The message of an alarm of `kind` with `detail`, in `lang`."""
    d = detail
    if kind == "threshold":
        return t(
            f"alarm.msg.threshold.{d.get('op', 'above')}",
            lang,
            metric=_metric_name(d.get("metric"), lang, profile),
            value=_num(d.get("value"), lang),
            unit=d.get("unit") or "",
            level=_num(d.get("level"), lang),
            source=d.get("source_name") or d.get("source_id", ""),
        )
    if kind == "rate":
        return t(
            f"alarm.msg.rate.{d.get('direction', 'rise')}",
            lang,
            metric=_metric_name(d.get("metric"), lang, profile),
            move=_num(d.get("move"), lang),
            unit=d.get("unit") or "",
            minutes=int(d.get("window_s", 900) // 60),
            source=d.get("source_name") or d.get("source_id", ""),
        )
    if kind == "silence":
        return t(
            f"alarm.msg.silence.{d.get('health', 'stale')}",
            lang,
            source=d.get("source_name") or d.get("source_id", ""),
            since=_local(d.get("last_seen_ms"), lang, profile),
        )
    if kind == "sla":
        svc = profile.service(d.get("service") or "")
        service = (svc.name.id if lang == "id" else svc.name.en) if svc else (d.get("service") or "")
        return t(
            "alarm.msg.sla",
            lang,
            ticket=d.get("ticket_id", ""),
            service=service,
            due=_local(d.get("due_ms"), lang, profile),
        )
    if kind == "ticket_count":
        names = {x.id: x.name for x in profile.districts}
        return t(
            "alarm.msg.ticket_count",
            lang,
            count=d.get("count", 0),
            priority=t(f"alarm.priority.{d.get('priority', 'critical')}", lang)
            if d.get("priority") in ("low", "normal", "high", "critical")
            else d.get("priority", ""),
            district=names.get(d.get("district", ""), d.get("district", "")),
            limit=d.get("limit", 0),
        )
    if kind == "warning":
        names = {x.id: x.name for x in profile.districts}
        if d.get("magnitude") is not None:
            return t(
                "alarm.msg.warning.quake",
                lang,
                magnitude=_num(d.get("magnitude"), lang),
                distance=_num(d.get("distance_km"), lang),
                tsunami=t("alarm.msg.warning.tsunami", lang) if d.get("tsunami") else "",
                headline=d.get("headline") or d.get("event") or "",
            )
        return t(
            "alarm.msg.warning.area",
            lang,
            event=d.get("event") or "",
            districts=", ".join(names.get(x, x) for x in d.get("districts") or []) or profile.city.name,
            headline=d.get("headline") or "",
        )
    return kind
