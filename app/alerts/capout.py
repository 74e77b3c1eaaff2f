"""Our alarms out as CAP 1.2 (one document per alarm, its latest message) and as an Atom feed of them.

The mapping, documented in docs/alerts.md:

- sender `{city}@satupintu`; identifier `{city}.alarm.{id}.{n}`, where n counts
  the alarm's lifecycle messages (raised, escalated, deescalated, cleared);
- msgType `Alert` when raised, `Update` after an escalation or easing (with
  `references` to the first message), `Cancel` once cleared;
- severity Awas/critical -> Extreme, Siaga/major -> Severe, Waspada/minor ->
  Moderate, Perhatian/warning -> Minor; urgency Immediate while open, Past
  once cleared; certainty Observed;
- category by kind: threshold and rate -> Env, silence -> Infra, sla -> Other,
  ticket_count -> Rescue, warning -> the alert's own category;
- area: the district's outline when the profile has one, else the alarm's
  point (a circle of radius 0), else the city's outline.

Built with ElementTree, which escapes every text (free text from outside,
such as an alert's headline, goes out as text, never as markup).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

import orjson

from app.alarms.messages import message
from app.alerts.cap import CATEGORIES, NS
from app.profile import Profile

ATOM = "http://www.w3.org/2005/Atom"
CAP_SEVERITY = {"critical": "Extreme", "major": "Severe", "minor": "Moderate", "warning": "Minor"}
CATEGORY = {"threshold": "Env", "rate": "Env", "silence": "Infra", "sla": "Other", "ticket_count": "Rescue"}
MESSAGES = ("raised", "escalated", "deescalated", "cleared")  # the lifecycle steps that are a CAP message


def sender(profile: Profile) -> str:
    return f"{profile.city.id}@satupintu"


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def alarm_cap(alarm: Mapping[str, Any], history: Sequence[Mapping[str, Any]], profile: Profile) -> bytes:
    """The CAP 1.2 document of `alarm`'s latest message (`history`: its alarm_events rows, oldest first)."""
    steps = [h for h in history if h["action"] in MESSAGES] or [{"action": "raised", "at_ms": alarm["raised_ms"]}]
    city, aid = profile.city.id, alarm["id"]
    last = steps[-1]
    msg_type = "Cancel" if alarm["state"] == "cleared" else ("Alert" if len(steps) == 1 else "Update")
    root = Element("alert", xmlns=NS)
    for name, value in (
        ("identifier", f"{city}.alarm.{aid}.{len(steps)}"),
        ("sender", sender(profile)),
        ("sent", _iso(last["at_ms"])),
        ("status", "Actual"),
        ("msgType", msg_type),
        ("scope", "Public"),
    ):
        SubElement(root, name).text = value
    if msg_type != "Alert":
        first = steps[0]
        SubElement(root, "references").text = f"{sender(profile)},{city}.alarm.{aid}.1,{_iso(first['at_ms'])}"
    detail = orjson.loads(alarm["detail"])
    text = message(alarm["kind"], detail, "id", profile)
    info = SubElement(root, "info")
    found = detail.get("category") if alarm["kind"] == "warning" else CATEGORY.get(alarm["kind"])
    category = found if isinstance(found, str) and found in CATEGORIES else "Other"
    for name, value in (
        ("language", "id"),
        ("category", category),
        ("event", f"Alarm {alarm['kind']}"),
        ("urgency", "Past" if alarm["state"] == "cleared" else "Immediate"),
        ("severity", CAP_SEVERITY.get(alarm["severity"], "Unknown")),
        ("certainty", "Observed"),
        ("effective", _iso(alarm["raised_ms"])),
        ("senderName", f"SatuPintu {profile.city.name}"),
        ("headline", text[:160]),
        ("description", text),
    ):
        SubElement(info, name).text = value
    SubElement(info, "web").text = f"urn:satupintu:{city}:alarm:{aid}"
    area = SubElement(info, "area")
    _area(area, alarm, profile)
    return bytes(tostring(root, encoding="utf-8", xml_declaration=True))


def _ring(points: Sequence[tuple[float, float]]) -> str:
    pts = list(points)
    if pts and pts[0] != pts[-1]:
        pts.append(pts[0])
    return " ".join(f"{lat:.5f},{lon:.5f}" for lat, lon in pts)


def _area(area: Element, alarm: Mapping[str, Any], profile: Profile) -> None:
    district = next((d for d in profile.districts if d.id == alarm["district"]), None)
    SubElement(area, "areaDesc").text = district.name if district else profile.city.name
    if district is not None and len(district.outline) >= 3:
        SubElement(area, "polygon").text = _ring(district.outline)
    elif alarm["lat"] is not None and alarm["lon"] is not None:
        SubElement(area, "circle").text = f"{alarm['lat']:.5f},{alarm['lon']:.5f} 0"
    elif district is not None:
        SubElement(area, "circle").text = f"{district.center.lat:.5f},{district.center.lon:.5f} 0"
    else:
        for ring in profile.city.outline:
            if len(ring) >= 3:
                SubElement(area, "polygon").text = _ring(ring)


def atom(alarms: Sequence[Mapping[str, Any]], profile: Profile, *, base_url: str, now_ms: int) -> bytes:
    """An Atom feed of `alarms`, each entry linking its CAP document under `base_url`."""
    city = profile.city.id
    feed = Element("feed", xmlns=ATOM)
    SubElement(feed, "id").text = f"urn:satupintu:{city}:cap"
    SubElement(feed, "title").text = f"SatuPintu {profile.city.name}: alarm aktif (CAP 1.2)"
    SubElement(feed, "updated").text = _iso(max([a["updated_ms"] for a in alarms], default=now_ms))
    author = SubElement(feed, "author")
    SubElement(author, "name").text = sender(profile)
    SubElement(feed, "link", rel="self", href=f"{base_url}/api/v1/cap/alerts.atom")
    for a in alarms:
        e = SubElement(feed, "entry")
        SubElement(e, "id").text = f"urn:satupintu:{city}:alarm:{a['id']}"
        SubElement(e, "title").text = message(a["kind"], orjson.loads(a["detail"]), "id", profile)[:160]
        SubElement(e, "updated").text = _iso(a["updated_ms"])
        SubElement(
            e, "link", rel="alternate", type="application/cap+xml", href=f"{base_url}/api/v1/cap/alerts/{a['id']}.xml"
        )
    return bytes(tostring(feed, encoding="utf-8", xml_declaration=True))
