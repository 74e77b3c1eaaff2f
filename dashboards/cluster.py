"""Grid clustering of map markers: thousands of sources drawn as tens of markers, each the colour of its worst member.

Pure: points and the visible ranges in, clusters out. The grid follows the
view (about `cells` cells across it), so zooming in splits clusters apart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# Worst first: an alarm on a source outranks its health.
RANKS = ("critical", "major", "minor", "warning", "offline", "stale", "online")
RANK = {name: i for i, name in enumerate(RANKS)}


@dataclass(frozen=True, slots=True)
class Point:
    lon: float
    lat: float
    state: str  # one of RANKS
    key: str  # the source id
    label: str  # hover text


@dataclass(frozen=True, slots=True)
class Cluster:
    lon: float
    lat: float
    state: str  # the worst member's
    members: tuple[Point, ...]

    @property
    def count(self) -> int:
        return len(self.members)


def worst(states: Sequence[str]) -> str:
    """The worst of `states` (unknown names rank below online)."""
    return min(states, key=lambda s: RANK.get(s, len(RANKS)))


def cluster(
    points: Sequence[Point], x_range: tuple[float, float], y_range: tuple[float, float], cells: int = 36
) -> list[Cluster]:
    """Points grouped by grid cell of the view; a cell of one point is that point alone. Off-view points are kept."""
    span_x = abs(x_range[1] - x_range[0]) or 1e-6
    span_y = abs(y_range[1] - y_range[0]) or 1e-6
    size = max(span_x, span_y) / max(1, cells)
    cells_of: dict[tuple[int, int], list[Point]] = {}
    for p in points:
        cells_of.setdefault((math.floor(p.lon / size), math.floor(p.lat / size)), []).append(p)
    out = []
    for members in cells_of.values():
        n = len(members)
        out.append(
            Cluster(
                lon=sum(p.lon for p in members) / n,
                lat=sum(p.lat for p in members) / n,
                state=worst([p.state for p in members]),
                members=tuple(members),
            )
        )
    # Worst drawn last, so it sits on top where markers overlap.
    out.sort(key=lambda c: -RANK.get(c.state, len(RANKS)))
    return out
