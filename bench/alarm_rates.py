"""The demo's alarm rates (issue 17 part 1): the Morotai simulator run for a simulated day in compressed time,
through the real parser, write path, alarm rules (readings and clock) and alarm management, then measured
against EEMUA 191 / ISA-18.2 with the alarm-KPI code the API serves.

    .venv/bin/python bench/alarm_rates.py [--hours 24] [--rate 20] [--seed 7] [--profile morotai]

A virtual clock stands in for the wall clock (the simulator is pure; the commit's evaluation time and the alarm
clock's ticks follow it), so a day of the demo at its default rate (20 messages/s) takes minutes, not a day.
The demo's episodes (storms, smoke, bursts, outages, tickets) run TIME_SCALE times faster than the wall clock,
as in `satupintu run`: the figures are per hour of the demo as an operator sits through it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import text

from app.alarms.clock_rules import evaluate_clock
from app.alarms.kpis import alarm_kpis
from app.alarms.rulebook import RuleBook
from app.alarms.store import Lifecycle
from app.alarms.upkeep import upkeep
from app.profile import load_profile
from app.seed import sync_profile
from app.settings import Settings
from app.storage.engine import make_engine, writing
from app.storage.migrate import upgrade
from ingest import committer
from ingest.committer import WritePath, parse_and_write
from ingest.parser import ParseRules
from ingest.simulator import CityModel
from ingest.writer import BatchWriter


class VirtualClock:
    """time.time() for the modules that read it: the simulated instant."""

    def __init__(self, start: float) -> None:
        self.now = start

    def time(self) -> float:
        return self.now

    def __getattr__(self, name: str) -> object:
        return getattr(time, name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--rate", type=float, default=20.0, help="messages per second, as `satupintu simulate`")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--profile", default="morotai")
    ap.add_argument("--batch-s", type=float, default=5.0, help="virtual seconds per committed batch")
    ap.add_argument("--tick-s", type=float, default=10.0, help="the alarm clock's interval")
    args = ap.parse_args()

    profile = load_profile(args.profile)
    tmp = Path(tempfile.mkdtemp(prefix="sp-alarm-rates-"))
    settings = Settings(database_url=f"sqlite:///{tmp / 'rates.db'}", alarm_rules_refresh_s=600)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    with writing(engine) as conn:
        sync_profile(conn=conn, profile=profile)

    end = time.time()
    start = end - args.hours * 3600
    clock = VirtualClock(start)
    committer.time = clock  # type: ignore[assignment]  # the commit's evaluation time follows the simulation
    path = WritePath(BatchWriter(engine, profile, settings))
    rules = ParseRules.from_profile(profile, settings)
    model = CityModel(profile, seed=args.seed)
    book, life = RuleBook(600), Lifecycle(profile)
    stop = threading.Event()
    step = 1.0 / args.rate
    t, next_batch, next_tick = start, start + args.batch_s, start + args.tick_s
    raw: list[tuple[str, bytes, int]] = []
    sent = 0
    wall = time.perf_counter()
    while t < end:
        topic, payload, _retain, _bad = model.next_message(t)
        raw.append((topic, payload, int(t * 1000)))
        sent += 1
        t += step
        if t >= next_batch:
            clock.now = t
            parse_and_write(path, rules, raw, stop)
            raw = []
            next_batch += args.batch_s
        if t >= next_tick:
            clock.now = t
            now_ms = int(t * 1000)
            with writing(engine) as conn:
                evaluate_clock(conn, book=book, life=life, city=profile.city.id, now_ms=now_ms)
            with writing(engine) as conn:
                upkeep(conn=conn, life=life, profile=profile, now_ms=now_ms)
            next_tick += args.tick_s
    if raw:
        parse_and_write(path, rules, raw, stop)
    path.close()
    took = time.perf_counter() - wall

    start_ms, end_ms = int(start * 1000), int(end * 1000)
    with engine.connect() as conn:
        k = alarm_kpis(conn=conn, city=profile.city.id, start_ms=start_ms, end_ms=end_ms, now_ms=end_ms)
        raised = [
            (r.raised_ms, r.rule_id, r.severity)
            for r in conn.execute(
                text("SELECT raised_ms, rule_id, severity FROM alarms WHERE raised_ms >= :s AND raised_ms < :e"),
                {"s": start_ms, "e": end_ms},
            )
        ]
        flood_starts = conn.execute(text("SELECT count(*) FROM audit_log WHERE action = 'alarm.flood.start'")).scalar()
        chatter_shelves = conn.execute(text("SELECT count(*) FROM alarm_shelves WHERE reason = 'chattering'")).scalar()
    per_hour = Counter(int((ms - start_ms) // 3_600_000) for ms, _, _ in raised)
    hours = int(args.hours + 0.999)
    by_rule = Counter(rule for _, rule, _ in raised)
    fig = {x.key: x for x in k.kpis}

    def val(key: str) -> str:
        x = fig[key]
        v = "-" if x.value is None else f"{x.value:g}"
        return f"{v} {x.unit} (target {x.target}: {'met' if x.meets else 'NOT met'})"

    print(f"simulated {args.hours:g} h of the {profile.city.id} demo at {args.rate:g} msg/s (seed {args.seed}):")
    print(f"  {sent:,} messages, {len(raised)} alarms raised; ran in {took:.0f} s")
    print("  alarms per hour: " + " ".join(str(per_hour.get(h, 0)) for h in range(hours)))
    for key in (
        "alarms_per_hour",
        "peak_10min",
        "flood_pct",
        "top10_share_pct",
        "chattering",
        "stale",
        "priority_low_pct",
        "priority_medium_pct",
        "priority_high_pct",
    ):
        print(f"  {key:20} {val(key)}")
    print(f"  floods audited: {flood_starts}; rule+source pairs shelved for chattering: {chatter_shelves}")
    print("  by rule: " + ", ".join(f"{r} {n}" for r, n in by_rule.most_common()))


if __name__ == "__main__":
    main()
