"""Change notices after each commit: what a batch changed (app.live.notices.Change), announced per city.

Registered in `Ingestor.on_committed`, so a notice can only follow its
commit. Web processes fan the notices out to live dashboards (app.live.hub).
Alarm transitions go out first, each on `city/{city}/alarm/{id}`, and are
named in the notice too (app.live.notices.Publisher).
"""

from __future__ import annotations

from collections.abc import Callable

from app.live.notices import Change, Publisher, Refused, SourceSeen, StatusChanged, Stored, TicketMoved, now_ms
from app.profile import ID_RE
from ingest.writer import WriteResult


def changes_of(result: WriteResult) -> list[Change]:
    """What a committed batch changed, for its notices: alarm transitions last, as they were committed last."""
    changes: list[Change] = []
    # Per source, the points the batch carried: duplicates among them are not told
    # apart (the writer counts them per batch only), but a batch that stored no new
    # reading at all (a redelivery, say) announces none.
    if result.points_stored:
        changes += [Stored(c, s, n) for (c, s), n in result.readings_by_source.items() if n]
    changes += [TicketMoved(c, t) for c, t in result.tickets_changed]
    changes += [SourceSeen(c, s) for c, s in result.sources_new]
    changes += [StatusChanged(c, s, online) for c, s, online in result.status_changes]
    # A city this deployment does not serve has no dashboard to tell.
    changes += [
        Refused(r.rejected.city)
        for r in result.refusals
        if r.rejected.city and ID_RE.match(r.rejected.city) and r.rejected.reason != "unknown_city"
    ]
    changes += result.alarm_changes
    return changes


class NoticePublisher:
    """An `on_committed` listener that announces the batch's changes through `publish(topic, payload)`."""

    def __init__(self, publish: Callable[[str, bytes], bool], clock: Callable[[], int] = now_ms) -> None:
        self._publisher = Publisher(publish, clock)

    @property
    def skipped(self) -> int:
        """Messages paho refused (a notice is a hint: clients also re-read on reconnect and on a timer)."""
        return self._publisher.skipped

    def __call__(self, result: WriteResult) -> None:
        self._publisher(changes_of(result))
