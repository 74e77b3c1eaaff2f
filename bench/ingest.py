"""Ingest benchmark: sustained throughput, publish-to-committed latency, losses and duplicates.

    .venv/bin/python bench/ingest.py [--db sqlite,postgresql] [--messages 100000] [--rate 5000] [--soak-minutes 10]

Runs against its own Mosquitto (the project's config, a free port) and a
fresh database per kind, with the ingestor as a real `satupintu ingest`
process. Load is the Morotai simulator (its sensor messages, 500 extra
sources). Three measurements per database:

1. Throughput: N messages are queued at the broker for the ingestor's
   persistent session while it is down, then it is started and drains them.
   This measures the ingestor, not the Python publisher (which shares the same
   two cores). In the same run a bare paho subscriber that only counts
   (QoS 1, auto-ack) drains the same backlog, as the baseline.
2. Latency: after the database settles (VACUUM ANALYZE / WAL checkpoint, as
   autovacuum would over time after the backlog), the publisher paces at
   --rate msg/s for --latency-seconds while the ingestor runs; a poller reads the committed-message count every few ms,
   and each message's latency is the first poll that saw it committed minus
   its publish time (one ingestor commits in arrival order).
3. Soak (--soak-minutes): the paced load for that long, sampling the
   ingestor's memory (RSS), drawn as a sparkline.
Afterwards lost = expected readings - stored readings, duplicated = readings
counted twice in the rollups.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import psutil
from paho.mqtt.enums import CallbackAPIVersion
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.profile import load_profile
from app.settings import Settings
from app.storage.engine import make_engine
from app.storage.migrate import upgrade
from ingest.messages import Reading
from ingest.parser import ParseRules, parse
from ingest.simulator import CityModel, Publisher, SimStats
from satupintu.broker import free_port, start_broker

console = Console()
PROFILE = load_profile("morotai")
SPARK = "▁▂▃▄▅▆▇█"


@dataclass
class Workload:
    messages: list[tuple[str, bytes]]
    readings: int  # points the messages carry: what must end up stored


def make_workload(n: int, seed: int) -> Workload:
    """n sensor messages from the simulator, and how many readings they carry."""
    model = CityModel(PROFILE, seed=seed, extra_sources=500)
    rules = ParseRules.from_profile(PROFILE, Settings())
    msgs, readings, now = [], 0, time.time()
    while len(msgs) < n:
        topic, payload, _retain, _bad = model.next_message(now)
        now += 0.0001
        if "/sensor/" not in topic:
            continue  # tickets and statuses: not the hot path this measures
        p = parse(topic, payload, int(now * 1000), rules)
        if isinstance(p, Reading) and not p.refused:
            msgs.append((topic, payload))
            readings += len(p.points)
    return Workload(msgs, readings)


def fresh_database(kind: str, workdir: Path) -> str:
    if kind == "sqlite":
        url = f"sqlite:///{workdir / 'bench.db'}"
    else:
        admin_url = os.environ.get("SATUPINTU_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text("DROP DATABASE IF EXISTS satupintu_bench WITH (FORCE)"))
            c.execute(text("CREATE DATABASE satupintu_bench"))
        admin.dispose()
        url = make_url(admin_url).set(database="satupintu_bench").render_as_string(hide_password=False)
    eng = make_engine(url)
    upgrade(eng)
    eng.dispose()
    return url


class CommitPoller:
    """Samples (time, messages committed) from the ingest_minute table every `every` seconds."""

    def __init__(self, url: str, every: float = 0.003) -> None:
        self.samples: list[tuple[float, int]] = []
        self._engine = create_engine(url)
        self._stop = threading.Event()
        self._every = every
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with self._engine.connect() as c:
            q = text("SELECT coalesce(sum(received), 0) FROM ingest_minute")
            while not self._stop.is_set():
                n = int(c.execute(q).scalar())
                c.commit()
                self.samples.append((time.time(), n))
                time.sleep(self._every)

    @property
    def committed(self) -> int:
        return self.samples[-1][1] if self.samples else 0

    def wait_first(self) -> int:
        while not self.samples:
            time.sleep(0.005)
        return self.samples[-1][1]

    def wait_for(self, n: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.committed >= n:
                return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._engine.dispose()


@contextmanager
def running_ingestor(url: str, port: int, log: Path) -> Iterator[subprocess.Popen]:
    """A `satupintu ingest` child that is ended (SIGTERM, then kill) however the block exits."""
    proc = spawn_ingestor(url, port, log)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextmanager
def bench_broker(prefix: str) -> Iterator[tuple[Path, int]]:
    """A scratch directory and the project's Mosquitto on a free port in it, ended on the way out."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        workdir = Path(tmp)
        port = free_port()
        broker = start_broker(port=port, data_dir=workdir / "mosquitto")
        try:
            yield workdir, port
        finally:
            broker.terminate()
            broker.wait(10)


def spawn_ingestor(url: str, port: int, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SATUPINTU_")}
    env.update(
        SATUPINTU_DATABASE_URL=url,
        SATUPINTU_MQTT_URL=f"mqtt://127.0.0.1:{port}",
        SATUPINTU_MQTT_CLIENT_ID="bench-ingest",
        PYTHONUNBUFFERED="1",
    )
    with open(log, "ab") as out:  # the child has its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "satupintu", "ingest"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )


def publish_all(port: int, messages: list[tuple[str, bytes]], label: str) -> float:
    """Publish every message QoS 1 as fast as the publisher goes; returns msgs/s."""
    stop = threading.Event()
    stats = SimStats()
    pub = Publisher(Settings(mqtt_url=f"mqtt://127.0.0.1:{port}"), stats, stop, max_outstanding=1000)
    pub.connect()
    t0 = time.perf_counter()
    with _progress() as prog:
        task = prog.add_task(label, total=len(messages))
        for i, (topic, payload) in enumerate(messages):
            pub.publish(topic, payload, False)
            if i % 2000 == 0:
                prog.update(task, completed=i)
        pub.close(drain_timeout=120)
        prog.update(task, completed=len(messages))
    return len(messages) / (time.perf_counter() - t0)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


def bare_subscriber_rate(port: int, messages: list[tuple[str, bytes]]) -> float:
    """The baseline: a paho QoS 1 subscriber that only counts, draining the same backlog."""
    count, done = 0, threading.Event()
    first: list[float] = []
    total = len(messages)

    def on_message(_c, _u, _m) -> None:  # noqa: ANN001
        nonlocal count
        if not first:
            first.append(time.perf_counter())
        count += 1
        if count >= total:
            done.set()

    def client() -> mqtt.Client:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-bare", clean_session=False)
        c.on_message = on_message
        c.connect("127.0.0.1", port)
        return c

    c = client()
    c.subscribe("city/+/sensor/#", qos=1)
    c.loop(1.0)
    c.disconnect()
    publish_all(port, messages, "queueing the backlog for the bare subscriber")
    c = client()
    c.loop_start()
    done.wait(300)
    end = time.perf_counter()
    c.disconnect()
    c.loop_stop()
    return count / (end - first[0]) if first else 0.0


def drain_run(port: int, url: str, work: Workload, workdir: Path) -> dict:
    """Backlog drain by the real ingestor: sustained msgs/s from first to last commit."""
    log = workdir / "ingest-drain.log"
    poller = CommitPoller(url)
    with running_ingestor(url, port, log) as ing:
        _wait_log(ing, log, "subscribed")  # the session (with its subscriptions) stays at the broker
    base = poller.wait_first()
    publish_all(port, work.messages, "queueing the backlog for the ingestor")
    n = len(work.messages)
    with running_ingestor(url, port, log) as ing, _progress() as prog:
        task = prog.add_task("ingestor draining", total=n)
        deadline = time.monotonic() + 600
        while poller.committed - base < n and time.monotonic() < deadline and ing.poll() is None:
            prog.update(task, completed=poller.committed - base)
            time.sleep(0.1)
    samples = [(t, c - base) for t, c in poller.samples if c > base]
    poller.close()
    if not samples:
        raise SystemExit(f"the ingestor committed nothing; see {log}")
    t_first = samples[0][0]
    t_last = next((t for t, c in samples if c >= n), samples[-1][0])
    # Steady state: from 10% to 90% of the backlog committed.
    t10 = next(t for t, c in samples if c >= n * 0.1)
    t90 = next((t for t, c in samples if c >= n * 0.9), t_last)
    return {
        "rate_total": samples[-1][1] / max(1e-9, t_last - t_first),
        "rate_steady": n * 0.8 / max(1e-9, t90 - t10),
    }


def paced_run(
    port: int, url: str, work: Workload, *, rate: float, seconds: float, workdir: Path, soak: bool = False
) -> dict:
    """Live load at `rate`: publish-to-committed latency per message, and the ingestor's memory."""
    log = workdir / "ingest-paced.log"
    poller = CommitPoller(url)
    with running_ingestor(url, port, log) as ing:
        return _paced(ing, log, poller, port, work, rate=rate, seconds=seconds, soak=soak)


def _paced(ing, log, poller, port, work, *, rate, seconds, soak) -> dict:  # noqa: ANN001
    _wait_log(ing, log, "subscribed")
    base = poller.wait_first()
    proc = psutil.Process(ing.pid)
    stop = threading.Event()
    stats = SimStats()
    pub = Publisher(Settings(mqtt_url=f"mqtt://127.0.0.1:{port}"), stats, stop, max_outstanding=1000)
    pub.connect()
    total = int(rate * seconds)
    sent_at: list[float] = []
    rss: list[tuple[float, int]] = []
    t0 = time.perf_counter()
    wall0 = time.time()
    next_rss = 0.0
    chunk = max(1, int(rate / 200))  # pace in 5 ms chunks
    with _progress() as prog:
        task = prog.add_task(f"paced at {rate:.0f} msg/s" + (" (soak)" if soak else ""), total=total)
        i = 0
        while i < total:
            due = t0 + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            for _ in range(min(chunk, total - i)):
                topic, payload = work.messages[i % len(work.messages)]
                if i >= len(work.messages):
                    topic, payload = _fresh_copy(topic, payload, i)
                sent_at.append(time.time())
                pub.publish(topic, payload, False)
                i += 1
            now = time.perf_counter() - t0
            if now >= next_rss:
                rss.append((now, _tree_rss(proc)))
                next_rss = now + (10.0 if soak else 1.0)
                prog.update(task, completed=i)
    pub.close(drain_timeout=120)
    poller.wait_for(base + total, 120)
    samples = [(t, c - base) for t, c in poller.samples]
    poller.close()
    lat = _latencies(sent_at, samples)
    return {
        "sent_rate": total / (sent_at[-1] - wall0) if sent_at else 0,
        "p50": pct(lat, 50),
        "p95": pct(lat, 95),
        "p99": pct(lat, 99),
        "max": max(lat) if lat else float("nan"),
        "committed": samples[-1][1] if samples else 0,
        "total": total,
        "rss": rss,
        "sent_at": sent_at,
    }


def _tree_rss(proc: psutil.Process) -> int:
    """Resident memory of the ingestor and its writer process together."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total


def _fresh_copy(topic: str, payload: bytes, i: int) -> tuple[str, bytes]:
    # Past the prepared workload the stream continues with new keys (a new time), so nothing is a duplicate.
    import orjson

    obj = orjson.loads(payload)
    if isinstance(obj, dict):
        obj["ts"] = time.time() - 1 + (i % 1000) / 1e6
        return topic, orjson.dumps(obj)
    return topic, payload


def _latencies(sent_at: list[float], samples: list[tuple[float, int]]) -> list[float]:
    out, j = [], 0
    for k, sent in enumerate(sent_at):
        while j < len(samples) and samples[j][1] < k + 1:
            j += 1
        if j == len(samples):
            break
        out.append(max(0.0, samples[j][0] - sent))
    return out


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))]


def _wait_log(proc: subprocess.Popen, log: Path, needle: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the ingestor exited early:\n{log.read_text()[-2000:]}")
        if log.exists() and needle in log.read_text(errors="replace"):
            return
        time.sleep(0.05)
    proc.terminate()
    raise SystemExit(f"the ingestor never said {needle!r}; see {log}")


def settle(url: str) -> None:
    """Let the database absorb the backlog (as autovacuum and checkpoints do over time) before timing latency."""
    eng = create_engine(url, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        if eng.dialect.name == "postgresql":
            c.execute(text("VACUUM ANALYZE"))
        else:
            c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    eng.dispose()


def integrity(url: str) -> tuple[int, int]:
    """(readings stored, readings counted twice in the rollups)."""
    eng = create_engine(url)
    with eng.connect() as c:
        stored = int(c.execute(text("SELECT count(*) FROM readings")).scalar())
        rolled = int(c.execute(text("SELECT coalesce(sum(count), 0) FROM rollup_1m")).scalar())
    eng.dispose()
    return stored, rolled - stored


def sparkline(values: list[float]) -> str:
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1
    return "".join(SPARK[int((v - lo) / span * (len(SPARK) - 1))] for v in values)


def _end_children_on_sigterm() -> None:
    # A benchmark stopped with SIGTERM still ends the broker and ingestors it started.
    import signal

    def handler(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    ap.add_argument("--messages", type=int, default=100_000, help="backlog size for the throughput run")
    ap.add_argument("--rate", type=float, default=5000, help="paced publish rate for the latency run")
    ap.add_argument("--latency-seconds", type=float, default=20)
    ap.add_argument("--soak-minutes", type=float, default=0, help="also run the paced load this long, sampling memory")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    _end_children_on_sigterm()

    console.print(f"[bold]SatuPintu ingest benchmark[/bold]: {os.cpu_count()} cores, {args.messages:,} messages")
    work = make_workload(args.messages, args.seed)
    console.print(f"workload: {len(work.messages):,} sensor messages carrying {work.readings:,} readings, 531 sources")
    results = []
    with bench_broker("satupintu-bench-") as (workdir, port):
        bare = bare_subscriber_rate(port, work.messages)
        console.print(f"bare paho subscriber (QoS 1, counts only): [bold]{bare:,.0f}[/bold] msg/s")
        for kind in [k.strip() for k in args.db.split(",") if k.strip()]:
            url = fresh_database(kind, workdir)
            console.rule(kind)
            drain = drain_run(port, url, work, workdir)
            stored, dup = integrity(url)
            lost = work.readings - stored
            console.print(
                f"throughput: {drain['rate_steady']:,.0f} msg/s steady (10-90%), {drain['rate_total']:,.0f} "
                f"first-to-last commit; {drain['rate_steady'] / bare:.0%} of the bare subscriber; "
                f"lost {lost}, duplicated {dup}"
            )
            settle(url)
            paced = paced_run(port, url, work, rate=args.rate, seconds=args.latency_seconds, workdir=workdir)
            console.print(
                f"latency at {paced['sent_rate']:,.0f} msg/s: p50 {paced['p50'] * 1000:.0f} ms, "
                f"p95 {paced['p95'] * 1000:.0f} ms, p99 {paced['p99'] * 1000:.0f} ms, max {paced['max'] * 1000:.0f} ms"
            )
            row = {"db": kind, "bare": bare, **drain, "lost": lost, "dup": dup, **paced}
            if args.soak_minutes:
                soak = paced_run(
                    port, url, work, rate=args.rate, seconds=args.soak_minutes * 60, workdir=workdir, soak=True
                )
                mem = [r for _, r in soak["rss"]]
                # Growth after warm-up: the minute after the first, against the last minute.
                warm = [r for t, r in soak["rss"] if 60 <= t < 120] or mem[:1]
                last = [r for t, r in soak["rss"] if t >= soak["rss"][-1][0] - 60] or mem[-1:]
                head, tail = statistics.mean(warm), statistics.mean(last)
                console.print(
                    f"soak {args.soak_minutes:g} min at {args.rate:,.0f} msg/s: ingestor + writer RSS "
                    f"{mem[0] / 2**20:.0f} MiB at start, {head / 2**20:.0f} MiB after warm-up (minute 2), "
                    f"{tail / 2**20:.0f} MiB in the last minute ({(tail - head) / head:+.1%}), "
                    f"p99 {soak['p99'] * 1000:.0f} ms\n  RSS {sparkline(mem)}"
                )
                row["soak_growth"] = (tail - head) / head
            stored, dup = integrity(url)
            row["dup"] = dup
            results.append(row)
    table = Table(title="ingest benchmark (QoS 1, ack after commit)")
    for col in ("db", "stored msg/s", "vs bare", "lost", "dup", f"p50 @{args.rate:.0f}/s", "p95", "p99"):
        table.add_column(col, justify="right")
    for r in results:
        table.add_row(
            r["db"],
            f"{r['rate_steady']:,.0f}",
            f"{r['rate_steady'] / r['bare']:.0%}",
            str(r["lost"]),
            str(r["dup"]),
            f"{r['p50'] * 1000:.0f} ms",
            f"{r['p95'] * 1000:.0f} ms",
            f"{r['p99'] * 1000:.0f} ms",
        )
    console.print(table)


if __name__ == "__main__":
    main()
