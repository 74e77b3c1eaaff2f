"""The batch writer: one transaction per batch of parsed messages.

In one transaction it registers unknown sources, metrics and series, stores
new readings with their rollups (ingest.bulk), applies ticket events and
status changes, and quarantines what was refused. A batch the database cannot
take right now is retried with back-off; a batch the database refuses for its
content is split until the one message at fault is found and quarantined.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, bindparam, select, tuple_
from sqlalchemy import exc as sa_exc

from app.alarms.reading_rules import Observed, evaluate_readings
from app.alarms.rulebook import RuleBook
from app.alarms.store import Change, Lifecycle
from app.profile import Profile
from app.settings import Settings
from app.storage.dialect import insert_for
from app.storage.maintenance import optimize
from app.storage.models import IngestMinuteRow, MetricRow, QuarantineRow, SeriesRow, SourceRow
from app.storage.retention import prune
from app.seed import sync_profile
from ingest.bulk import bulk_for
from ingest.ticket_events import apply_ticket_events
from ingest.messages import Parsed, Reading, Rejected, SourceStatus, TicketEvent

log = logging.getLogger(__name__)

UNKNOWN_CITY = "_unknown"


@dataclass(slots=True)
class Item:
    """A received message and what the parser made of it."""

    topic: str
    payload: bytes
    received_ms: int
    parsed: Parsed


@dataclass(slots=True)
class Refusal:
    """A quarantined message (or part of one), for the rejected-topic notice."""

    item: Item
    rejected: Rejected


@dataclass(slots=True)
class WriteResult:
    """What a committed batch changed: the input of acks, notices and metrics."""

    messages: int = 0
    points_stored: int = 0
    points_duplicate: int = 0
    ticket_events_stored: int = 0
    tickets_changed: list[tuple[str, str]] = field(default_factory=list)  # (city, ticket_id)
    sources_new: list[tuple[str, str]] = field(default_factory=list)  # (city, source_id)
    status_changes: list[tuple[str, str, bool]] = field(default_factory=list)  # (city, source_id, online)
    refusals: list[Refusal] = field(default_factory=list)
    readings_by_source: dict[tuple[str, str], int] = field(default_factory=dict)
    alarm_changes: list[Change] = field(default_factory=list)  # committed after the batch, to publish
    warnings: list = field(default_factory=list)  # ingest.feedback.Advice of accepted messages, set by the committer

    def merge(self, other: WriteResult) -> None:
        self.messages += other.messages
        self.points_stored += other.points_stored
        self.points_duplicate += other.points_duplicate
        self.ticket_events_stored += other.ticket_events_stored
        self.tickets_changed += other.tickets_changed
        self.sources_new += other.sources_new
        self.status_changes += other.status_changes
        self.refusals += other.refusals
        self.alarm_changes += other.alarm_changes
        for k, v in other.readings_by_source.items():
            self.readings_by_source[k] = self.readings_by_source.get(k, 0) + v


class Stopped(Exception):
    """The writer was asked to stop while the database was unavailable; nothing was committed."""


# Errors that say "not now" (connection lost, database locked): retry the batch.
TRANSIENT = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError, sa_exc.TimeoutError)
# Errors that say "not this data": find the message at fault.
POISON = (sa_exc.IntegrityError, sa_exc.DataError)


class BatchWriter:
    """Writes batches for one ingestor; owns one database connection and the id caches."""

    def __init__(self, engine: Engine, profile: Profile, settings: Settings) -> None:
        self._engine = engine
        self._profile = profile
        self._settings = settings
        self._bulk = bulk_for(engine.dialect.name)
        self._conn: Connection | None = None
        # (city, source_id) -> [pk, district, lat, lon]; (source_pk, metric) -> series id.
        self._sources: dict[tuple[str, str], list] = {}
        self._series: dict[tuple[int, str], int] = {}
        self._metrics: set[str] = set()
        self.on_retry: Callable[[Exception, float], None] | None = None
        self._next_prune = 0.0
        self._alarm_rules = RuleBook(settings.alarm_rules_refresh_s)
        self._alarm_life = Lifecycle(profile, settings.alarm_webhooks)

    # --- connection -------------------------------------------------------

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._drop_connection()
            conn = self._engine.connect()
            if conn.dialect.name == "sqlite":
                conn = conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                sync_profile(conn=conn, profile=self._profile)
            self._conn = conn
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001 - closing a broken connection may fail; it is gone either way
                log.debug("closing a broken connection failed", exc_info=True)
            self._conn = None
        # A rolled-back registration may have left ids in no table: forget them.
        self._sources.clear()
        self._series.clear()
        self._metrics.clear()

    def close(self) -> None:
        self._drop_connection()

    def maintain(self) -> None:
        """Prune what is past retention, at most once per retention interval; failures wait for the next turn."""
        now = time.time()
        if now < self._next_prune:
            return
        self._next_prune = now + self._settings.retention_interval_s
        optimize(self._engine)  # planner statistics (SQLite), on the same turn
        s = self._settings
        try:
            pruned = prune(
                engine=self._engine,
                now_ms=int(now * 1000),
                raw_days=s.retention_raw_days,
                rollup_days=s.retention_rollup_days,
            )
        except TRANSIENT as exc:
            log.warning("pruning skipped: %s", _short(exc))
            return
        if pruned.readings or pruned.rollup_1m or pruned.rollup_1h:
            log.info("pruned %d readings, %d minute and %d hour rollups past retention", pruned.readings, pruned.rollup_1m, pruned.rollup_1h)

    # --- public -----------------------------------------------------------

    def write(self, items: Sequence[Item], stop: threading.Event | None = None) -> WriteResult:
        """Commit `items`, retrying while the database is unavailable; raise Stopped if asked to stop first."""
        delay = self._settings.ingest_retry_initial_s
        while True:
            try:
                result = self._write_or_split(items)
            except TRANSIENT as exc:
                self._drop_connection()
                if self.on_retry:
                    self.on_retry(exc, delay)
                log.warning("database unavailable (%s); retrying %d messages in %.1fs", _short(exc), len(items), delay)
                if stop is not None and stop.wait(delay):
                    raise Stopped from exc
                if stop is None:
                    time.sleep(delay)
                delay = min(delay * 2, self._settings.ingest_retry_max_s)
                continue
            result.alarm_changes = self._evaluate_alarms(items)
            return result

    def _evaluate_alarms(self, items: Sequence[Item]) -> list[Change]:
        """Threshold and rate rules over the batch's readings, in a transaction after the batch's own.

        The readings are committed whatever happens here. A failure is logged and
        costs nothing lasting: rule state is levels, not edges, so the next
        reading of the same source raises or clears what this batch would have.
        """
        try:
            conn = self._connection()
            now_ms = int(time.time() * 1000)
            observed: list[Observed] = []
            cities: dict[str, bool] = {}  # city -> has reading rules
            with conn.begin():
                for it in items:
                    p = it.parsed
                    if type(p) is not Reading:
                        continue
                    ruled = cities.get(p.city)
                    if ruled is None:
                        rules = self._alarm_rules.get(conn, p.city, now_ms)
                        ruled = cities[p.city] = bool(rules.threshold or rules.rate)
                    if ruled:
                        observed.append((p.city, p.source_id, p.points))
                if not observed:
                    return []
                return evaluate_readings(
                    conn, book=self._alarm_rules, life=self._alarm_life, observed=observed, now_ms=now_ms
                )
        except Exception as exc:  # noqa: BLE001 - alarms must never cost the data
            self._drop_connection()
            log.error("alarm evaluation skipped for %d messages: %s", len(items), _short(exc), exc_info=not isinstance(exc, TRANSIENT))
            return []

    def _write_or_split(self, items: Sequence[Item]) -> WriteResult:
        try:
            return self._write_once(items)
        except POISON as exc:
            self._drop_connection()
            if len(items) == 1:
                it = items[0]
                rej = Rejected("storage", f"database refused it: {_short(exc)}", *_city_target(it.parsed))
                log.error("quarantining a message the database refused: %s", _short(exc))
                return self._write_once([Item(it.topic, it.payload, it.received_ms, rej)])
            mid = len(items) // 2
            result = self._write_or_split(items[:mid])
            result.merge(self._write_or_split(items[mid:]))
            return result

    # --- one transaction --------------------------------------------------

    def _write_once(self, items: Sequence[Item]) -> WriteResult:
        conn = self._connection()
        pending_sources: dict[tuple[str, str], list] = {}
        pending_series: dict[tuple[int, str], int] = {}
        pending_metrics: set[str] = set()
        result = WriteResult(messages=len(items))
        readings: list[Item] = []
        tickets: list[TicketEvent] = []
        statuses: list[SourceStatus] = []
        refusals = result.refusals
        for it in items:
            p = it.parsed
            t = type(p)
            if t is Reading:
                readings.append(it)
                if p.refused:
                    refusals.append(Refusal(it, Rejected("partial", "; ".join(p.refused), p.city, p.source_id)))
            elif t is TicketEvent:
                tickets.append(p)
            elif t is SourceStatus:
                statuses.append(p)
            else:
                refusals.append(Refusal(it, p))
        with conn.begin():
            if readings or statuses:
                self._register_sources(conn, readings, statuses, pending_sources, result)
            if readings:
                self._store_readings(conn, readings, pending_sources, pending_series, pending_metrics, result)
            if statuses:
                self._apply_statuses(conn, statuses, pending_sources, result)
            if tickets:
                stored, changed = apply_ticket_events(conn, tickets, self._sla_for_service)
                result.ticket_events_stored += stored
                result.tickets_changed += changed
            if refusals:
                self._quarantine(conn, refusals)
            self._count(conn, items, refusals)
        self._sources.update(pending_sources)
        self._series.update(pending_series)
        self._metrics |= pending_metrics
        return result

    def _source(self, key: tuple[str, str], pending: dict) -> list | None:
        return self._sources.get(key) or pending.get(key)

    def _register_sources(
        self,
        conn: Connection,
        readings: list[Item],
        statuses: list[SourceStatus],
        pending: dict,
        result: WriteResult,
    ) -> None:
        seen: dict[tuple[str, str], int] = {}
        where: dict[tuple[str, str], tuple] = {}
        for it in readings:
            p = it.parsed
            key = (p.city, p.source_id)
            if seen.get(key, 0) < it.received_ms:
                seen[key] = it.received_ms
            if p.district is not None or p.lat is not None:
                where[key] = (p.district, p.lat, p.lon)
        for s in statuses:
            key = (s.city, s.source_id)
            if seen.get(key, 0) < s.ts_ms:
                seen[key] = s.ts_ms
        missing = [k for k in seen if k not in self._sources]
        if missing:
            tbl = SourceRow.__table__
            rows = []
            for city, sid in missing:
                d, lat, lon = where.get((city, sid), (None, None, None))
                rows.append(
                    {"city": city, "source_id": sid, "district": d, "lat": lat, "lon": lon, "registered": False}
                )
            ins = insert_for(conn, tbl).on_conflict_do_nothing(index_elements=[tbl.c.city, tbl.c.source_id])
            conn.execute(ins, rows)
            found = conn.execute(
                select(tbl.c.id, tbl.c.city, tbl.c.source_id, tbl.c.district, tbl.c.lat, tbl.c.lon, tbl.c.first_seen_ms)
                .where(tuple_(tbl.c.city, tbl.c.source_id).in_(missing))
            ).all()
            first_seen = []
            for pk, city, sid, d, lat, lon, first in found:
                pending[(city, sid)] = [pk, d, lat, lon]
                if first is None:  # never heard from before (new, or listed in the profile but silent so far)
                    result.sources_new.append((city, sid))
                    first_seen.append({"pk": pk, "ms": seen[(city, sid)]})
            if first_seen:
                conn.execute(
                    SourceRow.__table__.update()
                    .where(SourceRow.id == bindparam("pk"), SourceRow.first_seen_ms.is_(None))
                    .values(first_seen_ms=bindparam("ms")),
                    first_seen,
                )
        moved = []
        for key, (d, lat, lon) in where.items():
            info = self._source(key, pending)
            if info is not None and (d is not None and d != info[1] or lat is not None and (lat, lon) != (info[2], info[3])):
                nd = d if d is not None else info[1]
                nlat, nlon = (lat, lon) if lat is not None else (info[2], info[3])
                moved.append({"pk": info[0], "d": nd, "lat": nlat, "lon": nlon})
                pending[key] = [info[0], nd, nlat, nlon]
        if moved:
            conn.execute(
                SourceRow.__table__.update()
                .where(SourceRow.id == bindparam("pk"))
                .values(district=bindparam("d"), lat=bindparam("lat"), lon=bindparam("lon")),
                moved,
            )
        if seen:
            self._bulk.touch_sources(conn, [(self._source(k, pending)[0], ms) for k, ms in seen.items()])

    def _store_readings(
        self,
        conn: Connection,
        readings: list[Item],
        pending_sources: dict,
        pending_series: dict,
        pending_metrics: set,
        result: WriteResult,
    ) -> None:
        series = self._series
        missing_series: dict[tuple[int, str], str | None] = {}
        pks = []
        for it in readings:
            p = it.parsed
            pk = self._source((p.city, p.source_id), pending_sources)[0]
            pks.append(pk)
            for pt in p.points:
                k = (pk, pt.metric)
                if k not in series and k not in missing_series:
                    missing_series[k] = pt.unit
        if missing_series:
            new_metrics = {m: u for (_, m), u in missing_series.items() if m not in self._metrics}
            if new_metrics:
                mt = MetricRow.__table__
                now = int(time.time() * 1000)
                conn.execute(
                    insert_for(conn, mt).on_conflict_do_nothing(index_elements=[mt.c.metric]),
                    [{"metric": m, "unit": u, "registered": False, "first_seen_ms": now} for m, u in new_metrics.items()],
                )
                pending_metrics.update(new_metrics)
            st = SeriesRow.__table__
            keys = list(missing_series)
            conn.execute(
                insert_for(conn, st).on_conflict_do_nothing(index_elements=[st.c.source_pk, st.c.metric]),
                [{"source_pk": pk, "metric": m} for pk, m in keys],
            )
            for sid, pk, m in conn.execute(
                select(st.c.id, st.c.source_pk, st.c.metric).where(tuple_(st.c.source_pk, st.c.metric).in_(keys))
            ):
                pending_series[(pk, m)] = sid
        rows = []
        by_source = result.readings_by_source
        for it, pk in zip(readings, pks):
            p = it.parsed
            for pt in p.points:
                k = (pk, pt.metric)
                sid = series.get(k) or pending_series[k]
                rows.append((sid, pt.ts_ms, pt.value))
            key = (p.city, p.source_id)
            by_source[key] = by_source.get(key, 0) + len(p.points)
        inserted = self._bulk.store(conn, rows)
        result.points_stored = inserted
        result.points_duplicate = len(rows) - inserted

    def _apply_statuses(self, conn: Connection, statuses: list[SourceStatus], pending: dict, result: WriteResult) -> None:
        rows = []
        for s in statuses:
            rows.append(
                {"pk": self._source((s.city, s.source_id), pending)[0], "st": "online" if s.online else "offline", "ms": s.ts_ms}
            )
            result.status_changes.append((s.city, s.source_id, s.online))
        conn.execute(
            SourceRow.__table__.update()
            .where(SourceRow.id == bindparam("pk"))
            .where((SourceRow.status_ms.is_(None)) | (SourceRow.status_ms <= bindparam("ms")))
            .values(status=bindparam("st"), status_ms=bindparam("ms")),
            rows,
        )

    def _sla_for_service(self, service: str) -> int | None:
        svc = self._profile.service(service)
        return svc.sla_minutes if svc else None

    def _quarantine(self, conn: Connection, refusals: list[Refusal]) -> None:
        keep = self._settings.quarantine_payload_bytes
        conn.execute(
            QuarantineRow.__table__.insert(),
            [
                {
                    "received_ms": r.item.received_ms,
                    "city": r.rejected.city,
                    "target": r.rejected.target,
                    "topic": r.item.topic[:512],
                    "reason": r.rejected.reason,
                    "detail": r.rejected.detail[:4000],
                    "payload": bytes(r.item.payload[:keep]),
                    "payload_size": len(r.item.payload),
                }
                for r in refusals
            ],
        )

    def _count(self, conn: Connection, items: Sequence[Item], refusals: list[Refusal]) -> None:
        counts: dict[tuple[str, int], list[int]] = {}
        refused_ids = {id(r.item) for r in refusals if r.rejected.reason != "partial"}
        for it in items:
            city = _city_target(it.parsed)[0] or UNKNOWN_CITY
            c = counts.setdefault((city, it.received_ms // 60_000 * 60), [0, 0, 0])
            c[0] += 1
            if id(it) in refused_ids:
                c[2] += 1
            else:
                c[1] += 1
        tbl = IngestMinuteRow.__table__
        stmt = insert_for(conn, tbl)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[tbl.c.city, tbl.c.bucket],
                set_={
                    "received": tbl.c.received + stmt.excluded.received,
                    "stored": tbl.c.stored + stmt.excluded.stored,
                    "quarantined": tbl.c.quarantined + stmt.excluded.quarantined,
                },
            ),
            [{"city": c, "bucket": b, "received": v[0], "stored": v[1], "quarantined": v[2]} for (c, b), v in counts.items()],
        )


def _city_target(p: Parsed) -> tuple[str | None, str | None]:
    if isinstance(p, Rejected):
        return p.city, p.target
    if isinstance(p, TicketEvent):
        return p.city, p.agency
    return p.city, p.source_id


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
