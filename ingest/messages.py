"""Messages in flight between the parser and the batch writer: frozen, slotted, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass

from app.alerts.cap import CapDoc

TICKET_STATUSES = ("open", "assigned", "in_progress", "resolved", "closed", "cancelled")
TICKET_PRIORITIES = ("low", "normal", "high", "critical")


@dataclass(frozen=True, slots=True)
class Point:
    """One value of one metric at one instant (epoch milliseconds, UTC)."""

    metric: str
    ts_ms: int
    value: float
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class Reading:
    """A sensor message: the points it carried, and where its source says it is.

    `refused` holds a readable reason per entry of the payload that was not
    accepted (a SenML pack may mix good and bad records); the good points are
    stored and the refusals quarantined beside them.
    """

    city: str
    source_id: str
    points: tuple[Point, ...]
    district: str | None = None
    lat: float | None = None
    lon: float | None = None
    refused: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TicketEvent:
    """One step in a service ticket's life, from `city/{city}/service/{agency}`."""

    city: str
    agency: str
    ticket_id: str
    status: str  # one of TICKET_STATUSES
    ts_ms: int
    service: str | None = None
    priority: str | None = None  # one of TICKET_PRIORITIES; None when the event does not say
    district: str | None = None
    title: str | None = None
    description: str | None = None
    lat: float | None = None
    lon: float | None = None
    sla_minutes: int | None = None
    due_ms: int | None = None  # an explicit due time (Open311 expected_datetime) wins over the SLA
    stage: str | None = None  # SP4N-LAPOR! stage: verifikasi, tindak_lanjut or selesai (app.profile.LAPOR_STAGES)


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """A source's own word on its connectivity (`online`/`offline`, its MQTT Last Will)."""

    city: str
    source_id: str
    online: bool
    ts_ms: int


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message that cannot be stored as given, and why.

    `reason` is a stable machine code (see `REASONS`); `detail` is for people.
    `city` and `target` (source or agency id) are set when the topic named
    valid ones, so the refusal can be published back on
    `city/{city}/rejected/{target}`.
    """

    reason: str
    detail: str
    city: str | None = None
    target: str | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """A CAP 1.2 alert from `city/{city}/alert/{publisher}` (regional warnings), with its original XML."""

    city: str
    publisher: str
    doc: CapDoc
    xml: bytes
    received_ms: int


Parsed = Reading | TicketEvent | SourceStatus | Alert | Rejected

# Stable reason codes for quarantine rows and rejected notices.
REASONS = {
    "bad_topic": "the topic does not follow city/{city}/{sensor|service|status}/{id}",
    "bad_id": "an id in the topic is not lowercase [a-z0-9_-]{1,64}",
    "unknown_city": "the city in the topic is not served by this deployment",
    "too_large": "the payload is larger than the limit",
    "bad_encoding": "the payload is not valid UTF-8",
    "bad_json": "the payload is not valid JSON (NaN and Infinity are not JSON)",
    "bad_shape": "the payload is valid JSON but not the object or array the contract asks for",
    "bad_field": "a field has the wrong type or an invalid value",
    "bad_time": "the timestamp is unreadable, too far in the future or older than the retention window",
    "out_of_range": "a value lies outside the metric's valid range",
    "unknown_metric": "the metric is not in the catalogue (policy: quarantine)",
    "unit_mismatch": "the unit differs from the catalogue's unit for the metric",
    "partial": "some entries of the payload were refused; the others were stored",
    "no_values": "the payload carried no storable value",
    "storage": "the database refused the message",
    # regional warnings (issue 12): city/{city}/alert/{sender}
    "bad_xml": "the payload is not well-formed XML, or declares a DTD or entities (refused: no XXE)",
    "bad_cap": "the XML is not a valid CAP 1.2 alert (a required element is missing or has a wrong value)",
    "bad_area": "a CAP polygon or circle is not valid (lat,lon pairs, a closed ring, a radius in km)",
}
