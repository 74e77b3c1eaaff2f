"""Situations and the flood read from the database, and a situation acknowledged as one (the caller commits).

The alarms looked at are those open now and those raised within the lookback (a day, or the flood window
when longer), so a situation's id (its first alarm's) is the same whoever asks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import orjson
from sqlalchemy import Connection, RowMapping, func, or_, select

from app.alarms.messages import message
from app.alarms.shelves import S as SHELVES
from app.alarms.situations import Flood, Member, Situation, flood_of, group, title
from app.alarms.store import OPEN_STATES, AlarmStateConflict, Change, Lifecycle
from app.profile import Profile
from app.storage.models import AlarmEventRow, AlarmRow

A = AlarmRow.__table__
E = AlarmEventRow.__table__
LOOKBACK_MS = 24 * 3600 * 1000
CHATTERING = "chattering"  # the reason of the shelves the chattering check puts up


@dataclass(frozen=True, slots=True)
class Picture:
    """A city's alarms as situations, with its flood, stale alarms and chattering shelves, at one instant."""

    situations: list[Situation]
    flood: Flood
    stale: tuple[int, ...]
    chattering: Sequence[RowMapping]  # shelf rows with reason "chattering" in force
    rows: Mapping[int, RowMapping]  # alarm id -> its row
    paged: Mapping[int, int]  # open alarm id -> the highest rota level it was escalated to


def _member(r: RowMapping) -> Member:
    return Member(
        id=r["id"],
        rule_id=r["rule_id"],
        kind=r["kind"],
        severity=r["severity"],
        state=r["state"],
        raised_ms=r["raised_ms"],
        source_id=r["source_id"],
        district=r["district"],
        metric=r["metric"],
    )


def picture(*, conn: Connection, profile: Profile, now_ms: int) -> Picture:
    """The city's situations (oldest first), flood, stale alarm ids and chattering shelves at `now_ms`."""
    am = profile.alarm_management
    since = now_ms - max(LOOKBACK_MS, am.flood_window_s * 1000, am.situation_window_s * 1000)
    q = select(A).where(
        A.c.city == profile.city.id, A.c.raised_ms <= now_ms, or_(A.c.state.in_(OPEN_STATES), A.c.raised_ms >= since)
    )
    rows = {r["id"]: r for r in conn.execute(q).mappings()}
    members = [_member(r) for r in rows.values()]
    stale_before = now_ms - am.stale_after_s * 1000
    stale = tuple(sorted(m.id for m in members if m.open and m.raised_ms < stale_before))
    c = SHELVES.c
    chattering = list(
        conn.execute(
            select(SHELVES)
            .where(
                c.city == profile.city.id,
                c.reason == CHATTERING,
                c.from_ms <= now_ms,
                c.until_ms > now_ms,
                c.ended_ms.is_(None),
            )
            .order_by(c.until_ms)
        ).mappings()
    )
    open_ids = [m.id for m in members if m.open]
    paged: dict[int, int] = {}
    for i in range(0, len(open_ids), 500):
        q = (
            select(E.c.alarm_id, func.max(E.c.value))
            .where(E.c.action == "paged", E.c.alarm_id.in_(open_ids[i : i + 500]))
            .group_by(E.c.alarm_id)
        )
        paged.update({a: int(v) for a, v in conn.execute(q) if v is not None})
    return Picture(group(members, am), flood_of(members, now_ms, am), stale, chattering, rows, paged)


def situation_title(sit: Situation, pic: Picture, profile: Profile, lang: str) -> str:
    first = pic.rows[sit.members[0].id]
    return title(sit, profile, lang, message(first["kind"], orjson.loads(first["detail"]), lang, profile))


def shown(pic: Picture, profile: Profile, *, state: str) -> list[Situation]:
    """The situations worth a line: `active` (some member open) or `all`, of at least `situation_min_alarms`."""
    n = profile.alarm_management.situation_min_alarms
    out = [s for s in pic.situations if len(s.members) >= n]
    if state == "active":
        out = [s for s in out if s.state != "cleared"]
    return out


class SituationNotFound(LookupError):
    pass


def acknowledge_situation(
    *, conn: Connection, life: Lifecycle, profile: Profile, situation_id: str, by: str, comment: str | None, now_ms: int
) -> tuple[Situation, list[Change]]:
    """Acknowledge every active member of a situation, each in its own history with the same comment."""
    pic = picture(conn=conn, profile=profile, now_ms=now_ms)
    sit = next((s for s in pic.situations if s.id == situation_id), None)
    if sit is None:
        raise SituationNotFound(situation_id)
    changes: list[Change] = []
    for m in sit.members:
        if m.state != "active":
            continue
        try:
            changes.append(life.acknowledge(conn, m.id, by=by, comment=comment, now_ms=now_ms))
        except AlarmStateConflict:
            continue  # acknowledged or cleared meanwhile: its own guard changed nothing
    return sit, changes
