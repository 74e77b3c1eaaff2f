"""Ingest totals on the web process's /metrics, read from the database at scrape time.

The ingestor counts what it does in its own process (and serves those on
SATUPINTU_INGEST_METRICS_PORT, with the batch commit-time histogram); these
totals come from the ingest_minute table, so they cover every ingestor
replica and survive restarts.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, event, func, select
from sqlalchemy.exc import SQLAlchemyError

from app.storage.models import IngestMinuteRow, SourceRow

log = logging.getLogger(__name__)


UNKNOWN_CITY = "_unknown"


class IngestTotals(Collector):
    """satupintu_messages_{received,stored,quarantined}_total per city, and sources known.

    The `city` label is the profile's city or `_unknown`: city ids come from topics anyone allowed to publish
    may make up, and each new label value would be a new series for Prometheus to keep.
    """

    def __init__(self, engine: Engine, *cities: str) -> None:
        self._engine = engine
        self._cities = frozenset(cities)

    def _label(self, city: str) -> str:
        return city if city in self._cities else UNKNOWN_CITY

    def collect(self):  # noqa: ANN201 - prometheus_client protocol
        received = CounterMetricFamily(
            "satupintu_messages_received", "MQTT messages committed by the ingestors", labels=["city"]
        )
        stored = CounterMetricFamily("satupintu_messages_stored", "Messages stored (not quarantined)", labels=["city"])
        quarantined = CounterMetricFamily(
            "satupintu_messages_quarantined", "Messages quarantined with a reason", labels=["city"]
        )
        sources = GaugeMetricFamily("satupintu_sources", "Sources known", labels=["city"])
        m = IngestMinuteRow
        totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
        known: dict[str, float] = defaultdict(float)
        try:
            with self._engine.connect() as conn:
                for city, r, s, q in conn.execute(
                    select(m.city, func.sum(m.received), func.sum(m.stored), func.sum(m.quarantined)).group_by(m.city)
                ):
                    t = totals[self._label(city)]
                    t[0], t[1], t[2] = t[0] + float(r or 0), t[1] + float(s or 0), t[2] + float(q or 0)
                for city, n in conn.execute(select(SourceRow.city, func.count()).group_by(SourceRow.city)):
                    known[self._label(city)] += float(n)
        except SQLAlchemyError as exc:  # a scrape must not fail because the database is away
            log.warning("metrics: database unavailable: %s", str(exc).splitlines()[0][:200])
            return
        for city, (n_received, n_stored, n_quarantined) in totals.items():
            received.add_metric([city], n_received)
            stored.add_metric([city], n_stored)
            quarantined.add_metric([city], n_quarantined)
        for city, n_sources in known.items():
            sources.add_metric([city], n_sources)
        yield from (received, stored, quarantined, sources)


class WebTotals(Collector):
    """What this web process asked of the database, and how its response cache answered.

    `satupintu_db_statements_total` counts every SQL statement the process sent
    (API routes, the dashboard's reads through them, token look-ups): the
    database's cost of the people watching. `satupintu_api_cache_answers_total`
    counts GET answers by how they were given: hit, stale (served while computed
    again), computed (a miss), recomputed (ahead of readers, after a change).
    """

    def __init__(self, engine: Engine, cache: object | None) -> None:
        self.statements = 0
        self._cache = cache
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_args: object) -> None:
        self.statements += 1  # one attribute add per statement; the GIL makes it exact enough

    def collect(self):  # noqa: ANN201 - prometheus_client protocol
        yield CounterMetricFamily(
            "satupintu_db_statements", "SQL statements this web process sent", value=self.statements
        )
        answers = CounterMetricFamily(
            "satupintu_api_cache_answers", "GET answers of /api/v1 by how the cache gave them", labels=["how"]
        )
        c = self._cache
        if c is not None:
            for how, n in (
                ("hit", c.hits),
                ("stale", c.stale_hits),
                ("computed", c.misses),
                ("recomputed", c.recomputed),
            ):
                answers.add_metric([how], float(n))
        yield answers
