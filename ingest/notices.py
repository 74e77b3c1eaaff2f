"""Change notices after each commit: what a batch changed, per city, on `city/{city}/changes`.

Registered in `Ingestor.on_committed`, so a notice can only follow its
commit. Web processes fan the notices out to live dashboards (app.live.hub).
Alarm transitions go out first, each on `city/{city}/alarm/{id}`, and are
named in the notice too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from app.live.notices import Notice, alarm_topic
from app.profile import ID_RE
from ingest.writer import WriteResult

log = logging.getLogger(__name__)


def notices_for(result: WriteResult, at_ms: int) -> list[Notice]:
    """One notice per city that the committed batch changed, in city order; none when nothing changed."""
    readings: dict[str, dict[str, int]] = {}
    tickets: dict[str, dict[str, None]] = {}  # dicts as ordered sets
    new: dict[str, dict[str, None]] = {}
    status: dict[str, dict[str, bool]] = {}
    quarantined: dict[str, int] = {}
    alarms: dict[str, dict[int, str]] = {}
    # Per source, the points the batch carried: duplicates among them are not told
    # apart (the writer counts them per batch only), but a batch that stored no new
    # reading at all (a redelivery, say) announces none.
    if result.points_stored:
        for (city, source), points in result.readings_by_source.items():
            if points:
                readings.setdefault(city, {})[source] = points
    for city, ticket in result.tickets_changed:
        tickets.setdefault(city, {})[ticket] = None
    for city, source in result.sources_new:
        new.setdefault(city, {})[source] = None
    for city, source, online in result.status_changes:
        status.setdefault(city, {})[source] = online  # the last word in the batch wins, as in the store
    for r in result.refusals:
        city = r.rejected.city
        # A city this deployment does not serve has no dashboard to tell.
        if city and ID_RE.match(city) and r.rejected.reason != "unknown_city":
            quarantined[city] = quarantined.get(city, 0) + 1
    for ch in result.alarm_changes:
        alarms.setdefault(ch.city, {})[ch.alarm_id] = ch.state  # the last transition in the batch wins
    cities = sorted(set(readings) | set(tickets) | set(new) | set(status) | set(quarantined) | set(alarms))
    return [
        Notice(
            city=c,
            at_ms=at_ms,
            readings=tuple(sorted(readings.get(c, {}).items())),
            tickets=tuple(tickets.get(c, {})),
            sources_new=tuple(new.get(c, {})),
            status=tuple(status.get(c, {}).items()),
            quarantined=quarantined.get(c, 0),
            alarms=tuple(alarms.get(c, {}).items()),
        )
        for c in cities
    ]


class NoticePublisher:
    """An `on_committed` listener that publishes the batch's notices through `publish(topic, payload)`."""

    def __init__(
        self, publish: Callable[[str, bytes], bool], clock: Callable[[], int] = lambda: time.time_ns() // 1_000_000
    ) -> None:
        self._publish, self._clock = publish, clock
        self.skipped = 0

    def __call__(self, result: WriteResult) -> None:
        for ch in result.alarm_changes:
            if not self._publish(alarm_topic(ch.city, ch.alarm_id), ch.payload):
                self.skipped += 1
                log.warning("alarm %s (%s) not announced on MQTT", ch.alarm_id, ch.action)
        for notice in notices_for(result, self._clock()):
            if not self._publish(notice.topic, notice.payload()):
                self.skipped += 1  # a hint lost; dashboards also re-read on reconnect and on a timer
                log.debug("change notice for %s not sent", notice.city)
