"""Does an alert concern the regency? Its CAP areas, or its epicentre, against the profile's outline (shapely).

Geometry is done in a local plane in kilometres around the city's centre
(an equirectangular projection: within 1,000 km of a regency near the
equator it is off by well under 1 %, and the rules are round distances), so
shapely's distances and buffers are kilometres. The rules are the profile's
(`warnings:`, app.profile.WarningRules).

Districts: a district with an `outline` is named when the area touches it;
otherwise when its centre lies in the area, and when the area touches the
regency but covers no centre, the district whose centre is nearest to the
part it covers. An earthquake names the district nearest to its epicentre.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from shapely import Point, Polygon, unary_union
from shapely.geometry.base import BaseGeometry

from app.alerts.cap import CapDoc
from app.profile import Profile, Severity

KM_PER_DEG_LAT = 110.574
KM_PER_DEG_LON_EQ = 111.320
TSUNAMI_WORDS = ("berpotensi tsunami", "potential tsunami", "may generate tsunami")


@dataclass(frozen=True, slots=True)
class Relevance:
    """The verdict stored with an alert: does it concern us, how far, where, and the alarm's severity."""

    relevant: bool
    distance_km: float | None
    districts: tuple[str, ...]
    severity: Severity | None


@dataclass(frozen=True, slots=True)
class _Plane:
    lat0: float
    lon0: float
    kx: float

    def xy(self, lat: float, lon: float) -> tuple[float, float]:
        return ((lon - self.lon0) * self.kx, (lat - self.lat0) * KM_PER_DEG_LAT)


@dataclass(frozen=True, slots=True)
class _Regency:
    plane: _Plane
    outline: BaseGeometry
    districts: tuple[tuple[str, BaseGeometry | None, Point], ...]  # id, outline (if any), centre


def _regency(profile: Profile) -> _Regency:
    # Profiles are frozen (and hold lists, so they do not hash): the geometry is built once and kept on the instance.
    cached = profile.__dict__.get("_regency")
    if cached is None:
        cached = _build(profile)
        object.__setattr__(profile, "_regency", cached)
    return cached


def _build(profile: Profile) -> _Regency:
    c = profile.city.center
    plane = _Plane(c.lat, c.lon, KM_PER_DEG_LON_EQ * math.cos(math.radians(c.lat)))
    rings = [Polygon([plane.xy(lat, lon) for lat, lon in ring]) for ring in profile.city.outline if len(ring) >= 4]
    centres = [Point(plane.xy(d.center.lat, d.center.lon)) for d in profile.districts]
    outline = unary_union([r.buffer(0) for r in rings]) if rings else unary_union(centres or [Point(0, 0)]).buffer(5)
    districts = tuple(
        (
            d.id,
            Polygon([plane.xy(lat, lon) for lat, lon in d.outline]).buffer(0) if len(d.outline) >= 4 else None,
            centre,
        )
        for d, centre in zip(profile.districts, centres, strict=True)
    )
    return _Regency(plane, outline, districts)


def _param(parameters: Sequence[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in parameters if k.lower() == name), None)


def is_quake(parameters: Sequence[tuple[str, str]]) -> bool:
    """An earthquake alert: one with a `magnitude` parameter (what `satupintu feeds` makes of BMKG's quakes)."""
    return _param(parameters, "magnitude") is not None


def tsunami_possible(parameters: Sequence[tuple[str, str]], text: str) -> bool:
    """BMKG says a tsunami is possible: a `tsunami` parameter, else its 'berpotensi tsunami' words in `text`."""
    flag = (_param(parameters, "tsunami") or "").strip().lower()
    if flag in ("true", "yes", "1"):
        return True
    if flag in ("false", "no", "0"):
        return False
    low = f"{_param(parameters, 'potensi') or ''} {text}".lower()
    return any(w in low and f"tidak {w}" not in low for w in TSUNAMI_WORDS)


def assess(doc: CapDoc, profile: Profile) -> Relevance:
    """Whether `doc` concerns the regency of `profile`, by the profile's warning rules."""
    reg = _regency(profile)
    if is_quake(doc.parameters):
        return _quake(doc, profile, reg)
    shapes = [_shape(reg.plane, a.ring, a.center, a.radius_km) for a in doc.areas]
    if not shapes:
        return Relevance(False, None, (), None)
    area = unary_union(shapes)
    distance = float(reg.outline.distance(area))
    rules = profile.warnings
    if distance > rules.area_buffer_km:
        return Relevance(False, round(distance, 1), (), None)
    severity = rules.cap_severity.get(doc.severity or "Unknown", "warning")
    return Relevance(True, round(distance, 1), _districts(reg, area), severity)


def _shape(
    plane: _Plane, ring: tuple[tuple[float, float], ...], center: tuple[float, float] | None, radius_km: float
) -> BaseGeometry:
    if center is not None:
        return Point(plane.xy(*center)).buffer(max(radius_km, 0.01))
    return Polygon([plane.xy(lat, lon) for lat, lon in ring]).buffer(0)  # buffer(0) mends a self-touching ring


def _quake(doc: CapDoc, profile: Profile, reg: _Regency) -> Relevance:
    centre = next((a.center for a in doc.areas if a.center is not None), None)
    if centre is None:
        return Relevance(False, None, (), None)
    epi = Point(reg.plane.xy(*centre))
    distance = round(float(reg.outline.distance(epi)), 1)
    try:
        magnitude: float | None = float(doc.parameter("magnitude") or "")
    except ValueError:
        magnitude = None
    tsunami = tsunami_possible(doc.parameters, f"{doc.headline or ''} {doc.description or ''}")
    for rule in profile.warnings.quakes:
        if distance > rule.within_km or (rule.tsunami and not tsunami):
            continue
        if rule.min_magnitude is not None and (magnitude is None or magnitude < rule.min_magnitude):
            continue
        nearest = min(reg.districts, key=lambda d: d[2].distance(epi), default=None)
        return Relevance(True, distance, (nearest[0],) if nearest else (), rule.severity)
    return Relevance(False, distance, (), None)


def _districts(reg: _Regency, area: BaseGeometry) -> tuple[str, ...]:
    named = [
        did for did, outline, centre in reg.districts if (outline.intersects(area) if outline else area.covers(centre))
    ]
    if named or not reg.districts:
        return tuple(named)
    covered = area.intersection(reg.outline)
    spot = covered.representative_point() if not covered.is_empty else area.representative_point()
    return (min(reg.districts, key=lambda d: d[2].distance(spot))[0],)
