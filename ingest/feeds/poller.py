"""The feeds loop: poll each feed when it is due, publish new documents, report each feed's health, back off on errors.

A feed that fails (unreachable, too large, malformed, hostile XML) is
logged with the reason, published `offline` on its status topic and polled
again after a doubling back-off; the process itself goes on. A feed whose
poll worked is published `online` (which also keeps its last-seen fresh).
"""

from __future__ import annotations

import hashlib
import logging
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin

from app.alerts.cap import CapError, parse_cap
from app.settings import Settings
from ingest.feeds.bmkg import QuakeError, quakes, to_cap
from ingest.feeds.fetch import Fetcher, FetchError
from ingest.feeds.lists import ListError, links
from ingest.simulator.publisher import Publisher, SimStats

log = logging.getLogger(__name__)
Publish = Callable[[str, bytes, bool], bool]  # topic, payload, retain -> queued
SEEN_MAX = 4096


@dataclass(frozen=True, slots=True)
class Feed:
    """One polled URL: its source id (for health), and what it serves (`quake` JSON, a `nowcast` RSS, or `cap`)."""

    source_id: str
    url: str
    kind: str


def feeds_from(s: Settings) -> list[Feed]:
    """The feeds the settings name."""
    out = [Feed(f"feed-bmkg-gempa-{i + 1}", u, "quake") for i, u in enumerate(s.bmkg_quake_urls)]
    if s.bmkg_nowcast_url:
        out.append(Feed("feed-bmkg-nowcast", s.bmkg_nowcast_url, "nowcast"))
    out += [Feed(f"feed-cap-{i + 1}", u, "cap") for i, u in enumerate(s.cap_feed_urls)]
    return out


@dataclass(slots=True)
class _State:
    due: float = 0.0
    failures: int = 0


class Poller:
    """Polls `feeds` and publishes for the deployment's cities; `poll_due()` is one turn, `run()` turns until stopped.

    `city` is one city or the tuple of a deployment's: every document goes to each city's alert topic, so
    each judges its relevance against its own outline (the ingestor keeps it once per city and identifier).
    """

    def __init__(
        self,
        feeds: list[Feed],
        fetcher: Fetcher,
        publish: Publish,
        *,
        city: str | tuple[str, ...],
        settings: Settings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.feeds, self._fetch, self._publish = feeds, fetcher, publish
        self._cities = (city,) if isinstance(city, str) else city
        self._s, self._clock = settings, clock
        self._state = {f.source_id: _State() for f in feeds}
        self._seen: OrderedDict[str, None] = OrderedDict()  # digests of documents already published
        self.health: dict[str, str] = {}  # source_id -> online | offline, as last published
        self._said: dict[str, tuple[str, float]] = {}  # source_id -> (word, when) last published
        self.published = 0

    def poll_due(self) -> float:
        """Poll every feed that is due; the seconds until the next one is."""
        now = self._clock()
        for feed in self.feeds:
            st = self._state[feed.source_id]
            if st.due <= now:
                self.poll(feed)
        return max(0.0, min(st.due for st in self._state.values()) - self._clock()) if self.feeds else 60.0

    def poll(self, feed: Feed) -> None:
        """One poll of `feed`: publish what is new, then its health; back off when it failed."""
        st = self._state[feed.source_id]
        try:
            self._poll(feed)
        except (FetchError, ListError, QuakeError, CapError) as exc:
            why = exc.detail if isinstance(exc, CapError) else str(exc)
            st.failures += 1
            backoff = min(self._s.feed_poll_s * 2**st.failures, self._s.feed_backoff_max_s)
            st.due = self._clock() + backoff
            self._fetch.forget(feed.url)
            log.warning("feed %s (%s) failed: %s; next try in %.0f s", feed.source_id, feed.url, why, backoff)
            self._status(feed, "offline")
            return
        st.failures = 0
        st.due = self._clock() + self._s.feed_poll_s
        self._status(feed, "online")

    def _poll(self, feed: Feed) -> None:
        body = self._fetch.get(feed.url)
        if body is None:
            return  # 304: nothing new
        # One bad entry (a quake without coordinates, a missing or malformed CAP document) does not hold back the
        # others: each is tried, and the first failure marks the feed when the round is done.
        failure: Exception | None = None
        if feed.kind == "quake":
            for q in quakes(body):
                try:
                    self._send(to_cap(q))
                except QuakeError as exc:
                    failure = failure or exc
        else:
            found = links(body)
            if found is None:  # a single CAP document
                self._send_cap(body)
            for url in (urljoin(feed.url, u) for u in found or ()):
                if url in self._seen:
                    continue  # a CAP document once published does not change: updates have their own identifier
                try:
                    linked = self._fetch.get(url, conditional=False)
                    if linked is not None:
                        self._send_cap(linked)
                        self._remember(url)
                except (FetchError, CapError) as exc:
                    failure = failure or exc
        if failure is not None:
            raise failure

    def _send_cap(self, doc: bytes) -> None:
        """Publish a CAP document; CapError (after publishing: the ingestor quarantines it, with its reason) when invalid."""
        try:
            parse_cap(doc)
        except CapError:
            self._send(doc)
            raise
        self._send(doc)

    def _send(self, doc: bytes) -> None:
        digest = hashlib.sha256(doc).hexdigest()
        if digest in self._seen:
            return
        # Remembered once every city has it; a city the broker did not take it for gets it again next poll
        # (the cities that had it keep one copy: the ingestor stores an alert once per city and identifier).
        for city in self._cities:
            topic = f"city/{city}/alert/{self._s.feed_publisher}"
            if not self._publish(topic, doc, False):
                raise FetchError(f"the broker did not take the document for {topic}")
            self.published += 1
        self._remember(digest)

    def _remember(self, key: str) -> None:
        self._seen[key] = None
        while len(self._seen) > SEEN_MAX:
            self._seen.popitem(last=False)

    def _status(self, feed: Feed, word: str) -> None:
        """Publish the feed's health when it changes, and again every `feed_heartbeat_s` (its last-seen stays fresh:
        a feeds process that stops shows the feed stale, then offline, as any silent source)."""
        now = self._clock()
        last = self._said.get(feed.source_id)
        if last is not None and last[0] == word and now - last[1] < self._s.feed_heartbeat_s:
            return
        self.health[feed.source_id] = word
        said = [self._publish(f"city/{c}/status/{feed.source_id}", word.encode(), True) for c in self._cities]
        if all(said):
            self._said[feed.source_id] = (word, now)

    def run(self, stop: threading.Event) -> None:
        """Poll until `stop` is set."""
        while not stop.is_set():
            wait = self.poll_due()
            stop.wait(max(wait, 0.05))


def run_feeds(s: Settings, city: str | tuple[str, ...]) -> None:
    """`satupintu feeds`: connect to the broker and poll until interrupted."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per poll says nothing; failures are logged here
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    feeds = feeds_from(s)
    pub = Publisher(s, SimStats(), stop, max_outstanding=100)
    pub.connect()
    fetcher = Fetcher(
        timeout_s=s.feed_timeout_s, max_bytes=s.feed_max_bytes, per_minute=s.feed_max_requests_per_min, stop=stop
    )
    log.info("polling %d feeds every %.0f s: %s", len(feeds), s.feed_poll_s, ", ".join(f.url for f in feeds))
    try:
        Poller(feeds, fetcher, pub.publish, city=city, settings=s).run(stop)
    finally:
        fetcher.close()
        pub.close(drain_timeout=5)
