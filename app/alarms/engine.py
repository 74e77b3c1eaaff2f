"""The alarm engine: rules from the database, evaluated after commit (readings) and on a clock (time rules).

- `evaluate_readings` runs in the ingest path right after a batch committed,
  with the batch's readings: threshold and rate rules.
- `evaluate_clock` runs periodically: silence, SLA and ticket-count rules, and
  the re-raise of acknowledged alarms that outlasted their rule's patience.

Both may run in several processes at once (two ingestors on a shared
subscription): every transition goes through the guarded statements of
`app.alarms.store`, so a second evaluator finds the alarm raised or cleared
already and reports nothing. Pending threshold conditions (the minimum
duration) live in `alarm_pending`, shared the same way.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import orjson
from sqlalchemy import Connection, and_, bindparam, delete, func, select, text

from app.alarms.rules import (
    IDLE,
    RateRule,
    Rule,
    SilenceRule,
    SlaRule,
    State,
    ThresholdRule,
    TicketCountRule,
    parse_rule,
    profile_rules,
    rate_move,
    reconcile,
    rule_params,
    silence_severity,
    sla_severity,
    step_rate,
    step_threshold,
)
from app.alarms.store import OPEN_STATES, Change, Lifecycle
from app.profile import Profile
from app.sources.queries import source_health
from app.storage.dialect import insert_for
from app.storage.models import (
    AlarmPendingRow,
    AlarmRow,
    AlarmRuleRow,
    AlarmShelfRow,
    SourceRow,
    TicketRow,
)
from app.tickets.queries import ACTIVE

log = logging.getLogger(__name__)

A = AlarmRow.__table__
R = AlarmRuleRow.__table__
P = AlarmPendingRow.__table__
Observed = tuple[str, str, Sequence]  # city, source_id, points (each with metric, ts_ms, value)


# --- rules in the database ------------------------------------------------------


def rule_row(city: str, rule: Rule, *, origin: str, now_ms: int, by: str | None) -> dict:
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


def rule_from_row(row: Mapping) -> Rule:
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
            set_={"kind": ins.excluded.kind, "metric": ins.excluded.metric, "params": ins.excluded.params,
                  "updated_ms": ins.excluded.updated_ms},
            where=and_(R.c.origin == "profile", R.c.version == 1, R.c.deleted_ms.is_(None), R.c.params != ins.excluded.params),
        ),
        rows,
    )  # fmt: skip


@dataclass(slots=True)
class CityRules:
    """A city's enabled rules and shelves at one moment, indexed for the evaluators."""

    threshold: dict[str, list[ThresholdRule]] = field(default_factory=dict)  # by metric
    rate: dict[str, list[RateRule]] = field(default_factory=dict)
    clock: list[Rule] = field(default_factory=list)  # silence, sla, ticket_count
    by_id: dict[str, Rule] = field(default_factory=dict)
    shelved_rules: set[str] = field(default_factory=set)
    shelved_sources: set[str] = field(default_factory=set)

    def shelved(self, rule_id: str, source_id: str | None) -> bool:
        return rule_id in self.shelved_rules or (source_id is not None and source_id in self.shelved_sources)


def load_city_rules(conn: Connection, city: str, now_ms: int) -> CityRules:
    out = CityRules()
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
    s = AlarmShelfRow.__table__.c
    for rule_id, source_id in conn.execute(
        select(s.rule_id, s.source_id).where(
            s.city == city, s.from_ms <= now_ms, s.until_ms > now_ms, s.ended_ms.is_(None)
        )
    ):
        if rule_id is not None and source_id is None:
            out.shelved_rules.add(rule_id)
        elif source_id is not None and rule_id is None:
            out.shelved_sources.add(source_id)
        else:  # one rule for one source
            out.shelved_rules.add(f"{rule_id}@{source_id}")
    return out


class RuleBook:
    """Rules and shelves per city, re-read from the database at most every `refresh_s` seconds."""

    def __init__(self, refresh_s: float) -> None:
        self._refresh_s = refresh_s
        self._cache: dict[str, tuple[float, CityRules]] = {}

    def get(self, conn: Connection, city: str, now_ms: int) -> CityRules:
        hit = self._cache.get(city)
        now = time.monotonic()
        if hit is not None and now - hit[0] < self._refresh_s:
            return hit[1]
        rules = load_city_rules(conn, city, now_ms)
        self._cache[city] = (now, rules)
        return rules

    def forget(self) -> None:
        self._cache.clear()


def _is_shelved(rules: CityRules, rule_id: str, source_id: str | None) -> bool:
    return rules.shelved(rule_id, source_id) or (source_id is not None and f"{rule_id}@{source_id}" in rules.shelved_rules)


# --- readings: threshold and rate ----------------------------------------------


def _sources(conn: Connection, city: str, ids: Iterable[str]) -> dict[str, Mapping]:
    s = SourceRow.__table__.c
    rows = conn.execute(
        select(s.id, s.source_id, s.name, s.district, s.lat, s.lon).where(s.city == city, s.source_id.in_(sorted(set(ids))))
    ).mappings()
    return {r["source_id"]: r for r in rows}


def evaluate_readings(
    conn: Connection, *, book: RuleBook, life: Lifecycle, observed: Iterable[Observed], now_ms: int
) -> list[Change]:
    """Threshold and rate rules over the messages just committed; the caller commits and then publishes.

    `observed` holds (city, source_id, points) per message, each point with `metric`, `ts_ms` and `value`.
    """
    by_city: dict[str, list[Observed]] = defaultdict(list)
    for ob in observed:
        by_city[ob[0]].append(ob)
    changes: list[Change] = []
    for city, obs in by_city.items():
        rules = book.get(conn, city, now_ms)
        if not rules.threshold and not rules.rate:
            continue
        open_rows = conn.execute(
            select(A.c.id, A.c.rule_id, A.c.subject, A.c.severity).where(
                A.c.city == city, A.c.state.in_(OPEN_STATES), A.c.kind.in_(("threshold", "rate"))
            )
        ).all()
        open_by = {(r.rule_id, r.subject): (r.id, r.severity) for r in open_rows}
        pending = {
            (r.rule_id, r.subject): r for r in conn.execute(select(P).where(P.c.city == city)).mappings().all()
        }
        # Only what can change something is looked at point by point: a subject with an open or pending
        # condition, a value at or past a rule's first level, and each rate metric's latest value.
        # (The hot loop of the ingest path: ~1 us a point, measured with bench/alarms.py.)
        metric_of = {rid: getattr(r, "metric", None) for rid, r in rules.by_id.items()}
        busy = {(subject, metric_of.get(rid)) for rid, subject in (*open_by, *pending)}
        gates = {m: _gate(rs) for m, rs in rules.threshold.items()}
        rate_metrics = rules.rate
        series: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
        latest: dict[tuple[str, str], tuple[int, float]] = {}
        for _, source_id, points in obs:
            for pt in points:
                metric = pt.metric
                gate = gates.get(metric)
                if gate is not None:
                    v = pt.value
                    if v >= gate[0] or v <= gate[1] or (source_id, metric) in busy:
                        series[(source_id, metric)].append((pt.ts_ms, v))
                if metric in rate_metrics:
                    key = (source_id, metric)
                    seen = latest.get(key)
                    if seen is None or seen[0] <= pt.ts_ms:
                        latest[key] = (pt.ts_ms, pt.value)
        info: dict[str, Mapping] | None = None

        def source_info(source_id: str) -> Mapping:
            nonlocal info
            if info is None:
                info = _sources(conn, city, {s for s, _ in series} | {s for s, _ in latest})
            return info.get(source_id, {})

        for (source_id, metric), points in series.items():
            points.sort()
            for rule in rules.threshold[metric]:
                changes += _threshold(
                    conn, life, rules, rule, city, source_id, points, open_by, pending, source_info, now_ms
                )
        if latest:
            changes += _rates(conn, life, rules, city, latest, open_by, source_info, now_ms)
    return changes


def _threshold(conn, life, rules, rule, city, source_id, points, open_by, pending, source_info, now_ms) -> list[Change]:  # noqa: ANN001, PLR0913
    key = (rule.rule_id, source_id)
    opened = open_by.get(key)
    p = pending.get(key)
    if opened is None and p is None and not _reaches(rule, points):
        return []  # another rule of the metric let these points through
    state = (
        State(open_severity=opened[1])
        if opened
        else State(pending_since_ms=p["since_ms"], pending_severity=p["severity"], pending_last_ms=p["last_ms"])
        if p
        else IDLE
    )
    before = state
    changes: list[Change] = []
    last_value = points[-1][1]
    for ts_ms, value in points:
        state, step = step_threshold(rule, state, ts_ms, value)
        last_value = value
        if step is None:
            continue
        detail = _threshold_detail(rule, source_id, value, step.severity, source_info(source_id), life.profile)
        if step.action == "raise":
            if _is_shelved(rules, rule.rule_id, source_id):
                state = IDLE  # raises nothing while shelved; a later reading still in condition raises then
                continue
            src = source_info(source_id)
            ch = life.raise_(
                conn, city=city, rule_id=rule.rule_id, kind="threshold", subject=source_id, severity=step.severity,
                value=value, detail=detail, now_ms=now_ms, source_id=source_id, district=src.get("district"),
                metric=rule.metric, lat=src.get("lat"), lon=src.get("lon"),
            )  # fmt: skip
            if ch is not None:
                open_by[key] = (ch.alarm_id, step.severity)
                changes.append(ch)
            else:  # another evaluator raised it first: follow its alarm
                row = conn.execute(
                    select(A.c.id, A.c.severity).where(A.c.open_key == f"{city}|{rule.rule_id}|{source_id}")
                ).first()
                if row is not None:
                    open_by[key] = (row.id, row.severity)
        elif step.action == "clear":
            alarm_id = open_by.pop(key)[0]
            ch = life.clear(conn, alarm_id, now_ms=now_ms, value=value)
            if ch is not None:
                changes.append(ch)
        else:
            alarm_id = open_by[key][0]
            ch = life.change_severity(conn, alarm_id, severity=step.severity, value=value, detail=detail, now_ms=now_ms)
            open_by[key] = (alarm_id, step.severity)
            if ch is not None:
                changes.append(ch)
    if state.pending_since_ms is not None:
        row = {
            "city": city, "rule_id": rule.rule_id, "subject": source_id, "since_ms": state.pending_since_ms,
            "last_ms": state.pending_last_ms, "severity": state.pending_severity, "value": last_value,
        }  # fmt: skip
        ins = insert_for(conn, P).values(**row)
        conn.execute(
            ins.on_conflict_do_update(
                index_elements=[P.c.city, P.c.rule_id, P.c.subject],
                set_={k: ins.excluded[k] for k in ("since_ms", "last_ms", "severity", "value")},
            )
        )
    elif before.pending_since_ms is not None:
        conn.execute(delete(P).where(P.c.city == city, P.c.rule_id == rule.rule_id, P.c.subject == source_id))
    return changes


def _gate(rules: list[ThresholdRule]) -> tuple[float, float]:
    """(lo, hi): a value >= lo or <= hi is at or past the first level of one of `rules`; others leave idle subjects idle."""
    above = [min(lv.value for lv in r.levels) for r in rules if r.op == "above"]
    below = [max(lv.value for lv in r.levels) for r in rules if r.op == "below"]
    return (min(above) if above else float("inf"), max(below) if below else float("-inf"))


def _reaches(rule: ThresholdRule, points: list[tuple[int, float]]) -> bool:
    """Whether any point is at or past the rule's least severe level (the only way to leave idle)."""
    if rule.op == "above":
        return max(v for _, v in points) >= min(lv.value for lv in rule.levels)
    return min(v for _, v in points) <= max(lv.value for lv in rule.levels)


def _threshold_detail(rule: ThresholdRule, source_id: str, value: float, severity: str, src: Mapping, profile: Profile) -> dict:
    level = next(lv.value for lv in rule.levels if lv.severity == severity)
    m = profile.metric(rule.metric)
    return {
        "metric": rule.metric, "op": rule.op, "value": value, "level": level, "unit": m.unit if m else None,
        "source_id": source_id, "source_name": src.get("name"),
    }  # fmt: skip


# Per (source, metric): the lowest and highest value over a window, from the minute rollups (which already
# hold the batch just committed). A plain statement with expanding IN lists: compiled once, cached.
_WINDOW_EXTREMES = (
    text(
        "SELECT src.source_id, se.metric, min(r.min), max(r.max) FROM sources src "
        "JOIN series se ON se.source_pk = src.id JOIN rollup_1m r ON r.series_id = se.id "
        "WHERE src.city = :city AND src.source_id IN :sids AND se.metric IN :metrics AND r.bucket >= :since "
        "GROUP BY src.source_id, se.metric"
    )
    .bindparams(bindparam("sids", expanding=True), bindparam("metrics", expanding=True))
)


def _rates(conn, life, rules, city, latest, open_by, source_info, now_ms) -> list[Change]:  # noqa: ANN001
    """Rate rules on each (source, metric)'s latest value of the batch against its window's extremes."""
    changes: list[Change] = []
    wanted = list(latest)
    latest_ts = max(ts for ts, _ in latest.values())
    extremes: dict[tuple[str, str, int], tuple[float, float]] = {}
    metrics = sorted({m for _, m in wanted})
    sids = sorted({sid for sid, _ in wanted})
    for rule_window in sorted({r.window_s for rs in rules.rate.values() for r in rs}):
        since_bucket = (latest_ts - rule_window * 1000) // 60_000 * 60
        rows = conn.execute(
            _WINDOW_EXTREMES, {"city": city, "metrics": metrics, "sids": sids, "since": since_bucket}
        )
        for sid, m, lo, hi in rows:
            extremes[(sid, m, rule_window)] = (lo, hi)
    for sid, metric in wanted:
        _ts, value = latest[(sid, metric)]
        for rule in rules.rate[metric]:
            lo, hi = extremes.get((sid, metric, rule.window_s), (value, value))
            move = rate_move(rule, value, lo, hi)
            key = (rule.rule_id, sid)
            opened = open_by.get(key)
            step = step_rate(rule, opened[1] if opened else None, move)
            if step is None:
                continue
            if step.action == "clear":
                ch = life.clear(conn, opened[0], now_ms=now_ms, value=value)
                open_by.pop(key, None)
            elif _is_shelved(rules, rule.rule_id, sid):
                continue
            else:
                info = source_info(sid)
                m = life.profile.metric(metric)
                detail = {
                    "metric": metric, "direction": rule.direction, "move": round(move, 3), "value": value,
                    "window_s": rule.window_s, "unit": m.unit if m else None, "source_id": sid,
                    "source_name": info.get("name"),
                }  # fmt: skip
                ch = life.raise_(
                    conn, city=city, rule_id=rule.rule_id, kind="rate", subject=sid, severity=rule.severity,
                    value=value, detail=detail, now_ms=now_ms, source_id=sid, district=info.get("district"),
                    metric=metric, lat=info.get("lat"), lon=info.get("lon"),
                )  # fmt: skip
                if ch is not None:
                    open_by[key] = (ch.alarm_id, rule.severity)
            if ch is not None:
                changes.append(ch)
    return changes


# --- the clock: silence, SLA, ticket counts, re-raise ----------------------------


def evaluate_clock(conn: Connection, *, book: RuleBook, life: Lifecycle, city: str, now_ms: int) -> list[Change]:
    """Time-based rules for `city` at `now_ms`; the caller commits and then publishes."""
    rules = book.get(conn, city, now_ms)
    changes: list[Change] = []
    for rule in rules.clock:
        if isinstance(rule, SilenceRule):
            changes += _silence(conn, life, rules, rule, city, now_ms)
        elif isinstance(rule, SlaRule):
            changes += _sla(conn, life, rules, rule, city, now_ms)
        elif isinstance(rule, TicketCountRule):
            changes += _ticket_count(conn, life, rules, rule, city, now_ms)
    changes += _reraise(conn, life, rules, city, now_ms)
    return changes


def _open_for(conn: Connection, city: str, rule_id: str) -> dict[str, tuple[int, str]]:
    rows = conn.execute(
        select(A.c.id, A.c.subject, A.c.severity).where(
            A.c.city == city, A.c.rule_id == rule_id, A.c.state.in_(OPEN_STATES)
        )
    )
    return {r.subject: (r.id, r.severity) for r in rows}


def _apply(conn, life, city, rule, opened, wanted, shelved, now_ms, build) -> list[Change]:  # noqa: ANN001
    """Reconcile the open alarms of a time rule with the wanted ones; `build(subject)` gives raise() arguments."""
    changes: list[Change] = []
    for subject, step in reconcile({k: v[1] for k, v in opened.items()}, wanted, shelved):
        if step.action == "raise":
            ch = life.raise_(
                conn, city=city, rule_id=rule.rule_id, kind=rule.kind, subject=subject, severity=step.severity,
                now_ms=now_ms, **build(subject),
            )  # fmt: skip
        elif step.action == "clear":
            ch = life.clear(conn, opened[subject][0], now_ms=now_ms)
        else:
            args = build(subject)
            ch = life.change_severity(
                conn, opened[subject][0], severity=step.severity, value=args["value"], detail=args["detail"], now_ms=now_ms
            )
        if ch is not None:
            changes.append(ch)
    return changes


def _silence(conn, life, rules, rule: SilenceRule, city, now_ms) -> list[Change]:  # noqa: ANN001
    health = {s.source_id: s for s in source_health(conn=conn, profile=life.profile, city=city, now_ms=now_ms)}
    wanted: dict[str, str] = {}
    for sid, s in health.items():
        if not s.registered:
            continue
        sev = silence_severity(rule, s.status, s.last_seen_ms is not None)
        if sev is not None:
            wanted[sid] = sev
    shelved = {sid for sid in wanted if _is_shelved(rules, rule.rule_id, sid)}

    def build(sid: str) -> dict:
        s = health[sid]
        return {
            "value": None, "source_id": sid, "district": s.district, "lat": s.lat, "lon": s.lon,
            "detail": {"health": s.status, "source_id": sid, "source_name": s.name, "last_seen_ms": s.last_seen_ms},
        }  # fmt: skip

    return _apply(conn, life, city, rule, _open_for(conn, city, rule.rule_id), wanted, shelved, now_ms, build)


def _sla(conn, life, rules, rule: SlaRule, city, now_ms) -> list[Change]:  # noqa: ANN001
    T = TicketRow.__table__.c
    rows = {
        r.ticket_id: r
        for r in conn.execute(
            select(T.ticket_id, T.agency, T.service, T.priority, T.district, T.title, T.lat, T.lon, T.due_ms).where(
                T.city == city, T.status.in_(ACTIVE), T.due_ms.is_not(None), T.due_ms < now_ms
            )
        )
    }
    wanted = {tid: sla_severity(rule, r.priority) for tid, r in rows.items()}
    shelved = set(wanted) if rule.rule_id in rules.shelved_rules else set()

    def build(tid: str) -> dict:
        r = rows[tid]
        return {
            "value": None, "ticket_id": tid, "district": r.district, "lat": r.lat, "lon": r.lon,
            "detail": {"ticket_id": tid, "agency": r.agency, "service": r.service, "priority": r.priority,
                       "title": r.title, "due_ms": r.due_ms},
        }  # fmt: skip

    return _apply(conn, life, city, rule, _open_for(conn, city, rule.rule_id), wanted, shelved, now_ms, build)


def _ticket_count(conn, life, rules, rule: TicketCountRule, city, now_ms) -> list[Change]:  # noqa: ANN001
    T = TicketRow.__table__.c
    counts = {
        d: n
        for d, n in conn.execute(
            select(T.district, func.count())
            .where(T.city == city, T.status.in_(ACTIVE), T.priority == rule.priority, T.district.is_not(None))
            .group_by(T.district)
        )
        if n > rule.count
    }
    wanted = dict.fromkeys(counts, rule.severity)
    shelved = set(wanted) if rule.rule_id in rules.shelved_rules else set()
    centers = {d.id: d.center for d in life.profile.districts}

    def build(district: str) -> dict:
        c = centers.get(district)
        return {
            "value": float(counts[district]), "district": district, "lat": c.lat if c else None,
            "lon": c.lon if c else None,
            "detail": {"district": district, "count": counts[district], "priority": rule.priority, "limit": rule.count},
        }  # fmt: skip

    return _apply(conn, life, city, rule, _open_for(conn, city, rule.rule_id), wanted, shelved, now_ms, build)


def _reraise(conn: Connection, life: Lifecycle, rules: CityRules, city: str, now_ms: int) -> list[Change]:
    patience = {rid: r.reraise_after_s for rid, r in rules.by_id.items() if r.enabled and r.reraise_after_s}
    if not patience:
        return []
    changes = []
    rows = conn.execute(
        select(A.c.id, A.c.rule_id, A.c.acked_ms).where(
            A.c.city == city, A.c.state == "acknowledged", A.c.rule_id.in_(sorted(patience))
        )
    )
    for r in rows.all():
        if r.acked_ms is not None and now_ms - r.acked_ms >= patience[r.rule_id] * 1000:
            ch = life.reraise(conn, r.id, now_ms=now_ms)
            if ch is not None:
                changes.append(ch)
    return changes
