"""What Open311 answers, as plain records: the profile's services and our tickets in GeoReport v2 words.

The routes (app.open311.routes) pick the format; this module decides the
content, and checks what a POST asks for before anything is stored or sent.
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping

from app.http.timefmt import from_ms
from app.open311.formats import Open311Error
from app.open311.store import status_of
from app.profile import LAPOR_STAGES, District, Profile, Service

SPEC = "http://wiki.open311.org/GeoReport_v2"
DESCRIPTION_MAX = 2000  # what the ingest path keeps (ingest.parser.service); longer is refused, not cut
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s.]{1,63}")
STAGE_NAMES = {"verifikasi": "Verifikasi", "tindak_lanjut": "Tindak lanjut", "selesai": "Selesai"}


def iso(ms: int | None, profile: Profile) -> str | None:
    """An instant in ISO 8601 with the city's offset (the spec's w3 format)."""
    return None if ms is None else from_ms(ms).astimezone(profile.tz).isoformat(timespec="seconds")


def open_services(profile: Profile) -> list[Service]:
    """The services Open311 offers: all but the hidden agencies' (emergency lines, patient referrals)."""
    hidden = set(profile.open311.hidden_agencies)
    return [s for s in profile.services if s.agency not in hidden]


def _agency_name(profile: Profile, agency_id: str, *, short: bool) -> str:
    agency = next((a for a in profile.agencies if a.id == agency_id), None)
    return agency_id if agency is None else (agency.short if short else agency.name)


def _sla_words(s: Service) -> str:
    if s.sla_working_days is not None:
        return f"Target: {s.sla_working_days:g} hari kerja"
    minutes = s.sla_minutes or 0
    return f"Target: {minutes // 60} jam" if minutes % 60 == 0 else f"Target: {minutes} menit"


def service_record(s: Service, profile: Profile) -> dict[str, Any]:
    """GET services: one service."""
    return {
        "service_code": s.id,
        "service_name": s.name.id,
        "description": s.description or f"{s.name.id} ({s.name.en}). {_sla_words(s)}.",
        "metadata": True,  # every service takes the district and LAPOR! stage attributes
        "type": "batch",  # a POST answers a token; the id follows once the ingestor stored the request
        "keywords": ", ".join(s.keywords),
        "group": _agency_name(profile, s.agency, short=True),
    }


def service_definition(s: Service, profile: Profile) -> dict[str, Any]:
    """GET services/{code}: the attributes a request may carry (both optional)."""
    return {
        "service_code": s.id,
        "attributes": [
            {
                "variable": True,
                "code": "district",
                "datatype": "singlevaluelist",
                "required": False,
                "datatype_description": "Kecamatan; tanpa ini, kecamatan terdekat dari lat/long",
                "order": 1,
                "description": "Kecamatan (district)",
                "values": [{"key": d.id, "name": d.name} for d in profile.districts],
            },
            {
                "variable": True,
                "code": "stage",
                "datatype": "singlevaluelist",
                "required": False,
                "datatype_description": "Tahap SP4N-LAPOR!; tanpa ini, verifikasi",
                "order": 2,
                "description": "Tahap LAPOR! (stage)",
                "values": [{"key": k, "name": STAGE_NAMES[k]} for k in LAPOR_STAGES],
            },
        ],
    }


def request_record(row: RowMapping, profile: Profile) -> dict[str, Any]:
    """GET requests and requests/{id}: one ticket in the spec's words (no personal data: it is stored apart)."""
    svc = profile.service(row["service"]) if row["service"] else None
    notes = row["status"] if row["stage"] is None else f"{row['status']}; tahap {row['stage']}"
    return {
        "service_request_id": row["ticket_id"],
        "status": status_of(row),
        "status_notes": notes,
        "service_name": svc.name.id if svc else row["title"],
        "service_code": row["service"],
        "description": row["description"],
        "agency_responsible": _agency_name(profile, row["agency"], short=False),
        "service_notice": _sla_words(svc) if svc else None,
        "requested_datetime": iso(row["opened_ms"], profile),
        "updated_datetime": iso(row["updated_ms"], profile),
        "expected_datetime": iso(row["due_ms"], profile),
        "address": row["address"],
        "address_id": None,
        "zipcode": None,
        "lat": row["lat"],
        "long": row["lon"],
        "media_url": row["media_url"],
    }


@dataclass(frozen=True, slots=True)
class NewRequest:
    """A checked POST: the ticket event to publish and the row to keep apart."""

    token: str
    ticket_id: str
    agency: str
    topic: str
    event: dict[str, Any]
    kept: dict[str, Any]
    notice: str


def _field(form: Mapping[str, str], name: str, limit: int, fmt: Any, *, multiline: bool = False) -> str | None:
    v = form.get(name)
    if v is None:
        return None
    v = v.strip()
    if not v:
        return None
    if len(v) > limit:
        raise Open311Error(400, f"{name} is longer than {limit} characters", fmt)
    if _CONTROL.search(v) or (not multiline and ("\n" in v or "\r" in v)):
        raise Open311Error(400, f"{name} contains control characters", fmt)
    return v


def _number(form: Mapping[str, str], name: str, low: float, high: float, fmt: Any) -> float | None:
    raw = form.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        v = float(raw)
    except ValueError:
        raise Open311Error(400, f"{name} is not a number", fmt) from None
    if not math.isfinite(v) or not low <= v <= high:
        raise Open311Error(400, f"{name} must lie in [{low:g}, {high:g}]", fmt)
    return v


def nearest_district(profile: Profile, lat: float, lon: float) -> str | None:
    """The district whose centre is nearest (an equirectangular distance is plenty at a regency's scale)."""
    scale = math.cos(math.radians(lat))

    def dist(d: District) -> float:
        return (d.center.lat - lat) ** 2 + ((d.center.lon - lon) * scale) ** 2

    return min(profile.districts, key=dist).id if profile.districts else None


def check_post(form: Mapping[str, str], profile: Profile, now: datetime, fmt: Any) -> NewRequest:
    """A POST's fields checked (400 in the spec's format when one is wrong), as the event and the kept row."""
    code = form.get("service_code", "").strip()
    if not code:
        raise Open311Error(400, "service_code is required", fmt)
    svc = next((s for s in open_services(profile) if s.id == code), None)
    if svc is None:
        raise Open311Error(400, f"service_code {code[:64]!r} not found (GET services lists them)", fmt)
    lat = _number(form, "lat", -90, 90, fmt)
    lon = _number(form, "long", -180, 180, fmt)
    if (lat is None) != (lon is None):
        raise Open311Error(400, "lat and long go together", fmt)
    address = _field(form, "address_string", 250, fmt)
    if lat is None and address is None and not form.get("address_id", "").strip():
        raise Open311Error(400, "a location is required: lat and long, address_string or address_id", fmt)
    district = _field(form, "attribute[district]", 64, fmt)
    if district is not None and not profile.has_district(district):
        raise Open311Error(400, f"attribute[district] {district!r} is not a district of {profile.city.name}", fmt)
    if district is None and lat is not None and lon is not None:
        district = nearest_district(profile, lat, lon)
    stage_said = _field(form, "attribute[stage]", 32, fmt)
    stage = "verifikasi" if stage_said is None else re.sub(r"[\s-]+", "_", stage_said.lower())
    if stage not in LAPOR_STAGES:
        raise Open311Error(400, f"attribute[stage] must be one of {', '.join(LAPOR_STAGES)}", fmt)
    description = _field(form, "description", DESCRIPTION_MAX, fmt, multiline=True)
    media_url = _field(form, "media_url", 500, fmt)
    if media_url is not None and not re.match(r"https?://[^\s/]+", media_url):
        raise Open311Error(400, "media_url must be an http(s) URL", fmt)
    email = _field(form, "email", 200, fmt)
    if email is not None and not _EMAIL.fullmatch(email):
        raise Open311Error(400, "email is not an email address", fmt)
    phone = _field(form, "phone", 50, fmt)
    if phone is not None and not re.fullmatch(r"\+?[0-9 ().-]{4,50}", phone):
        raise Open311Error(400, "phone is not a phone number", fmt)
    ticket_id = f"o311-{secrets.token_hex(6)}"
    token = secrets.token_urlsafe(18)
    event = {
        "ticket_id": ticket_id,
        "service": svc.id,
        "status": "open",
        "ts": now.astimezone(profile.tz).isoformat(timespec="milliseconds"),
        "title": svc.name.id,
        "description": description,
        "lat": lat,
        "lon": lon,
        "district": district,
        "stage": stage,
    }
    kept = {
        "token": token,
        "city": profile.city.id,
        "ticket_id": ticket_id,
        "agency": svc.agency,
        "created_ms": int(now.timestamp() * 1000),
        "address": address,
        "media_url": media_url,
        "first_name": _field(form, "first_name", 100, fmt),
        "last_name": _field(form, "last_name", 100, fmt),
        "email": email,
        "phone": phone,
    }
    return NewRequest(
        token=token,
        ticket_id=ticket_id,
        agency=svc.agency,
        topic=f"city/{profile.city.id}/service/{svc.agency}",
        event={k: v for k, v in event.items() if v is not None},
        kept=kept,
        notice=f"Laporan diterima. {_sla_words(svc)}.",
    )
