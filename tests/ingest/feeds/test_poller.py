"""The feeds loop against a local HTTP server serving BMKG's vectors and hand-made documents.

What it publishes is taken down the real parse and write path (ingest.parser, ingest.writer) on both databases.
Hostile, huge, malformed and unreachable feeds each leave the loop running, logged, and the feed marked offline.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from app.profile import load_deployment, load_profile
from app.settings import Settings
from ingest.feeds.fetch import Fetcher
from ingest.feeds.poller import Feed, Poller
from ingest.parser import ParseRules, parse
from ingest.writer import BatchWriter, Item
from tests.app.alerts.capdocs import BMKG, cap
from tests.docserver import DocServer

PROFILE = load_profile("morotai")
VECTORS = Path(__file__).parents[2] / "vectors" / "bmkg"
NEAR_QUAKE = b"""{"Infogempa": {"gempa": {"DateTime": "%s", "Coordinates": "2.45,129.06", "Magnitude": "6.1",
 "Kedalaman": "10 km", "Wilayah": "40 km TimurLaut Morotai", "Potensi": "Gempa ini berpotensi tsunami",
 "Dirasakan": "IV Daruba"}}}"""


@pytest.fixture
def site() -> Iterator[DocServer]:
    s = DocServer()
    yield s
    s.close()


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def poller(feeds: list[Feed], sent: list, clock: Clock, **kw) -> Poller:
    s = Settings(feed_poll_s=5, feed_max_bytes=kw.pop("max_bytes", 2_000_000), feed_timeout_s=2)
    fetcher = Fetcher(timeout_s=2, max_bytes=s.feed_max_bytes, per_minute=60)
    return Poller(
        feeds, fetcher, lambda t, p, r: sent.append((t, p, r)) or True, city="morotai", settings=s, clock=clock
    )


def ingest(engine: Engine, db_url: str, sent: list) -> BatchWriter:
    rules = ParseRules.from_profile(PROFILE, Settings())
    w = BatchWriter(engine, PROFILE, Settings(database_url=db_url))
    now = int(time.time() * 1000)
    w.write([Item(t, p, now, parse(t, p, now, rules)) for t, p, _ in sent])
    return w


def q(engine: Engine, sql: str) -> list[tuple]:
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(text(sql))]


def test_bmkg_samples_are_stored_but_do_not_concern_morotai(site: DocServer, engine: Engine, db_url: str) -> None:
    site.docs["/autogempa.json"] = (VECTORS / "autogempa.json").read_bytes()
    site.docs["/gempaterkini.json"] = (VECTORS / "gempaterkini.json").read_bytes()
    # The items link their CAP documents on the same server (one absolute, one relative link: both are followed).
    rss = (VECTORS / "nowcast_rss.xml").read_bytes().replace(b"https://www.bmkg.go.id/alerts/nowcast/id/C", b"/cap/C")
    site.docs["/rss.xml"] = rss.replace(b"<link>/cap/CBT", f"<link>{site.base}/cap/CBT".encode())
    # The first item's CAP document is missing (404); the second item (a relative link) serves BMKG's sample.
    site.docs["/cap/CJG20260216005_alert.xml"] = (VECTORS / "nowcast_cap_banten.xml").read_bytes()
    feeds = [
        Feed("feed-bmkg-gempa-1", f"{site.base}/autogempa.json", "quake"),
        Feed("feed-bmkg-gempa-2", f"{site.base}/gempaterkini.json", "quake"),
        Feed("feed-bmkg-nowcast", f"{site.base}/rss.xml", "nowcast"),
    ]
    sent: list = []
    clock = Clock()
    p = poller(feeds, sent, clock)
    p.poll_due()
    # The Pekalongan quake is in both documents: published once. The missing first item does not hold back the second.
    alerts = [x for x in sent if "/alert/" in x[0]]
    assert len(alerts) == 3  # Pekalongan, Denpasar, Banten
    assert p.health["feed-bmkg-gempa-1"] == "online" and p.health["feed-bmkg-nowcast"] == "offline"
    clock.t += 60
    p.poll_due()  # unchanged documents: 304s, nothing published again
    assert site.not_modified >= 2
    assert len([x for x in sent if "/alert/" in x[0]]) == 3
    ingest(engine, db_url, sent).close()
    assert q(engine, "SELECT count(*), sum(CASE WHEN relevant THEN 1 ELSE 0 END) FROM alerts") == [(3, 0)]
    assert q(engine, "SELECT count(*) FROM alarms") == [(0,)]
    # Feed health goes through the status topic: the feeds are sources with a status.
    status = {t.rsplit("/", 1)[1]: body for t, body, retain in sent if "/status/" in t and retain}
    assert status["feed-bmkg-gempa-2"] == b"online"


def test_a_near_tsunami_quake_and_a_nowcast_raise_warnings_and_the_cancel_clears(
    site: DocServer, engine: Engine, db_url: str
) -> None:
    site.docs["/autogempa.json"] = NEAR_QUAKE % b"2026-12-06T05:00:00+00:00"
    site.docs["/n-1.xml"] = cap("n-1", severity="Moderate")
    feeds = [
        Feed("feed-bmkg-gempa-1", f"{site.base}/autogempa.json", "quake"),
        Feed("feed-cap-1", f"{site.base}/n-1.xml", "cap"),
    ]
    sent: list = []
    clock = Clock()
    p = poller(feeds, sent, clock)
    p.poll_due()
    w = ingest(engine, db_url, sent)
    w.close()
    rows = q(engine, "SELECT severity, district, state FROM alarms ORDER BY severity")
    assert rows[0][0] == "critical"  # the M6.1 with tsunami potential: Awas
    assert ("minor", "morotai-utara", "active") in rows  # the nowcast over Morotai Utara: Waspada
    site.docs["/n-1.xml"] = cap("n-1-c", msg_type="Cancel", references=f"{BMKG},n-1,2026-12-06T05:00:00+00:00")
    sent.clear()
    clock.t += 10
    p.poll_due()
    ingest(engine, db_url, sent).close()
    assert q(engine, "SELECT severity, state FROM alarms ORDER BY severity") == [
        ("critical", "active"),
        ("minor", "cleared"),
    ]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><rss><channel>'
            b"<item><link>&x;</link></item></channel></rss>",
            "DTD or entities",
        ),
        (b"<rss><channel><item>", "malformed XML"),
        (b"x" * 10_000_001, "byte limit"),
        (b"y" * 10_000_001, "more than the"),  # no Content-Length: cut off while it streams in
        (None, "cannot be reached"),
    ],
    ids=["xxe", "malformed", "10mb", "10mb-unannounced", "down"],
)
def test_bad_feeds_leave_the_loop_running_logged_and_offline(site: DocServer, body, why, caplog) -> None:
    site.docs["/good.xml"] = cap("g-1")
    url = f"{site.base}/bad.xml" if body is not None else "http://127.0.0.1:9/down.xml"
    if body is not None:
        site.docs["/bad.xml"] = body
        if body.startswith(b"y"):
            site.unannounced.add("/bad.xml")
    feeds = [Feed("feed-cap-1", url, "cap"), Feed("feed-cap-2", f"{site.base}/good.xml", "cap")]
    sent: list = []
    clock = Clock()
    p = poller(feeds, sent, clock)
    with caplog.at_level(logging.WARNING, logger="ingest.feeds.poller"):
        wait = p.poll_due()
    assert why in caplog.text
    assert p.health == {"feed-cap-1": "offline", "feed-cap-2": "online"}
    assert [t for t, _, _ in sent if "/alert/" in t] == ["city/morotai/alert/bmkg"]  # the good feed still went out
    assert wait > 0
    # Backing off: the failed feed is not polled again at the next interval, but later.
    clock.t += 5
    hits = dict(site.hits)
    p.poll_due()
    assert site.hits.get("/bad.xml", 0) == hits.get("/bad.xml", 0)
    clock.t += 60
    p.poll_due()
    if body is not None:
        assert site.hits["/bad.xml"] == hits["/bad.xml"] + 1


FAR_NORTH_QUAKE = b"""{"Infogempa": {"gempa": {"DateTime": "%s", "Coordinates": "3.90,129.50",
 "Magnitude": "5.3", "Kedalaman": "10 km", "Wilayah": "170 km TimurLaut Morotai",
 "Potensi": "Tidak berpotensi tsunami", "Dirasakan": "III Daruba"}}}"""


def test_every_city_of_the_deployment_gets_each_alert_and_judges_it_against_its_own_outline(
    site: DocServer, engine: Engine, db_url: str
) -> None:
    """Issue 15: one feeds process for a province; a quake north of Morotai concerns Morotai, not Ternate."""
    two = load_deployment("morotai,ternate")
    just_now = datetime.now(UTC).replace(microsecond=0).isoformat().encode()
    site.docs["/autogempa.json"] = FAR_NORTH_QUAKE % just_now  # its alarm holds for an hour after the quake
    s = Settings(feed_poll_s=5, feed_timeout_s=2)
    sent: list = []
    clock = Clock()
    p = Poller(
        [Feed("feed-bmkg-gempa-1", f"{site.base}/autogempa.json", "quake")],
        Fetcher(timeout_s=2, max_bytes=s.feed_max_bytes, per_minute=60),
        lambda t, b, r: sent.append((t, b, r)) or True,
        city=two.ids,
        settings=s,
        clock=clock,
    )
    p.poll_due()
    assert sorted(t for t, _, _ in sent) == [
        "city/morotai/alert/bmkg",
        "city/morotai/status/feed-bmkg-gempa-1",
        "city/ternate/alert/bmkg",
        "city/ternate/status/feed-bmkg-gempa-1",
    ]
    rules = ParseRules.from_deployment(two, Settings())
    w = BatchWriter(engine, two, Settings(database_url=db_url))
    now = int(time.time() * 1000)
    w.write([Item(t, b, now, parse(t, b, now, rules)) for t, b, _ in sent])
    # The same alert id in both cities: stored once per city, each judged by its own outline and rules.
    rows = q(engine, "SELECT city, relevant, alarm_severity, round(distance_km) FROM alerts ORDER BY city")
    assert rows == [("morotai", True, "major", 173), ("ternate", False, None, 410)]
    assert q(engine, "SELECT city, severity FROM alarms") == [("morotai", "major")]
    # Published again (a restarted feeds process): each city keeps its one copy.
    w.write([Item(t, b, now, parse(t, b, now, rules)) for t, b, _ in sent])
    w.close()
    assert q(engine, "SELECT city, count(*) FROM alerts GROUP BY city ORDER BY city") == [
        ("morotai", 1),
        ("ternate", 1),
    ]
