"""Grid clustering of map markers (pure)."""

from __future__ import annotations

import random

from dashboards.cluster import RANKS, Point, cluster, worst


def _p(lon: float, lat: float, state: str = "online", key: str = "s") -> Point:
    return Point(lon, lat, state, key, key)


def test_worst_member_colours_the_cluster() -> None:
    pts = [_p(128.311, 2.061, "online", "a"), _p(128.312, 2.062, "critical", "b"), _p(128.313, 2.061, "stale", "c")]
    [c] = cluster(pts, (128.0, 128.8), (1.9, 2.7), cells=16)
    assert c.count == 3 and c.state == "critical"
    assert {p.key for p in c.members} == {"a", "b", "c"}


def test_worst_ranks_alarms_above_health() -> None:
    assert worst(["online", "offline"]) == "offline"
    assert worst(["offline", "warning"]) == "warning"
    assert worst(["stale", "major", "critical"]) == "critical"
    assert next(iter(RANKS)) == "critical" and list(RANKS)[-1] == "online"


def test_zooming_in_splits_a_cluster() -> None:
    pts = [_p(128.311, 2.061, key="a"), _p(128.318, 2.061, key="b")]
    assert len(cluster(pts, (128.0, 128.8), (1.9, 2.7), cells=16)) == 1  # 0.05 deg cells: together
    assert len(cluster(pts, (128.28, 128.34), (2.03, 2.07), cells=16)) == 2  # 0.004 deg cells: apart


def test_two_thousand_markers_become_few_and_keep_every_member() -> None:
    rnd = random.Random(7)
    pts = [_p(128.2 + rnd.random() * 0.5, 2.0 + rnd.random() * 0.6, rnd.choice(RANKS), f"s{i}") for i in range(2000)]
    out = cluster(pts, (128.1, 128.8), (1.95, 2.7), cells=16)
    assert len(out) <= 16 * 16
    assert sum(c.count for c in out) == 2000
    for c in out:
        assert c.state == worst([p.state for p in c.members])
    # Drawn worst last, so it is on top.
    ranks = [RANKS.index(c.state) for c in out]
    assert ranks == sorted(ranks, reverse=True)
