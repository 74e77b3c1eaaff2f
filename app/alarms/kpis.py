"""The alarm system measured against EEMUA 191 / ISA-18.2 over a period, from `alarms` and `alarm_events`.

Each figure comes with its target and whether it is met (`Kpi`); docs/alarms.md
says what each one counts. The caller owns the connection; nothing is written.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from app.alarms.queries import open_counts
from app.storage.models import AlarmEventRow, AlarmRow, AlarmShelfRow

A = AlarmRow.__table__
E = AlarmEventRow.__table__
S = AlarmShelfRow.__table__

WINDOW_MS = 600_000  # the 10-minute period of the flood and peak figures
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
FLOOD_AT = 10  # alarms raised in one 10-minute period that make it a flood (EEMUA 191, ISA-18.2)
CHATTER_TIMES = 3  # raised and cleared this many times ...
CHATTER_WITHIN_MS = 60_000  # ... within this long: chattering
STALE_AFTER_MS = DAY_MS  # open longer than this: stale
TOP = 10

# Our four severities on the three priorities of ISA-18.2's 80/15/5 split.
PRIORITY: dict[str, str] = {"warning": "low", "minor": "low", "major": "medium", "critical": "high"}
PRIORITY_TARGET_PCT: dict[str, float] = {"low": 80.0, "medium": 15.0, "high": 5.0}

# Targets (docs/alarms.md says where each comes from).
PER_HOUR_TARGET = 6.0  # EEMUA 191: about one alarm per 10 minutes per operator is acceptable
FLOOD_PCT_TARGET = 1.0  # ISA-18.2: under 1% of 10-minute periods in flood
TOP10_PCT_TARGET = 5.0  # ISA-18.2's table of alarm-system metrics: the top 10 carry ~1% to 5% at most
ACK_P90_TARGET_S = 600.0  # ours: within the 10 minutes before the next alarm an operator can take arrives
STANDING_TARGET = 10  # EEMUA 191 / ISA-18.2: fewer than 10 standing alarms
SHELVED_TARGET = 10  # ours: a shelf hides alarms the operator must remember, so it counts like a standing one


@dataclass(frozen=True, slots=True)
class Kpi:
    """One figure: its value (None when there is nothing to measure), the target, and whether it is met."""

    key: str
    value: float | None
    unit: str
    target: str
    meets: bool
    standard: str


@dataclass(frozen=True, slots=True)
class Frequent:
    rule_id: str
    subject: str
    source_id: str | None
    count: int
    share_pct: float


@dataclass(frozen=True, slots=True)
class Flagged:
    """An alarm (rule and subject) that chattered or stood too long; `alarm_ids` are its alarms in question."""

    rule_id: str
    subject: str
    source_id: str | None
    alarm_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class AlarmKpis:
    start_ms: int
    end_ms: int
    now_ms: int
    raised: int
    periods: int
    flood_periods: int
    peak_10min: int
    priority_counts: dict[str, int]
    ack_delays_s: tuple[float, ...]
    top: tuple[Frequent, ...]
    chattering: tuple[Flagged, ...]
    stale: tuple[Flagged, ...]
    standing: int
    shelved: int
    kpis: tuple[Kpi, ...]


def _pct(part: int | float, whole: int | float) -> float | None:
    return None if whole == 0 else round(100.0 * part / whole, 2)


def percentile(values: Sequence[float], p: int) -> float | None:
    """The p-th percentile with linear interpolation between ranks (numpy's default); None for no values."""
    if not values:
        return None
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def _split_meets(priority: str, pct: float | None, target: float) -> bool:
    """Low priority at least its share, medium and high at most theirs; nothing raised meets it."""
    if pct is None:
        return True
    return pct >= target if priority == "low" else pct <= target


def _chattering(rows: Iterable[Any]) -> list[Flagged]:
    """(rule, subject) pairs with CHATTER_TIMES alarms in a row, the first raised and the last cleared within
    CHATTER_WITHIN_MS; `rows` ordered by rule, subject, raised time."""
    by_pair: dict[tuple[str, str], list[Any]] = {}
    for r in rows:
        by_pair.setdefault((r.rule_id, r.subject), []).append(r)
    found = []
    for (rule_id, subject), seq in by_pair.items():
        ids: set[int] = set()
        for i in range(len(seq) - CHATTER_TIMES + 1):
            first, last = seq[i], seq[i + CHATTER_TIMES - 1]
            if last.cleared_ms is not None and last.cleared_ms - first.raised_ms <= CHATTER_WITHIN_MS:
                ids.update(r.id for r in seq[i : i + CHATTER_TIMES])
        if ids:
            found.append(Flagged(rule_id, subject, seq[0].source_id, tuple(sorted(ids))))
    return found


def alarm_kpis(*, conn: Connection, city: str, start_ms: int, end_ms: int, now_ms: int) -> AlarmKpis:
    """The KPIs of the alarms raised in [start_ms, end_ms), with standing and shelved alarms at `now_ms`."""
    in_period = (A.c.city == city, A.c.raised_ms >= start_ms, A.c.raised_ms < end_ms)
    rows = conn.execute(
        select(A.c.id, A.c.rule_id, A.c.subject, A.c.source_id, A.c.raised_ms, A.c.cleared_ms)
        .where(*in_period)
        .order_by(A.c.rule_id, A.c.subject, A.c.raised_ms, A.c.id)
    ).all()
    raised = len(rows)
    periods = -(-(end_ms - start_ms) // WINDOW_MS)  # the last one may be shorter
    per_window = Counter((r.raised_ms - start_ms) // WINDOW_MS for r in rows)
    flood_periods = sum(1 for n in per_window.values() if n >= FLOOD_AT)
    peak = max(per_window.values(), default=0)

    pairs = Counter((r.rule_id, r.subject) for r in rows)
    source_of = {(r.rule_id, r.subject): r.source_id for r in rows}
    ranked = sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]
    top = tuple(Frequent(rule, subj, source_of[(rule, subj)], n, _pct(n, raised) or 0.0) for (rule, subj), n in ranked)
    top_share = _pct(sum(f.count for f in top), raised)

    chattering = tuple(_chattering(rows))

    # Stale: open for more than a day at some instant of the period (up to now).
    stale_rows = conn.execute(
        select(A.c.id, A.c.rule_id, A.c.subject, A.c.source_id, A.c.raised_ms, A.c.cleared_ms)
        .where(A.c.city == city, A.c.raised_ms < end_ms - STALE_AFTER_MS)
        .where(A.c.cleared_ms.is_(None) | (A.c.cleared_ms > start_ms))
        .order_by(A.c.raised_ms, A.c.id)
    ).all()
    stale = []
    for r in stale_rows:
        until = min(end_ms, now_ms, r.cleared_ms if r.cleared_ms is not None else end_ms)
        if until > r.raised_ms + STALE_AFTER_MS and until > start_ms:
            stale.append(Flagged(r.rule_id, r.subject, r.source_id, (r.id,)))

    # Priority as annunciated: the severity of each alarm's `raised` event.
    priority_counts = dict.fromkeys(PRIORITY_TARGET_PCT, 0)
    for sev, n in conn.execute(
        select(E.c.severity, func.count())
        .select_from(E.join(A, E.c.alarm_id == A.c.id))
        .where(*in_period, E.c.action == "raised")
        .group_by(E.c.severity)
    ):
        priority_counts[PRIORITY[sev]] += n

    # Time to acknowledge: raised to the first acknowledgement, for the period's alarms acknowledged (by now).
    delays = tuple(
        sorted(
            (acked - raised_ms) / 1000
            for raised_ms, acked in conn.execute(
                select(A.c.raised_ms, func.min(E.c.at_ms))
                .select_from(E.join(A, E.c.alarm_id == A.c.id))
                .where(*in_period, E.c.action == "acknowledged")
                .group_by(A.c.id, A.c.raised_ms)
            )
        )
    )

    standing = open_counts(conn=conn, city=city)["total"]
    shelved = conn.execute(
        select(func.count())
        .select_from(S)
        .where(S.c.city == city, S.c.from_ms <= now_ms, S.c.until_ms > now_ms, S.c.ended_ms.is_(None))
    ).scalar_one()

    hours = (end_ms - start_ms) / HOUR_MS
    per_hour = round(raised / hours, 2)
    flood_pct = _pct(flood_periods, periods) or 0.0
    split = {p: _pct(n, raised) for p, n in priority_counts.items()}
    median = statistics.median(delays) if delays else None
    p90 = percentile(delays, 90)
    kpis = (
        Kpi(
            "alarms_per_hour", per_hour, "alarms/h", f"<= {PER_HOUR_TARGET:g}", per_hour <= PER_HOUR_TARGET, "EEMUA 191"
        ),
        Kpi("peak_10min", peak, "alarms", f"< {FLOOD_AT}", peak < FLOOD_AT, "ISA-18.2"),
        Kpi("flood_pct", flood_pct, "%", f"< {FLOOD_PCT_TARGET:g}", flood_pct < FLOOD_PCT_TARGET, "ISA-18.2"),
        Kpi(
            "top10_share_pct",
            top_share,
            "%",
            f"<= {TOP10_PCT_TARGET:g}",
            top_share is None or top_share <= TOP10_PCT_TARGET,
            "ISA-18.2",
        ),
        Kpi("chattering", len(chattering), "alarms", "0", not chattering, "EEMUA 191, ISA-18.2"),
        Kpi("stale", len(stale), "alarms", "0", not stale, "ISA-18.2"),
        *(
            Kpi(
                f"priority_{p}_pct",
                split[p],
                "%",
                f"{'>=' if p == 'low' else '<='} {t:g}",
                _split_meets(p, split[p], t),
                "EEMUA 191, ISA-18.2",
            )
            for p, t in PRIORITY_TARGET_PCT.items()
        ),
        Kpi(
            "ack_median_s",
            median,
            "s",
            f"<= {ACK_P90_TARGET_S:g}",
            median is None or median <= ACK_P90_TARGET_S,
            "SatuPintu",
        ),
        Kpi(
            "ack_p90_s",
            p90,
            "s",
            f"<= {ACK_P90_TARGET_S:g}",
            p90 is None or p90 <= ACK_P90_TARGET_S,
            "SatuPintu",
        ),
        Kpi("standing_now", standing, "alarms", f"< {STANDING_TARGET}", standing < STANDING_TARGET, "EEMUA 191"),
        Kpi("shelved_now", shelved, "shelves", f"< {SHELVED_TARGET}", shelved < SHELVED_TARGET, "SatuPintu"),
    )
    return AlarmKpis(
        start_ms=start_ms,
        end_ms=end_ms,
        now_ms=now_ms,
        raised=raised,
        periods=periods,
        flood_periods=flood_periods,
        peak_10min=peak,
        priority_counts=priority_counts,
        ack_delays_s=delays,
        top=top,
        chattering=chattering,
        stale=tuple(stale),
        standing=standing,
        shelved=shelved,
        kpis=kpis,
    )


KPI_CSV_COLUMNS = ("kpi", "value", "unit", "target", "meets", "standard", "rule", "subject", "count")


def kpi_csv_rows(k: AlarmKpis) -> Iterator[list[Any]]:
    """The KPIs as CSV rows (for app.reports.csvexport.csv_text): one per figure, then one per top-10 alarm."""
    for kpi in k.kpis:
        yield [kpi.key, kpi.value, kpi.unit, kpi.target, kpi.meets, kpi.standard, None, None, None]
    for f in k.top:
        yield ["top10_alarm", f.share_pct, "%", None, None, None, f.rule_id, f.subject, f.count]
