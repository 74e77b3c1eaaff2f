"""Where district names go on the map: near their district's centre, never under a marker.

The profile puts a district's name at its centre, which is also where its
town's sensors are: the markers covered the name. Each name is tried at its
centre, then at growing steps above, below and to the sides, and goes to the
first place whose text box touches no marker and no name already placed (or,
when none is free, the one touching the fewest). Pure geometry in map degrees:
a text box is estimated from the name's length and the font size, a marker is
a disc of its drawn radius, both through the map's degrees per pixel.
"""

from __future__ import annotations

from collections.abc import Sequence

# (dlat, dlon) directions in order of preference: above and below read best, then the sides, then diagonals
_DIRECTIONS = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1))
_CHAR_W = 0.6  # a character's width, in font sizes (a sans-serif average)
_LINE_H = 1.4  # a line's height, in font sizes

Box = tuple[float, float, float, float]  # lat0, lat1, lon0, lon1


def text_box(lat: float, lon: float, name: str, *, deg_per_px: float, font_px: float) -> Box:
    """The box a name centred at (lat, lon) covers on the map."""
    half_w = len(name) * _CHAR_W * font_px * deg_per_px / 2
    half_h = _LINE_H * font_px * deg_per_px / 2
    return lat - half_h, lat + half_h, lon - half_w, lon + half_w


def touches(box: Box, lat: float, lon: float, radius: float) -> bool:
    """True when a marker disc at (lat, lon) of `radius` degrees reaches into box."""
    near_lat = min(max(lat, box[0]), box[1])
    near_lon = min(max(lon, box[2]), box[3])
    return (lat - near_lat) ** 2 + (lon - near_lon) ** 2 <= radius**2


def overlap(a: Box, b: Box) -> bool:
    return a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]


def place_labels(
    labels: Sequence[tuple[str, float, float]],
    markers: Sequence[tuple[float, float, float]],
    *,
    deg_per_px: float,
    font_px: float,
) -> list[tuple[float, float]]:
    """For each (name, lat, lon) label, the (lat, lon) to draw it at, clear of the (lat, lon, radius) markers
    and of the names placed before it."""
    step = _LINE_H * font_px * deg_per_px
    placed: list[Box] = []
    out = []
    for name, lat, lon in labels:
        candidates = [(lat, lon)] + [
            (lat + dy * step * r, lon + dx * step * r * 2) for r in (1, 1.6, 2.4, 3.4) for dy, dx in _DIRECTIONS
        ]
        best, best_cost = candidates[0], float("inf")
        for c in candidates:
            box = text_box(*c, name, deg_per_px=deg_per_px, font_px=font_px)
            cost = sum(touches(box, *m) for m in markers) + 2 * sum(overlap(box, other) for other in placed)
            if cost < best_cost:
                best, best_cost = c, cost
            if cost == 0:
                break
        placed.append(text_box(*best, name, deg_per_px=deg_per_px, font_px=font_px))
        out.append(best)
    return out
