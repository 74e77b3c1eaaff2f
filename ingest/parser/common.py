"""Helpers every payload kind shares: the refusal errors, JSON loading, times, places, metric names, clipping."""

from __future__ import annotations

import math
import re
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson

from ingest.parser.rules import ParseRules

_ID = re.compile(r"[a-z0-9_-]{1,64}").fullmatch
_METRIC = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}").fullmatch
# camelCase -> snake_case: a boundary before an upper-case letter that follows a
# lower-case letter or digit and is followed by a letter (so `pH` stays `ph`).
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z][A-Za-z])")

# External spellings of units -> the catalogue's. SenML (RFC 8428 / 8798) names
# and UN/CEFACT common codes (FIWARE `unitCode`). Units are stored canonical.
_UNIT_ALIASES = {
    "Cel": "°C",
    "CEL": "°C",
    "degC": "°C",
    "FAH": "°F",
    "KEL": "K",
    "%RH": "%",
    "%EL": "%",
    "P1": "%",
    "ug/m3": "µg/m³",
    "µg/m3": "µg/m³",
    "ug/m³": "µg/m³",
    "μg/m³": "µg/m³",
    "μg/m3": "µg/m³",
    "GQ": "µg/m³",
    "mg/m3": "mg/m³",
    "GP": "mg/m³",
    "MTR": "m",
    "CMT": "cm",
    "MMT": "mm",
    "KTM": "km",
    "MTS": "m/s",
    "KMH": "km/h",
    "H67": "mm/h",
    "mm/hr": "mm/h",
    "WTT": "W",
    "KWT": "kW",
    "KWH": "kWh",
    "VLT": "V",
    "AMP": "A",
    "HTZ": "Hz",
    "BAR": "bar",
    "A97": "hPa",
    "PAL": "Pa",
    "LTR": "L",
    "MQH": "m³/h",
    "DD": "°",
    "deg": "°",
}

_CLIP = 80  # longest piece of input echoed in a detail string


class _Bad(Exception):
    """The whole message is refused: carries a reason code, a detail for people and the field's JSON path.

    `errors` lists every fault found when the parser went on past the first
    (a dry run shows them all); the live path reports the first one.
    """

    def __init__(self, reason: str, detail: str, path: str | None = None) -> None:
        self.reason = reason
        self.detail = detail
        self.path = path
        self.errors: list[_Bad] = [self]


def _raise_all(errors: list[_Bad]) -> None:
    """Refuse the message with the first of `errors`, carrying all of them; nothing when empty."""
    if errors:
        first = errors[0]
        first.errors = errors
        raise first


class _Refuse(Exception):
    """One entry of the payload is refused; the rest of the message goes on."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail


def _entries(refused: list[str], codes: list[str]) -> list[_Bad]:
    """Refused entries (`"<where>: <reason>: <detail>"`) -> one _Bad each, with the entry's JSON path."""
    out = []
    for text, code in zip(refused, codes, strict=True):
        where = text.split(": ", 1)[0]
        if where.startswith("entry "):  # SenML record `entry 3 (metric)`
            path = f"[{where[6:].split(' ', 1)[0]}]"
        elif where.startswith("attribute "):  # NGSI `attribute relativeHumidity (relative_humidity)`
            path = where[10:].split(" (", 1)[0]
        else:  # reading object `values.water_level_cm`
            path = where
        out.append(_Bad(code, text, path))
    return out


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
        ms: int = round(v * 1000)  # epoch seconds
        return ms
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
    rule = rules.metric_rule(metric)
    if rule is None:
        if not rules.accept_unknown:
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
