"""The change notice: what one committed batch changed in one city (topic `city/{city}/changes`).

The ingestor publishes a notice after every commit that changed something;
each web process subscribes once and fans it out to its live clients. A
notice is a hint, not the data: a client re-reads what it names through the
API. Contract v1, extended only by adding fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from app.profile import ID_RE

VERSION = 1
SUBSCRIBE_FILTER = "city/+/changes"


def topic_for(city: str) -> str:
    """Where the notices of `city` are published."""
    return f"city/{city}/changes"


def alarm_topic(city: str, alarm_id: int) -> str:
    """Where an alarm's transitions are published (contract v1: `city/{city}/alarm/{id}`)."""
    return f"city/{city}/alarm/{alarm_id}"


def city_of(topic: str) -> str | None:
    """The city of a notice topic, or None when the topic is not one."""
    parts = topic.split("/")
    if len(parts) == 3 and parts[0] == "city" and parts[2] == "changes" and ID_RE.match(parts[1]):
        return parts[1]
    return None


def iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Notice:
    """What one commit changed in one city."""

    city: str
    at_ms: int  # when the commit was done
    readings: tuple[tuple[str, int], ...] = ()  # (source_id, points stored)
    tickets: tuple[str, ...] = ()  # ticket ids with a new event
    sources_new: tuple[str, ...] = ()  # sources seen for the first time
    status: tuple[tuple[str, bool], ...] = ()  # (source_id, online)
    quarantined: int = 0  # messages (or parts) refused
    alarms: tuple[tuple[int, str], ...] = ()  # (alarm_id, state after the batch's last transition)

    @property
    def topic(self) -> str:
        return topic_for(self.city)

    def as_dict(self) -> dict:
        return {
            "v": VERSION,
            "at": iso_ms(self.at_ms),
            "readings": [{"source_id": s, "points": n} for s, n in self.readings],
            "tickets": list(self.tickets),
            "sources_new": list(self.sources_new),
            "status": [{"source_id": s, "online": o} for s, o in self.status],
            "quarantined": self.quarantined,
            "alarms": [{"alarm_id": a, "state": st} for a, st in self.alarms],
        }

    def payload(self) -> bytes:
        return orjson.dumps(self.as_dict())


def decode(topic: str, payload: bytes) -> dict | None:
    """A received notice as a dict with its `city` added; None when it is not a v1 notice.

    Lenient on purpose: fields added by a newer ingestor pass through untouched.
    """
    city = city_of(topic)
    if city is None:
        return None
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(body, dict) or body.get("v") != VERSION or not isinstance(body.get("at"), str):
        return None
    body["city"] = city
    return body
