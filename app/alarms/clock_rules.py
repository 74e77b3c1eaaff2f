"""Time rules, evaluated on a clock (ingest.alarm_clock calls `evaluate_clock`): silence, SLA, ticket counts, re-raise.

These conditions hold without any message arriving. Each rule kind works out
the subjects it wants raised now, at which severity, and `reconcile` (pure,
app.alarms.rules) turns the difference with the open alarms into transitions.
Two clocks at once are safe for the same reason two ingestors are: every
transition is a guarded statement (app.alarms.store).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from app.alarms.rulebook import CityRules, RuleBook
from app.alarms.rules import Rule, SilenceRule, SlaRule, TicketCountRule, reconcile, silence_severity, sla_severity
from app.alarms.store import OPEN_STATES, Change, Lifecycle
from app.sources.queries import source_health
from app.storage.models import AlarmRow, TicketRow
from app.tickets.queries import ACTIVE

A = AlarmRow.__table__
T = TicketRow.__table__.c
Build = Callable[[str], dict[str, Any]]  # subject -> the place, value and detail of its alarm


@dataclass(frozen=True, slots=True)
class Tick:
    """One evaluation of one city's time rules: where, when, with which rules."""

    conn: Connection
    life: Lifecycle
    rules: CityRules
    city: str
    now_ms: int


def evaluate_clock(conn: Connection, *, book: RuleBook, life: Lifecycle, city: str, now_ms: int) -> list[Change]:
    """Time-based rules for `city` at `now_ms`; the caller commits and then publishes."""
    tick = Tick(conn, life, book.get(conn, city, now_ms), city, now_ms)
    changes: list[Change] = []
    for rule in tick.rules.clock:
        if isinstance(rule, SilenceRule):
            changes += _silence(tick, rule)
        elif isinstance(rule, SlaRule):
            changes += _sla(tick, rule)
        elif isinstance(rule, TicketCountRule):
            changes += _ticket_count(tick, rule)
    changes += _reraise(tick)
    return changes


def _apply(tick: Tick, rule: Rule, wanted: dict[str, str], shelved: set[str], build: Build) -> list[Change]:
    """Reconcile the open alarms of a time rule with the wanted ones; `build(subject)` gives raise() arguments."""
    rows = tick.conn.execute(
        select(A.c.id, A.c.subject, A.c.severity).where(
            A.c.city == tick.city, A.c.rule_id == rule.rule_id, A.c.state.in_(OPEN_STATES)
        )
    )
    opened: dict[str, tuple[int, str]] = {r.subject: (r.id, r.severity) for r in rows}
    changes: list[Change] = []
    conn, life, now_ms = tick.conn, tick.life, tick.now_ms
    for subject, step in reconcile({k: v[1] for k, v in opened.items()}, wanted, shelved):
        if step.action == "raise":
            ch = life.raise_(
                conn,
                city=tick.city,
                rule_id=rule.rule_id,
                kind=rule.kind,
                subject=subject,
                severity=step.severity,
                now_ms=now_ms,
                **build(subject),
            )
        elif step.action == "clear":
            ch = life.clear(conn, opened[subject][0], now_ms=now_ms)
        else:
            args = build(subject)
            ch = life.change_severity(
                conn,
                opened[subject][0],
                severity=step.severity,
                value=args["value"],
                detail=args["detail"],
                now_ms=now_ms,
            )
        if ch is not None:
            changes.append(ch)
    return changes


def _silence(tick: Tick, rule: SilenceRule) -> list[Change]:
    health = {
        s.source_id: s
        for s in source_health(conn=tick.conn, profile=tick.life.profile, city=tick.city, now_ms=tick.now_ms)
    }
    wanted: dict[str, str] = {}
    for sid, s in health.items():
        if not s.registered:
            continue
        sev = silence_severity(rule, s.status, s.last_seen_ms is not None)
        if sev is not None:
            wanted[sid] = sev
    shelved = {sid for sid in wanted if tick.rules.shelved(rule.rule_id, sid)}

    def build(sid: str) -> dict[str, Any]:
        s = health[sid]
        return {
            "value": None,
            "source_id": sid,
            "district": s.district,
            "lat": s.lat,
            "lon": s.lon,
            "detail": {"health": s.status, "source_id": sid, "source_name": s.name, "last_seen_ms": s.last_seen_ms},
        }

    return _apply(tick, rule, wanted, shelved, build)


def _sla(tick: Tick, rule: SlaRule) -> list[Change]:
    rows = {
        r.ticket_id: r
        for r in tick.conn.execute(
            select(T.ticket_id, T.agency, T.service, T.priority, T.district, T.title, T.lat, T.lon, T.due_ms).where(
                T.city == tick.city, T.status.in_(ACTIVE), T.due_ms.is_not(None), T.due_ms < tick.now_ms
            )
        )
    }
    if rule.priorities is not None:
        rows = {tid: r for tid, r in rows.items() if r.priority in rule.priorities}
    wanted = {tid: sla_severity(rule, r.priority) for tid, r in rows.items()}
    shelved = set(wanted) if tick.rules.shelved(rule.rule_id, None) else set()

    def build(tid: str) -> dict[str, Any]:
        r = rows[tid]
        return {
            "value": None,
            "ticket_id": tid,
            "district": r.district,
            "lat": r.lat,
            "lon": r.lon,
            "detail": {
                "ticket_id": tid,
                "agency": r.agency,
                "service": r.service,
                "priority": r.priority,
                "title": r.title,
                "due_ms": r.due_ms,
            },
        }

    return _apply(tick, rule, wanted, shelved, build)


def _ticket_count(tick: Tick, rule: TicketCountRule) -> list[Change]:
    counts = {
        d: n
        for d, n in tick.conn.execute(
            select(T.district, func.count())
            .where(T.city == tick.city, T.status.in_(ACTIVE), T.priority == rule.priority, T.district.is_not(None))
            .group_by(T.district)
        )
        if n > rule.count
    }
    wanted: dict[str, str] = dict.fromkeys(counts, rule.severity)
    shelved = set(wanted) if tick.rules.shelved(rule.rule_id, None) else set()
    centers = {d.id: d.center for d in tick.life.profile.districts}

    def build(district: str) -> dict[str, Any]:
        c = centers.get(district)
        return {
            "value": float(counts[district]),
            "district": district,
            "lat": c.lat if c else None,
            "lon": c.lon if c else None,
            "detail": {"district": district, "count": counts[district], "priority": rule.priority, "limit": rule.count},
        }

    return _apply(tick, rule, wanted, shelved, build)


def _reraise(tick: Tick) -> list[Change]:
    """Acknowledged alarms whose condition outlasted their rule's `reraise_after_s`: active again."""
    patience = {rid: r.reraise_after_s for rid, r in tick.rules.by_id.items() if r.enabled and r.reraise_after_s}
    if not patience:
        return []
    changes = []
    rows = tick.conn.execute(
        select(A.c.id, A.c.rule_id, A.c.acked_ms).where(
            A.c.city == tick.city, A.c.state == "acknowledged", A.c.rule_id.in_(sorted(patience))
        )
    )
    for r in rows.all():
        if r.acked_ms is not None and tick.now_ms - r.acked_ms >= patience[r.rule_id] * 1000:
            ch = tick.life.reraise(tick.conn, r.id, now_ms=tick.now_ms)
            if ch is not None:
                changes.append(ch)
    return changes
