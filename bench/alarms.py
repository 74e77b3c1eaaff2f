"""Alarm benchmark: how soon a threshold alarm follows its reading at ingest load, and what rules cost the ingest rate.

    .venv/bin/python bench/alarms.py [--db sqlite,postgresql] [--messages 50000] [--rate 5000] [--seconds 20]

Same harness as bench/ingest.py (its own Mosquitto, a fresh database per run,
a real `satupintu ingest` process, the Morotai simulator's sensor traffic with
500 extra sources). Per database:

1. Cost: the ingestor drains the same backlog with every alarm rule disabled
   and with the profile's rules enabled, alternating, --pairs times; the cost
   is 1 - (median rate with rules / median rate without).
2. Latency: while the simulator's traffic is paced at --rate msg/s, --triggers
   readings of 300 cm from river gauges of their own are mixed in; each must
   raise a critical `threshold.water_level_cm` alarm. Reported: publish ->
   alarm on `city/{city}/alarm/{id}` (what a subscriber sees, so it includes
   the ingest latency itself), and publish -> committed for all messages in the
   same run; the difference is what evaluation adds after the commit.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from rich.table import Table
from sqlalchemy import text

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _load_harness():  # noqa: ANN202
    """bench/ingest.py, whose name would clash with the `ingest` package if imported plainly."""
    spec = importlib.util.spec_from_file_location("bench_ingest", REPO / "bench" / "ingest.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_ingest"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


bench_ingest = _load_harness()

from app.profile import load_profile
from app.seed import sync_profile
from app.storage.engine import make_engine, writing

console = bench_ingest.console


class AlarmListener:
    """Receive time of the first `raised` message per source on city/morotai/alarm/#."""

    def __init__(self, port: int) -> None:
        self.raised: dict[str, float] = {}
        self._ready = threading.Event()
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-alarms-{os.getpid()}")
        c.on_subscribe = lambda *_a: self._ready.set()
        c.on_message = self._on_message
        c.connect("127.0.0.1", port)
        c.subscribe("city/morotai/alarm/#", qos=1)
        c.loop_start()
        self._client = c
        if not self._ready.wait(10):
            raise SystemExit("could not subscribe to the alarm topic")

    def _on_message(self, _c, _u, msg) -> None:  # noqa: ANN001
        got = time.time()
        body = orjson.loads(msg.payload)
        if body.get("action") == "raised" and body.get("rule") == "threshold.water_level_cm":
            self.raised.setdefault(body["source_id"], got)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def database(kind: str, workdir: Path, rules_enabled: bool) -> str:
    """A fresh database (SQLite: in a directory of its own) with the profile's rules, all enabled or all off."""
    workdir = Path(tempfile.mkdtemp(dir=workdir, prefix=f"{kind}-"))
    url = bench_ingest.fresh_database(kind, workdir)
    eng = make_engine(url)
    with writing(eng) as conn:
        sync_profile(conn=conn, profile=load_profile("morotai"))
        if not rules_enabled:
            conn.execute(text("UPDATE alarm_rules SET enabled = false"))
    eng.dispose()
    return url


def with_triggers(work: bench_ingest.Workload, n: int, total: int) -> tuple[bench_ingest.Workload, dict[int, str]]:
    """The workload with `n` over-threshold readings spread over its first `total` messages."""
    msgs = list(work.messages[:total])
    at: dict[int, str] = {}
    for k in range(n):
        i = int((k + 0.5) * total / n)
        source = f"bench-river-{k}"
        msgs[i] = (f"city/morotai/sensor/{source}", orjson.dumps({"values": {"water_level_cm": 300.0}}))
        at[i] = source
    return bench_ingest.Workload(msgs, work.readings), at


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="sqlite,postgresql")
    ap.add_argument("--messages", type=int, default=50_000, help="backlog per drain run")
    ap.add_argument("--pairs", type=int, default=2, help="drain runs with and without rules, alternating")
    ap.add_argument("--rate", type=float, default=5000)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--triggers", type=int, default=40)
    args = ap.parse_args(argv)
    bench_ingest._end_children_on_sigterm()  # noqa: SLF001 - the shared harness's own helper

    total = int(args.rate * args.seconds)
    work = bench_ingest.make_workload(max(args.messages, total), 1)
    drain_work = bench_ingest.Workload(work.messages[: args.messages], 0)
    paced_work, triggers = with_triggers(work, args.triggers, total)
    console.print(
        f"[bold]SatuPintu alarm benchmark[/bold]: {os.cpu_count()} cores; drain {args.messages:,} messages x "
        f"{args.pairs} pairs; {args.triggers} threshold triggers within {total:,} messages at {args.rate:,.0f} msg/s"
    )
    rows = []
    with bench_ingest.bench_broker("satupintu-bench-alarms-") as (workdir, port):
        for kind in [k.strip() for k in args.db.split(",") if k.strip()]:
            console.rule(kind)
            rates: dict[bool, list[float]] = {False: [], True: []}
            for _ in range(args.pairs):
                for enabled in (False, True):
                    url = database(kind, workdir, enabled)
                    r = bench_ingest.drain_run(port, url, drain_work, workdir)["rate_steady"]
                    rates[enabled].append(r)
                    console.print(f"drain with rules {'on ' if enabled else 'off'}: {r:,.0f} msg/s")
            off, on = statistics.median(rates[False]), statistics.median(rates[True])
            url = database(kind, workdir, True)
            listener = AlarmListener(port)
            try:
                paced = bench_ingest.paced_run(
                    port, url, paced_work, rate=args.rate, seconds=args.seconds, workdir=workdir
                )
                deadline = time.monotonic() + 30
                while len(listener.raised) < len(triggers) and time.monotonic() < deadline:
                    time.sleep(0.1)
            finally:
                listener.close()
            if len(listener.raised) < len(triggers):
                log = (workdir / "ingest-paced.log").read_text(errors="replace").splitlines()
                console.print("[red]not every trigger raised an alarm; the ingestor said:[/red]")
                console.print(
                    "\n".join([line for line in log if "alarm" in line or "ERROR" in line or "Error" in line][-20:])
                )
            sent = paced["sent_at"]
            lat = sorted(
                listener.raised[s] - sent[i] for i, s in triggers.items() if s in listener.raised and i < len(sent)
            )
            row = {
                "db": kind,
                "off": off,
                "on": on,
                "cost": 1 - on / off,
                "raised": len(lat),
                "triggers": len(triggers),
                "a50": bench_ingest.pct(lat, 50),
                "a95": bench_ingest.pct(lat, 95),
                "amax": lat[-1] if lat else float("nan"),
                "c50": paced["p50"],
                "c95": paced["p95"],
                "rate": paced["sent_rate"],
            }
            rows.append(row)
            console.print(
                f"rules cost {row['cost']:.1%} of the ingest rate ({off:,.0f} -> {on:,.0f} msg/s); "
                f"{row['raised']}/{row['triggers']} threshold alarms raised; publish->alarm p50 "
                f"{row['a50'] * 1000:.0f} ms, p95 {row['a95'] * 1000:.0f} ms, max {row['amax'] * 1000:.0f} ms; "
                f"publish->committed p50 {row['c50'] * 1000:.0f} ms, p95 {row['c95'] * 1000:.0f} ms "
                f"at {row['rate']:,.0f} msg/s"
            )
    table = Table(title="alarm benchmark")
    for col in (
        "db",
        "ingest w/o rules",
        "with rules",
        "cost",
        "alarms",
        "pub->alarm p50",
        "p95",
        "max",
        "pub->commit p95",
    ):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            r["db"],
            f"{r['off']:,.0f}",
            f"{r['on']:,.0f}",
            f"{r['cost']:.1%}",
            f"{r['raised']}/{r['triggers']}",
            f"{r['a50'] * 1000:.0f} ms",
            f"{r['a95'] * 1000:.0f} ms",
            f"{r['amax'] * 1000:.0f} ms",
            f"{r['c95'] * 1000:.0f} ms",
        )
    console.print(table)


if __name__ == "__main__":
    main()
