"""Times and numbers as the city reads them: its own time zone, Indonesian separators in `id`."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from app.i18n import t


def parse_iso(s: str | None) -> datetime | None:
    if not s:
        return None
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def to_ms(s: str | None) -> int | None:
    dt = parse_iso(s)
    return int(dt.timestamp() * 1000) if dt else None


def clock(ms: int | None, tz: tzinfo, lang: str, *, seconds: bool = False) -> str:
    """`HH.MM` (id) or `HH:MM` (en) in the city's zone."""
    if ms is None:
        return t("num.none", lang)
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(tz)
    sep = t("num.time_sep", lang) if lang == "id" else ":"
    out = f"{dt:%H}{sep}{dt:%M}"
    return out + (f"{sep}{dt:%S}" if seconds else "")


def when(ms: int | None, tz: tzinfo, lang: str, *, seconds: bool = False) -> str:
    """`22 Nov 08.15` in the city's zone."""
    if ms is None:
        return t("num.none", lang)
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(tz)
    return f"{dt.day} {t(f'month.{dt.month}', lang)[:3]} {clock(ms, tz, lang, seconds=seconds)}"


def number(v: float | int | None, lang: str, digits: int = 0) -> str:
    if v is None:
        return t("num.none", lang)
    text = f"{v:,.{digits}f}"
    if lang == "id":
        text = text.replace(",", "\0").replace(".", t("num.decimal", lang)).replace("\0", t("num.thousands", lang))
    return text
