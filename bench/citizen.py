"""Citizen services benchmark: what working days cost where they are computed, and the public page's figures.

    .venv/bin/python bench/citizen.py [--calls 20000] [--tickets 20000]

1. The calendar (app.workdays): microseconds per `add` (a due time, computed once per ticket change by the
   ingestor) and per `elapsed` (a time to resolve, once per resolved ticket on the public page), for 3 and 10
   working days, the whole day and office hours; the first call of a year builds its holidays (reported apart).
2. /publik's figures (app.public.queries) over --tickets resolved tickets in the last 30 days, on SQLite: the
   time to compute them once (the page is then cached for `public_page_cache_s`).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import date, time as clock
from pathlib import Path

from app.http.timefmt import now_ms
from app.profile import load_profile
from app.public.queries import public_figures
from app.storage.engine import make_engine
from app.storage.migrate import upgrade
from app.storage.models import TicketRow
from app.workdays.calendar import WorkCalendar

DAY = 86_400_000


def calendar(calls: int) -> None:
    p = load_profile("morotai")
    for label, office in (("whole day", None), ("08:00-16:00", (clock(8), clock(16)))):
        cal = WorkCalendar(p.tz, office=office)
        t0 = time.perf_counter()
        cal.is_working_day(date(2026, 1, 5))
        first = (time.perf_counter() - t0) * 1e3
        rng = random.Random(1)
        starts = [now_ms() - rng.randrange(0, 300 * DAY) for _ in range(calls)]
        for days in (3, 10):
            t0 = time.perf_counter()
            for s in starts:
                cal.add(s, days)
            add_us = (time.perf_counter() - t0) / calls * 1e6
            t0 = time.perf_counter()
            for s in starts:
                cal.elapsed(s, s + days * 2 * DAY)
            el_us = (time.perf_counter() - t0) / calls * 1e6
            print(f"calendar {label:11s} {days:2d} working days: add {add_us:6.1f} us, elapsed {el_us:6.1f} us")
        print(f"calendar {label:11s} first look-up of a year (holidays built): {first:.1f} ms")


def public(tickets: int) -> None:
    p = load_profile("morotai")
    with tempfile.TemporaryDirectory() as tmp:
        eng = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(eng)
        rng = random.Random(2)
        services = [s for s in p.services if s.agency not in p.open311.hidden_agencies]
        now = now_ms()
        rows = []
        for i in range(tickets):
            s = rng.choice(services)
            opened = now - rng.randrange(DAY, 29 * DAY)
            resolved = opened + rng.randrange(60_000, 10 * DAY)
            rows.append(
                {
                    "city": "morotai",
                    "ticket_id": f"b-{i}",
                    "agency": s.agency,
                    "service": s.id,
                    "status": "resolved",
                    "priority": "normal",
                    "district": rng.choice(p.districts).id,
                    "opened_ms": opened,
                    "resolved_ms": min(resolved, now - 1),
                    "due_ms": p.due_ms(s.id, opened),
                    "updated_ms": resolved,
                }
            )
        with eng.begin() as conn:
            conn.execute(TicketRow.__table__.insert(), rows)
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            with eng.connect() as conn:
                public_figures(conn=conn, profile=p, now_ms=now)
            runs.append(time.perf_counter() - t0)
        print(
            f"public page figures, {tickets} resolved tickets (SQLite): median {statistics.median(runs) * 1e3:.0f} ms"
        )
        eng.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=20_000)
    ap.add_argument("--tickets", type=int, default=20_000)
    a = ap.parse_args()
    calendar(a.calls)
    public(a.tickets)


if __name__ == "__main__":
    main()
