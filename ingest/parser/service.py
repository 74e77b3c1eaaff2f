"""Service payloads -> TicketEvent: our ticket events and Open311 GeoReport v2 requests."""

from __future__ import annotations

import re

from ingest.messages import TICKET_PRIORITIES, TICKET_STATUSES, Parsed, TicketEvent
from ingest.parser.common import _ID, _Bad, _clip, _district, _geojson, _kind, _latlon, _load, _to_ms, _ts_ms
from ingest.parser.rules import ParseRules

_TICKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}").fullmatch

_STATUS_MAP = {s: s for s in TICKET_STATUSES} | {"in progress": "in_progress", "in-progress": "in_progress"}
_PRIORITY_SET = frozenset(TICKET_PRIORITIES)
_SLA_MAX = 525_600  # one year in minutes
_TITLE_MAX = 200
_DESCRIPTION_MAX = 2000


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

    return TicketEvent(
        city=city,
        agency=agency,
        ticket_id=tid,
        status=st,
        ts_ms=ts,
        service=service,
        priority=priority,
        district=district,
        title=_text(obj, "title", "service_name", _TITLE_MAX),
        description=_text(obj, "description", None, _DESCRIPTION_MAX),
        lat=lat,
        lon=lon,
        sla_minutes=sla,
        due_ms=due,
    )
