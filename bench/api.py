"""API benchmark: p50/p95/p99 latency and requests/s of each read route under concurrent load, on a full-size city.

    .venv/bin/python bench/api.py [--db sqlite,postgresql] [--readings 10000000] [--tickets 200000] [--reuse]

Per database kind:

1. Fill a fresh database (SQLite file in a temp dir; PostgreSQL database
   `satupintu_apibench` on SATUPINTU_BENCH_PG_URL) migrated to head: the
   Morotai profile's sources plus synthetic ones up to --sources (default 500)
   over the six districts, --readings readings over the last --days (default
   30) ending now with values from simple physical models (tides, storms,
   rivers, the day's heat and traffic), and --tickets service tickets with
   their lifecycles. Readings go through the ingestor's own BatchWriter in
   batches of 10,000 messages, in time order, as an ingestor would have
   received them: it registers sources and series and fills the per-minute and
   per-hour rollups, the latest values and the ingest counts in the same
   transactions (measured at 200k and 2M readings: 55-65k readings/s, about 3
   minutes for 10M). `--loader bulk` sends only each source's first and last
   message through BatchWriter and the rest series by series through the same
   set-based SQL (ingest.bulk), 1.5-2.5x faster, the same result. Tickets are
   inserted with their events, each ticket row derived from its events by
   app.tickets.lifecycle, the rule the ingestor applies. PostgreSQL is then VACUUM ANALYZEd (what autovacuum
   would do); SQLite is left as the ingestor leaves it (no ANALYZE).
2. Serve the real app (bench/_api_app.py: create_app plus a trivial route)
   with uvicorn in a child process, one worker, as `satupintu web` runs it.
3. Load each route: first one client alone for 2 s (the unloaded latency),
   then --clients concurrent asyncio workers (closed loop: each sends its next
   request when the last is answered; keep-alive; a viewer token; uvloop and a
   minimal HTTP/1.1 client, see HttpConn) for a warm-up and --seconds. Print
   per route p50/p95/p99, requests/s, the ratio to the trivial route, a
   latency histogram, the CPU the server and the load client used, and
   whether the issue's goals are met (p95 < 50 ms for overview, latest, the
   24-hour 1-minute series and service status; the series routes at least
   30% of the trivial route's requests/s).

`--reuse` keeps the filled databases (under the system temp dir and as
`satupintu_apibench`) and uses them again on the next `--reuse` run with the
same sizes, migrated to head first; time windows are then taken relative to
the data's end.
Before filling and before measuring, the benchmark waits while
`bench/ingest.py` runs (the machine has two cores).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import heapq
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil
import uvloop
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text
from sqlalchemy import Engine, create_engine, event, func, insert, select, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.auth.tokens import create_token
from app.profile import load_profile
from app.services.rollup import TICKET_COLUMNS, Delta
from app.settings import Settings
from app.storage.engine import make_engine
from app.storage.migrate import upgrade
from app.storage.models import IngestMinuteRow, TicketDayHistRow, TicketDayRow, TicketEventRow, TicketRow
from app.tickets.lifecycle import derive_ticket
from ingest.bulk import bulk_for
from ingest.committer import WritePath
from ingest.messages import Point, Reading
from ingest.simulator import (
    M2_PERIOD_S,
    TAU,
    clamp,
    district_weights,
    diurnal,
    draw_place,
    draw_priority,
    draw_title,
    is_emergency,
    service_weights,
    synthetic_sources,
)
from ingest.writer import BatchWriter, Item
from satupintu.broker import free_port, start_broker

console = Console(width=None if sys.stdout.isatty() else 200)
PROFILE = load_profile("morotai")
CITY = PROFILE.city.id
TZ_S = 9 * 3600  # Asia/Jayapura, no DST
DAY_MS = 86_400_000
HOUR_S = 3600
PG_DB = "satupintu_apibench"
META = "apibench_meta"  # the benchmark's own note in its database: what was filled, when, how fast
SPARK = "▁▂▃▄▅▆▇█"
GOAL_P95_MS = 50.0
GOAL_RATIO = 0.30


# ----------------------------------------------------------------------------- the synthetic city


@dataclass(slots=True)
class Src:
    """One source: where it is, what it reports, and how its messages are spaced over the period."""

    sid: str
    kind: str
    district: str
    di: int
    lat: float
    lon: float
    metrics: tuple[str, ...]
    interval_s: int
    registered: bool
    count: int = 0  # messages over the period
    step_ms: float = 0.0
    phase_ms: float = 0.0
    base: float = 0.0  # per-kind level (river base, PM2.5 background, lamp wattage, ...)
    ph: float = 0.0  # phase of its cycles
    period_s: float = 1.0  # bin emptying cycle
    cap: int = 0  # beds
    broken: bool = False  # a street light that stays dark

    def ts(self, k: int, start_ms: int) -> int:
        # Evenly spaced with a deterministic jitter of +-15% of a step: strictly increasing, inside the period.
        jitter = ((k * 2654435761 + len(self.sid) * 40503) % 1000 / 1000 - 0.5) * 0.3
        return start_ms + int(self.phase_ms + (k + jitter) * self.step_ms)


def build_sources(n: int, rng: random.Random) -> list[Src]:
    """The profile's sources, then synthetic ones modelled on them, spread over the districts."""
    dix = {d.id: i for i, d in enumerate(PROFILE.districts)}
    out = []
    templates = PROFILE.sources
    for s in templates[:n]:
        iv = s.interval_s or min(PROFILE.metric(m).expected_interval_s for m in s.metrics)
        out.append(Src(s.id, s.kind, s.district, dix[s.district], s.lat, s.lon, tuple(s.metrics), iv, True))
    for x in synthetic_sources(PROFILE, n - len(out), rng):  # the simulator's own synthetic sources
        t = x.template
        iv = t.interval_s or min(PROFILE.metric(m).expected_interval_s for m in t.metrics)
        out.append(Src(x.id, t.kind, x.district.id, dix[x.district.id], x.lat, x.lon, tuple(t.metrics), iv, False))
    for s in out:
        s.ph = rng.uniform(0, TAU)
        s.base = {
            "water_level": rng.uniform(60, 140),
            "air_quality": rng.uniform(10, 24),
            "streetlight": rng.uniform(90, 250),
            "hospital": rng.uniform(55, 85),
        }.get(s.kind, 0.0)
        s.period_s = rng.uniform(1.0, 3.0) * 86400
        s.cap = rng.choice((10, 20, 40, 120))
        s.broken = rng.random() < 0.03
    return out


def plan_counts(sources: list[Src], readings: int, period_ms: int, rng: random.Random) -> int:
    """Space each source's messages so the total is ~`readings`: faster sources keep their relative pace."""
    nominal = sum(len(s.metrics) * period_ms / 1000 / s.interval_s for s in sources)
    f = readings / nominal
    for s in sources:
        s.count = max(2, round(period_ms / 1000 / s.interval_s * f))
        s.step_ms = period_ms / s.count
        s.phase_ms = rng.uniform(0.2, 0.8) * s.step_ms
    return sum(s.count * len(s.metrics) for s in sources)


class Weather:
    """Storms per district, by the hour: rain and how wet the catchment is (rain, lagged and draining).

    Not the live simulator's weather (ingest.simulator.model/physics): that one steps forward on a clock
    compressed 60x (~3 storms a simulated day, a linear reservoir per gauge, drawn as the stream runs);
    this one is drawn up front, by the real hour, with a storm every 2-4 days, so any reading of 30 days
    can be computed on its own (random access, in any order). What the two share, the daily cycle, the
    M2 tide period and the clamp, comes from ingest.simulator's public API.
    """

    def __init__(self, rng: random.Random, hours: int, districts: int) -> None:
        self.rain = [[0.0] * (hours + 2) for _ in range(districts)]
        self.wet = [[0.0] * (hours + 2) for _ in range(districts)]
        for di in range(districts):
            rain = self.rain[di]
            for _ in range(max(1, round(hours / 24 * rng.uniform(0.25, 0.45)))):  # a storm every 2-4 days
                start, dur = rng.uniform(0, hours), rng.uniform(2, 10)
                peak = rng.uniform(5, 45) if rng.random() < 0.85 else rng.uniform(50, 120)
                for h in range(int(start), min(hours + 1, int(start + dur) + 1)):
                    rain[h] += max(0.0, peak * math.sin(math.pi * (h - start) / dur))
            wet = self.wet[di]
            for h in range(1, hours + 2):
                wet[h] = wet[h - 1] * 0.85 + rain[h - 1] * 0.6


def value_models(w: Weather, rng: random.Random) -> dict[str, Callable[[Src, float, float, int], float]]:
    """metric -> f(source, epoch s, local hour, hour index): a plausible value."""
    g = rng.gauss
    rnd = rng.random

    def occ(s: Src, t: float) -> float:
        return s.base + 8 * math.sin(TAU * t / (7 * 86400) + s.ph)

    models: dict[str, Callable[[Src, float, float, int], float]] = {
        "water_level_cm": lambda s, t, hl, hi: (
            s.base + 12 * math.sin(TAU * t / M2_PERIOD_S + s.ph) + 0.7 * w.wet[s.di][hi] + g(0, 1.5)
        ),
        "rain_mm_h": lambda s, t, hl, hi: (
            w.rain[s.di][hi] * (0.7 + 0.6 * rnd()) if w.rain[s.di][hi] > 0 else (rnd() * 2 if rnd() < 0.03 else 0.0)
        ),
        "tide_cm": lambda s, t, hl, hi: (
            95 * math.sin(TAU * t / M2_PERIOD_S + s.ph) + 20 * math.sin(TAU * t / 1276128) + g(0, 3)
        ),
        "wave_height_m": lambda s, t, hl, hi: (
            0.7 + 0.25 * math.sin(TAU * t / 267840 + s.ph) + 0.02 * w.rain[s.di][hi] + g(0, 0.08)
        ),
        "pm25_ugm3": lambda s, t, hl, hi: s.base + 9 * diurnal(hl, 20) + g(0, 2.5),
        "pm10_ugm3": lambda s, t, hl, hi: 1.7 * (s.base + 9 * diurnal(hl, 20)) + g(0, 4),
        "air_temp_c": lambda s, t, hl, hi: 27.3 + 3.2 * diurnal(hl, 14) - 0.05 * w.rain[s.di][hi] + g(0, 0.3),
        "humidity_pct": lambda s, t, hl, hi: 80 - 11 * diurnal(hl, 14) + 0.2 * w.rain[s.di][hi] + g(0, 1.5),
        "wind_speed_ms": lambda s, t, hl, hi: 3.2 + 1.6 * diurnal(hl, 15) + 0.08 * w.rain[s.di][hi] + abs(g(0, 0.8)),
        "streetlight_on": lambda s, t, hl, hi: 1.0 if (hl >= 18.25 or hl < 6.0) and not s.broken else 0.0,
        "streetlight_power_w": lambda s, t, hl, hi: (
            s.base + g(0, 4) if (hl >= 18.25 or hl < 6.0) and not s.broken else abs(g(0, 0.5))
        ),
        "bin_fill_pct": lambda s, t, hl, hi: (t + s.ph * 1e5) % s.period_s / s.period_s * 105 + g(0, 1),
        "bed_occupancy_pct": lambda s, t, hl, hi: occ(s, t) + g(0, 2),
        "beds_available": lambda s, t, hl, hi: float(round(s.cap * (1 - occ(s, t) / 100))),
        "water_pressure_bar": lambda s, t, hl, hi: (
            2.7 - 0.5 * max(0.0, diurnal(hl, 7)) - 0.4 * max(0.0, diurnal(hl, 18)) + g(0, 0.06)
        ),
        "vehicle_count": lambda s, t, hl, hi: float(
            round(160 * max(0.0, diurnal(hl, 8)) ** 2 + 190 * max(0.0, diurnal(hl, 17)) ** 2 + 25 + g(0, 12))
        ),
        "battery_v": lambda s, t, hl, hi: 12.6 + 0.5 * max(0.0, diurnal(hl, 13)) + g(0, 0.05),
    }
    # Clamp to the catalogue's valid range (the ingestor would refuse anything outside it).
    clamped = {}
    for m, fn in models.items():
        lo, hi = PROFILE.metric(m).valid

        def f(s: Src, t: float, hl: float, hix: int, *, fn=fn, lo=lo, hi=hi) -> float:  # noqa: ANN001
            v = fn(s, t, hl, hix)
            return round(clamp(v, lo, hi), 2)

        clamped[m] = f
    return clamped


@dataclass
class City:
    """Everything the fill needs to generate the same city: sources, weather, values, the period."""

    sources: list[Src]
    start_ms: int
    end_ms: int
    readings: int
    models: dict[str, Callable[[Src, float, float, int], float]]

    def message(self, s: Src, k: int) -> tuple[int, tuple[float, ...]]:
        """The k-th message of a source: its time stamp and one value per metric."""
        ts = s.ts(k, self.start_ms)
        t = ts / 1000
        hl = (t + TZ_S) % 86400 / 3600
        hi = int((ts - self.start_ms) // 3_600_000)
        return ts, tuple(self.models[m](s, t, hl, hi) for m in s.metrics)


def make_city(n_sources: int, readings: int, days: float, end_ms: int, seed: int) -> City:
    rng = random.Random(seed)
    period_ms = int(days * DAY_MS)
    sources = build_sources(n_sources, rng)
    total = plan_counts(sources, readings, period_ms, rng)
    weather = Weather(rng, math.ceil(period_ms / 3_600_000), len(PROFILE.districts))
    return City(sources, end_ms - period_ms, end_ms, total, value_models(weather, rng))


def _delay_ms(k: int) -> int:
    """Network and broker delay between a reading's time stamp and its arrival (150-1,500 ms, deterministic)."""
    return 150 + (k * 7919) % 1350


# ----------------------------------------------------------------------------- progress


class RateColumn(ProgressColumn):
    """rows/s of a task."""

    def render(self, task) -> Text:  # noqa: ANN001
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} rows/s" if speed else "", style="progress.data.speed")


def _progress(rate: bool = True) -> Progress:
    cols = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    if rate:
        cols.append(RateColumn())
    cols += [TimeElapsedColumn(), TimeRemainingColumn()]
    return Progress(*cols, console=console, transient=False)


# ----------------------------------------------------------------------------- databases


def pg_admin_url() -> str:
    return os.environ.get("SATUPINTU_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def db_url(kind: str, workdir: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'apibench.db'}"
    return make_url(pg_admin_url()).set(database=PG_DB).render_as_string(hide_password=False)


def drop_database(kind: str, workdir: Path) -> None:
    if kind == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            (workdir / f"apibench.db{suffix}").unlink(missing_ok=True)
        return
    admin = create_engine(pg_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)"))
    admin.dispose()


def create_database(kind: str, workdir: Path) -> str:
    drop_database(kind, workdir)
    if kind == "postgresql":
        admin = create_engine(pg_admin_url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f"CREATE DATABASE {PG_DB}"))
        admin.dispose()
    url = db_url(kind, workdir)
    eng = make_engine(url)
    upgrade(eng)
    eng.dispose()
    return url


def read_meta(kind: str, workdir: Path) -> dict | None:
    """What a kept database was filled with, or None when there is none (or it was never finished)."""
    if kind == "sqlite" and not (workdir / "apibench.db").exists():
        return None
    try:
        eng = create_engine(db_url(kind, workdir))
        with eng.connect() as c:
            row = c.execute(text(f"SELECT value FROM {META} WHERE key = 'fill'")).first()
        eng.dispose()
    except Exception:  # noqa: BLE001 - no database, no table: nothing to reuse
        return None
    return json.loads(row[0]) if row else None


def write_meta(url: str, meta: dict) -> None:
    eng = create_engine(url)
    with eng.begin() as c:
        c.execute(text(f"CREATE TABLE IF NOT EXISTS {META} (key VARCHAR(32) PRIMARY KEY, value TEXT)"))
        c.execute(text(f"DELETE FROM {META} WHERE key = 'fill'"))
        c.execute(text(f"INSERT INTO {META} (key, value) VALUES ('fill', :v)"), {"v": json.dumps(meta)})
    eng.dispose()


def fill_engine(url: str) -> Engine:
    """The fill's own engine: the app's, with a bigger page cache for SQLite (this connection only)."""
    eng = make_engine(url)
    if eng.dialect.name == "sqlite":

        @event.listens_for(eng, "connect")
        def _cache(dbapi_conn, _record) -> None:  # noqa: ANN001 - the DB-API connection: untyped
            dbapi_conn.execute("PRAGMA cache_size=-262144")  # 256 MiB

    return eng


# ----------------------------------------------------------------------------- fill: readings


def _item(city: City, s: Src, k: int) -> Item:
    ts, values = city.message(s, k)
    pts = tuple(Point(m, ts, v) for m, v in zip(s.metrics, values, strict=False))
    reading = Reading(CITY, s.sid, pts, district=s.district, lat=s.lat, lon=s.lon)
    return Item(f"city/{CITY}/sensor/{s.sid}", b"", ts + _delay_ms(k), reading)


def fill_readings(url: str, city: City, loader: str) -> dict[str, float]:
    """Store the city's readings; returns phase -> seconds."""
    eng = fill_engine(url)
    writer = WritePath(BatchWriter(eng, PROFILE, Settings(database_url=url)))  # as the ingestor: reading alarms too
    times: dict[str, float] = {}
    try:
        with _progress() as prog:
            task = prog.add_task(f"readings ({loader})", total=city.readings)
            t0 = time.perf_counter()
            if loader == "writer":
                _fill_through_writer(writer, city, prog, task)
            else:
                _fill_bulk(eng, writer, city, prog, task)
            times["readings"] = time.perf_counter() - t0
    finally:
        writer.close()
        eng.dispose()
    return times


def _fill_through_writer(writer: WritePath, city: City, prog: Progress, task: int, batch: int = 10_000) -> None:
    """Every message through BatchWriter.write, in time order (as an ingestor would have seen them)."""
    heap = [(s.ts(0, city.start_ms), i, 0) for i, s in enumerate(city.sources)]
    heapq.heapify(heap)
    items: list[Item] = []
    done = 0
    while heap:
        _, i, k = heapq.heappop(heap)
        s = city.sources[i]
        items.append(_item(city, s, k))
        if k + 1 < s.count:
            heapq.heappush(heap, (s.ts(k + 1, city.start_ms), i, k + 1))
        if len(items) >= batch or not heap:
            writer.write(items)
            done += sum(len(it.parsed.points) for it in items)
            prog.update(task, completed=done)
            items = []


def _fill_bulk(eng: Engine, writer: WritePath, city: City, prog: Progress, task: int, *, batch: int = 250_000) -> None:
    """First and last message of each source through BatchWriter (registration, first/last seen); the rest with
    ingest.bulk's set-based SQL, series by series, which fills the rollups and latest values in the same statements."""
    srcs = city.sources
    writer.write([_item(city, s, 0) for s in srcs])
    done = sum(len(s.metrics) for s in srcs)
    prog.update(task, completed=done)
    bulk = bulk_for(eng.dialect.name)
    minutes: dict[int, int] = {}  # ingest_minute: messages received per minute, as the writer counts them
    with eng.connect() as plain:
        conn = plain.execution_options(sqlite_begin="IMMEDIATE") if plain.dialect.name == "sqlite" else plain
        with conn.begin():
            series = _series_ids(conn)
        rows: list[tuple[int, int, float]] = []

        def flush() -> None:
            nonlocal rows, done
            with conn.begin():
                bulk.store(conn, rows)
            done += len(rows)
            prog.update(task, completed=done)
            rows = []

        for s in srcs:
            ids = [series[(s.sid, m)] for m in s.metrics]
            per: list[list[tuple[int, int, float]]] = [[] for _ in ids]
            for k in range(1, s.count - 1):
                ts, values = city.message(s, k)
                for lst, sid, v in zip(per, ids, values, strict=False):
                    lst.append((sid, ts, v))
                b = (ts + _delay_ms(k)) // 60_000 * 60
                minutes[b] = minutes.get(b, 0) + 1
            for lst in per:  # series by series: key order, near-append inserts
                rows.extend(lst)
            if len(rows) >= batch:
                flush()
        if rows:
            flush()
        with conn.begin():
            _add_ingest_minutes(conn, minutes)
    writer.write([_item(city, s, s.count - 1) for s in srcs])
    prog.update(task, completed=done + sum(len(s.metrics) for s in srcs))


def _series_ids(conn) -> dict[tuple[str, str], int]:  # noqa: ANN001
    q = text(
        "SELECT so.source_id, se.metric, se.id FROM series se JOIN sources so ON so.id = se.source_pk WHERE so.city = :c"
    )
    return {(sid, m): pk for sid, m, pk in conn.execute(q, {"c": CITY})}


def _add_ingest_minutes(conn, minutes: dict[int, int]) -> None:  # noqa: ANN001
    """Fold per-minute message counts into ingest_minute (received = stored: nothing of this was quarantined)."""
    from app.storage.dialect import insert_for

    tbl = IngestMinuteRow.__table__
    stmt = insert_for(conn, tbl)
    stmt = stmt.on_conflict_do_update(
        index_elements=[tbl.c.city, tbl.c.bucket],
        set_={"received": tbl.c.received + stmt.excluded.received, "stored": tbl.c.stored + stmt.excluded.stored},
    )
    rows = [
        {"city": CITY, "bucket": b, "received": n, "stored": n, "quarantined": 0} for b, n in sorted(minutes.items())
    ]
    for i in range(0, len(rows), 5000):
        conn.execute(stmt, rows[i : i + 5000])


# ----------------------------------------------------------------------------- fill: tickets


_EVENT_COLS = [c.name for c in TicketEventRow.__table__.columns if c.name != "id"]
_TICKET_COLS = [c.name for c in TicketRow.__table__.columns]


def make_tickets(n: int, start_ms: int, end_ms: int, seed: int) -> Iterator[tuple[dict, list[dict]]]:
    """(ticket row, its events) for n tickets opened over [start, end), with lifecycles as the simulator's desks
    run them: resolution lognormal around 0.58 SLA (about 16% late), some cancelled, most closed after resolution,
    a few reopened; Open311 tickets (30% of non-emergency ones) know only open and closed and state a due time.
    Events after `end` have not happened yet, so recent tickets are still open."""
    rng = random.Random(seed + 1)
    services = list(PROFILE.services)
    svc_cum = _cumulative(service_weights(PROFILE))
    districts = list(PROFILE.districts)
    dist_cum = _cumulative(district_weights(PROFILE))
    agencies = {a.id: a for a in PROFILE.agencies}
    counters: dict[str, int] = {}
    opened_all = []
    for _ in range(n):
        while True:  # more tickets by day than at night (local time)
            t = rng.uniform(start_ms, end_ms)
            hl = ((t / 1000 + TZ_S) % 86400) / 3600
            if rng.random() < 0.35 + 0.65 * max(0.0, diurnal(hl, 13)):
                break
        opened_all.append(int(t))
    opened_all.sort()
    for pk, opened in enumerate(opened_all, start=1):
        svc = services[bisect.bisect(svc_cum, rng.random() * svc_cum[-1])]
        d = districts[bisect.bisect(dist_cum, rng.random() * dist_cum[-1])]
        agency = agencies[svc.agency]
        prefix = "".join(ch for ch in agency.short if ch.isalnum()).upper()
        counters[prefix] = counters.get(prefix, 0) + 1
        year = time.gmtime(opened / 1000 + TZ_S).tm_year
        tid = f"{prefix}-{year}-{counters[prefix]:06d}"
        priority = draw_priority(rng, svc.id)
        place = draw_place(rng, d)
        title = draw_title(rng, svc, place)
        lat = round(d.center.lat + rng.gauss(0, 0.02), 5)
        lon = round(d.center.lon + rng.gauss(0, 0.02), 5)
        sla_ms = (PROFILE.due_ms(svc.id, opened) or opened + DAY_MS) - opened  # minutes, or working days (issue 14)
        resolve = int(sla_ms * rng.lognormvariate(-0.55, 0.55))
        open311 = not is_emergency(agency.id) and rng.random() < 0.3
        steps: list[tuple[int, str]] = [(0, "open")]
        if open311:
            steps.append((resolve, "closed"))
        elif rng.random() < 0.06:
            steps.append((int(resolve * rng.uniform(0.03, 0.15)), "assigned"))
            steps.append((int(resolve * rng.uniform(0.2, 0.5)), "cancelled"))
        else:
            if rng.random() < 0.9:
                steps.append((int(resolve * rng.uniform(0.03, 0.15)), "assigned"))
            steps.append((int(resolve * rng.uniform(0.2, 0.5)), "in_progress"))
            steps.append((resolve, "resolved"))
            if rng.random() < 0.02:  # reopened: the fix did not hold
                again = resolve + int(sla_ms * rng.uniform(0.1, 1.0))
                resolve = again + int(sla_ms * rng.lognormvariate(-1.2, 0.5))
                steps += [(again, "open"), (again + (resolve - again) // 3, "in_progress"), (resolve, "resolved")]
            if rng.random() < 0.85:
                steps.append((resolve + int(sla_ms * rng.uniform(0.05, 0.25)), "closed"))
        events = []
        last = -1
        for dt, status in steps:
            ts = max(opened + dt, last + 1)
            if ts >= end_ms:
                break
            last = ts
            ev = dict.fromkeys(_EVENT_COLS)
            ev.update(
                ticket_pk=pk,
                status=status,
                ts_ms=ts,
                received_ms=ts + _delay_ms(pk + ts),
                agency=agency.id,
                service=svc.id,
                district=d.id,
            )
            if not open311:
                ev["priority"] = priority
            if status == "open" and dt == 0:
                ev.update(title=title, lat=lat, lon=lon)
                if open311:
                    ev.update(description=title, due_ms=opened + sla_ms)
            events.append(ev)
        row = dict.fromkeys(_TICKET_COLS)
        row.update(derive_ticket(events, PROFILE))  # the profile's SLAs and working-day calendar set the due times
        row.update(id=pk, city=CITY, ticket_id=tid)
        yield row, events


def _cumulative(weights: list[float]) -> list[float]:
    acc, out = 0.0, []
    for w in weights:
        acc += w
        out.append(acc)
    return out


def rebuild_ticket_rollup(eng: Engine) -> None:
    """The per-day ticket rollup rebuilt from every ticket (the rule app.services.rollup and migration 0005 apply)."""
    with eng.connect() as conn:
        n = conn.execute(select(func.count()).select_from(TicketRow.__table__)).scalar()
    cols = [TicketRow.__table__.c[c] for c in TICKET_COLUMNS]
    with _progress() as prog, eng.begin() as conn:
        task = prog.add_task("ticket rollup (rebuilt)", total=n)
        conn.execute(TicketDayRow.__table__.delete())
        conn.execute(TicketDayHistRow.__table__.delete())
        last, day = 0, Delta()
        while (
            rows := conn.execute(
                select(TicketRow.__table__.c.id, *cols)
                .where(TicketRow.__table__.c.id > last)
                .order_by("id")
                .limit(20_000)
            )
            .mappings()
            .all()
        ):
            for r in rows:
                day.add(r)
            day.write(conn)
            last = rows[-1]["id"]
            prog.advance(task, len(rows))


def fill_tickets(url: str, n: int, start_ms: int, end_ms: int, seed: int) -> tuple[float, int]:
    """Insert n tickets with their events (Core executemany); returns (seconds, events)."""
    eng = fill_engine(url)
    t0 = time.perf_counter()
    tickets, events, minutes = [], [], {}
    n_events = 0

    def flush(conn) -> None:  # noqa: ANN001
        nonlocal tickets, events
        conn.execute(insert(TicketRow.__table__), tickets)
        conn.execute(insert(TicketEventRow.__table__), events)
        day = Delta()  # the per-day rollup services/status reads, as the ingestor's writer keeps it
        for t in tickets:
            day.add(t)
        day.write(conn)
        tickets, events = [], []

    with _progress() as prog, eng.connect() as conn:
        task = prog.add_task("tickets", total=n)
        for i, (row, evs) in enumerate(make_tickets(n, start_ms, end_ms, seed), start=1):
            tickets.append(row)
            events += evs
            for e in evs:
                b = e["received_ms"] // 60_000 * 60
                minutes[b] = minutes.get(b, 0) + 1
            if len(tickets) >= 5000:
                n_events += len(events)
                with conn.begin():
                    flush(conn)
                prog.update(task, completed=i)
        n_events += len(events)
        with conn.begin():
            if tickets:
                flush(conn)
            _add_ingest_minutes(conn, minutes)
            if conn.dialect.name == "postgresql":  # ids were given: move the sequence past them
                conn.execute(
                    text("SELECT setval(pg_get_serial_sequence('tickets', 'id'), (SELECT max(id) FROM tickets))")
                )
        prog.update(task, completed=n)
    eng.dispose()
    return time.perf_counter() - t0, n_events


def settle(url: str) -> float:
    """PostgreSQL: VACUUM ANALYZE, as autovacuum would after a load. SQLite: checkpoint the WAL (no ANALYZE, as shipped)."""
    from bench.ingest import settle as settle_database  # the ingest benchmark's own step, timed here

    t0 = time.perf_counter()
    settle_database(url)
    return time.perf_counter() - t0


def fill(kind: str, workdir: Path, args: argparse.Namespace) -> tuple[str, dict]:
    """A filled database of `kind`, fresh or (with --reuse) kept from before; returns (url, meta)."""
    want = {
        "readings": args.readings,
        "tickets": args.tickets,
        "sources": args.sources,
        "days": args.days,
        "seed": args.seed,
    }
    if args.reuse:
        meta = read_meta(kind, workdir)
        if meta and all(meta.get(k) == v for k, v in want.items()):
            age = (time.time() * 1000 - meta["end_ms"]) / 60_000
            console.print(f"reusing the {kind} database filled before (data ends {age:,.0f} min ago)")
            eng = make_engine(db_url(kind, workdir))
            t0 = time.perf_counter()
            upgrade(
                eng
            )  # migrations added since the fill (with their backfills), as an upgrade in the field would run them
            if not meta.get("ticket_rollup"):  # filled before fill_tickets kept the per-day ticket rollup
                rebuild_ticket_rollup(eng)
                write_meta(db_url(kind, workdir), {**meta, "ticket_rollup": True})
            eng.dispose()
            console.print(f"migrated to head in {time.perf_counter() - t0:.1f} s")
            return db_url(kind, workdir), meta
    wait_for_other_benchmarks()
    url = create_database(kind, workdir)
    end_ms = int(time.time() * 1000)
    t_gen = time.perf_counter()
    city = make_city(args.sources, args.readings, args.days, end_ms, args.seed)
    console.print(
        f"{len(city.sources)} sources ({sum(s.registered for s in city.sources)} from the profile), "
        f"{sum(len(s.metrics) for s in city.sources)} series, {city.readings:,} readings over {args.days:g} days "
        f"(a reading every {_mean_step(city):.0f} s per series on average), {args.tickets:,} tickets"
    )
    t0 = time.perf_counter()
    times = fill_readings(url, city, args.loader)
    t_tickets, n_events = fill_tickets(url, args.tickets, city.start_ms, end_ms, args.seed)
    t_settle = settle(url)
    total = time.perf_counter() - t0
    meta = {
        **want,
        "end_ms": end_ms,
        "start_ms": city.start_ms,
        "readings_stored": city.readings,
        "events": n_events,
        "loader": args.loader,
        "t_readings": times["readings"],
        "t_tickets": t_tickets,
        "t_settle": t_settle,
        "t_total": total,
        "t_setup": t0 - t_gen,
        "ticket_rollup": True,
    }
    write_meta(url, meta)
    return url, meta


def _mean_step(city: City) -> float:
    n_series = sum(len(s.metrics) for s in city.sources)
    return (city.end_ms - city.start_ms) / 1000 * n_series / city.readings


def sizes(url: str) -> tuple[int, dict[str, int]]:
    """(database bytes, bytes per big table incl. its indexes)."""
    eng = create_engine(url)
    tables = ("readings", "rollup_1m", "rollup_1h", "series", "sources", "tickets", "ticket_events", "ingest_minute")
    out = {}
    with eng.connect() as c:
        if eng.dialect.name == "postgresql":
            total = int(c.execute(text("SELECT pg_database_size(current_database())")).scalar())
            for t in tables:
                out[t] = int(c.execute(text("SELECT pg_total_relation_size(:t)"), {"t": t}).scalar())
        else:
            path = Path(make_url(url).database)
            total = sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
            with contextlib.suppress(Exception):  # dbstat is a compile-time option
                for name, size in c.execute(text("SELECT name, sum(pgsize) FROM dbstat GROUP BY name")):
                    out[name] = int(size)
            # Fold each table's indexes into it.
            idx = {r[0]: r[1] for r in c.execute(text("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'"))}
            folded: dict[str, int] = {}
            for name, size in out.items():
                folded[idx.get(name, name)] = folded.get(idx.get(name, name), 0) + size
            out = {t: folded.get(t, 0) for t in tables}
    eng.dispose()
    return total, out


# ----------------------------------------------------------------------------- serve


@contextmanager
def serving(
    url: str, workdir: Path, mqtt_url: str | None = None, *, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen]]:
    """The app (bench/_api_app.py) under uvicorn, one worker, in a child process; ended however the block exits.

    `extra_env`: settings of the server's own (bench/province.py: the deployment's profiles, the cache's time).
    """
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SATUPINTU_")}
    env.update(SATUPINTU_DATABASE_URL=url, PYTHONUNBUFFERED="1")
    if mqtt_url:  # --live: the server's hub follows the ingestor's change notices
        env["SATUPINTU_MQTT_URL"] = mqtt_url
    if os.environ.get("SATUPINTU_API_CACHE_S") is not None:  # --cache-s: what the server's response cache keeps
        env["SATUPINTU_API_CACHE_S"] = os.environ["SATUPINTU_API_CACHE_S"]
    env.update(extra_env or {})
    log = workdir / "uvicorn.log"
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "--app-dir",  # the repository, not bench/: there bench/ingest.py would shadow the ingest package
        str(REPO),
        "bench._api_app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    with open(log, "ab") as out:  # the child has its own copy of the descriptor
        proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"the API exited early:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(base + "/bench/trivial", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"the API did not answer within 60 s; see {log}")
            time.sleep(0.2)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


@dataclass
class Feed:
    """--live: what the city sent while a route was measured."""

    mqtt_url: str
    notices: int = 0  # change notices seen on the broker (one per committed batch)
    stored: int = 0  # readings and ticket events the ingestor committed, from the notices


@contextmanager
def live_feed(url: str, workdir: Path, rate: float) -> Iterator[Feed]:
    """A private Mosquitto, `satupintu ingest` on the benchmark database and the simulator at `rate` msg/s.

    The city keeps changing while the routes are measured: every committed batch
    is announced, and the server's cache computes again what each notice names.
    A subscriber here counts the notices.
    """
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    port = free_port()
    (workdir / "mosquitto").mkdir(exist_ok=True)
    procs = [start_broker(port=port, data_dir=workdir / "mosquitto")]
    feed = Feed(f"mqtt://127.0.0.1:{port}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SATUPINTU_")}
    env.update(SATUPINTU_DATABASE_URL=url, SATUPINTU_MQTT_URL=feed.mqtt_url, PYTHONUNBUFFERED="1")
    log = open(workdir / "live-feed.log", "ab")  # noqa: SIM115 - handed to the children

    def on_message(_c, _u, msg) -> None:  # noqa: ANN001
        feed.notices += 1
        try:
            doc = json.loads(msg.payload)
            feed.stored += sum(r.get("points", 1) for r in doc.get("readings", ())) + len(doc.get("tickets", ()))
        except (ValueError, AttributeError):
            pass

    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="satupintu-apibench-notices")
    sub.on_message = on_message
    sub.on_connect = lambda c, *_: c.subscribe("city/+/changes", qos=0)
    try:
        sub.connect("127.0.0.1", port)
        sub.loop_start()
        for args in (["ingest", "--log-level", "WARNING"], ["simulate", "--rate", str(rate), "--seed", "1"]):
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "satupintu", *args], env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT
                )
            )
        deadline = time.monotonic() + 60
        while feed.notices == 0:
            if any(p.poll() is not None for p in procs):
                raise SystemExit(f"the live feed stopped early; see {workdir / 'live-feed.log'}")
            if time.monotonic() > deadline:
                raise SystemExit(f"no change notice within 60 s of starting the feed; see {workdir / 'live-feed.log'}")
            time.sleep(0.2)
        console.print(
            f"live feed: the simulator at {rate:g} msg/s through `satupintu ingest`, notices on {feed.mqtt_url}"
        )
        yield feed
    finally:
        sub.loop_stop()
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()


def viewer_token(url: str) -> str:
    eng = create_engine(url)
    with eng.begin() as conn:
        token = create_token(conn=conn, name="api benchmark", role="viewer")
    eng.dispose()
    return token


# ----------------------------------------------------------------------------- load


@dataclass
class Route:
    name: str
    path: str
    p95_goal: bool = False  # p95 < 50 ms with the concurrent clients
    ratio_goal: bool = False  # at least 30% of the trivial route's requests/s


@dataclass
class Result:
    route: Route
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests only
    alone: list[float] = field(default_factory=list)  # the same with one client
    errors: int = 0
    first_error: str = ""
    elapsed: float = 0.0
    server_cpu: float = 0.0  # share of one core
    db_cpu: float | None = None  # PostgreSQL backends serving the benchmark database (SQLite runs inside the server)
    client_cpu: float = 0.0
    body_bytes: int = 0
    items: int | None = None
    cache: dict[str, int] = field(default_factory=dict)  # x-cache of the measured answers: hit, stale, - (computed)
    notices_per_s: float | None = None  # --live: change notices while measured
    stored_per_s: float | None = None  # --live: readings and ticket events committed while measured

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def pct(self, p: float, alone: bool = False) -> float:
        xs = sorted(self.alone if alone else self.latencies)
        if not xs:
            return float("nan")
        return xs[min(len(xs) - 1, int(len(xs) * p / 100))] * 1000


def routes(meta: dict) -> list[Route]:
    end = meta["end_ms"]

    def iso(ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()

    def q(path: str, **params: str) -> str:
        return path + ("?" + urllib.parse.urlencode(params) if params else "")

    day = {"start": iso(end - DAY_MS), "end": iso(end)}
    month = {"start": iso(end - 30 * DAY_MS), "end": iso(end)}
    series = "/api/v1/readings/series"
    src, district, metric = "awlr-sungai-pilowo", "morotai-selatan", "water_level_cm"
    return [
        Route("trivial (async)", "/bench/trivial"),
        Route("trivial (sync def)", "/bench/trivial-sync"),
        Route("overview", "/api/v1/overview", p95_goal=True),
        Route("sources", "/api/v1/sources"),
        Route("readings/latest", "/api/v1/readings/latest", p95_goal=True),
        Route("series 24h 1m source", q(series, metric=metric, source=src, bucket="1m", **day), True, True),
        Route("series 24h 1m district", q(series, metric=metric, district=district, bucket="1m", **day), True, True),
        Route("series 30d 1h source", q(series, metric=metric, source=src, bucket="1h", **month), ratio_goal=True),
        Route("series 30d 1h city", q(series, metric=metric, bucket="1h", **month), ratio_goal=True),
        Route("services/status 30d", q("/api/v1/services/status", **month), p95_goal=True),
        Route("tickets active p1", q("/api/v1/tickets", status="active")),
    ]


class HttpConn:
    """One keep-alive HTTP/1.1 connection that sends a prepared GET and reads the answer.

    A deliberately small client: httpx.AsyncClient costs ~2 ms of CPU a request
    here (measured: 94% of a core for 430 req/s against the trivial route, the
    server at 25%), so on two shared cores it, not the server, set the pace.
    This one costs ~0.1 ms and leaves the cores to the server."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, request: bytes) -> tuple[int, bytes, bytes]:
        reused = self.writer is not None
        if not reused:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(request)
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            self.close()
            if not reused:
                raise
            # The server closed an idle keep-alive connection (uvicorn: after 5 s): as any client, retry on a new one.
            return await self.get(request)
        status = int(head[9:12])
        low = head.lower()
        i = low.find(b"content-length:")
        if i >= 0:
            body = await self.reader.readexactly(int(low[i + 15 : low.index(b"\r\n", i)]))
        elif b"transfer-encoding: chunked" in low:
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                parts.append(await self.reader.readexactly(size + 2))
                if size == 0:
                    break
            body = b"".join(p[:-2] for p in parts)
        else:
            body = await self.reader.read()
        if b"connection: close" in low or (i < 0 and b"chunked" not in low):
            self.close()
        return status, body, low

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _load(
    base: str,
    route: Route,
    token: str,
    *,
    clients: int,
    seconds: float,
    warmup: float,
    prog: Progress,
    server: psutil.Process,
    pg: bool = False,
    feed: Feed | None = None,
) -> Result:
    """`clients` workers, each on its own connection, each sending the next request as soon as the last is answered."""
    res = Result(route)
    host, port = urllib.parse.urlsplit(base).hostname, urllib.parse.urlsplit(base).port
    request = (
        f"GET {route.path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        "Accept: application/json\r\nUser-Agent: satupintu-apibench\r\n\r\n"
    ).encode()
    conns = [HttpConn(host, port) for _ in range(clients)]
    status, body, _ = await conns[0].get(request)
    if status != 200:
        res.errors, res.first_error = 1, f"{status} {body[:300].decode(errors='replace')}"
        return res
    res.body_bytes = len(body)
    doc = json.loads(body)
    if isinstance(doc, dict) and isinstance(doc.get("items"), list):
        res.items = len(doc["items"])
    task = prog.add_task(route.name, total=warmup + seconds + 2)
    me = psutil.Process()
    record = False
    lat = res.latencies

    async def worker(conn: HttpConn, until: float, out: list[float]) -> None:
        while time.perf_counter() < until:
            t0 = time.perf_counter()
            try:
                status, body, head = await conn.get(request)
            except (OSError, asyncio.IncompleteReadError) as exc:
                conn.close()
                status, body, head = 0, repr(exc).encode(), b""
            dt = time.perf_counter() - t0
            if status != 200:
                res.errors += 1
                res.first_error = res.first_error or f"{status} {body[:300].decode(errors='replace')}"
            elif record:
                out.append(dt)
                if out is lat:
                    i = head.find(b"x-cache: ")
                    how = head[i + 9 : head.index(b"\r\n", i)].decode() if i >= 0 else "-"
                    res.cache[how] = res.cache.get(how, 0) + 1

    async def ticker(t_start: float, until: float, label: str) -> None:
        while time.perf_counter() < until:
            prog.update(
                task,
                completed=min(warmup + seconds + 2, time.perf_counter() - t_start),
                description=f"{route.name}: {label}",
            )
            await asyncio.sleep(0.25)

    t_start = time.perf_counter()
    # Unloaded: one client alone for 2 s, what a request costs without queueing.
    record = True
    await asyncio.gather(worker(conns[0], t_start + 2, res.alone), ticker(t_start, t_start + 2, "one client"))
    record = False
    until = time.perf_counter() + warmup
    await asyncio.gather(*(worker(c, until, lat) for c in conns), ticker(t_start, until, "warm-up"))
    record = True
    s0, c0, d0, t0 = server.cpu_times(), me.cpu_times(), _db_cpu() if pg else {}, time.perf_counter()
    n0 = (feed.notices, feed.stored) if feed else (0, 0)
    until = t0 + seconds
    await asyncio.gather(*(worker(c, until, lat) for c in conns), ticker(t_start, until, f"{clients} clients"))
    res.elapsed = time.perf_counter() - t0
    if feed:
        res.notices_per_s = (feed.notices - n0[0]) / res.elapsed
        res.stored_per_s = (feed.stored - n0[1]) / res.elapsed
    s1, c1, d1 = server.cpu_times(), me.cpu_times(), _db_cpu() if pg else {}
    if pg:
        res.db_cpu = sum(v - d0.get(pid, 0.0) for pid, v in d1.items()) / res.elapsed
    res.server_cpu = (s1.user + s1.system - s0.user - s0.system) / res.elapsed
    res.client_cpu = (c1.user + c1.system - c0.user - c0.system) / res.elapsed
    prog.update(task, completed=warmup + seconds + 2, description=f"{route.name}: {len(lat):,} requests")
    for c in conns:
        c.close()
    return res


def _db_cpu() -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend connected to the benchmark database."""
    out = {}
    for p in psutil.process_iter(["name", "cmdline"]):
        try:
            if p.info["name"] == "postgres" and any(PG_DB in part for part in p.info["cmdline"] or ()):
                t = p.cpu_times()
                out[p.pid] = t.user + t.system
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return out


def measure(url: str, meta: dict, workdir: Path, args: argparse.Namespace) -> list[Result]:
    token = viewer_token(url)
    wait_for_other_benchmarks()
    results = []
    with ExitStack() as stack:
        feed = stack.enter_context(live_feed(url, workdir, args.live)) if args.live else None
        base, proc = stack.enter_context(serving(url, workdir, feed.mqtt_url if feed else None))
        prog = stack.enter_context(_progress(rate=False))
        server = psutil.Process(proc.pid)
        for route in routes(meta):
            if args.only and not any(o in route.name for o in args.only.split(",")):
                continue
            pg = make_url(url).get_backend_name() == "postgresql"
            coro = _load(
                base,
                route,
                token,
                clients=args.clients,
                seconds=args.seconds,
                warmup=args.warmup,
                prog=prog,
                server=server,
                pg=pg,
                feed=feed,
            )
            results.append(uvloop.run(coro))
    return results


# ----------------------------------------------------------------------------- report


def wait_for_other_benchmarks() -> None:
    """The machine has two cores: let a running ingest benchmark finish first."""
    said = False
    while subprocess.run(["pgrep", "-f", "bench/ingest.py"], capture_output=True, check=False).stdout.strip():
        if not said:
            console.print("[yellow]bench/ingest.py is running; waiting for it to finish (checking every 15 s)[/yellow]")
            said = True
        time.sleep(15)
    if said:
        console.print("bench/ingest.py finished; going on")


def histogram(lat: list[float], lo: float = 0.001, hi: float = 1.0, bins: int = 18) -> str:
    """Latencies on a log scale from `lo` to `hi` seconds, one character per bin (same scale on every row)."""
    if not lat:
        return ""
    counts = [0] * bins
    span = math.log(hi / lo)
    for x in lat:
        i = int(math.log(max(lo, min(hi * 0.999, x)) / lo) / span * bins)
        counts[i] += 1
    top = max(counts)
    return "".join(" " if c == 0 else SPARK[min(7, int(c / top * 7.999))] for c in counts)


def bar(frac: float, width: int = 12) -> str:
    full = max(0.0, min(1.0, frac)) * width
    return "█" * int(full) + ("▌" if full - int(full) >= 0.5 else "")


def report(kind: str, results: list[Result], args: argparse.Namespace) -> list[tuple[str, str, bool, str]]:
    trivial = next((r for r in results if r.route.path == "/bench/trivial"), None)
    base_rate = trivial.rate if trivial else float("nan")
    live = f", the city live at {args.live:g} msg/s" if args.live else ", the city at rest"
    table = Table(
        title=f"{kind}: {args.clients} concurrent clients, {args.seconds:g} s per route, 1 uvicorn worker{live}",
        caption="vs trivial: req/s against the async trivial route. 1 client p50: one client alone, no queueing. "
        "CPU: share of one core (2 in all) of the uvicorn process, the PostgreSQL backends and this load client.",
    )
    for col in (
        "route",
        "req/s",
        "vs trivial",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "latency 1 ms…≥1 s (log)",
        "1 client p50",
        "server CPU",
        "db CPU",
        "client CPU",
        "cache hit/stale/computed",
        "errors",
        "goal",
    ):
        table.add_column(
            col, justify="left" if col in ("route", "vs trivial", "latency 1 ms…≥1 s (log)", "goal") else "right"
        )
    goals = []
    for r in results:
        ratio = r.rate / base_rate if base_rate else float("nan")
        verdicts = []
        if r.route.p95_goal:
            ok = r.pct(95) < GOAL_P95_MS
            verdicts.append(("p95<50", ok))
            goals.append((kind, f"{r.route.name}: p95 {r.pct(95):.1f} ms < {GOAL_P95_MS:.0f} ms", ok, ""))
        if r.route.ratio_goal:
            ok = ratio >= GOAL_RATIO
            verdicts.append(("≥30%", ok))
            goals.append((kind, f"{r.route.name}: {ratio:.0%} of trivial req/s >= 30%", ok, ""))
        goal = " ".join(f"[{'green' if ok else 'red'}]{name} {'met' if ok else 'UNMET'}[/]" for name, ok in verdicts)
        table.add_row(
            r.route.name,
            f"{r.rate:,.0f}",
            f"{bar(ratio)} {ratio:.0%}",
            f"{r.pct(50):.1f}",
            f"{r.pct(95):.1f}",
            f"{r.pct(99):.1f}",
            histogram(r.latencies),
            f"{r.pct(50, alone=True):.1f}",
            f"{r.server_cpu:.0%}",
            "in server" if r.db_cpu is None else f"{r.db_cpu:.0%}",
            f"{r.client_cpu:.0%}",
            cache_mix(r),
            str(r.errors) if not r.first_error else f"[red]{r.errors}[/red]",
            goal,
        )
    console.print(table)
    for r in results:
        if r.first_error:
            console.print(f"[red]{r.route.name}: {r.first_error}[/red]")
    detail = ", ".join(
        f"{r.route.name} {r.body_bytes / 1024:.1f} KiB" + (f"/{r.items} items" if r.items is not None else "")
        for r in results
        if not r.route.path.startswith("/bench")
    )
    console.print(f"[dim]response sizes: {detail}[/dim]")
    fed = [r for r in results if r.notices_per_s is not None]
    if fed:
        console.print(
            f"live feed while measured: {min(r.notices_per_s for r in fed):.1f}-{max(r.notices_per_s for r in fed):.1f} "
            f"change notices/s, {min(r.stored_per_s for r in fed):.0f}-{max(r.stored_per_s for r in fed):.0f} "
            "readings and ticket events committed/s"
        )
    return goals


def cache_mix(r: Result) -> str:
    """Shares of the measured answers served from the cache, served stale while computed again, and computed."""
    n = sum(r.cache.values())
    if not n:
        return ""
    return "/".join(f"{r.cache.get(k, 0) / n:.0%}" for k in ("hit", "stale", "-"))


def print_fill(kind: str, meta: dict, url: str) -> None:
    total, tables = sizes(url)
    rd, tk = meta["readings_stored"], meta["tickets"]
    console.print(
        f"{kind} fill ({meta['loader']} loader): readings {rd:,} in {meta['t_readings']:.0f} s "
        f"([bold]{rd / meta['t_readings']:,.0f}[/bold] rows/s, rollups included); tickets {tk:,} with "
        f"{meta['events']:,} events in {meta['t_tickets']:.0f} s ({(tk + meta['events']) / meta['t_tickets']:,.0f} rows/s); "
        f"settle {meta['t_settle']:.0f} s; total [bold]{meta['t_total'] / 60:.1f} min[/bold]"
    )
    console.print(
        f"{kind} size: [bold]{total / 2**20:,.0f} MiB[/bold] ("
        + ", ".join(f"{t} {b / 2**20:,.0f}" for t, b in tables.items() if b >= 2**20)
        + " MiB, with indexes)"
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    ap.add_argument("--readings", type=int, default=10_000_000)
    ap.add_argument("--tickets", type=int, default=200_000)
    ap.add_argument("--sources", type=int, default=500)
    ap.add_argument("--days", type=float, default=30)
    ap.add_argument("--clients", type=int, default=20, help="concurrent requests")
    ap.add_argument("--seconds", type=float, default=10, help="measured time per route")
    ap.add_argument("--warmup", type=float, default=2, help="unmeasured load before each route's measurement")
    ap.add_argument(
        "--loader",
        choices=("writer", "bulk"),
        default="writer",
        help="bulk: registration through BatchWriter, readings through ingest.bulk; writer: all through BatchWriter",
    )
    ap.add_argument(
        "--reuse", action="store_true", help="keep the filled databases and use them again when sizes match"
    )
    ap.add_argument("--only", default="", help="comma-separated substrings of route names to measure")
    ap.add_argument(
        "--cache-s",
        type=float,
        default=None,
        help="the server's response cache (seconds; 0: off, every request computed)",
    )
    ap.add_argument(
        "--live",
        type=float,
        default=0,
        metavar="RATE",
        help="measure while the simulator publishes RATE msg/s through a private Mosquitto and `satupintu ingest` "
        "into the benchmark database (the simulator's default is 20); 0: the city at rest",
    )
    ap.add_argument("--fill-only", action="store_true", help="fill (and report sizes), do not measure")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    if args.cache_s is not None:
        os.environ["SATUPINTU_API_CACHE_S"] = str(args.cache_s)
    _end_children_on_sigterm()

    kinds = [k.strip() for k in args.db.split(",") if k.strip()]
    console.print(
        f"[bold]SatuPintu API benchmark[/bold]: {os.cpu_count()} cores, {args.readings:,} readings, "
        f"{args.tickets:,} tickets, {args.sources} sources, {args.days:g} days; {' and '.join(kinds)}"
    )
    keep_dir = Path(tempfile.gettempdir()) / "satupintu-apibench"
    all_goals = []
    tmp = None if args.reuse else tempfile.TemporaryDirectory(prefix="satupintu-apibench-")
    workdir = keep_dir if args.reuse else Path(tmp.name)
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        for kind in kinds:
            console.rule(kind)
            url, meta = fill(kind, workdir, args)
            print_fill(kind, meta, url)
            if args.fill_only:
                continue
            results = measure(url, meta, workdir, args)
            all_goals += report(kind, results, args)
            if not args.reuse:
                drop_database(kind, workdir)
    finally:
        if tmp is not None:
            for kind in kinds:
                if kind == "postgresql":
                    drop_database(kind, workdir)
            tmp.cleanup()
    if all_goals:
        console.rule("goals")
        for kind, what, ok, _ in all_goals:
            console.print(f"{'[green]met[/green]  ' if ok else '[red]UNMET[/red]'} {kind:10} {what}")


def _end_children_on_sigterm() -> None:
    # Stopped with SIGTERM, the benchmark still ends its uvicorn child and drops its database.
    import signal

    def handler(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


if __name__ == "__main__":
    main()
