"""The change notice: what one commit changed in one city (topic `city/{city}/changes`), and its kinds.

The ingestor publishes a notice after every commit that changed something
(the API and the alarm clock after theirs); each web process subscribes once
and fans it out to its live clients. A notice is a hint, not the data: a
client re-reads what it names through the API. Contract v1, extended only by
adding fields.

This module owns the kinds of change (the notice's fields): what a commit
reports (`Change` records, published through one `Publisher`), and what an
answer of the API depends on (each router's `DependsOn` declaration, read by
the response cache and the dashboard through `Dependencies`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, get_args

import orjson

from app.profile import ID_RE

log = logging.getLogger(__name__)

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
    """Epoch milliseconds as ISO 8601 UTC with milliseconds and a `Z`."""
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
    incidents: tuple[tuple[int, str], ...] = ()  # (incident_id, its state now): issue 13

    @property
    def topic(self) -> str:
        return topic_for(self.city)

    def as_dict(self) -> dict[str, Any]:
        return {
            "v": VERSION,
            "at": iso_ms(self.at_ms),
            "readings": [{"source_id": s, "points": n} for s, n in self.readings],
            "tickets": list(self.tickets),
            "sources_new": list(self.sources_new),
            "status": [{"source_id": s, "online": o} for s, o in self.status],
            "quarantined": self.quarantined,
            "alarms": [{"alarm_id": a, "state": st} for a, st in self.alarms],
            "incidents": [{"incident_id": i, "state": st} for i, st in self.incidents],
        }

    def payload(self) -> bytes:
        return orjson.dumps(self.as_dict())


def decode(topic: str, payload: bytes) -> dict[str, Any] | None:
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


# --- the kinds of change ------------------------------------------------------------

Kind = Literal["readings", "tickets", "sources_new", "status", "quarantined", "alarms", "incidents"]
KINDS: frozenset[Kind] = frozenset(get_args(Kind))  # the notice's fields that name a change


def changed_kinds(notice: Mapping[str, object]) -> frozenset[Kind]:
    """What a decoded notice says changed; an unknown non-empty field (a newer ingestor) counts as everything."""
    out: set[Kind] = set()
    for k, v in notice.items():
        if k in ("type", "v", "at", "city") or not v:
            continue
        if k not in KINDS:
            return KINDS
        out.add(k)
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class DependsOn:
    """A router's declaration: its answers (paths starting with `prefix`) change only with these kinds."""

    prefix: str
    kinds: frozenset[Kind]


@dataclass(frozen=True, slots=True)
class Dependencies:
    """The routers' declarations together: what the answer for a path depends on (everything when undeclared)."""

    declared: tuple[DependsOn, ...] = ()

    def __call__(self, path: str) -> frozenset[Kind]:
        for d in self.declared:
            if path.startswith(d.prefix):
                return d.kinds
        return KINDS


# --- what a commit changed, and how it is announced -----------------------------------


@dataclass(frozen=True, slots=True)
class Stored:
    """New readings of a source (`readings`)."""

    city: str
    source_id: str
    points: int


@dataclass(frozen=True, slots=True)
class TicketMoved:
    """A ticket with a new event (`tickets`)."""

    city: str
    ticket_id: str


@dataclass(frozen=True, slots=True)
class SourceSeen:
    """A source seen for the first time (`sources_new`)."""

    city: str
    source_id: str


@dataclass(frozen=True, slots=True)
class StatusChanged:
    """A source going online or offline (`status`)."""

    city: str
    source_id: str
    online: bool


@dataclass(frozen=True, slots=True)
class Refused:
    """A message (or part of one) quarantined (`quarantined`)."""

    city: str


@dataclass(frozen=True, slots=True)
class IncidentMoved:
    """An incident opened, worked or closed (`incidents`; app.incidents)."""

    city: str
    incident_id: int
    state: str


class AlarmMoved(Protocol):
    """An alarm transition (`alarms`; app.alarms.store.Change), whose payload goes on `city/{city}/alarm/{id}`."""

    @property
    def city(self) -> str: ...
    @property
    def alarm_id(self) -> int: ...
    @property
    def state(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def payload(self) -> bytes: ...


Change = Stored | TicketMoved | SourceSeen | StatusChanged | Refused | IncidentMoved | AlarmMoved
_NOTICE_ONLY = (
    Stored,
    TicketMoved,
    SourceSeen,
    StatusChanged,
    Refused,
    IncidentMoved,
)  # the changes without a topic of their own


def notices_for(changes: Iterable[Change], at_ms: int) -> list[Notice]:
    """One notice per city that `changes` touch, in city order; none when there are none."""
    readings: dict[str, dict[str, int]] = {}
    tickets: dict[str, dict[str, None]] = {}  # dicts as ordered sets
    new: dict[str, dict[str, None]] = {}
    status: dict[str, dict[str, bool]] = {}
    quarantined: dict[str, int] = {}
    alarms: dict[str, dict[int, str]] = {}
    incidents: dict[str, dict[int, str]] = {}
    for ch in changes:
        if isinstance(ch, Stored):
            readings.setdefault(ch.city, {})[ch.source_id] = ch.points
        elif isinstance(ch, TicketMoved):
            tickets.setdefault(ch.city, {})[ch.ticket_id] = None
        elif isinstance(ch, SourceSeen):
            new.setdefault(ch.city, {})[ch.source_id] = None
        elif isinstance(ch, StatusChanged):
            status.setdefault(ch.city, {})[ch.source_id] = ch.online  # the last word wins, as in the store
        elif isinstance(ch, Refused):
            quarantined[ch.city] = quarantined.get(ch.city, 0) + 1
        elif isinstance(ch, IncidentMoved):
            incidents.setdefault(ch.city, {})[ch.incident_id] = ch.state
        else:
            alarms.setdefault(ch.city, {})[ch.alarm_id] = ch.state  # the last transition wins
    cities = sorted(
        set(readings) | set(tickets) | set(new) | set(status) | set(quarantined) | set(alarms) | set(incidents)
    )
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
            incidents=tuple(incidents.get(c, {}).items()),
        )
        for c in cities
    ]


def now_ms() -> int:
    """The wall clock in epoch milliseconds: a notice's `at`."""
    return time.time_ns() // 1_000_000


class Publisher:
    """Announces what a commit changed, after the commit: each alarm transition on its topic, then the notices.

    `publish(topic, payload)` is the caller's connection (the ingestor's, the
    web process's hub); False means the message was not sent, counted in
    `skipped`. A lost notice costs little: clients also re-read on reconnect
    and on a timer.
    """

    def __init__(self, publish: Callable[[str, bytes], bool], clock: Callable[[], int] = now_ms) -> None:
        self._publish, self._clock = publish, clock
        self.skipped = 0

    def __call__(self, changes: Sequence[Change]) -> None:
        for ch in changes:
            if isinstance(ch, _NOTICE_ONLY):
                continue
            if not self._publish(alarm_topic(ch.city, ch.alarm_id), ch.payload):
                self.skipped += 1
                log.warning("alarm %s (%s) not announced on MQTT", ch.alarm_id, ch.action)
        for notice in notices_for(changes, self._clock()):
            if not self._publish(notice.topic, notice.payload()):
                self.skipped += 1
                log.debug("change notice for %s not sent", notice.city)
