"""Service payloads -> TicketEvent: our ticket events and Open311 GeoReport v2 requests."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from app.profile import LAPOR_STAGES
from ingest.messages import TICKET_PRIORITIES, TICKET_STATUSES, Parsed, TicketEvent
from ingest.parser.common import (
    _ID,
    _Bad,
    _clip,
    _district,
    _geojson,
    _kind,
    _latlon,
    _load,
    _raise_all,
    _to_ms,
    _ts_ms,
)
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
        raise _Bad("bad_field", f"{key} must be a string, not {_kind(v)}", key)
    v = v.strip()
    return v[:limit] or None


def _ticket_id(obj: dict, _received_ms: int, _rules: ParseRules) -> str:
    tid = obj.get("ticket_id")
    if tid is None:
        tid = obj.get("service_request_id")  # Open311
    if tid is None:
        raise _Bad("bad_field", "ticket_id (or Open311 service_request_id) is missing", "ticket_id")
    if type(tid) is int:
        tid = str(tid)
    if type(tid) is not str or _TICKET(tid) is None:
        raise _Bad("bad_field", f"ticket_id {_clip(tid)} is not [A-Za-z0-9][A-Za-z0-9_.:-]{{0,63}}", "ticket_id")
    return tid


def _status_of(obj: dict, _received_ms: int, _rules: ParseRules) -> str:
    status = obj.get("status")
    if status is None:
        raise _Bad("bad_field", "status is missing", "status")
    st = _STATUS_MAP.get(status) if type(status) is str else None
    if st is None and type(status) is str:
        st = _STATUS_MAP.get(status.strip().lower())
    if st is None:
        raise _Bad("bad_field", f"status {_clip(status)} is not one of {', '.join(TICKET_STATUSES)}", "status")
    return st


def _priority(obj: dict, _received_ms: int, _rules: ParseRules) -> str:
    priority = obj.get("priority")
    if priority is None:
        return "normal"
    if type(priority) is not str or priority not in _PRIORITY_SET:
        p = priority.strip().lower() if type(priority) is str else None
        if p not in _PRIORITY_SET:
            raise _Bad(
                "bad_field", f"priority {_clip(priority)} is not one of {', '.join(TICKET_PRIORITIES)}", "priority"
            )
        return p
    return priority


def _service_id(obj: dict, _received_ms: int, _rules: ParseRules) -> str | None:
    key = "service"
    service = obj.get(key)
    if service is None:
        key = "service_code"  # Open311
        service = obj.get(key)
    if service is not None:
        if type(service) is int and service >= 0:
            service = str(service)
        if type(service) is not str:
            raise _Bad("bad_field", f"service must be a string id, not {_kind(service)}", key)
        if _ID(service) is None:
            s = service.strip().lower()
            if _ID(s) is None:
                raise _Bad("bad_field", f"service {_clip(service)} is not an id ([a-z0-9_-]{{1,64}})", key)
            service = s
    return service


def _ts(obj: dict, received_ms: int, rules: ParseRules) -> int:
    ts = obj.get("ts")
    what = "ts"
    if ts is None:
        what = "updated_datetime"
        ts = obj.get(what)
        if ts is None:
            what = "requested_datetime"
            ts = obj.get(what)
    if ts is None:
        return received_ms
    try:
        return _ts_ms(ts, received_ms, rules, what)
    except _Bad as b:
        b.path = what
        raise


def _due(obj: dict, _received_ms: int, _rules: ParseRules) -> int | None:
    due = obj.get("expected_datetime")
    if due is None:
        return None
    try:
        return _to_ms(due, "expected_datetime")
    except _Bad as b:
        b.path = "expected_datetime"
        raise


def _place(obj: dict, _received_ms: int, _rules: ParseRules) -> tuple[float | None, float | None]:
    lat = obj.get("lat")
    lon = obj.get("lon")
    lon_name = "lon"
    if lon is None and "long" in obj:  # Open311 spells it `long`
        lon = obj.get("long")
        lon_name = "long"
    try:
        if lat is not None or lon is not None:
            return _latlon(lat, lon, lon_name)
        return _geojson(obj.get("location"))
    except _Bad as b:
        b.path = "lat" if lat is not None or lon is not None else "location"
        raise


def _sla(obj: dict, _received_ms: int, _rules: ParseRules) -> int | None:
    sla = obj.get("sla_minutes")
    if sla is not None:
        if type(sla) is float and sla.is_integer():
            sla = int(sla)
        if type(sla) is not int or not 0 < sla <= _SLA_MAX:
            raise _Bad("bad_field", f"sla_minutes {_clip(sla)} is not a whole number in 1..{_SLA_MAX}", "sla_minutes")
    return sla


def _district_of(obj: dict, _received_ms: int, _rules: ParseRules) -> str | None:
    try:
        return _district(obj.get("district"))
    except _Bad as b:
        b.path = "district"
        raise


def _service(payload: bytes, city: str, agency: str, received_ms: int, rules: ParseRules) -> Parsed:
    obj = _load(payload)
    if type(obj) is not dict:
        raise _Bad("bad_shape", f"a service event is an object, not {_kind(obj)}")
    # Every field is checked even after one failed, so a refusal names all faults
    # (the first is the refusal's reason; a dry run lists them all).
    errors: list[_Bad] = []
    found: list[Any] = []
    for check in _FIELDS:
        try:
            found.append(check(obj, received_ms, rules))
        except _Bad as b:
            errors.append(b)
            found.append(None)
    _raise_all(errors)
    tid, st, priority, service, district, ts, due, (lat, lon), sla, title, description, stage = found
    return TicketEvent(
        city=city,
        agency=agency,
        ticket_id=tid,
        status=st,
        ts_ms=ts,
        service=service,
        priority=priority,
        district=district,
        title=title,
        description=description,
        lat=lat,
        lon=lon,
        sla_minutes=sla,
        due_ms=due,
        stage=stage,
    )


def _title(obj: dict, _received_ms: int, _rules: ParseRules) -> str | None:
    return _text(obj, "title", "service_name", _TITLE_MAX)


def _description(obj: dict, _received_ms: int, _rules: ParseRules) -> str | None:
    return _text(obj, "description", None, _DESCRIPTION_MAX)


def _stage(obj: dict, _received_ms: int, _rules: ParseRules) -> str | None:
    """The SP4N-LAPOR! stage; `tindak lanjut` is said with a space, so space and hyphen read as underscore."""
    stage = obj.get("stage")
    if stage is None:
        return None
    st = re.sub(r"[\s-]+", "_", stage.strip().lower()) if type(stage) is str else None
    if st not in LAPOR_STAGES:
        raise _Bad("bad_field", f"stage {_clip(stage)} is not one of {', '.join(LAPOR_STAGES)}", "stage")
    return st


# In the order the fields were always checked: the first fault stays the refusal's reason.
_FIELDS: tuple[Callable[[dict, int, ParseRules], Any], ...] = (
    _ticket_id,
    _status_of,
    _priority,
    _service_id,
    _district_of,
    _ts,
    _due,
    _place,
    _sla,
    _title,
    _description,
    _stage,
)
