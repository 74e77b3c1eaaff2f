"""What people do to alarms: acknowledge, clear by hand, comment; and the end of a rule's alarms when it changes.

Each command runs in the caller's transaction and returns the transitions
(app.alarms.store.Change) the caller announces once it committed.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import Connection, select

from app.alarms.queries import get_alarm
from app.alarms.store import OPEN_STATES, AlarmNotFound, Change, Lifecycle
from app.storage.models import AlarmRow

A = AlarmRow.__table__
Action = Literal["ack", "clear", "comment"]


def operate(
    *,
    conn: Connection,
    life: Lifecycle,
    city: str,
    alarm_id: int,
    action: Action,
    by: str,
    comment: str | None,
    now_ms: int,
) -> Change:
    """An operator's `action` on the city's alarm; AlarmNotFound, or AlarmStateConflict when its state forbids it."""
    if get_alarm(conn=conn, city=city, alarm_id=alarm_id) is None:
        raise AlarmNotFound(alarm_id)
    if action == "ack":
        return life.acknowledge(conn, alarm_id, by=by, comment=comment, now_ms=now_ms)
    if action == "clear":
        return life.operator_clear(conn, alarm_id, by=by, comment=comment, now_ms=now_ms)
    return life.comment(conn, alarm_id, by=by, comment=comment or "", now_ms=now_ms)


def clear_rule_alarms(
    *, conn: Connection, life: Lifecycle, city: str, rule_id: str, by: str, why: str, now_ms: int
) -> list[Change]:
    """Clear the open alarms of a rule that changed or went: what still holds is raised afresh by the new rule."""
    q = select(A.c.id).where(A.c.city == city, A.c.rule_id == rule_id, A.c.state.in_(OPEN_STATES))
    ids = conn.execute(q).scalars().all()
    return [ch for i in ids if (ch := life.clear(conn, i, now_ms=now_ms, by=by, comment=why)) is not None]
