"""MQTT topic + payload bytes -> Reading | TicketEvent | SourceStatus | Rejected.

`parse()` is pure and total: it never raises, it allocates no rule objects per
call, and it runs on the ingest hot path (the paho loop alone costs ~46 µs a
message, so the common cases here are written for speed: orjson, exact type
checks, plain dict access, precompiled regexes, small bounded caches).

Topics: `city/{city}/{sensor|service|status}/{id}` (DESIGN.md section 3).

Sensor payloads come in three shapes:

1. our reading object `{"ts": ..., "values": {metric: number}, "district", "lat", "lon"}`;
2. a SenML pack (RFC 8428 JSON array of records);
3. a FIWARE NGSI-v2 Smart Data Model entity (an object with `id` and `type`),
   keyValues or normalized.

Every value is checked against the metric catalogue (`ParseRules.metrics`).
Entries that fail are listed in `Reading.refused` as
`"<where>: <reason code>: <detail>"` while the good ones are kept; a message
with no storable entry at all becomes `Rejected`: with the entries' reason
when they all failed for the same reason, else `no_values`.

Service payloads are our ticket events or Open311 GeoReport v2 requests;
status payloads are `online` / `offline`; alert payloads are CAP 1.2 XML
documents (regional warnings, app.alerts.cap).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ingest.messages import Parsed, Reading, Rejected
from ingest.parser.alert import _alert
from ingest.parser.common import _ID, _Bad, _clip, _entries
from ingest.parser.rules import MetricRule, ParseRules
from ingest.parser.sensor import _sensor
from ingest.parser.service import _service
from ingest.parser.status import _status

__all__ = ["Fault", "MetricRule", "ParseRules", "parse", "parse_all"]


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault of a message: its reason code, a detail for people, and the JSON path of the field (if one)."""

    reason: str
    detail: str
    path: str | None = None


_HANDLERS = {"sensor": _sensor, "service": _service, "status": _status, "alert": _alert}
_TOPICS: dict[str, tuple[str, Callable[..., Parsed], str]] = {}  # valid topic -> (city, handler, id)
_TOPICS_MAX = 8192


def _topic(topic: str) -> tuple[str, Callable[..., Parsed], str] | Rejected:
    if type(topic) is not str:
        return Rejected("bad_topic", f"the topic is {type(topic).__name__}, not text")
    parts = topic.split("/", 4)
    if len(parts) != 4 or parts[0] != "city":
        return Rejected("bad_topic", f"topic {_clip(topic)} is not city/{{city}}/{{sensor|service|status}}/{{id}}")
    _, city, kind, ident = parts
    handler = _HANDLERS.get(kind)
    if handler is None:
        return Rejected("bad_topic", f"topic kind {_clip(kind)} is not sensor, service, status or alert")
    city_ok = _ID(city) is not None
    id_ok = _ID(ident) is not None
    if not city_ok:
        return Rejected(
            "bad_id", f"city {_clip(city)} is not lowercase [a-z0-9_-]{{1,64}}", None, ident if id_ok else None
        )
    if not id_ok:
        return Rejected("bad_id", f"{kind} id {_clip(ident)} is not lowercase [a-z0-9_-]{{1,64}}", city, None)
    t = (city, handler, ident)
    if len(_TOPICS) >= _TOPICS_MAX:
        _TOPICS.clear()
    _TOPICS[topic] = t
    return t


def _parse(topic: str, payload: bytes, received_ms: int, rules: ParseRules, faults: list[_Bad] | None = None) -> Parsed:
    t = _TOPICS.get(topic) if type(topic) is str else None
    if t is None:
        t = _topic(topic)
        if type(t) is Rejected:
            return t
    city, handler, ident = t  # type: ignore[misc]
    if city not in rules.cities:
        return Rejected("unknown_city", f"city {city!r} is not served by this deployment", city, ident)
    if rules.by_city is not None:  # several cities: each has its own catalogue and limits
        rules = rules.by_city[city]
    if type(payload) is not bytes:
        if isinstance(payload, (bytearray, memoryview)):
            payload = bytes(payload)
        elif isinstance(payload, str):
            payload = payload.encode("utf-8", "surrogatepass")
        else:
            return Rejected("bad_shape", f"the payload is {type(payload).__name__}, not bytes", city, ident)
    if len(payload) > rules.max_payload_bytes:
        return Rejected(
            "too_large", f"the payload is {len(payload)} bytes (limit {rules.max_payload_bytes})", city, ident
        )
    try:
        return handler(payload, city, ident, received_ms, rules)
    except _Bad as b:
        if faults is not None:
            faults.extend(b.errors)
        return Rejected(b.reason, b.detail, city, ident)


def parse(topic: str, payload: bytes, received_ms: int, rules: ParseRules) -> Parsed:
    """One MQTT message -> what to store (Reading, TicketEvent, SourceStatus) or why not (Rejected).

    `received_ms` is the receive time (epoch ms, UTC): the default time stamp
    and the reference for the future / retention window. Never raises.
    """
    try:
        return _parse(topic, payload, received_ms, rules)
    except Exception as exc:  # noqa: BLE001 - the safety net; the tests show it is not reached
        t = _TOPICS.get(topic) if type(topic) is str else None
        return Rejected(
            "bad_shape",
            f"the payload could not be interpreted ({type(exc).__name__})",
            t[0] if t else None,
            t[2] if t else None,
        )


def parse_all(topic: str, payload: bytes, received_ms: int, rules: ParseRules) -> tuple[Parsed, list[Fault]]:
    """`parse()`, plus every fault it found (a refusal reports only the first): what a dry run shows.

    The verdict is exactly `parse()`'s; the faults of an accepted Reading are
    its refused entries (stored as `partial`).
    """
    bads: list[_Bad] = []
    try:
        parsed = _parse(topic, payload, received_ms, rules, bads)
    except Exception:  # noqa: BLE001 - the same safety net as parse()
        parsed, bads = parse(topic, payload, received_ms, rules), []
    if type(parsed) is Rejected and not bads:
        return parsed, [Fault(parsed.reason, parsed.detail)]
    if type(parsed) is Reading and parsed.refused:
        bads = _entries(list(parsed.refused), [r.split(": ", 2)[1] for r in parsed.refused])
    return parsed, [Fault(b.reason, b.detail, _json_path(b.path)) for b in bads]


def _json_path(path: str | None) -> str | None:
    """A field path of the parser (`values.x`, `[3]`, `ts`) -> a JSONPath (`$.values.x`, `$[3]`, `$.ts`)."""
    if path is None:
        return None
    return "$" + path if path.startswith("[") else "$." + path
