"""Shelves (`alarm_shelves`): a rule, a source, or one rule for one source raising nothing for a while.

`Shelved` is the one answer to "is this shelved?" that every evaluator asks;
the rest are the admin's commands. The caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, RowMapping, select, update

from app.storage.models import AlarmShelfRow

S = AlarmShelfRow.__table__


@dataclass(frozen=True, slots=True)
class Shelved:
    """The shelves of one city in force at one moment."""

    rules: frozenset[str] = frozenset()  # every subject of these rules
    sources: frozenset[str] = frozenset()  # every rule for these sources
    pairs: frozenset[tuple[str, str]] = frozenset()  # (rule_id, source_id)

    def covers(self, rule_id: str, source_id: str | None) -> bool:
        """Whether `rule_id` raises nothing for `source_id` (None: a subject that is not a source)."""
        if rule_id in self.rules:
            return True
        return source_id is not None and (source_id in self.sources or (rule_id, source_id) in self.pairs)


def shelved_at(*, conn: Connection, city: str, now_ms: int) -> Shelved:
    """The city's shelves in force at `now_ms`."""
    rules: set[str] = set()
    sources: set[str] = set()
    pairs: set[tuple[str, str]] = set()
    c = S.c
    q = select(c.rule_id, c.source_id).where(
        c.city == city, c.from_ms <= now_ms, c.until_ms > now_ms, c.ended_ms.is_(None)
    )
    for rule_id, source_id in conn.execute(q):
        if source_id is None:
            rules.add(rule_id)
        elif rule_id is None:
            sources.add(source_id)
        else:
            pairs.add((rule_id, source_id))
    return Shelved(frozenset(rules), frozenset(sources), frozenset(pairs))


def list_shelves(*, conn: Connection, city: str, now_ms: int) -> list[RowMapping]:
    """The shelves in force now and those yet to start, the soonest to end first."""
    q = select(S).where(S.c.city == city, S.c.until_ms > now_ms, S.c.ended_ms.is_(None)).order_by(S.c.until_ms)
    return list(conn.execute(q).mappings())


def add_shelf(
    *,
    conn: Connection,
    city: str,
    rule_id: str | None,
    source_id: str | None,
    minutes: int,
    by: str,
    reason: str,
    now_ms: int,
) -> RowMapping:
    """Shelve from now for `minutes`; the new shelf's row."""
    key = conn.execute(
        S.insert().values(
            city=city,
            rule_id=rule_id,
            source_id=source_id,
            from_ms=now_ms,
            until_ms=now_ms + minutes * 60_000,
            actor=by,
            reason=reason,
        )
    ).inserted_primary_key
    if key is None:  # a single-row INSERT has one
        raise RuntimeError("the shelf INSERT returned no primary key")
    return conn.execute(select(S).where(S.c.id == key[0])).mappings().one()


def end_shelf(*, conn: Connection, city: str, shelf_id: int, now_ms: int) -> bool:
    """End a shelf in force before its time; False when there is no such shelf in force."""
    n = conn.execute(
        update(S)
        .where(S.c.id == shelf_id, S.c.city == city, S.c.ended_ms.is_(None), S.c.until_ms > now_ms)
        .values(ended_ms=now_ms)
    ).rowcount
    return n == 1
