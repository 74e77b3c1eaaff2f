"""The per-day ticket rollup (app.services.rollup): kept by the writer, equal to a recount, percentiles within 4.5%."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import Engine, select

from app.profile import load_profile
from app.services import queries as sq
from app.services.rollup import TICKET_COLUMNS, Delta, bucket_bounds, bucket_of, hist_percentile
from app.storage.models import TicketDayHistRow, TicketDayRow, TicketRow
from ingest.messages import TicketEvent
from ingest.writer import BatchWriter, Item
from tests.app.tickets.test_routes import M, seed_tickets

PROFILE = load_profile("morotai")
FIGURES = ("opened", "resolved", "resolved_with_due", "resolved_within_sla", "cancelled", "open", "overdue", "sla_pct")


def test_buckets_tile_the_minutes() -> None:
    assert bucket_of(0) == 0 and bucket_of(59_999) == 0 and bucket_of(60_000) == 1
    for k in range(1, 200):
        low, high = bucket_bounds(k)
        assert bucket_of(int(low * 60_000) + 1) == k and bucket_of(int(high * 60_000) - 1) == k
        assert high / low == pytest.approx(2 ** (1 / 16))


@pytest.mark.parametrize("seed", range(5))
def test_histogram_percentiles_are_within_the_stated_precision(seed: int) -> None:
    rng = random.Random(seed)
    times_ms = sorted(int(60_000 * rng.lognormvariate(rng.uniform(1, 7), rng.uniform(0.2, 1.5))) for _ in range(2_000))
    hist: dict[int, int] = {}
    for ms in times_ms:
        hist[bucket_of(ms)] = hist.get(bucket_of(ms), 0) + 1
    for q in (0.5, 0.9):
        exact = sq.percentile([t / 60_000 for t in times_ms], q)
        approx = hist_percentile(hist, q)
        assert abs(approx - exact) <= max(0.045 * exact, 1.0), (q, exact, approx)
    assert hist_percentile({}, 0.5) is None
    assert hist_percentile({0: 1}, 0.9) == pytest.approx(0.5)


def _rollup(engine: Engine) -> tuple[dict, dict]:
    with engine.connect() as c:
        days = {tuple(r[:4]): tuple(r[4:]) for r in c.execute(select(TicketDayRow.__table__)) if any(r[4:])}
        hist = {tuple(r[:5]): r[5] for r in c.execute(select(TicketDayHistRow.__table__)) if r[5]}
    return days, hist


def _recount(engine: Engine) -> tuple[dict, dict]:
    d = Delta()
    with engine.connect() as c:
        for row in c.execute(select(*(TicketRow.__table__.c[n] for n in TICKET_COLUMNS))).mappings():
            d.add(row)
    days = {k: tuple(v) for k, v in d.counts.items() if any(v)}
    hist = {(*k, b): n for (k, b), n in d.hist.items() if n}
    return days, hist


def test_the_writer_keeps_the_rollup_equal_to_a_recount_and_redelivery_changes_nothing(
    engine: Engine, writer: BatchWriter
) -> None:
    s = seed_tickets(writer)  # reopenings, cancellations, out-of-order events, own SLAs
    kept = _rollup(engine)
    assert kept == _recount(engine) and kept[0]
    # A ticket's agency and service may change with a later event: its counts move with it.
    writer.write([_item("A7", "in_progress", s.now - 2 * M, agency="bpbd", service="banjir")])
    assert _rollup(engine) == _recount(engine)
    before = _rollup(engine)
    writer.write([_item("A7", "in_progress", s.now - 2 * M, agency="bpbd", service="banjir")])  # redelivered
    assert _rollup(engine) == before


def _item(tid: str, status: str, ts: int, agency: str, service: str) -> Item:
    return Item(
        f"city/morotai/service/{agency}", b"{}", ts, TicketEvent("morotai", agency, tid, status, ts, service=service)
    )


def test_status_from_the_rollup_matches_the_exact_figures(engine: Engine, writer: BatchWriter) -> None:
    s = seed_tickets(writer)
    with engine.connect() as c:
        for start, end in ((s.start, s.end), (s.start - 3 * M, s.end + 7 * M), (s.start - 2 * 86_400_000, s.end)):
            kw = {"conn": c, "profile": PROFILE, "start_ms": start, "end_ms": end, "now_ms": s.now}
            exact = _figures(sq.service_status(**kw))
            rolled = _figures(sq.service_status(**kw, exact_up_to=0))
            assert exact.keys() == rolled.keys()
            for key, want in exact.items():
                got = rolled[key]
                assert {f: got[f] for f in FIGURES} == {f: want[f] for f in FIGURES}, key
                for f in ("median_resolution_min", "p90_resolution_min"):
                    if want[f] is None:
                        assert got[f] is None, (key, f)
                    else:
                        assert abs(got[f] - want[f]) <= max(0.045 * want[f], 1.0) + 0.05, (key, f, want[f], got[f])


def _figures(status: sq.ServiceStatus) -> dict:
    out = {("overall",): status.overall.figures()}
    for b in status.agencies:
        out[(b.agency,)] = b.tally.figures()
        out.update({(b.agency, line.service): line.tally.figures() for line in b.services})
    return out
