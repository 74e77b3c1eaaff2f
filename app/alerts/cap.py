"""A CAP 1.2 document (OASIS `urn:oasis:names:tc:emergency:cap:1.2`) read into a `CapDoc`, or refused with a reason.

Pure: bytes in, a frozen value out. The XML comes from outside, so it is
parsed with defusedxml with DTDs forbidden: no external entity, no entity
expansion, no network. Only what SatuPintu uses is kept (the message's
header, one `info` block, its parameters and areas); the original XML is
stored beside it, so nothing is lost. Areas become GeoJSON (`[lon, lat]`):
a CAP polygon is `lat,lon` pairs and a circle `lat,lon radius_km`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

NS = "urn:oasis:names:tc:emergency:cap:1.2"
_Q = "{" + NS + "}"
STATUSES = ("Actual", "Exercise", "System", "Test", "Draft")
MSG_TYPES = ("Alert", "Update", "Cancel", "Ack", "Error")
SCOPES = ("Public", "Restricted", "Private")
CATEGORIES = (
    "Geo",
    "Met",
    "Safety",
    "Security",
    "Rescue",
    "Fire",
    "Health",
    "Env",
    "Transport",
    "Infra",
    "CBRNE",
    "Other",
)
URGENCIES = ("Immediate", "Expected", "Future", "Past", "Unknown")
SEVERITIES = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")
CERTAINTIES = ("Observed", "Likely", "Possible", "Unlikely", "Unknown")
TEXT_MAX = 4000  # headline, description: longer text is cut (the original XML keeps all of it)


class CapError(ValueError):
    """The document is not a CAP 1.2 alert SatuPintu can store: `reason` (a stable code) and `detail`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


@dataclass(frozen=True, slots=True)
class CapDoc:
    """What SatuPintu keeps of one CAP alert (times in epoch ms UTC; areas as a GeoJSON FeatureCollection)."""

    identifier: str
    sender: str
    sent_ms: int
    status: str
    msg_type: str
    scope: str
    references: tuple[tuple[str, str], ...]  # (sender, identifier) of the alerts an Update or Cancel replaces
    event: str | None = None
    category: str | None = None
    urgency: str | None = None
    severity: str | None = None
    certainty: str | None = None
    headline: str | None = None
    description: str | None = None
    effective_ms: int | None = None
    expires_ms: int | None = None
    parameters: tuple[tuple[str, str], ...] = ()
    areas: tuple[Area, ...] = ()

    def parameter(self, name: str) -> str | None:
        """The value of parameter `name` (case-insensitive), or None."""
        low = name.lower()
        return next((v for k, v in self.parameters if k.lower() == low), None)

    def geojson(self) -> dict[str, Any]:
        """The areas as a GeoJSON FeatureCollection (a circle is a Point with `radius_km`)."""
        return {"type": "FeatureCollection", "features": [a.feature() for a in self.areas]}


@dataclass(frozen=True, slots=True)
class Area:
    """One CAP shape: a polygon ring of (lat, lon), or a circle (centre and radius in km)."""

    desc: str
    ring: tuple[tuple[float, float], ...] = ()
    center: tuple[float, float] | None = None
    radius_km: float = 0.0

    def feature(self) -> dict[str, Any]:
        if self.center is not None:
            lat, lon = self.center
            return {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {"areaDesc": self.desc, "radius_km": self.radius_km},
            }
        return {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [[[lon, lat] for lat, lon in self.ring]]},
            "properties": {"areaDesc": self.desc},
        }


def parse_cap(xml: bytes) -> CapDoc:
    """A CAP 1.2 XML document -> CapDoc; CapError (`bad_xml`, `bad_cap`, `bad_time`, `bad_area`) when it is not one."""
    try:
        root = fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise CapError(
            "bad_xml", f"the XML declares a DTD or entities, which are refused ({type(exc).__name__})"
        ) from exc
    except (ParseError, ValueError) as exc:
        raise CapError("bad_xml", f"the payload is not well-formed XML: {str(exc)[:200]}") from exc
    if root.tag != _Q + "alert":
        raise CapError("bad_cap", f"the root element is {root.tag[:120]!r}, not a CAP 1.2 alert ({NS})")
    msg_type = _enum(root, "msgType", MSG_TYPES)
    doc_refs = _references(_text(root, "references"))
    if msg_type in ("Update", "Cancel") and not doc_refs:
        raise CapError("bad_cap", f"a {msg_type} names the alerts it replaces in <references>")
    infos = root.findall(_Q + "info")
    info = next(
        (i for i in infos if (_text(i, "language") or "").lower().startswith("id")), infos[0] if infos else None
    )
    sent_ms = _time(root, "sent", required=True) or 0  # required: never None
    identifier, sender = _required(root, "identifier"), _required(root, "sender")
    for key, value in (("identifier", identifier), ("sender", sender)):
        if any(c in value for c in " ,<&"):
            raise CapError("bad_cap", f"<{key}> may not contain spaces, commas, '<' or '&'")
    base: dict[str, Any] = {
        "identifier": identifier,
        "sender": sender,
        "sent_ms": sent_ms,
        "status": _enum(root, "status", STATUSES),
        "msg_type": msg_type,
        "scope": _enum(root, "scope", SCOPES),
        "references": doc_refs,
    }
    if info is None:
        if msg_type in ("Alert", "Update"):
            raise CapError("bad_cap", f"an {msg_type} without <info> says nothing to show")
        return CapDoc(**base)
    effective = _time(info, "effective") or sent_ms
    expires = _time(info, "expires")
    if expires is not None and expires <= effective:
        raise CapError("bad_time", "<expires> is not after <effective> (or <sent>)")
    params = tuple((_text(p, "valueName") or "", _text(p, "value") or "") for p in info.findall(_Q + "parameter"))
    return CapDoc(
        **base,
        event=_required(info, "event"),
        category=_enum(info, "category", CATEGORIES),
        urgency=_enum(info, "urgency", URGENCIES),
        severity=_enum(info, "severity", SEVERITIES),
        certainty=_enum(info, "certainty", CERTAINTIES),
        headline=_clipped(_text(info, "headline")),
        description=_clipped(_text(info, "description")),
        effective_ms=effective,
        expires_ms=expires,
        parameters=params,
        areas=tuple(a for area in info.findall(_Q + "area") for a in _areas(area)),
    )


def _text(el: Element, name: str) -> str | None:
    child = el.find(_Q + name)
    if child is None or child.text is None:
        return None
    return child.text.strip() or None


def _required(el: Element, name: str) -> str:
    value = _text(el, name)
    if value is None:
        raise CapError("bad_cap", f"<{name}> is required")
    return value


def _enum(el: Element, name: str, allowed: tuple[str, ...]) -> str:
    value = _required(el, name)
    if value not in allowed:
        raise CapError("bad_cap", f"<{name}> is {value[:40]!r}, not one of {', '.join(allowed)}")
    return value


def _clipped(text: str | None) -> str | None:
    return text[:TEXT_MAX] if text else text


def _time(el: Element, name: str, *, required: bool = False) -> int | None:
    text = _required(el, name) if required else _text(el, name)
    if text is None:
        return None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError as exc:
        raise CapError("bad_time", f"<{name}> {text[:40]!r} is not an ISO 8601 date-time") from exc
    if dt.tzinfo is None:
        raise CapError("bad_time", f"<{name}> {text[:40]!r} has no UTC offset (CAP times carry one)")
    return int(dt.timestamp() * 1000)


def _references(text: str | None) -> tuple[tuple[str, str], ...]:
    if not text:
        return ()
    refs = []
    for triple in text.split():
        parts = triple.split(",")
        if len(parts) != 3 or not parts[0] or not parts[1]:
            raise CapError("bad_cap", f"<references> entry {triple[:80]!r} is not sender,identifier,sent")
        refs.append((parts[0], parts[1]))
    return tuple(refs)


def _point(text: str) -> tuple[float, float]:
    try:
        lat_s, lon_s = text.split(",")
        lat, lon = float(lat_s), float(lon_s)
    except ValueError as exc:
        raise CapError("bad_area", f"{text[:40]!r} is not a 'lat,lon' pair") from exc
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise CapError("bad_area", f"{text[:40]!r} is outside the globe")
    return lat, lon


def _areas(area: Element) -> list[Area]:
    desc = _required(area, "areaDesc")
    out: list[Area] = []
    for poly in area.findall(_Q + "polygon"):
        ring = tuple(_point(p) for p in (poly.text or "").split())
        if len(ring) < 4 or ring[0] != ring[-1]:
            raise CapError("bad_area", "a <polygon> is at least four 'lat,lon' pairs, the first repeated last")
        out.append(Area(desc, ring=ring))
    for circle in area.findall(_Q + "circle"):
        parts = (circle.text or "").split()
        if len(parts) != 2:
            raise CapError("bad_area", "a <circle> is 'lat,lon radius_km'")
        try:
            radius = float(parts[1])
        except ValueError as exc:
            raise CapError("bad_area", f"circle radius {parts[1][:20]!r} is not a number") from exc
        if not 0 <= radius <= 20_000:
            raise CapError("bad_area", "a circle's radius is 0 to 20000 km")
        out.append(Area(desc, center=_point(parts[0]), radius_km=radius))
    return out
