"""Threshold and rate rules over the readings a batch just committed (the ingest path calls `evaluate_readings`).

Several ingestors may evaluate at once (a shared subscription): every
transition goes through the guarded statements of app.alarms.store, so a
second evaluator finds the alarm raised or cleared already and reports
nothing. Pending threshold conditions (the minimum duration) live in
`alarm_pending`, shared the same way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, KeysView, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, RowMapping, bindparam, delete, select, text

from app.alarms.rulebook import CityRules, RuleBook
from app.alarms.rules import IDLE, RateRule, State, ThresholdRule, rate_move, step_rate, step_threshold
from app.alarms.store import OPEN_STATES, Change, Lifecycle
from app.storage.dialect import insert_for
from app.storage.models import AlarmPendingRow, AlarmRow, SourceRow

A = AlarmRow.__table__
P = AlarmPendingRow.__table__


class Point(Protocol):
    """One value of a reading (ingest.messages.Point)."""

    @property
    def metric(self) -> str: ...
    @property
    def ts_ms(self) -> int: ...
    @property
    def value(self) -> float: ...


Observed = tuple[str, str, Sequence[Point]]  # city, source_id, the message's points
Key = tuple[str, str]  # (rule_id, subject)


@dataclass(frozen=True, slots=True)
class CityPass:
    """What one city's evaluation shares: its rules, its open and pending conditions, the moment."""

    conn: Connection
    life: Lifecycle
    rules: CityRules
    city: str
    now_ms: int
    open_by: dict[Key, tuple[int, str]]  # (alarm id, severity), kept current as alarms move
    pending: dict[Key, RowMapping]
    source_info: Callable[[str], Mapping[Any, Any]]  # name, district, lat, lon of a source

    def raise_(
        self,
        *,
        rule_id: str,
        kind: str,
        source_id: str,
        severity: str,
        value: float,
        detail: dict[str, Any],
        metric: str,
    ) -> Change | None:
        """Raise a reading rule's alarm for `source_id`, placed where the source is."""
        src = self.source_info(source_id)
        return self.life.raise_(
            self.conn,
            city=self.city,
            rule_id=rule_id,
            kind=kind,
            subject=source_id,
            severity=severity,
            value=value,
            detail=detail,
            now_ms=self.now_ms,
            source_id=source_id,
            district=src.get("district"),
            metric=metric,
            lat=src.get("lat"),
            lon=src.get("lon"),
        )


@dataclass(slots=True)
class SourceInfo:
    """Name, district and place of the batch's sources (those in `wanted`), read once when an alarm first needs them."""

    conn: Connection
    city: str
    wanted: tuple[KeysView[tuple[str, str]], ...]  # (source_id, metric) keys, read when first called
    _rows: dict[str, RowMapping] | None = None

    def __call__(self, source_id: str) -> Mapping[Any, Any]:
        if self._rows is None:
            ids = sorted({sid for keys in self.wanted for sid, _ in keys})
            s = SourceRow.__table__.c
            rows = self.conn.execute(
                select(s.id, s.source_id, s.name, s.district, s.lat, s.lon).where(
                    s.city == self.city, s.source_id.in_(ids)
                )
            ).mappings()
            self._rows = {r["source_id"]: r for r in rows}
        return self._rows.get(source_id, {})


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
        pending = {(r.rule_id, r.subject): r for r in conn.execute(select(P).where(P.c.city == city)).mappings().all()}
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
        source_info = SourceInfo(conn, city, (series.keys(), latest.keys()))
        ctx = CityPass(conn, life, rules, city, now_ms, open_by, pending, source_info)
        for (source_id, metric), pts in series.items():
            pts.sort()
            for rule in rules.threshold[metric]:
                changes += _threshold(ctx, rule, source_id, pts)
        if latest:
            changes += _rates(ctx, latest)
    return changes


def _threshold(ctx: CityPass, rule: ThresholdRule, source_id: str, points: list[tuple[int, float]]) -> list[Change]:
    """One threshold rule over one source's points of the batch, oldest first."""
    conn, key = ctx.conn, (rule.rule_id, source_id)
    opened = ctx.open_by.get(key)
    p = ctx.pending.get(key)
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
        if step.action == "raise":
            if ctx.rules.shelved(rule.rule_id, source_id):
                state = IDLE  # raises nothing while shelved; a later reading still in condition raises then
                continue
            detail = _threshold_detail(ctx, rule, source_id, value, step.severity)
            ch = ctx.raise_(
                rule_id=rule.rule_id,
                kind="threshold",
                source_id=source_id,
                severity=step.severity,
                value=value,
                detail=detail,
                metric=rule.metric,
            )
            if ch is not None:
                ctx.open_by[key] = (ch.alarm_id, step.severity)
                changes.append(ch)
            else:  # another evaluator raised it first: follow its alarm
                row = conn.execute(
                    select(A.c.id, A.c.severity).where(A.c.open_key == f"{ctx.city}|{rule.rule_id}|{source_id}")
                ).first()
                if row is not None:
                    ctx.open_by[key] = (row.id, row.severity)
        elif step.action == "clear":
            alarm_id = ctx.open_by.pop(key)[0]
            ch = ctx.life.clear(conn, alarm_id, now_ms=ctx.now_ms, value=value)
            if ch is not None:
                changes.append(ch)
        else:
            alarm_id = ctx.open_by[key][0]
            detail = _threshold_detail(ctx, rule, source_id, value, step.severity)
            ch = ctx.life.change_severity(
                conn, alarm_id, severity=step.severity, value=value, detail=detail, now_ms=ctx.now_ms
            )
            ctx.open_by[key] = (alarm_id, step.severity)
            if ch is not None:
                changes.append(ch)
    if state.pending_since_ms is not None:
        pending_row = {
            "city": ctx.city,
            "rule_id": rule.rule_id,
            "subject": source_id,
            "since_ms": state.pending_since_ms,
            "last_ms": state.pending_last_ms,
            "severity": state.pending_severity,
            "value": last_value,
        }
        ins = insert_for(conn, P).values(**pending_row)
        conn.execute(
            ins.on_conflict_do_update(
                index_elements=[P.c.city, P.c.rule_id, P.c.subject],
                set_={k: ins.excluded[k] for k in ("since_ms", "last_ms", "severity", "value")},
            )
        )
    elif before.pending_since_ms is not None:
        conn.execute(delete(P).where(P.c.city == ctx.city, P.c.rule_id == rule.rule_id, P.c.subject == source_id))
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


def _threshold_detail(
    ctx: CityPass, rule: ThresholdRule, source_id: str, value: float, severity: str
) -> dict[str, Any]:
    level = next(lv.value for lv in rule.levels if lv.severity == severity)
    m = ctx.life.profile.metric(rule.metric)
    return {
        "metric": rule.metric,
        "op": rule.op,
        "value": value,
        "level": level,
        "unit": m.unit if m else None,
        "source_id": source_id,
        "source_name": ctx.source_info(source_id).get("name"),
    }


# Per (source, metric): the lowest and highest value over a window, from the minute rollups (which already
# hold the batch just committed). A plain statement with expanding IN lists: compiled once, cached.
_WINDOW_EXTREMES = text(
    "SELECT src.source_id, se.metric, min(r.min), max(r.max) FROM sources src "
    "JOIN series se ON se.source_pk = src.id JOIN rollup_1m r ON r.series_id = se.id "
    "WHERE src.city = :city AND src.source_id IN :sids AND se.metric IN :metrics AND r.bucket >= :since "
    "GROUP BY src.source_id, se.metric"
).bindparams(bindparam("sids", expanding=True), bindparam("metrics", expanding=True))


def _rates(ctx: CityPass, latest: dict[tuple[str, str], tuple[int, float]]) -> list[Change]:
    """Rate rules on each (source, metric)'s latest value of the batch against its window's extremes."""
    changes: list[Change] = []
    wanted = list(latest)
    latest_ts = max(ts for ts, _ in latest.values())
    extremes: dict[tuple[str, str, int], tuple[float, float]] = {}
    metrics = sorted({m for _, m in wanted})
    sids = sorted({sid for sid, _ in wanted})
    for rule_window in sorted({r.window_s for rs in ctx.rules.rate.values() for r in rs}):
        since_bucket = (latest_ts - rule_window * 1000) // 60_000 * 60
        rows = ctx.conn.execute(
            _WINDOW_EXTREMES, {"city": ctx.city, "metrics": metrics, "sids": sids, "since": since_bucket}
        )
        for sid, m, lo, hi in rows:
            extremes[(sid, m, rule_window)] = (lo, hi)
    for sid, metric in wanted:
        _ts, value = latest[(sid, metric)]
        for rule in ctx.rules.rate[metric]:
            ch = _rate(ctx, rule, sid, value, extremes.get((sid, metric, rule.window_s), (value, value)))
            if ch is not None:
                changes.append(ch)
    return changes


def _rate(ctx: CityPass, rule: RateRule, sid: str, value: float, window: tuple[float, float]) -> Change | None:
    """One rate rule for one source's latest value, given its window's (lowest, highest)."""
    move = rate_move(rule, value, *window)
    key = (rule.rule_id, sid)
    opened = ctx.open_by.get(key)
    step = step_rate(rule, opened[1] if opened else None, move)
    if step is None:
        return None
    if step.action == "clear":
        if opened is None:  # step_rate clears only an open alarm
            raise RuntimeError(f"rate rule {rule.rule_id!r} cleared {sid!r} with no alarm open")
        ctx.open_by.pop(key, None)
        return ctx.life.clear(ctx.conn, opened[0], now_ms=ctx.now_ms, value=value)
    if ctx.rules.shelved(rule.rule_id, sid):
        return None
    m = ctx.life.profile.metric(rule.metric)
    detail = {
        "metric": rule.metric,
        "direction": rule.direction,
        "move": round(move, 3),
        "value": value,
        "window_s": rule.window_s,
        "unit": m.unit if m else None,
        "source_id": sid,
        "source_name": ctx.source_info(sid).get("name"),
    }
    ch = ctx.raise_(
        rule_id=rule.rule_id,
        kind="rate",
        source_id=sid,
        severity=rule.severity,
        value=value,
        detail=detail,
        metric=rule.metric,
    )
    if ch is not None:
        ctx.open_by[key] = (ch.alarm_id, rule.severity)
    return ch
