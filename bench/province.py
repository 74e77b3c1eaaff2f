"""Province view benchmark: `GET /api/v1/province` p50/p95/p99 and requests/s with 20 clients, computed and cached.

    .venv/bin/python bench/province.py [--regencies 10] [--sources 500] [--days 30] [--interval-s 3600]
                                       [--tickets-per-day 100] [--clients 20] [--seconds 20] [--keep]

A quick run: `--sources 50 --days 3`.

1. Ten synthetic regency profiles (`kab-0` .. `kab-9`, YAML in a temp dir),
   each Morotai's catalogue (agencies, services, metrics, districts, rules,
   outline) with --sources sources of its own (a water level gauge each,
   spread over the districts), and a comma-list deployment of them.
2. A fresh PostgreSQL database at head (on SATUPINTU_BENCH_PG_URL; migration
   0012's partitions, made for the whole window) filled by bench/partitions.py's
   generator: the sources, a series each, a reading every --interval-s over the
   last --days days ending now, and a per-minute rollup row per reading. Then,
   as the ingestor would have left them: the profiles' sources registered
   (app.seed.sync_profile), each series' latest value and each source's last
   receive time, the ingest pulse (`ingest_minute`) per city and reading
   instant, --tickets-per-day tickets per regency with their events and the
   per-day rollup (bench/api.py's ticket generator: the simulator's desks'
   lifecycles, about 16% resolved late), a few open alarms per regency; VACUUM
   ANALYZE.
3. The real app (bench/_api_app.py) under uvicorn, one worker, in a child
   process on a free port, SATUPINTU_PROFILE = the comma list; a province-wide
   viewer token; --clients concurrent keep-alive clients in a closed loop
   (bench/api.py's load loop: one client alone for 2 s, a warm-up, then
   --seconds measured) against `/api/v1/province`, twice: "computed" with the
   response cache off (SATUPINTU_API_CACHE_S=0: every request runs the ~12
   queries per regency) and "cached" (SATUPINTU_API_CACHE_S=2, the default).

The view reads no raw readings (sources, series, tickets, alarms, incidents,
the pulse), so the reading interval sets the fill time and not the view's cost;
the README names the scale it ran at. The database is dropped at the end unless
--keep.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import psutil
import uvloop
import yaml
from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.engine import make_url

from app.auth.tokens import create_token
from app.profile import SHIPPED_DIR, load_deployment
from app.seed import sync_profile
from app.services.rollup import Delta
from app.storage import partitions as storage_partitions
from app.storage.models import AlarmRow, TicketEventRow, TicketRow
from bench import api as apibench, partitions as partbench
from bench.ingest import settle

DAY_MS = 86_400_000
SEVERITY_MIX = ("critical", "major", "minor", "warning")


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ----------------------------------------------------------------------------- profiles


def write_profiles(workdir: Path, regencies: int, sources: int, interval_s: int, seed: int) -> list[str]:
    """kab-0 .. kab-(r-1): Morotai's catalogue, each with its own `sources` gauges; returns their file paths.

    Source ids follow bench/partitions.py's generator: `src-i` belongs to `kab-(i % regencies)`.
    """
    base = yaml.safe_load((SHIPPED_DIR / "morotai.yaml").read_text(encoding="utf-8"))
    rng = random.Random(seed)
    paths = []
    for k in range(regencies):
        doc = dict(base)
        doc["city"] = dict(base["city"], id=f"kab-{k}", name=f"Kabupaten Sintetis {k}")
        districts = base["districts"]
        doc["sources"] = []
        for j in range(sources):
            d = districts[rng.randrange(len(districts))]
            doc["sources"].append(
                {
                    "id": f"src-{k + regencies * j}",
                    "kind": "water_level",
                    "name": f"AWLR {k}-{j}",
                    "district": d["id"],
                    "lat": round(d["center"]["lat"] + rng.gauss(0, 0.02), 5),
                    "lon": round(d["center"]["lon"] + rng.gauss(0, 0.02), 5),
                    "metrics": ["water_level_cm"],
                    "interval_s": interval_s,
                }
            )
        path = workdir / f"kab-{k}.yaml"
        path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
        paths.append(str(path))
    return paths


# ----------------------------------------------------------------------------- fill


def fill(engine: Engine, a: argparse.Namespace, spec: str, day0_ms: int, now_ms: int) -> None:
    deployment = load_deployment(spec)
    with engine.begin() as c:  # partitions for the whole window (the maintenance turn makes them ahead of time)
        for s in storage_partitions.SPECS:
            storage_partitions.ensure(c, s, from_ms=day0_ms, to_ms=now_ms + DAY_MS)
    n = a.regencies * a.sources * (a.days * DAY_MS // (a.interval_s * 1000))
    say(f"readings: about {n:,} rows and as many minute rollups (bench/partitions.py's generator) ...")
    t = time.perf_counter()
    partbench.fill(
        engine,
        SimpleNamespace(regencies=a.regencies, sources=a.sources, days=a.days, interval_s=a.interval_s),
        day0_ms,
    )
    say(f"readings filled in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    with engine.begin() as c:
        for profile in deployment.cities:
            sync_profile(conn=c, profile=profile)
        # The generator's last instant and value (a reading every interval from day0; value = t / 1000 % 997).
        step = a.interval_s * 1000
        last = day0_ms + (a.days * DAY_MS - 1) // step * step
        c.execute(
            text("UPDATE series SET last_ts_ms = :t, last_value = :v"), {"t": last, "v": float(last // 1000 % 997)}
        )
        c.execute(
            text(
                "UPDATE sources o SET first_seen_ms = :a, last_seen_ms = s.last_ts_ms FROM series s "
                "WHERE s.source_pk = o.id"
            ),
            {"a": day0_ms},
        )
        # The pulse: each city's sources report at every reading instant.
        c.execute(
            text(
                "INSERT INTO ingest_minute (city, bucket, received, stored, quarantined) "
                "SELECT 'kab-' || k, t / 60000 * 60, :n, :n, 0 FROM generate_series(0, :r - 1) AS k, "
                "generate_series(CAST(:a AS bigint), CAST(:b AS bigint), CAST(:st AS bigint)) AS t"
            ),
            {
                "n": a.sources,
                "r": a.regencies,
                "a": day0_ms,
                "b": day0_ms + a.days * DAY_MS - 1,
                "st": a.interval_s * 1000,
            },
        )
    say(f"registry, latest values and the pulse in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    tickets = fill_tickets(engine, deployment.ids, a.tickets_per_day * a.days, day0_ms, now_ms)
    say(f"{tickets:,} tickets with their events and the per-day rollup in {time.perf_counter() - t:.1f} s")
    fill_alarms(engine, a.regencies, a.sources, now_ms)
    t = time.perf_counter()
    settle(engine.url.render_as_string(hide_password=False))
    say(f"VACUUM ANALYZE in {time.perf_counter() - t:.1f} s")


def fill_tickets(engine: Engine, cities: tuple[str, ...], per_city: int, start_ms: int, end_ms: int) -> int:
    """bench/api.py's tickets (Morotai's services, the desks' lifecycles) for every city, ids kept apart."""
    total = 0
    offset = 0
    with engine.connect() as conn:
        for i, city in enumerate(cities):
            rows, events = [], []
            for row, evs in apibench.make_tickets(per_city, start_ms, end_ms, seed=100 + i):
                pk = row["id"] + offset
                rows.append(dict(row, id=pk, city=city))
                events += [dict(e, ticket_pk=pk) for e in evs]
            with conn.begin():
                conn.execute(insert(TicketRow.__table__), rows)
                conn.execute(insert(TicketEventRow.__table__), events)
                day = Delta()  # the per-day rollup services/status reads, as the ingestor's writer keeps it
                for r in rows:
                    day.add(r)
                day.write(conn)
            offset += len(rows)
            total += len(rows)
        with conn.begin():
            conn.execute(text("SELECT setval(pg_get_serial_sequence('tickets', 'id'), (SELECT max(id) FROM tickets))"))
    return total


def fill_alarms(engine: Engine, regencies: int, sources: int, now_ms: int) -> None:
    """A few open alarms per regency, one severity each (the city's state), on its gauges' water level."""
    rows = []
    for k in range(regencies):
        for j in range(min(sources, 1 + k % 4)):
            sid = f"src-{k + regencies * j}"
            sev = SEVERITY_MIX[k % 4]
            rows.append(
                {
                    "city": f"kab-{k}",
                    "rule_id": "threshold.water_level_cm",
                    "kind": "threshold",
                    "subject": sid,
                    "open_key": f"kab-{k}|threshold.water_level_cm|{sid}",
                    "severity": sev,
                    "state": "active",
                    "source_id": sid,
                    "metric": "water_level_cm",
                    "value": 250.0,
                    "detail": "{}",
                    "raised_ms": now_ms - 3_600_000,
                    "updated_ms": now_ms - 3_600_000,
                }
            )
    with engine.begin() as c:
        c.execute(insert(AlarmRow.__table__), rows)


# ----------------------------------------------------------------------------- measure


def measure(url: str, spec: str, workdir: Path, a: argparse.Namespace, cache_s: str) -> apibench.Result:
    token = _token(url)
    env = {"SATUPINTU_PROFILE": spec, "SATUPINTU_API_CACHE_S": cache_s}
    with apibench.serving(url, workdir, extra_env=env) as (base, proc), apibench._progress(rate=False) as prog:  # noqa: SLF001
        route = apibench.Route(f"province ({'computed' if cache_s == '0' else 'cached'})", "/api/v1/province")
        return uvloop.run(
            apibench._load(  # noqa: SLF001 - bench/api.py's load loop
                base,
                route,
                token,
                clients=a.clients,
                seconds=a.seconds,
                warmup=a.warmup,
                prog=prog,
                server=psutil.Process(proc.pid),
            )
        )


def _token(url: str) -> str:
    eng = create_engine(url)
    with eng.begin() as conn:
        token = create_token(conn=conn, name="province benchmark", role="viewer")  # province-wide: every city
    eng.dispose()
    return token


def report(r: apibench.Result, a: argparse.Namespace) -> None:
    if r.errors:
        say(f"{r.route.name}: {r.errors} errors, the first: {r.first_error}")
    cache = ", ".join(f"{k} {v}" for k, v in sorted(r.cache.items()))
    say(
        f"{r.route.name}: {a.clients} clients, {len(r.latencies):,} requests in {r.elapsed:.1f} s: "
        f"p50 {r.pct(50):.1f} ms, p95 {r.pct(95):.1f} ms, p99 {r.pct(99):.1f} ms, {r.rate:.1f} req/s; "
        f"one client alone: p50 {r.pct(50, alone=True):.1f} ms; answer {r.body_bytes / 1024:.0f} KiB; "
        f"server CPU {r.server_cpu:.0%} of a core; x-cache: {cache or '-'}"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--regencies", type=int, default=10)
    p.add_argument("--sources", type=int, default=500, help="per regency")
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--interval-s", type=int, default=3600, help="a reading per source every this many seconds")
    p.add_argument("--tickets-per-day", type=int, default=100, help="per regency")
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--keep", action="store_true", help="keep the database (its name is printed)")
    a = p.parse_args()
    if a.interval_s % 60:
        p.error("--interval-s must be whole minutes")
    now = int(time.time() * 1000)
    day0 = (now - a.days * DAY_MS) // (a.interval_s * 1000) * (a.interval_s * 1000)
    say(
        f"province: {a.regencies} regencies x {a.sources} sources, a reading every {a.interval_s} s for {a.days} days, "
        f"{a.tickets_per_day} tickets a day per regency; {a.clients} clients, {a.seconds:g} s per mode"
    )
    with tempfile.TemporaryDirectory(prefix="satupintu-provbench-") as tmp:
        workdir = Path(tmp)
        spec = ",".join(write_profiles(workdir, a.regencies, a.sources, a.interval_s, seed=1))
        name, engine = partbench.fresh("head")
        url = make_url(partbench.ADMIN).set(database=name).render_as_string(hide_password=False)
        say(f"database {name} at head")
        try:
            fill(engine, a, spec, day0, now)
            engine.dispose()
            apibench.wait_for_other_benchmarks()
            for cache_s in ("0", "2"):
                say(f"serving with SATUPINTU_API_CACHE_S={cache_s} ...")
                report(measure(url, spec, workdir, a, cache_s), a)
        finally:
            engine.dispose()
            if a.keep:
                say(f"kept database {name}")
            else:
                partbench.drop_database(name)


if __name__ == "__main__":
    main()
