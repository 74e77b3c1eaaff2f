"""Sensor payloads -> Reading: our reading object, SenML packs and FIWARE NGSI-v2 entities."""

from __future__ import annotations

from typing import Any

from ingest.messages import Parsed, Point, Reading
from ingest.parser.common import (
    _DISTRICTS,
    _Bad,
    _bare,
    _clip,
    _district,
    _entries,
    _geojson,
    _iso_ms,
    _kind,
    _latlon,
    _load,
    _metric_key,
    _num,
    _raise_all,
    _Refuse,
    _senml_metric,
    _snake,
    _to_ms,
    _vet,
    _window,
)
from ingest.parser.rules import ParseRules

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
        "id",
        "type",
        "@context",
        "dateObserved",
        "dateObservedFrom",
        "dateObservedTo",
        "observationDateTime",
        "dateCreated",
        "dateModified",
        "dateIssued",
        "dateRetrieved",
        "validFrom",
        "validTo",
        "validity",
        "dateLastLampChange",
        "dateLastEmptying",
        "dateLastCleaning",
        "nextActuationDeadline",
        "dateServiceStarted",
        "dateLastCalibration",
        "dateInstalled",
        "dateManufactured",
        "location",
        "address",
        "source",
        "dataProvider",
        "name",
        "alternateName",
        "description",
        "seeAlso",
        "owner",
        "areaServed",
        "laneId",
        "lanternHeight",
        "powerRating",
        "cargoVolume",
        "width",
        "height",
        "depth",
        "weight",
        "serialNumber",
        "category",
        "status",
    )
)
_NGSI_TIME_KEYS = ("dateObserved", "dateObservedTo", "observationDateTime")


def _finish(
    city: str,
    source: str,
    points: list[Point],
    refused: list[str] | None,
    codes: list[str] | None,
    *,
    district: str | None,
    lat: float | None,
    lon: float | None,
    empty: str,
) -> Reading:
    if points:
        return Reading(city, source, tuple(points), district, lat, lon, tuple(refused) if refused else ())
    if refused and codes:
        first = codes[0]
        reason = first if all(c == first for c in codes) else "no_values"
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        bad = _Bad(reason, f"no storable value: {refused[0]}{more}")
        bad.errors = _entries(refused, codes)
        raise bad
    raise _Bad("no_values", empty)


# --------------------------------------------------------------------------- sensor shapes


def _reading_object(obj: dict, values: Any, city: str, source: str, *, received_ms: int, rules: ParseRules) -> Reading:
    if type(values) is not dict:
        raise _Bad("bad_field", f"'values' must be an object of metric: number, not {_kind(values)}")
    if not values:
        raise _Bad("no_values", "'values' is empty")
    # A fault in ts, district or lat/lon refuses the message; the other fields
    # and the values are still checked so that the refusal names every fault.
    errors: list[_Bad] | None = None
    ts = obj.get("ts")
    if ts is None:
        ts = received_ms
    else:
        try:
            ts = _iso_ms(ts, "ts") if type(ts) is str else _to_ms(ts, "ts")
            if not received_ms - rules.max_age_ms <= ts <= received_ms + rules.max_future_ms:
                raise _Bad("bad_time", _window(ts, received_ms, rules, "ts") or "ts")
        except _Bad as b:
            b.path = "ts"
            errors = [b]
            ts = received_ms
    district = obj.get("district")
    if district is not None and (type(district) is not str or district not in _DISTRICTS):
        try:
            district = _district(district)
        except _Bad as b:
            b.path = "district"
            errors = [*(errors or ()), b]
    lat = obj.get("lat")
    lon = obj.get("lon")
    if (lat is not None or lon is not None) and not (
        type(lat) is float and type(lon) is float and -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0
    ):
        try:
            lat, lon = _latlon(lat, lon)
        except _Bad as b:
            b.path = "lat" if lat is not None else "lon"
            errors = [*(errors or ()), b]
    get = rules.metric_rule
    points: list[Point] = []
    refused = codes = None
    renamed = False
    for name, v in values.items():
        rule = get(name)
        tv = type(v)
        if rule is not None and (tv is float or tv is int) and rule.lo <= v <= rule.hi:
            points.append(Point(name, ts, v if tv is float else float(v), rule.unit))
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
        points.append(Point(metric, ts, value, unit))
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
    if errors is not None:
        _raise_all(errors + _entries(refused or [], codes or []))
    return _finish(city, source, points, refused, codes, district=district, lat=lat, lon=lon, empty="'values' is empty")


def _senml_base(
    rec: dict, i: int, *, bn: str, bt: float, bu: str | None, bv: float
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
    get = rules.metric_rule
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
                bn, bt, bu, bv, has_base, extra = _senml_base(rec, i, bn=bn, bt=bt, bu=bu, bv=bv)
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
            points.append(Point(metric, ms, v, u))
        except _Refuse as r:
            if refused is None:
                refused, codes = [], []
            where = f"entry {i} ({metric})" if metric else f"entry {i}"
            refused.append(f"{where}: {r.reason}: {r.detail}")
            codes.append(r.reason)  # type: ignore[union-attr]
    return _finish(
        city, source, points, refused, codes, district=None, lat=None, lon=None, empty="the SenML pack has no values"
    )


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
    for k, attr in obj.items():
        if k in _NGSI_SKIP or (k.startswith("ref") and k[3:4].isupper()):
            continue
        unit = None
        a = attr
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
        points.append(Point(metric, ts, value, unit))
    return _finish(
        city,
        source,
        points,
        refused,
        codes,
        district=None,
        lat=lat,
        lon=lon,
        empty="the entity has no numeric attribute",
    )


def _sensor(payload: bytes, city: str, source: str, received_ms: int, rules: ParseRules) -> Parsed:
    obj = _load(payload)
    to = type(obj)
    if to is dict:
        values = obj.get("values", _MISSING)
        if values is not _MISSING:
            return _reading_object(obj, values, city, source, received_ms=received_ms, rules=rules)
        if "type" in obj and "id" in obj:
            return _ngsi(obj, city, source, received_ms, rules)
        raise _Bad("bad_shape", "a sensor object needs 'values' (a reading) or 'id' and 'type' (an NGSI entity)")
    if to is list:
        return _senml(obj, city, source, received_ms, rules)
    raise _Bad("bad_shape", f"a sensor payload is an object or a SenML array, not {_kind(obj)}")
