"""Per source or agency and 5 minutes: messages received and live warnings (table integrator_traffic).

Written after the batch's own commit, in a transaction of its own, like the
alarm rules: the counts are for the integrator health page, and a failure
here is logged and never costs the data. A batch redelivered after a crash
between the two transactions is counted twice; the data itself is not.
Refusals are not counted here: they are in the quarantine with their reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from app.integrators.service import BUCKET_MS, HOUR_MS
from app.storage.dialect import insert_for
from app.storage.models import TrafficRow
from ingest.feedback import Advice
from ingest.messages import Reading, Rejected, SourceStatus, TicketEvent
from ingest.writer import BatchWriter, Item

log = logging.getLogger(__name__)

KEEP_MS = 48 * HOUR_MS  # the page shows 24 h; a day more, so a late reader still finds them


def counts(items: Sequence[Item], warnings: Sequence[Advice]) -> dict[tuple[str, str, int], list[int]]:
    """(city, target, 5-minute bucket) -> [messages, warnings, last received ms] of a batch's Items and Advice."""
    out: dict[tuple[str, str, int], list[int]] = {}
    for it in items:
        p = it.parsed
        if type(p) is Reading or type(p) is SourceStatus:  # `type(p) is`: mypy narrows `p` by it
            city, target = p.city, p.source_id
        elif type(p) is TicketEvent:
            city, target = p.city, p.agency
        elif type(p) is Rejected and p.city and p.target:
            city, target = p.city, p.target
        else:
            continue
        c = out.setdefault((city, target, it.received_ms // BUCKET_MS * BUCKET_MS), [0, 0, 0])
        c[0] += 1
        c[2] = max(c[2], it.received_ms)
    for a in warnings:  # a batch is younger than a bucket: its warnings count where its first one was
        w = out.get((a.city, a.target, a.received_ms // BUCKET_MS * BUCKET_MS))
        if w is not None:
            w[1] += a.count
    return out


class TrafficLog:
    """Adds a batch's counts to integrator_traffic on the writer's connection; prunes old rows once an hour."""

    def __init__(self) -> None:
        self._pruned_hour = 0

    def record(self, writer: BatchWriter, items: Sequence[Item], warnings: Sequence[Advice]) -> None:
        rows = counts(items, warnings)
        if not rows:
            return
        try:
            conn = writer.connection()  # the writer's one connection, after its own commit
            tbl = TrafficRow.__table__
            with conn.begin():
                stmt = insert_for(conn, tbl)
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[tbl.c.city, tbl.c.target, tbl.c.bucket],
                        set_={
                            "messages": tbl.c.messages + stmt.excluded.messages,
                            "warnings": tbl.c.warnings + stmt.excluded.warnings,
                            "last_ms": stmt.excluded.last_ms,
                        },
                    ),
                    [
                        {"city": c, "target": t, "bucket": b, "messages": v[0], "warnings": v[1], "last_ms": v[2]}
                        for (c, t, b), v in rows.items()
                    ],
                )
                hour = int(time.time() * 1000) // HOUR_MS
                if hour != self._pruned_hour:
                    conn.execute(tbl.delete().where(tbl.c.bucket < hour * HOUR_MS - KEEP_MS))
                    self._pruned_hour = hour
        except Exception as exc:  # noqa: BLE001 - counts must never cost the data
            writer.drop_connection()
            log.error("traffic counts skipped for %d messages: %s", len(items), exc)


TRAFFIC = TrafficLog()  # one per process: the writer process, or the consumer's with an InlineCommitter
