"""The rule book: each city's enabled rules and shelves, indexed for the evaluators, kept for `refresh_s`.

The evaluators (app.alarms.reading_rules, app.alarms.clock_rules) ask the book,
never the tables: on the ingest path the rules are read once per `refresh_s`
(the `alarm_rules_refresh_s` setting), not once per batch.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from sqlalchemy import Connection, select

from app.alarms.rule_store import R, rule_from_row
from app.alarms.rules import RateRule, Rule, ThresholdRule
from app.alarms.shelves import Shelved, shelved_at

log = logging.getLogger(__name__)


@dataclass(slots=True)
class CityRules:
    """A city's rules and shelves at one moment, indexed for the evaluators."""

    threshold: dict[str, list[ThresholdRule]] = field(default_factory=dict)  # enabled, by metric
    rate: dict[str, list[RateRule]] = field(default_factory=dict)  # enabled, by metric
    clock: list[Rule] = field(default_factory=list)  # enabled silence, sla and ticket_count rules
    by_id: dict[str, Rule] = field(default_factory=dict)  # every rule, enabled or not
    shelves: Shelved = field(default_factory=Shelved)

    def shelved(self, rule_id: str, source_id: str | None) -> bool:
        """Whether `rule_id` raises nothing for `source_id` now (None: the subject is not a source)."""
        return self.shelves.covers(rule_id, source_id)


def load_city_rules(*, conn: Connection, city: str, now_ms: int) -> CityRules:
    """The city's rules and the shelves in force at `now_ms`, read from the database."""
    out = CityRules(shelves=shelved_at(conn=conn, city=city, now_ms=now_ms))
    for row in conn.execute(select(R).where(R.c.city == city, R.c.deleted_ms.is_(None))).mappings():
        try:
            rule = rule_from_row(row)
        except ValueError as exc:  # a row written by a newer version, say: skip it, loudly
            log.error("alarm rule %s/%s is not valid here: %s", city, row["rule_id"], exc)
            continue
        out.by_id[rule.rule_id] = rule
        if not rule.enabled:
            continue
        if isinstance(rule, ThresholdRule):
            out.threshold.setdefault(rule.metric, []).append(rule)
        elif isinstance(rule, RateRule):
            out.rate.setdefault(rule.metric, []).append(rule)
        else:
            out.clock.append(rule)
    return out


class RuleBook:
    """Rules and shelves per city, re-read from the database at most every `refresh_s` seconds."""

    def __init__(self, refresh_s: float) -> None:
        self._refresh_s = refresh_s
        self._cache: dict[str, tuple[float, CityRules]] = {}

    def get(self, conn: Connection, city: str, now_ms: int) -> CityRules:
        """The city's rules, from the book when read less than `refresh_s` ago."""
        hit = self._cache.get(city)
        now = time.monotonic()
        if hit is not None and now - hit[0] < self._refresh_s:
            return hit[1]
        rules = load_city_rules(conn=conn, city=city, now_ms=now_ms)
        self._cache[city] = (now, rules)
        return rules
