"""The per-day ticket rollup: what services/status reads instead of every resolved ticket of the period.

Per UTC day and (city, agency, service) — `ticket_day`: tickets opened that
day, and of those resolved or cancelled that day (by `resolved_ms`) how many
were resolved, had a due time, met it, or were cancelled — and `ticket_day_hist`:
how many resolved tickets took how long, in fixed log-spaced buckets of
minutes. The writer keeps both in the transaction that stores the ticket
events (ingest.ticket_events): each re-derived ticket takes its old
contribution out and puts its new one in, so reopenings, late events and
redeliveries leave the rollup equal to a recount of the tickets table.

Resolution-time buckets: bucket 0 holds [0, 1) minute; bucket k >= 1 holds
[2^((k-1)/16), 2^(k/16)) minutes, 16 per doubling, up to 2^20 minutes (about
two years; the last bucket is open). A percentile is read from the bucket that
holds its rank, placed log-uniformly inside it, so it lies in the same bucket
as the exact value: within 4.5% of it (2^(1/16) - 1 = 4.4%), or within 1 minute
below 1 minute.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection

from app.storage.dialect import insert_for
from app.storage.models import TicketDayHistRow, TicketDayRow

DAY_MS = 86_400_000
PER_DOUBLING = 16
TOP = PER_DOUBLING * 20 + 1  # the open-ended last bucket
PRECISION = "within 4.5% of the exact value (within 1 minute below 1 minute)"
RESOLVED = ("resolved", "closed")
NO_SERVICE = ""  # a ticket without a service, in a key column that cannot be null

COUNTS = ("opened", "resolved", "resolved_with_due", "resolved_within_sla", "cancelled")
Key = tuple[str, int, str, str]  # (city, day start epoch s, agency, service or "")


def bucket_of(ms: int) -> int:
    """The histogram bucket of a resolution time in ms."""
    minutes = max(0, ms) / 60_000
    if minutes < 1:
        return 0
    return min(TOP, math.floor(PER_DOUBLING * math.log2(minutes)) + 1)


def bucket_bounds(k: int) -> tuple[float, float]:
    """[low, high) of bucket k in minutes."""
    if k == 0:
        return 0.0, 1.0
    return 2 ** ((k - 1) / PER_DOUBLING), 2 ** (k / PER_DOUBLING)


def hist_percentile(hist: Mapping[int, int], q: float) -> float | None:
    """The q-th quantile in minutes (ranks interpolated as app.services.queries.percentile does); None when empty."""
    n = sum(hist.values())
    if n == 0:
        return None
    pos = (n - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    at = _rank_values(hist, (lo, hi))
    return at[lo] + (at[hi] - at[lo]) * (pos - lo)


def _rank_values(hist: Mapping[int, int], ranks: Iterable[int]) -> dict[int, float]:
    """The estimated value (minutes) at each 0-based rank: log-uniform inside its bucket, linear in bucket 0."""
    want = sorted(set(ranks))
    out: dict[int, float] = {}
    before = 0
    for k in sorted(hist):
        c = hist[k]
        if c <= 0:
            continue
        while want and want[0] < before + c:
            r = want.pop(0)
            frac = (r - before + 0.5) / c
            low, high = bucket_bounds(k)
            out[r] = low + (high - low) * frac if k == 0 else low * (high / low) ** frac
        before += c
    return out


def day_of(ms: int) -> int:
    """The start of the UTC day holding `ms`, in epoch seconds (the rollup's `day`)."""
    return ms // DAY_MS * DAY_MS // 1000


def contribution(row: Mapping[str, Any], sign: int = 1) -> tuple[dict[Key, list[int]], dict[tuple[Key, int], int]]:
    """What one ticket row adds to the rollup (`sign` -1: takes away): counts per day key, histogram per (key, bucket)."""
    counts: dict[Key, list[int]] = {}
    hist: dict[tuple[Key, int], int] = {}
    city, agency, service = row["city"], row["agency"], row["service"] or NO_SERVICE

    def at(ms: int) -> list[int]:
        return counts.setdefault((city, day_of(ms), agency, service), [0] * len(COUNTS))

    at(row["opened_ms"])[0] += sign
    resolved, status, due = row["resolved_ms"], row["status"], row["due_ms"]
    if resolved is not None:
        c = at(resolved)
        if status in RESOLVED:
            c[1] += sign
            if due is not None:
                c[2] += sign
                c[3] += sign * int(resolved <= due)
            key = ((city, day_of(resolved), agency, service), bucket_of(resolved - row["opened_ms"]))
            hist[key] = hist.get(key, 0) + sign
        else:
            c[4] += sign
    return counts, hist


class Delta:
    """Rollup changes gathered over a batch, written in one statement per table."""

    def __init__(self) -> None:
        self.counts: dict[Key, list[int]] = {}
        self.hist: dict[tuple[Key, int], int] = {}

    def add(self, row: Mapping[str, Any] | None, sign: int = 1) -> None:
        if row is None:
            return
        counts, hist = contribution(row, sign)
        for k, v in counts.items():
            acc = self.counts.setdefault(k, [0] * len(COUNTS))
            for i, x in enumerate(v):
                acc[i] += x
        for k, n in hist.items():
            self.hist[k] = self.hist.get(k, 0) + n

    def write(self, conn: Connection) -> None:
        """Fold the changes into the rollup tables (upserts that add)."""
        rows = [
            {"city": c, "day": d, "agency": a, "service": s, **dict(zip(COUNTS, v, strict=False))}
            for (c, d, a, s), v in self.counts.items()
            if any(v)
        ]
        if rows:
            t = TicketDayRow.__table__
            stmt = insert_for(conn, t)
            stmt = stmt.on_conflict_do_update(
                index_elements=[t.c.city, t.c.day, t.c.agency, t.c.service],
                set_={name: t.c[name] + stmt.excluded[name] for name in COUNTS},
            )
            conn.execute(stmt, sorted(rows, key=_order))
        hrows = [
            {"city": c, "day": d, "agency": a, "service": s, "bucket": b, "n": n}
            for ((c, d, a, s), b), n in self.hist.items()
            if n
        ]
        if hrows:
            h = TicketDayHistRow.__table__
            stmt = insert_for(conn, h)
            stmt = stmt.on_conflict_do_update(
                index_elements=[h.c.city, h.c.day, h.c.agency, h.c.service, h.c.bucket],
                set_={"n": h.c.n + stmt.excluded.n},
            )
            conn.execute(stmt, sorted(hrows, key=_order))
        self.counts.clear()
        self.hist.clear()


def _order(r: dict) -> tuple:
    # One lock order for concurrent writers (PostgreSQL): by key.
    return (r["city"], r["day"], r["agency"], r["service"], r.get("bucket", 0))


TICKET_COLUMNS = ("city", "agency", "service", "status", "opened_ms", "resolved_ms", "due_ms")
