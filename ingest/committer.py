"""Where a batch is parsed and committed, and what follows each commit, in this process or a writer process.

The path of one batch, top to bottom:

1. parse each raw message (ingest.parser);
2. commit the batch in one transaction, retried and bisected (ingest.writer);
3. post-commit: the threshold and rate alarm rules over its readings, in a
   transaction of their own (`ReadingAlarms`);
4. the consumer acknowledges, answers refusals and publishes the change
   notices (ingest.consumer, ingest.notices);
5. between batches: retention and planner statistics (`Retention`).

The consumer hands over raw messages `(topic, payload, received_ms)` and gets
back the WriteResult once they are committed. In production the work runs in
a child process (`ProcessCommitter`): paho's network loop in the consumer and
the parse-and-commit work each then hold a core, instead of sharing one
interpreter lock (measured: a single process stays near 6k msg/s on the
2-core reference machine, see bench/ingest.py). `InlineCommitter` does the
same in-process, for tests and debugging.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import signal
import threading
import time
import traceback
from collections.abc import Sequence
from multiprocessing.connection import Connection as Pipe
from multiprocessing.synchronize import Event as MpEvent
from typing import Any, Protocol, cast

from sqlalchemy import Engine

from app.alarms.reading_rules import Observed, evaluate_readings
from app.alarms.rulebook import RuleBook
from app.alarms.store import Change
from app.open311.store import erase_past_retention
from app.profile import load_deployment
from app.settings import Settings
from app.storage.engine import engine_from_settings
from app.storage.maintenance import optimize
from app.storage.retention import prune
from ingest.feedback import advise
from ingest.messages import Reading
from ingest.parser import ParseRules, parse
from ingest.traffic import TRAFFIC
from ingest.writer import TRANSIENT, BatchWriter, Item, Stopped, WriteResult, short

log = logging.getLogger(__name__)

Raw = tuple[str, bytes, int]  # topic, payload, received_ms


class WriterCrashed(RuntimeError):
    """The writer failed in a way retrying cannot fix; nothing of the batch was acknowledged."""


class Committer(Protocol):
    def commit(self, raw: list[Raw], stop: threading.Event) -> WriteResult:
        """Parse and commit `raw`; raise Stopped if `stop` is set while the database is unavailable."""

    def close(self) -> None: ...


class ReadingAlarms:
    """Post-commit step: threshold and rate rules over a committed batch's readings, in a transaction after the batch's own.

    The readings are committed whatever happens here. A failure is logged and
    costs nothing lasting: rule state is levels, not edges, so the next
    reading of the same source raises or clears what this batch would have.
    """

    def __init__(self, writer: BatchWriter) -> None:
        self._writer = writer
        self._book = RuleBook(writer.settings.alarm_rules_refresh_s)

    def __call__(self, items: Sequence[Item]) -> list[Change]:
        """The alarm transitions the batch's readings caused, committed; [] when none or on failure."""
        try:
            conn = self._writer.connection()
            now_ms = int(time.time() * 1000)
            observed: dict[str, list[Observed]] = {}  # city -> its messages' points
            cities: dict[str, bool] = {}  # city -> has reading rules
            with conn.begin():
                for it in items:
                    p = it.parsed
                    if type(p) is not Reading:
                        continue
                    ruled = cities.get(p.city)
                    if ruled is None:
                        rules = self._book.get(conn, p.city, now_ms)
                        ruled = cities[p.city] = bool(rules.threshold or rules.rate)
                    if ruled:
                        observed.setdefault(p.city, []).append((p.city, p.source_id, p.points))
                changes: list[Change] = []
                for city, obs in observed.items():  # each city's alarms told with its own profile
                    life = self._writer.life_of(city)
                    changes += evaluate_readings(conn, book=self._book, life=life, observed=obs, now_ms=now_ms)
                return changes
        except Exception as exc:
            self._writer.drop_connection()
            log.error(
                "alarm evaluation skipped for %d messages: %s",
                len(items),
                short(exc),
                exc_info=not isinstance(exc, TRANSIENT),
            )
            return []


class Retention:
    """Between batches: prune what is past retention and refresh planner statistics, at most once per retention interval."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._engine, self._settings = engine, settings
        self._next_prune = 0.0

    def __call__(self) -> None:
        """Take the turn when it is due; a failure waits for the next turn."""
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
                ahead_days=s.partition_ahead_days,
            )
            # Citizen services (issue 14): an Open311 request's personal data past its retention.
            erased = erase_past_retention(
                engine=self._engine, days=s.open311_personal_data_days, now_ms=int(now * 1000)
            )
        except TRANSIENT as exc:
            log.warning("pruning skipped: %s", short(exc))
            return
        if erased:
            log.info("erased the personal data of %d Open311 requests past retention", erased)
        if pruned.readings or pruned.rollup_1m or pruned.rollup_1h:
            log.info(
                "pruned %d readings, %d minute and %d hour rollups past retention",
                pruned.readings,
                pruned.rollup_1m,
                pruned.rollup_1h,
            )


class WritePath:
    """One writer's work on a batch: the transaction (ingest.writer), then the post-commit steps of this module."""

    def __init__(self, writer: BatchWriter) -> None:
        self.writer = writer
        self._reading_alarms = ReadingAlarms(writer)
        self._retention = Retention(writer.engine, writer.settings)

    def write(self, items: Sequence[Item], stop: threading.Event | MpEvent | None = None) -> WriteResult:
        """Commit `items`, then evaluate the reading alarms over them; raise Stopped as BatchWriter.write does."""
        result = self.writer.write(items, stop=stop)
        result.alarm_changes += self._reading_alarms(items)  # after the warnings the batch itself raised
        return result

    def maintain(self) -> None:
        """Retention's turn: between batches, never between a commit and its acks."""
        self._retention()

    def close(self) -> None:
        self.writer.close()


def parse_and_write(path: WritePath, rules: ParseRules, raw: list[Raw], stop: threading.Event | MpEvent) -> WriteResult:
    """Parse `raw` and take it down the write path."""
    items = [Item(t, p, r, parse(t, p, r, rules)) for t, p, r in raw]
    result = path.write(items, stop=stop)
    result.warnings = advise(items, result, rules)  # what was accepted but is probably a mistake
    TRAFFIC.record(path.writer, items, result.warnings)  # per source and hour, for the integrator health page
    return result


class InlineCommitter:
    """Parse and commit in the calling thread."""

    def __init__(self, writer: BatchWriter, rules: ParseRules) -> None:
        self._path, self._rules = WritePath(writer), rules

    def commit(self, raw: list[Raw], stop: threading.Event) -> WriteResult:
        # Retention before the new batch, never between a commit and its acks.
        self._path.maintain()
        return parse_and_write(self._path, self._rules, raw, stop)

    def close(self) -> None:
        self._path.close()


class ProcessCommitter:
    """Parse and commit in a child process; one batch in flight at a time."""

    def __init__(self, settings: Settings) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._give_up = ctx.Event()
        self._proc = ctx.Process(
            target=_serve,
            args=(child, self._give_up, settings.model_dump(), logging.getLogger().level),
            name="satupintu-writer",
            daemon=True,
        )
        self._proc.start()
        child.close()

    def commit(self, raw: list[Raw], stop: threading.Event) -> WriteResult:
        try:
            self._conn.send(raw)
            while not self._conn.poll(0.1):
                if stop.is_set():
                    self._give_up.set()  # only heeded while the database is unavailable
                if not self._proc.is_alive():
                    raise WriterCrashed(f"the writer process exited with {self._proc.exitcode}")
            kind, value = self._conn.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError) as exc:
            raise WriterCrashed(f"lost the writer process: {exc}") from exc
        if kind == "ok":
            return cast(WriteResult, value)
        if kind == "stopped":
            raise Stopped
        raise WriterCrashed(value)

    def close(self) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            self._conn.send(None)
        self._proc.join(timeout=30)
        if self._proc.is_alive():
            log.warning("the writer process did not exit; terminating it")
            self._proc.terminate()
            self._proc.join(timeout=5)


def _serve(conn: Pipe, give_up: MpEvent, settings_data: dict[str, Any], log_level: int) -> None:
    """The writer process: receive raw batches, parse, commit, answer."""
    logging.basicConfig(level=log_level or logging.INFO, format="%(asctime)s writer %(levelname)s %(message)s")
    # The parent decides when to stop (it closes the pipe); a terminal's Ctrl-C reaches the
    # whole process group and must not interrupt a commit half way.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    settings = Settings(**settings_data)
    deployment = load_deployment(settings.profile)  # every city of the deployment, each with its own profile
    path = WritePath(BatchWriter(engine_from_settings(settings), deployment, settings))
    rules = ParseRules.from_deployment(deployment, settings)
    try:
        while True:
            try:
                raw = conn.recv()
            except EOFError:
                break  # the consumer is gone: whatever it did not ack, the broker redelivers
            if raw is None:
                break
            try:
                result = parse_and_write(path, rules, raw, give_up)
            except Stopped:
                conn.send(("stopped", None))
                continue
            except Exception:  # noqa: BLE001 - reported to the consumer, which exits without acking
                conn.send(("error", traceback.format_exc()))
                break
            for r in result.refusals:
                r.item.payload = b""  # stored in quarantine already; the notice does not carry it
            conn.send(("ok", result))
            path.maintain()  # retention while the consumer acks: it never delays an acknowledgement
    except (BrokenPipeError, OSError):
        pass
    finally:
        path.close()
