"""BMKG's earthquake JSON (`autogempa.json`, `gempaterkini.json`) -> CAP 1.2 alerts (category Geo, a circle around the epicentre).

BMKG's traps (SOURCES.md): `Jam` is WIB whatever the region, so the time is
`DateTime` (UTC with an offset); `Coordinates` is "lat,lon"; `Magnitude` and
`Kedalaman` ("10 km") are strings; `Potensi` says whether a tsunami is
possible. Magnitude, depth and tsunami potential are kept as CAP parameters.
The identifier is made from the quake's time and place, so the same quake in
both documents is one alert.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

import orjson

from app.alerts.cap import NS

SENDER = "gempa@bmkg.go.id"
RADIUS_KM = 100  # the circle drawn around the epicentre: the area BMKG's felt reports usually cover
EXPIRES_H = 24


class QuakeError(ValueError):
    """The document is not BMKG's earthquake JSON as documented."""


def quakes(payload: bytes) -> list[dict[str, Any]]:
    """The earthquake objects of `autogempa.json` (one) or `gempaterkini.json` (a list)."""
    try:
        body = orjson.loads(payload)
        gempa = body["Infogempa"]["gempa"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise QuakeError(f"not BMKG earthquake JSON ({type(exc).__name__})") from exc
    items = gempa if isinstance(gempa, list) else [gempa]
    if not all(isinstance(g, dict) for g in items):
        raise QuakeError("an earthquake entry is not an object")
    return items


def _number(text: object) -> float:
    m = re.search(r"-?\d+(?:\.\d+)?", str(text))
    if m is None:
        raise QuakeError(f"{str(text)[:30]!r} holds no number")
    return float(m.group())


def to_cap(g: dict[str, Any]) -> bytes:
    """One BMKG earthquake -> a CAP 1.2 alert document (bytes)."""
    try:
        when = datetime.fromisoformat(str(g["DateTime"]))
        lat_s, lon_s = str(g["Coordinates"]).split(",")
        lat, lon = float(lat_s), float(lon_s)
        magnitude = _number(g["Magnitude"])
        depth = _number(g.get("Kedalaman", "0"))
    except (KeyError, ValueError) as exc:
        raise QuakeError(f"an earthquake lacks a readable DateTime, Coordinates or Magnitude ({exc})") from exc
    if when.tzinfo is None:
        raise QuakeError("DateTime has no offset")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise QuakeError("Coordinates are outside the globe")
    potensi = str(g.get("Potensi", ""))
    tsunami = "tsunami" in potensi.lower() and "tidak" not in potensi.lower()
    region = str(g.get("Wilayah", ""))
    sent = when.astimezone(UTC)
    stamp = sent.strftime("%Y%m%d%H%M%S")
    root = Element("alert", xmlns=NS)
    for name, value in (
        ("identifier", f"bmkg.gempa.{stamp}.{lat:.2f}.{lon:.2f}"),
        ("sender", SENDER),
        ("sent", _iso(sent)),
        ("status", "Actual"),
        ("msgType", "Alert"),
        ("scope", "Public"),
    ):
        SubElement(root, name).text = value
    info = SubElement(root, "info")
    for name, value in (
        ("language", "id"),
        ("category", "Geo"),
        ("event", "Gempabumi"),
        ("urgency", "Immediate" if tsunami else "Past"),
        ("severity", "Extreme" if tsunami else "Severe" if magnitude >= 6 else "Moderate"),
        ("certainty", "Observed"),
        ("effective", _iso(sent)),
        ("expires", _iso(sent + timedelta(hours=EXPIRES_H))),
        ("senderName", "Badan Meteorologi Klimatologi dan Geofisika"),
        ("headline", f"Gempa Mag:{magnitude:.1f}, {region}"),
        ("description", f"{potensi}. Kedalaman {depth:g} km. Dirasakan: {g.get('Dirasakan', '-')}"),
    ):
        SubElement(info, name).text = value
    for name, value in (
        ("magnitude", f"{magnitude:.1f}"),
        ("depth_km", f"{depth:g}"),
        ("tsunami", "true" if tsunami else "false"),
        ("potensi", potensi),
    ):
        p = SubElement(info, "parameter")
        SubElement(p, "valueName").text = name
        SubElement(p, "value").text = value
    area = SubElement(info, "area")
    SubElement(area, "areaDesc").text = region or "Episenter"
    SubElement(area, "circle").text = f"{lat:.4f},{lon:.4f} {RADIUS_KM}"
    return bytes(tostring(root, encoding="utf-8", xml_declaration=True))


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")  # CAP's form: seconds and an explicit offset
