"""Alarm rules as stored (`alarm_rules`): rows to rules and back, the profile's seeding, the admin's edits.

A rule row holds the rule's kind, its metric and its other parameters as JSON;
`version` goes up with every edit through the API. The caller owns the
transaction: nothing here commits.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Literal

import orjson
from sqlalchemy import Connection, RowMapping, and_, select, update

from app.alarms.rules import Rule, parse_rule, profile_rules, rule_params
from app.profile import Profile
from app.storage.dialect import insert_for
from app.storage.models import AlarmRuleRow

R = AlarmRuleRow.__table__


class RuleKindChanged(ValueError):
    """A rule id reused for another kind of rule while the old one is not deleted."""

    def __init__(self, rule_id: str, old_kind: str) -> None:
        super().__init__(f"rule {rule_id!r} is a {old_kind} rule; delete it to reuse its id")


def rule_row(
    city: str, rule: Rule, *, origin: Literal["profile", "admin"], now_ms: int, by: str | None
) -> dict[str, Any]:
    """The `alarm_rules` row of `rule`, at version 1."""
    return {
        "city": city,
        "rule_id": rule.rule_id,
        "kind": rule.kind,
        "metric": getattr(rule, "metric", None),
        "params": orjson.dumps(rule_params(rule)).decode(),
        "enabled": rule.enabled,
        "webhook_url": rule.webhook_url,
        "origin": origin,
        "version": 1,
        "updated_ms": now_ms,
        "updated_by": by,
    }


def rule_from_row(row: Mapping[Any, Any]) -> Rule:
    """The rule a row holds; ValueError when it is not valid here (a row written by a newer version)."""
    data = orjson.loads(row["params"])
    data.update(rule_id=row["rule_id"], kind=row["kind"], enabled=row["enabled"], webhook_url=row["webhook_url"])
    if row["metric"] is not None:
        data["metric"] = row["metric"]
    return parse_rule(data)


def sync_rules(*, conn: Connection, profile: Profile, now_ms: int | None = None) -> None:
    """Seed the profile's rules into the database, and follow the profile's later edits of them.

    A rule an admin has edited (version 2 and up) or deleted through the API is the admin's from then
    on: the profile no longer changes it.
    """
    rows = [
        rule_row(profile.city.id, r, origin="profile", now_ms=now_ms or int(time.time() * 1000), by="profile")
        for r in profile_rules(profile)
    ]
    if not rows:
        return
    ins = insert_for(conn, R)
    conn.execute(
        ins.on_conflict_do_update(
            index_elements=[R.c.city, R.c.rule_id],
            set_={
                "kind": ins.excluded.kind,
                "metric": ins.excluded.metric,
                "params": ins.excluded.params,
                "updated_ms": ins.excluded.updated_ms,
            },
            where=and_(
                R.c.origin == "profile", R.c.version == 1, R.c.deleted_ms.is_(None), R.c.params != ins.excluded.params
            ),
        ),
        rows,
    )


def list_rules(*, conn: Connection, city: str) -> list[RowMapping]:
    """The city's rules that are not deleted, by id."""
    q = select(R).where(R.c.city == city, R.c.deleted_ms.is_(None)).order_by(R.c.rule_id)
    return list(conn.execute(q).mappings())


def get_rule(*, conn: Connection, city: str, rule_id: str) -> RowMapping | None:
    """The rule's row, deleted or not."""
    return conn.execute(select(R).where(R.c.city == city, R.c.rule_id == rule_id)).mappings().first()


def rule_exists(*, conn: Connection, city: str, rule_id: str) -> bool:
    """Whether the city has this rule (not deleted)."""
    q = select(R.c.id).where(R.c.city == city, R.c.rule_id == rule_id, R.c.deleted_ms.is_(None))
    return conn.execute(q).first() is not None


def save_rule(*, conn: Connection, city: str, rule: Rule, by: str, now_ms: int) -> tuple[int, bool]:
    """Create or replace an admin's rule: (its new version, whether its old conditions ended).

    A replaced rule whose parameters changed, or that is now disabled, has its
    conditions end: the caller clears its open alarms. RuleKindChanged when the
    id names a live rule of another kind.
    """
    old = get_rule(conn=conn, city=city, rule_id=rule.rule_id)
    row = rule_row(city, rule, origin="admin", now_ms=now_ms, by=by)
    if old is None:
        conn.execute(R.insert().values(**row))
        return row["version"], False
    if old["kind"] != rule.kind:
        raise RuleKindChanged(rule.rule_id, old["kind"])
    row["version"] = old["version"] + 1
    row["origin"] = old["origin"] if old["deleted_ms"] is None else "admin"
    conn.execute(update(R).where(R.c.id == old["id"]).values(**row, deleted_ms=None))
    return row["version"], not rule.enabled or old["params"] != row["params"]


def delete_rule(*, conn: Connection, city: str, rule_id: str, by: str, now_ms: int) -> bool:
    """Mark the rule deleted (the profile does not bring it back); False when there is no such rule."""
    n = conn.execute(
        update(R)
        .where(R.c.city == city, R.c.rule_id == rule_id, R.c.deleted_ms.is_(None))
        .values(deleted_ms=now_ms, updated_by=by)
    ).rowcount
    return n == 1
