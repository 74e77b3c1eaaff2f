"""The batch writer: one transaction per batch of parsed messages, retried and bisected.

In one transaction it registers unknown sources, metrics and series
(ingest.registry), stores new readings with their rollups (ingest.bulk),
applies ticket events (ingest.ticket_events) and status words, quarantines what
was refused and counts what came in; the statements live with their tables
(app.<domain>.store). A batch the database cannot take right now is retried
with back-off; a batch the database refuses for its content is split until
the one message at fault is found and quarantined. What follows a commit
(reading alarms, retention) is ingest.committer's.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event as MpEvent
from typing import TYPE_CHECKING, cast

from sqlalchemy import Connection, Engine, exc as sa_exc

from app.alarms.store import Change, Lifecycle
from app.alerts.relevance import assess
from app.alerts.store import Incoming, reconcile_warnings, store_alert
from app.overview.store import Counts, add_ingest_counts
from app.profile import Deployment, Profile
from app.quarantine.store import Refused, quarantine
from app.seed import sync_profile
from app.settings import Settings
from app.sources.store import Place, SourceKey, StatusWord, set_status
from ingest.bulk import bulk_for
from ingest.messages import Alert, Parsed, Reading, Rejected, SourceStatus, TicketEvent
from ingest.registry import Pending, Registry
from ingest.ticket_events import apply_ticket_events

if TYPE_CHECKING:
    from ingest.feedback import Advice

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
    alerts_stored: list[tuple[str, int]] = field(default_factory=list)  # (city, alert id) new in the batch
    warnings: list[Advice] = field(default_factory=list)  # of accepted messages, set by the committer

    def merge(self, other: WriteResult) -> None:
        """Add the counts and changes of `other` (the other half of a split batch)."""
        self.messages += other.messages
        self.points_stored += other.points_stored
        self.points_duplicate += other.points_duplicate
        self.ticket_events_stored += other.ticket_events_stored
        self.tickets_changed += other.tickets_changed
        self.sources_new += other.sources_new
        self.status_changes += other.status_changes
        self.refusals += other.refusals
        self.alarm_changes += other.alarm_changes
        self.alerts_stored += other.alerts_stored
        for k, v in other.readings_by_source.items():
            self.readings_by_source[k] = self.readings_by_source.get(k, 0) + v


class Stopped(Exception):
    """The writer was asked to stop while the database was unavailable; nothing was committed."""


# Errors that say "not now" (connection lost, database locked): retry the batch.
TRANSIENT = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError, sa_exc.TimeoutError)
# Errors that say "not this data": find the message at fault.
POISON = (sa_exc.IntegrityError, sa_exc.DataError)


class BatchWriter:
    """Writes batches for one ingestor; owns one database connection and the id registry.

    It serves every city of its deployment (a profile, or a Deployment of several): each message is
    judged with its own city's profile (SLAs, calendar, outline, alarm texts).
    """

    def __init__(self, engine: Engine, profile: Profile | Deployment, settings: Settings) -> None:
        self.engine = engine
        self.deployment = profile if isinstance(profile, Deployment) else Deployment(cities=(profile,))
        self.profile = self.deployment.home
        self.settings = settings
        self._bulk = bulk_for(engine.dialect.name)
        self._conn: Connection | None = None
        self._ids = Registry()
        # warning alarms, raised with their alert: each city's transitions speak of its own profile
        self._lives = {p.city.id: Lifecycle(p, settings.alarm_webhooks) for p in self.deployment.cities}
        self.on_retry: Callable[[Exception, float], None] | None = None

    def profile_of(self, city: str) -> Profile:
        """The profile of `city`; the home city's for one the deployment does not serve (the parser refuses those)."""
        return self.deployment.get(city) or self.profile

    def life_of(self, city: str) -> Lifecycle:
        """The alarm transitions of `city`, told with its own profile."""
        return self._lives.get(city) or self._lives[self.profile.city.id]

    # --- connection -------------------------------------------------------

    def connection(self) -> Connection:
        """The writer's connection (SQLite: BEGIN IMMEDIATE), opened and the profile synced when needed."""
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self.drop_connection()
            conn = self.engine.connect()
            if conn.dialect.name == "sqlite":
                conn = conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                for profile in self.deployment.cities:
                    sync_profile(conn=conn, profile=profile)
            self._conn = conn
        return self._conn

    def drop_connection(self) -> None:
        """Close the connection after a failure, and forget the ids learned through it."""
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                log.debug("closing a broken connection failed", exc_info=True)
            self._conn = None
        # A rolled-back registration may have left ids in no table: forget them.
        self._ids.forget()

    def close(self) -> None:
        self.drop_connection()

    # --- retry and bisection ------------------------------------------------

    def write(self, items: Sequence[Item], stop: threading.Event | MpEvent | None = None) -> WriteResult:
        """Commit `items`, retrying while the database is unavailable; raise Stopped if asked to stop first."""
        delay = self.settings.ingest_retry_initial_s
        while True:
            try:
                return self._write_or_split(items)
            except TRANSIENT as exc:
                self.drop_connection()
                if self.on_retry:
                    self.on_retry(exc, delay)
                log.warning("database unavailable (%s); retrying %d messages in %.1fs", short(exc), len(items), delay)
                if stop is not None and stop.wait(delay):
                    raise Stopped from exc
                if stop is None:
                    time.sleep(delay)
                delay = min(delay * 2, self.settings.ingest_retry_max_s)

    def _write_or_split(self, items: Sequence[Item]) -> WriteResult:
        try:
            return self._write_once(items)
        except POISON as exc:
            self.drop_connection()
            if len(items) == 1:
                it = items[0]
                rej = Rejected("storage", f"database refused it: {short(exc)}", *_city_target(it.parsed))
                log.error("quarantining a message the database refused: %s", short(exc))
                return self._write_once([Item(it.topic, it.payload, it.received_ms, rej)])
            mid = len(items) // 2
            result = self._write_or_split(items[:mid])
            result.merge(self._write_or_split(items[mid:]))
            return result

    # --- one transaction --------------------------------------------------

    def _write_once(self, items: Sequence[Item]) -> WriteResult:
        conn = self.connection()
        pending = Pending()
        result = WriteResult(messages=len(items))
        readings: list[tuple[Item, Reading]] = []
        tickets: list[TicketEvent] = []
        statuses: list[SourceStatus] = []
        alerts: list[Alert] = []
        refusals = result.refusals
        for it in items:
            p = it.parsed
            if type(p) is Reading:
                readings.append((it, p))
                if p.refused:
                    refusals.append(Refusal(it, Rejected("partial", "; ".join(p.refused), p.city, p.source_id)))
            elif type(p) is TicketEvent:
                tickets.append(p)
            elif type(p) is SourceStatus:
                statuses.append(p)
            elif type(p) is Alert:
                alerts.append(p)
            else:
                refusals.append(Refusal(it, cast(Rejected, p)))
        with conn.begin():
            if readings or statuses:
                self._see_sources(conn, readings, statuses, pending, result)
            if readings:
                self._store_readings(conn, readings, pending, result)
            if statuses:
                self._apply_statuses(conn, statuses, pending, result)
            if tickets:
                stored, changed = apply_ticket_events(conn, tickets, self.profile_of)
                result.ticket_events_stored += stored
                result.tickets_changed += changed
            if alerts:
                self._store_alerts(conn, alerts, result)
            if refusals:
                quarantine(
                    conn=conn,
                    refused=[
                        Refused(
                            received_ms=r.item.received_ms,
                            city=r.rejected.city,
                            target=r.rejected.target,
                            topic=r.item.topic,
                            reason=r.rejected.reason,
                            detail=r.rejected.detail,
                            payload=r.item.payload,
                        )
                        for r in refusals
                    ],
                    payload_bytes=self.settings.quarantine_payload_bytes,
                )
            add_ingest_counts(conn=conn, counts=_counts(items, refusals))
        self._ids.keep(pending)
        return result

    def _pk(self, key: SourceKey, pending: Pending) -> int:
        ref = self._ids.source(key, pending)
        if ref is None:  # see_sources registered every source of the batch
            raise RuntimeError(f"source {key} was not registered before its readings")
        return ref.pk

    def _see_sources(
        self,
        conn: Connection,
        readings: list[tuple[Item, Reading]],
        statuses: list[SourceStatus],
        pending: Pending,
        result: WriteResult,
    ) -> None:
        seen: dict[SourceKey, int] = {}
        where: dict[SourceKey, Place] = {}
        for it, p in readings:
            key = (p.city, p.source_id)
            if seen.get(key, 0) < it.received_ms:
                seen[key] = it.received_ms
            if p.district is not None or p.lat is not None:
                where[key] = Place(p.district, p.lat, p.lon)
        for s in statuses:
            key = (s.city, s.source_id)
            if seen.get(key, 0) < s.ts_ms:
                seen[key] = s.ts_ms
        result.sources_new += self._ids.see_sources(conn, pending, seen, where)
        if seen:
            self._bulk.touch_sources(conn, [(self._pk(k, pending), ms) for k, ms in seen.items()])

    def _store_readings(
        self, conn: Connection, readings: list[tuple[Item, Reading]], pending: Pending, result: WriteResult
    ) -> None:
        by_pk = [(self._pk((p.city, p.source_id), pending), p) for _, p in readings]
        rows = self._ids.series_rows(conn, pending, by_pk)
        by_source = result.readings_by_source
        for _, p in readings:
            key = (p.city, p.source_id)
            by_source[key] = by_source.get(key, 0) + len(p.points)
        inserted = self._bulk.store(conn, rows)
        result.points_stored = inserted
        result.points_duplicate = len(rows) - inserted

    def _apply_statuses(
        self, conn: Connection, statuses: list[SourceStatus], pending: Pending, result: WriteResult
    ) -> None:
        words = []
        for s in statuses:
            words.append(
                StatusWord(self._pk((s.city, s.source_id), pending), "online" if s.online else "offline", s.ts_ms)
            )
            result.status_changes.append((s.city, s.source_id, s.online))
        set_status(conn=conn, words=words)

    def _store_alerts(self, conn: Connection, alerts: list[Alert], result: WriteResult) -> None:
        """Store each new alert with its relevance, then bring the warning alarms in line, in the batch's transaction.

        The alarm commits with its alert or not at all: a warning is never stored without its alarm.
        """
        for a in alerts:
            incoming = Incoming(
                a.city, a.publisher, a.doc, a.xml, a.received_ms, assess(a.doc, self.profile_of(a.city))
            )
            alert_id = store_alert(conn=conn, alert=incoming)
            if alert_id is not None:
                result.alerts_stored.append((a.city, alert_id))
        if result.alerts_stored:
            now_ms = int(time.time() * 1000)
            for city in sorted({c for c, _ in result.alerts_stored}):
                result.alarm_changes += reconcile_warnings(
                    conn=conn,
                    life=self.life_of(city),
                    city=city,
                    now_ms=now_ms,
                    quake_hold_ms=self.settings.alert_quake_hold_s * 1000,
                )


def _counts(items: Sequence[Item], refusals: list[Refusal]) -> dict[tuple[str, int], Counts]:
    """Messages received, stored and quarantined per (city, minute start); a partial refusal counts as stored."""
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
    return {k: Counts(*v) for k, v in counts.items()}


def _city_target(p: Parsed) -> tuple[str | None, str | None]:
    if isinstance(p, Rejected):
        return p.city, p.target
    if isinstance(p, TicketEvent):
        return p.city, p.agency
    if isinstance(p, Alert):
        return p.city, p.publisher
    return p.city, p.source_id


def short(exc: BaseException) -> str:
    """The first line of a database error, for a log line."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
