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
status payloads are `online` / `offline`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import lru_cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import orjson

from ingest.messages import (
    TICKET_PRIORITIES,
    TICKET_STATUSES,
    Parsed,
    Point,
    Reading,
    Rejected,
    SourceStatus,
    TicketEvent,
)

if TYPE_CHECKING:
    from app.profile import Profile
    from app.settings import Settings

__all__ = ["MetricRule", "ParseRules", "parse"]

# --------------------------------------------------------------------------- rules


@dataclass(frozen=True, slots=True)
class MetricRule:
    """What the catalogue says about one metric: its unit and its plausible range."""

    unit: str
    lo: float
    hi: float


@dataclass(frozen=True, slots=True)
class ParseRules:
    """Everything `parse()` needs to know about the deployment, built once."""

    cities: frozenset[str]
    metrics: Mapping[str, MetricRule]  # catalogue: metric id -> rule
    unknown_metric: str = "accept"  # "accept" | "quarantine"
    max_payload_bytes: int = 65536
    max_future_ms: int = 300_000
    max_age_ms: int = 30 * 86_400_000
    # Derived once in __post_init__: a private snapshot of the catalogue's lookup
    # (so a caller mutating the mapping later cannot skew a running parser).
    _get: Callable[[str], MetricRule | None] = field(init=False, repr=False, compare=False)
    _accept_unknown: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.unknown_metric not in ("accept", "quarantine"):
            raise ValueError(f"unknown_metric must be 'accept' or 'quarantine', not {self.unknown_metric!r}")
        object.__setattr__(self, "_get", dict(self.metrics).get)
        object.__setattr__(self, "_accept_unknown", self.unknown_metric == "accept")

    @classmethod
    def from_profile(cls, profile: Profile, settings: Settings) -> ParseRules:
        """The rules of one deployment: its city, its metric catalogue and the ingest settings."""
        metrics = {m.id: MetricRule(m.unit, float(m.valid[0]), float(m.valid[1])) for m in profile.metrics}
        return cls(
            cities=frozenset((profile.city.id,)),
            metrics=MappingProxyType(metrics),
            unknown_metric=settings.ingest_unknown_metric,
            max_payload_bytes=settings.ingest_max_payload_bytes,
            max_future_ms=settings.ingest_max_future_s * 1000,
            max_age_ms=settings.retention_raw_days * 86_400_000,
        )


# --------------------------------------------------------------------------- constants

_ID = re.compile(r"[a-z0-9_-]{1,64}").fullmatch
_METRIC = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}").fullmatch
_TICKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}").fullmatch
# camelCase -> snake_case: a boundary before an upper-case letter that follows a
# lower-case letter or digit and is followed by a letter (so `pH` stays `ph`).
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z][A-Za-z])")

_MISSING: Any = object()
_SENML_RELATIVE = 2**28  # RFC 8428 4.5.3: smaller times are relative to now
_SENML_VERSION = 10
_SENML_PLAIN = frozenset(("n", "u", "v", "vs", "vb", "vd", "s", "t", "ut"))  # record fields, no base fields
_SENML_KEYS = _SENML_PLAIN | {"bn", "bt", "bu", "bv", "bs", "bver"}
_TIME_SPAN_S = 1e12  # |seconds| beyond this (year ~33000) is nonsense, and keeps float -> int exact

# NGSI attributes that are metadata, identity, dates or static properties rather
# than measurements (refXxx relationships are skipped by prefix).
_NGSI_SKIP = frozenset(
    (
        "id", "type", "@context", "dateObserved", "dateObservedFrom", "dateObservedTo", "observationDateTime",
        "dateCreated", "dateModified", "dateIssued", "dateRetrieved", "validFrom", "validTo", "validity",
        "dateLastLampChange", "dateLastEmptying", "dateLastCleaning", "nextActuationDeadline",
        "dateServiceStarted", "dateLastCalibration", "dateInstalled", "dateManufactured",
        "location", "address", "source", "dataProvider", "name", "alternateName", "description", "seeAlso",
        "owner", "areaServed", "laneId", "lanternHeight", "powerRating", "cargoVolume",
        "width", "height", "depth", "weight", "serialNumber", "category", "status",
    )
)  # fmt: skip
_NGSI_TIME_KEYS = ("dateObserved", "dateObservedTo", "observationDateTime")

# External spellings of units -> the catalogue's. SenML (RFC 8428 / 8798) names
# and UN/CEFACT common codes (FIWARE `unitCode`). Units are stored canonical.
_UNIT_ALIASES = {
    "Cel": "°C", "CEL": "°C", "degC": "°C", "FAH": "°F", "KEL": "K",
    "%RH": "%", "%EL": "%", "P1": "%",
    "ug/m3": "µg/m³", "µg/m3": "µg/m³", "ug/m³": "µg/m³", "μg/m³": "µg/m³", "μg/m3": "µg/m³", "GQ": "µg/m³",
    "mg/m3": "mg/m³", "GP": "mg/m³",
    "MTR": "m", "CMT": "cm", "MMT": "mm", "KTM": "km",
    "MTS": "m/s", "KMH": "km/h", "H67": "mm/h", "mm/hr": "mm/h",
    "WTT": "W", "KWT": "kW", "KWH": "kWh", "VLT": "V", "AMP": "A", "HTZ": "Hz",
    "BAR": "bar", "A97": "hPa", "PAL": "Pa", "LTR": "L", "MQH": "m³/h", "DD": "°", "deg": "°",
}  # fmt: skip

_STATUS_MAP = {s: s for s in TICKET_STATUSES} | {"in progress": "in_progress", "in-progress": "in_progress"}
_PRIORITY_SET = frozenset(TICKET_PRIORITIES)
_SLA_MAX = 525_600  # one year in minutes
_TITLE_MAX = 200
_DESCRIPTION_MAX = 2000
_CLIP = 80  # longest piece of input echoed in a detail string


class _Bad(Exception):
    """The whole message is refused: carries a reason code and a detail for people."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail


class _Refuse(Exception):
    """One entry of the payload is refused; the rest of the message goes on."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail


# --------------------------------------------------------------------------- fast constructors
# The message classes are frozen slotted dataclasses; their generated __init__
# goes through object.__setattr__ per field (~0.44 µs a Point, ~1.5 µs a
# TicketEvent here). Setting the slots directly builds identical objects in about
# half the time. A fast constructor takes every field, positionally, in order;
# it is used only when the class is exactly as expected (these fields in this
# order, slotted, no __post_init__), otherwise the class itself is returned.


def _fast_new(cls: type, names: tuple[str, ...]) -> Callable[..., Any]:
    if (
        tuple(f.name for f in fields(cls)) != names
        or hasattr(cls, "__post_init__")
        or getattr(cls, "__slots__", None) != names
    ):
        return cls  # pragma: no cover - messages.py changed: fall back to the real constructor
    setters = ", ".join(f"_s_{n}" for n in names)
    body = "".join(f"        _s_{n}(o, {n})\n" for n in names)
    src = (
        f"def factory(_new, _cls, {setters}):\n"
        f"    def make({', '.join(names)}):\n"
        f"        o = _new(_cls)\n{body}"
        f"        return o\n"
        f"    return make\n"
    )
    ns: dict[str, Any] = {}
    exec(src, ns)  # noqa: S102 - fixed source built from the dataclass's own field names
    make = ns["factory"](object.__new__, cls, *(getattr(cls, n).__set__ for n in names))
    make.__qualname__ = make.__name__ = f"new_{cls.__name__}"
    return make


_point = _fast_new(Point, ("metric", "ts_ms", "value", "unit"))
_reading = _fast_new(Reading, ("city", "source_id", "points", "district", "lat", "lon", "refused"))
_ticket = _fast_new(
    TicketEvent,
    (
        "city", "agency", "ticket_id", "status", "ts_ms", "service", "priority", "district", "title",
        "description", "lat", "lon", "sla_minutes", "due_ms",
    ),
)  # fmt: skip
_source_status = _fast_new(SourceStatus, ("city", "source_id", "online", "ts_ms"))

# --------------------------------------------------------------------------- small helpers


def _clip(x: object) -> str:
    """A piece of the input, quoted and at most 80 characters, for detail strings."""
    if type(x) is str:
        r = repr(x[: _CLIP + 1])
    elif type(x) is int or type(x) is float:
        r = _num(x)
    else:
        r = _kind(x)
    return r if len(r) <= _CLIP else r[: _CLIP - 1] + "…"


def _bare(s: str) -> str:
    """A name from the input, unquoted (control characters escaped), at most 80 characters."""
    r = repr(s[: _CLIP + 1])[1:-1]
    return r if len(r) <= _CLIP else r[: _CLIP - 1] + "…"


def _num(x: float) -> str:
    if type(x) is float and x.is_integer() and abs(x) < 1e16:
        x = int(x)
    r = repr(x)
    return r if len(r) <= _CLIP else r[: _CLIP - 1] + "…"


def _kind(x: object) -> str:
    """The JSON kind of a value, for messages."""
    if x is None:
        return "null"
    if x is True or x is False:
        return "a boolean"
    if type(x) is str:
        return "a string"
    if type(x) is dict:
        return "an object"
    if type(x) is list:
        return "an array"
    if type(x) is int or type(x) is float:
        return "a number"
    return type(x).__name__  # pragma: no cover - orjson makes nothing else


def _load(payload: bytes) -> Any:
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        try:
            payload.decode("utf-8")
        except UnicodeDecodeError as u:
            raise _Bad("bad_encoding", f"the payload is not valid UTF-8 (byte {u.start})") from None
        hint = " (NaN and Infinity are not JSON)" if b"NaN" in payload or b"Infinity" in payload else ""
        raise _Bad("bad_json", f"the payload is not valid JSON{hint}: {_bare(str(exc))}") from None


_OFFSETS: dict[Any, int] = {}  # tzinfo -> offset in ms (fromisoformat makes a new tzinfo per call)


def _iso_ms(s: str, what: str) -> int:
    """An ISO 8601 time with a UTC offset -> epoch ms (exact integer arithmetic)."""
    try:
        d = datetime.fromisoformat(s)
    except ValueError:
        raise _Bad("bad_time", f"{what} {_clip(s)} is not an ISO 8601 time") from None
    tz = d.tzinfo
    if tz is None:
        raise _Bad("bad_time", f"{what} {_clip(s)} has no UTC offset (add Z or +09:00; zones are not guessed)")
    off = _OFFSETS.get(tz)
    if off is None:
        o = d.utcoffset()
        off = (o.days * 86_400 + o.seconds) * 1000 + o.microseconds // 1000  # type: ignore[union-attr]
        if len(_OFFSETS) < 512:
            _OFFSETS[tz] = off
    return (
        ((d.toordinal() - 719_163) * 86_400 + d.hour * 3600 + d.minute * 60 + d.second) * 1000
        + d.microsecond // 1000
        - off
    )


def _to_ms(v: Any, what: str) -> int:
    """ISO 8601 with offset, epoch seconds, or epoch ms (> 1e11) -> epoch ms. No window check."""
    tv = type(v)
    if tv is str:
        return _iso_ms(v, what)
    if tv is int or tv is float:
        if v > 1e11:  # epoch milliseconds
            if v > 1e15:
                raise _Bad("bad_time", f"{what} {_num(v)} is not a plausible epoch time")
            return int(v) if tv is int else round(v)
        if v < -1e11:
            raise _Bad("bad_time", f"{what} {_num(v)} is not a plausible epoch time")
        return round(v * 1000)
    raise _Bad("bad_time", f"{what} must be ISO 8601 with a UTC offset or epoch seconds, not {_kind(v)}")


def _window(ms: int, received_ms: int, rules: ParseRules, what: str) -> str | None:
    """Why a time is outside [received - max_age, received + max_future], or None."""
    if ms > received_ms + rules.max_future_ms:
        return f"{what} is {(ms - received_ms) / 1000:.0f} s in the future (limit {rules.max_future_ms // 1000} s)"
    if ms < received_ms - rules.max_age_ms:
        days = (received_ms - ms) / 86_400_000
        return f"{what} is {days:.1f} days old (retention {rules.max_age_ms / 86_400_000:g} days)"
    return None


def _ts_ms(v: Any, received_ms: int, rules: ParseRules, what: str) -> int:
    ms = _to_ms(v, what)
    if received_ms - rules.max_age_ms <= ms <= received_ms + rules.max_future_ms:
        return ms
    raise _Bad("bad_time", _window(ms, received_ms, rules, what) or what)


def _coord(v: Any, lo: float, hi: float, what: str) -> float:
    tv = type(v)
    if (tv is float or tv is int) and lo <= v <= hi:
        return float(v)
    if tv is float or tv is int:
        raise _Bad("bad_field", f"{what} {_num(v)} is outside [{lo:g}, {hi:g}]")
    raise _Bad("bad_field", f"{what} must be a number, not {_kind(v)}")


def _latlon(lat: Any, lon: Any, lon_name: str = "lon") -> tuple[float | None, float | None]:
    if lat is None and lon is None:
        return None, None
    if lat is None or lon is None:
        raise _Bad("bad_field", f"lat and {lon_name} go together: give both or neither")
    return _coord(lat, -90.0, 90.0, "lat"), _coord(lon, -180.0, 180.0, lon_name)


def _geojson(loc: Any) -> tuple[float | None, float | None]:
    """GeoJSON Point (or NGSI normalized geo:json) -> (lat, lon); other geometries -> (None, None)."""
    if type(loc) is not dict:
        return None, None
    if loc.get("type") == "geo:json":  # NGSI-v2 normalized
        loc = loc.get("value")
        if type(loc) is not dict:
            return None, None
    if loc.get("type") != "Point":
        return None, None
    c = loc.get("coordinates")
    if type(c) is not list or not 2 <= len(c) <= 3:
        raise _Bad("bad_field", "location Point needs coordinates [lon, lat]")
    return _coord(c[1], -90.0, 90.0, "location latitude"), _coord(c[0], -180.0, 180.0, "location longitude")


_DISTRICTS: set[str] = set()  # district ids already seen valid (bounded): skips the regex


def _district(v: Any) -> str | None:
    if v is None:
        return None
    if type(v) is str and (v in _DISTRICTS or _ID(v) is not None):
        if len(_DISTRICTS) < 1024:
            _DISTRICTS.add(v)
        return v
    raise _Bad("bad_field", f"district {_clip(v)} is not an id ([a-z0-9_-]{{1,64}})")


def _vet(metric: str, v: Any, unit: str | None, rules: ParseRules) -> tuple[float, str | None]:
    """The general check of one value of one metric -> (value, unit to store); raises _Refuse."""
    tv = type(v)
    if tv is not float and tv is not int:
        raise _Refuse("bad_field", f"value is {_kind(v)}, not a number")
    rule = rules._get(metric)
    if rule is None:
        if not rules._accept_unknown:
            raise _Refuse("unknown_metric", "not in the catalogue")
        if tv is float and not math.isfinite(v):  # pragma: no cover - orjson yields finite numbers only
            raise _Refuse("bad_field", f"value {_num(v)} is not finite")
        return float(v), (None if unit is None else _UNIT_ALIASES.get(unit, unit))
    if unit is not None and unit != rule.unit and _UNIT_ALIASES.get(unit) != rule.unit:
        raise _Refuse("unit_mismatch", f"unit {_clip(unit)} is not the catalogue's {rule.unit!r}")
    if not rule.lo <= v <= rule.hi:
        raise _Refuse("out_of_range", f"{_num(v)} outside [{_num(rule.lo)}, {_num(rule.hi)}]")
    return float(v), rule.unit


def _metric_key(name: str) -> str:
    """A reading object's key -> metric id (lower-cased); raises _Refuse."""
    if _METRIC(name) is not None:
        return name
    low = name.lower()
    if _METRIC(low) is not None:
        return low
    raise _Refuse("bad_field", "metric id is not [a-z0-9][a-z0-9_.-]{0,63}")


@lru_cache(maxsize=4096)
def _senml_metric(name: str) -> str | None:
    """SenML name (`n`, or `bn` when n is empty) -> metric id: its last ':' or '/' segment, lower-cased."""
    cut = max(name.rfind(":"), name.rfind("/"))
    if cut >= 0:
        name = name[cut + 1 :]
    name = name.lower()
    return name if _METRIC(name) is not None else None


@lru_cache(maxsize=4096)
def _snake(name: str) -> str | None:
    """NGSI attribute name -> metric id (`relativeHumidity` -> `relative_humidity`, `pH` -> `ph`)."""
    m = _CAMEL.sub("_", name).lower()
    return m if _METRIC(m) is not None else None


def _finish(
    city: str,
    source: str,
    points: list[Point],
    refused: list[str] | None,
    codes: list[str] | None,
    district: str | None,
    lat: float | None,
    lon: float | None,
    empty: str,
) -> Reading:
    if points:
        return _reading(city, source, tuple(points), district, lat, lon, tuple(refused) if refused else ())
    if refused and codes:
        first = codes[0]
        reason = first if all(c == first for c in codes) else "no_values"
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        raise _Bad(reason, f"no storable value: {refused[0]}{more}")
    raise _Bad("no_values", empty)


# --------------------------------------------------------------------------- sensor shapes


def _reading_object(obj: dict, values: Any, city: str, source: str, received_ms: int, rules: ParseRules) -> Reading:
    if type(values) is not dict:
        raise _Bad("bad_field", f"'values' must be an object of metric: number, not {_kind(values)}")
    if not values:
        raise _Bad("no_values", "'values' is empty")
    ts = obj.get("ts")
    if ts is None:
        ts = received_ms
    else:
        ts = _iso_ms(ts, "ts") if type(ts) is str else _to_ms(ts, "ts")
        if not received_ms - rules.max_age_ms <= ts <= received_ms + rules.max_future_ms:
            raise _Bad("bad_time", _window(ts, received_ms, rules, "ts") or "ts")
    district = obj.get("district")
    if district is not None and (type(district) is not str or district not in _DISTRICTS):
        district = _district(district)
    lat = obj.get("lat")
    lon = obj.get("lon")
    if (lat is not None or lon is not None) and not (
        type(lat) is float and type(lon) is float and -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0
    ):
        lat, lon = _latlon(lat, lon)
    get = rules._get
    points: list[Point] = []
    refused = codes = None
    renamed = False
    for name, v in values.items():
        rule = get(name)
        tv = type(v)
        if rule is not None and (tv is float or tv is int) and rule.lo <= v <= rule.hi:
            points.append(_point(name, ts, v if tv is float else float(v), rule.unit))
            continue
        metric = name
        try:
            if rule is None:
                metric = _metric_key(name)
                renamed = renamed or metric is not name
            value, unit = _vet(metric, v, None, rules)
        except _Refuse as r:
            if refused is None:
                refused, codes = [], []
            refused.append(f"values.{_bare(name)}: {r.reason}: {r.detail}")
            codes.append(r.reason)  # type: ignore[union-attr]
            continue
        points.append(_point(metric, ts, value, unit))
    if renamed:  # keys that differ only by case name one metric: keep the first
        seen: set[str] = set()
        kept = []
        for p in points:
            if p.metric in seen:
                if refused is None:
                    refused, codes = [], []
                refused.append(f"values.{p.metric}: bad_field: duplicate of an earlier key (first kept)")
                codes.append("bad_field")  # type: ignore[union-attr]
            else:
                seen.add(p.metric)
                kept.append(p)
        points = kept
    return _finish(city, source, points, refused, codes, district, lat, lon, "'values' is empty")


def _senml_base(
    rec: dict, i: int, bn: str, bt: float, bu: str | None, bv: float
) -> tuple[str, float, str | None, float, bool, str | None]:
    """A record's base fields (and any must-understand field) -> the new base, whether it had any, that field.

    A malformed base field would mis-stamp or misname every later record, so it
    refuses the whole pack (_Bad).
    """
    has_base = False
    x = rec.get("bn")
    if x is not None:
        if type(x) is not str:
            raise _Bad("bad_field", f"entry {i}: bn must be a string")
        bn = x
        has_base = True
    x = rec.get("bt")
    if x is not None:
        if (type(x) is not float and type(x) is not int) or not -_TIME_SPAN_S < x < _TIME_SPAN_S:
            raise _Bad("bad_field", f"entry {i}: bt must be a number of seconds")
        bt = x
        has_base = True
    x = rec.get("bu")
    if x is not None:
        if type(x) is not str:
            raise _Bad("bad_field", f"entry {i}: bu must be a string")
        bu = x
        has_base = True
    x = rec.get("bv")
    if x is not None:
        if type(x) is not float and type(x) is not int:
            raise _Bad("bad_field", f"entry {i}: bv must be a number")
        bv = x
        has_base = True
    x = rec.get("bver")
    if x is not None:
        if type(x) is not int:
            raise _Bad("bad_field", f"entry {i}: bver must be an integer")
        if x > _SENML_VERSION:
            raise _Bad("bad_field", f"SenML version {_num(x)} is newer than the supported {_SENML_VERSION}")
        has_base = True
    has_base = has_base or "bs" in rec
    # RFC 8428 4.4 / 12: a field whose name ends in "_" must be understood or refused.
    extra = None
    if not _SENML_KEYS.issuperset(rec):
        extra = next((k for k in rec if k.endswith("_")), None)
    return bn, bt, bu, bv, has_base, extra


def _senml(pack: list, city: str, source: str, received_ms: int, rules: ParseRules) -> Reading:
    if not pack:
        raise _Bad("no_values", "the SenML pack is empty")
    get = rules._get
    lo_ms = received_ms - rules.max_age_ms
    hi_ms = received_ms + rules.max_future_ms
    plain = _SENML_PLAIN
    bn = ""
    bt = 0.0
    bu = None
    bv = 0.0
    points: list[Point] = []
    refused: list[str] | None = None
    codes: list[str] | None = None
    seen: set[tuple[str, int]] = set()
    for i, rec in enumerate(pack):
        metric = None
        try:
            if type(rec) is not dict:
                raise _Refuse("bad_field", f"the record is {_kind(rec)}, not an object")
            has_base = False
            if not plain.issuperset(rec):  # base fields or unknown fields: rare, so out of line
                bn, bt, bu, bv, has_base, extra = _senml_base(rec, i, bn, bt, bu, bv)
                if extra is not None:
                    raise _Refuse("bad_field", f"unsupported must-understand field {_clip(extra)}")
            v = rec.get("v")
            if v is None:
                vb = rec.get("vb")
                if vb is True or vb is False:
                    v = 1.0 if vb else 0.0
                elif vb is not None:
                    raise _Refuse("bad_field", f"vb is {_kind(vb)}, not a boolean")
                elif "vs" in rec or "vd" in rec:
                    raise _Refuse("bad_field", "string and data values (vs, vd) are not stored")
                elif "s" in rec:
                    raise _Refuse("bad_field", "sum values (s) are not supported")
                elif has_base and "n" not in rec and "t" not in rec and "u" not in rec:
                    continue  # a record of base fields only
                else:
                    raise _Refuse("bad_field", "the record has no value")
            elif type(v) is not float and type(v) is not int:
                raise _Refuse("bad_field", f"v is {_kind(v)}, not a number")
            elif bv:
                v = v + bv
            n = rec.get("n")
            if not n:
                if n is not None and n != "":
                    raise _Refuse("bad_field", f"n is {_kind(n)}, not a string")
                n = bn
            elif type(n) is not str:
                raise _Refuse("bad_field", f"n is {_kind(n)}, not a string")
            metric = _senml_metric(n)
            if metric is None:
                metric = _clip(n)
                raise _Refuse("bad_field", "no metric id in the name (need [a-z0-9][a-z0-9_.-]{0,63})")
            t = rec.get("t")
            if t is None:
                t = bt
            elif (type(t) is float or type(t) is int) and -_TIME_SPAN_S < t < _TIME_SPAN_S:
                t = bt + t
            else:
                raise _Refuse("bad_time", "t must be a number of seconds")
            ms = received_ms + round(t * 1000) if t < _SENML_RELATIVE else round(t * 1000)
            if not lo_ms <= ms <= hi_ms:
                raise _Refuse("bad_time", _window(ms, received_ms, rules, "the time") or "the time")
            u = rec.get("u")
            if u is None:
                u = bu
            elif type(u) is not str:
                raise _Refuse("bad_field", "u must be a string")
            rule = get(metric)
            if rule is not None and (u is None or u == rule.unit) and rule.lo <= v <= rule.hi:
                v = float(v)
                u = rule.unit
            else:
                v, u = _vet(metric, v, u, rules)
            key = (metric, ms)
            if key in seen:
                raise _Refuse("bad_field", "duplicate metric and time in the pack (first kept)")
            seen.add(key)
            points.append(_point(metric, ms, v, u))
        except _Refuse as r:
            if refused is None:
                refused, codes = [], []
            where = f"entry {i} ({metric})" if metric else f"entry {i}"
            refused.append(f"{where}: {r.reason}: {r.detail}")
            codes.append(r.reason)  # type: ignore[union-attr]
    return _finish(city, source, points, refused, codes, None, None, None, "the SenML pack has no values")


def _ngsi_time(obj: dict, received_ms: int, rules: ParseRules) -> int:
    """dateObserved (end of an interval), else dateObservedTo, else observationDateTime, else received.

    A candidate that cannot be read (e.g. an ISO time without offset) falls
    through to the next; if none can be read the first one's error stands.
    """
    first: _Bad | None = None
    for key in _NGSI_TIME_KEYS:
        v = obj.get(key)
        if v is None:
            continue
        if type(v) is dict:  # normalized: {"type": "DateTime", "value": ...}
            v = v.get("value")
        if type(v) is str and "/" in v:  # an ISO interval a/b: the observation ends at b
            v = v[v.rfind("/") + 1 :]
        try:
            ms = _to_ms(v, key)
        except _Bad as b:
            first = first or b
            continue
        why = _window(ms, received_ms, rules, key)
        if why:
            raise _Bad("bad_time", why)
        return ms
    if first is not None:
        raise first
    return received_ms


def _ngsi(obj: dict, city: str, source: str, received_ms: int, rules: ParseRules) -> Reading:
    ts = _ngsi_time(obj, received_ms, rules)
    lat, lon = _geojson(obj.get("location"))
    points: list[Point] = []
    refused: list[str] | None = None
    codes: list[str] | None = None
    seen: set[str] = set()
    for k, a in obj.items():
        if k in _NGSI_SKIP or (k.startswith("ref") and k[3:4].isupper()):
            continue
        unit = None
        ta = type(a)
        if ta is dict:  # normalized {"type", "value", "metadata"}; other objects are not measurements
            if a.get("type") == "Relationship":
                continue
            md = a.get("metadata")
            a = a.get("value")
            ta = type(a)
            if type(md) is dict:
                uc = md.get("unitCode")
                if type(uc) is dict:
                    uc = uc.get("value")
                if type(uc) is str:
                    unit = uc
        if ta is not float and ta is not int:
            continue  # text, booleans, lists, nested objects: not numeric measurements
        metric = _snake(k)
        try:
            if metric is None:
                raise _Refuse("bad_field", "the attribute name gives no metric id")
            if metric in seen:
                raise _Refuse("bad_field", "another attribute already gave this metric (first kept)")
            value, unit = _vet(metric, a, unit, rules)
        except _Refuse as r:
            if refused is None:
                refused, codes = [], []
            where = f"attribute {_bare(k)} ({metric})" if metric else f"attribute {_bare(k)}"
            refused.append(f"{where}: {r.reason}: {r.detail}")
            codes.append(r.reason)  # type: ignore[union-attr]
            continue
        seen.add(metric)
        points.append(_point(metric, ts, value, unit))
    return _finish(city, source, points, refused, codes, None, lat, lon, "the entity has no numeric attribute")


def _sensor(payload: bytes, city: str, source: str, received_ms: int, rules: ParseRules) -> Parsed:
    obj = _load(payload)
    to = type(obj)
    if to is dict:
        values = obj.get("values", _MISSING)
        if values is not _MISSING:
            return _reading_object(obj, values, city, source, received_ms, rules)
        if "type" in obj and "id" in obj:
            return _ngsi(obj, city, source, received_ms, rules)
        raise _Bad("bad_shape", "a sensor object needs 'values' (a reading) or 'id' and 'type' (an NGSI entity)")
    if to is list:
        return _senml(obj, city, source, received_ms, rules)
    raise _Bad("bad_shape", f"a sensor payload is an object or a SenML array, not {_kind(obj)}")


# --------------------------------------------------------------------------- service tickets


def _text(obj: dict, key: str, alt: str | None, limit: int) -> str | None:
    v = obj.get(key)
    if v is None and alt is not None:
        key, v = alt, obj.get(alt)
    if v is None:
        return None
    if type(v) is not str:
        raise _Bad("bad_field", f"{key} must be a string, not {_kind(v)}")
    v = v.strip()
    return v[:limit] or None


def _service(payload: bytes, city: str, agency: str, received_ms: int, rules: ParseRules) -> Parsed:
    obj = _load(payload)
    if type(obj) is not dict:
        raise _Bad("bad_shape", f"a service event is an object, not {_kind(obj)}")

    tid = obj.get("ticket_id")
    if tid is None:
        tid = obj.get("service_request_id")  # Open311
    if tid is None:
        raise _Bad("bad_field", "ticket_id (or Open311 service_request_id) is missing")
    if type(tid) is int:
        tid = str(tid)
    if type(tid) is not str or _TICKET(tid) is None:
        raise _Bad("bad_field", f"ticket_id {_clip(tid)} is not [A-Za-z0-9][A-Za-z0-9_.:-]{{0,63}}")

    status = obj.get("status")
    if status is None:
        raise _Bad("bad_field", "status is missing")
    st = _STATUS_MAP.get(status) if type(status) is str else None
    if st is None and type(status) is str:
        st = _STATUS_MAP.get(status.strip().lower())
    if st is None:
        raise _Bad("bad_field", f"status {_clip(status)} is not one of {', '.join(TICKET_STATUSES)}")

    priority = obj.get("priority")
    if priority is None:
        priority = "normal"
    elif type(priority) is not str or priority not in _PRIORITY_SET:
        p = priority.strip().lower() if type(priority) is str else None
        if p not in _PRIORITY_SET:
            raise _Bad("bad_field", f"priority {_clip(priority)} is not one of {', '.join(TICKET_PRIORITIES)}")
        priority = p

    service = obj.get("service")
    if service is None:
        service = obj.get("service_code")  # Open311
    if service is not None:
        if type(service) is int and service >= 0:
            service = str(service)
        if type(service) is not str:
            raise _Bad("bad_field", f"service must be a string id, not {_kind(service)}")
        if _ID(service) is None:
            s = service.strip().lower()
            if _ID(s) is None:
                raise _Bad("bad_field", f"service {_clip(service)} is not an id ([a-z0-9_-]{{1,64}})")
            service = s

    district = _district(obj.get("district"))

    ts = obj.get("ts")
    what = "ts"
    if ts is None:
        what = "updated_datetime"
        ts = obj.get(what)
        if ts is None:
            what = "requested_datetime"
            ts = obj.get(what)
    ts = received_ms if ts is None else _ts_ms(ts, received_ms, rules, what)

    due = obj.get("expected_datetime")
    if due is not None:
        due = _to_ms(due, "expected_datetime")

    lat = obj.get("lat")
    lon = obj.get("lon")
    lon_name = "lon"
    if lon is None and "long" in obj:  # Open311 spells it `long`
        lon = obj.get("long")
        lon_name = "long"
    if lat is not None or lon is not None:
        lat, lon = _latlon(lat, lon, lon_name)
    else:
        lat, lon = _geojson(obj.get("location"))

    sla = obj.get("sla_minutes")
    if sla is not None:
        if type(sla) is float and sla.is_integer():
            sla = int(sla)
        if type(sla) is not int or not 0 < sla <= _SLA_MAX:
            raise _Bad("bad_field", f"sla_minutes {_clip(sla)} is not a whole number in 1..{_SLA_MAX}")

    return _ticket(
        city,
        agency,
        tid,
        st,
        ts,
        service,
        priority,
        district,
        _text(obj, "title", "service_name", _TITLE_MAX),
        _text(obj, "description", None, _DESCRIPTION_MAX),
        lat,
        lon,
        sla,
        due,
    )


# --------------------------------------------------------------------------- source status

_ONLINE = {b"online": True, b"offline": False}


def _status(payload: bytes, city: str, source: str, received_ms: int, rules: ParseRules) -> Parsed:
    online = _ONLINE.get(payload.strip().lower())
    if online is None:
        try:
            obj = orjson.loads(payload)
        except orjson.JSONDecodeError:
            obj = None
        if type(obj) is dict:
            obj = obj.get("status")
        if type(obj) is str:
            online = _ONLINE.get(obj.strip().lower().encode())
        if online is None:
            shown = payload[:_CLIP].decode("utf-8", "replace")
            raise _Bad("bad_field", f"a status is 'online' or 'offline', not {_clip(shown)}")
    return _source_status(city, source, online, received_ms)


# --------------------------------------------------------------------------- topic and entry point

_HANDLERS = {"sensor": _sensor, "service": _service, "status": _status}
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
        return Rejected("bad_topic", f"topic kind {_clip(kind)} is not sensor, service or status")
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


def _parse(topic: str, payload: bytes, received_ms: int, rules: ParseRules) -> Parsed:
    t = _TOPICS.get(topic) if type(topic) is str else None
    if t is None:
        t = _topic(topic)
        if type(t) is Rejected:
            return t
    city, handler, ident = t  # type: ignore[misc]
    if city not in rules.cities:
        return Rejected("unknown_city", f"city {city!r} is not served by this deployment", city, ident)
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
