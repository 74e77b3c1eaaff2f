"""What the ingestor says back to an integrator on `city/{city}/rejected/{id}`: why a message was refused
(and quarantined), or what an accepted one probably got wrong (a warning, at most once a period per source)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

import orjson

from app.profile import ID_RE
from ingest import metrics, sandbox
from ingest.feedback import Advice
from ingest.writer import Refusal

INVALID = sandbox.INVALID
WARNED_MAX = 10_000  # sources remembered for the live warnings' rate limit


def feedback_topic(city: str | None, target: str | None, topic: str = "") -> str:
    """Where the reason for a refusal is published: `city/{city}/rejected/{id}`.

    A topic that breaks the contract under a valid city (`city/morotai/sensors/x`)
    is answered on that city's `rejected/_invalid`.
    """
    if not city and topic.startswith("city/"):
        city = topic.split("/", 2)[1]
    c = city if city and ID_RE.match(city) else INVALID
    t = target if target and ID_RE.match(target) else INVALID
    return f"city/{c}/rejected/{t}"


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def feedback_payload(r: Refusal) -> bytes:
    return orjson.dumps(
        {
            "reason": r.rejected.reason,
            "detail": r.rejected.detail[:1000],
            "topic": r.item.topic[:256],
            "received_at": _iso(r.item.received_ms),
            "quarantined": True,
        }
    )


def warning_payload(a: Advice) -> bytes:
    """A live warning on the rejected topic: accepted and stored, but probably a mistake."""
    first = a.warnings[0]
    return orjson.dumps(
        {
            "reason": first.reason,
            "detail": first.detail[:1000],
            "detail_id": first.detail_id[:1000],
            "warnings": [w.as_dict() for w in a.warnings],
            "topic": a.topic[:256],
            "received_at": _iso(a.received_ms),
            "quarantined": False,
        }
    )


class WarningLimit:
    """The live warnings' rate limit: a source hears of its mistakes at most once every `period_s`."""

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self._last: dict[tuple[str, str], float] = {}  # (city, target) -> monotonic time of the last warning

    def due(self, advice: Iterable[Advice]) -> Iterator[Advice]:
        """The advice to publish now; the rest is counted as skipped."""
        now = time.monotonic()
        if len(self._last) > WARNED_MAX:
            self._last.clear()
        for a in advice:
            key = (a.city, a.target)
            last = self._last.get(key)
            if last is not None and now - last < self.period_s:
                metrics.WARNINGS_SKIPPED.inc()
                continue
            self._last[key] = now
            yield a
