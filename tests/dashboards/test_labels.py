"""District names are placed clear of the markers and of each other (dashboards/labels.py)."""

from __future__ import annotations

from dashboards.cluster import Cluster, Point
from dashboards.figures import map_figure
from dashboards.labels import overlap, place_labels, text_box, touches
from tests.dashboards.test_figures import OUTLINE

DPP, FONT = 0.7 / 500, 14  # Morotai's map: 0.7 degrees over 500 pixels
R = 8 * DPP  # a single marker's radius


def _clear(spot: tuple[float, float], name: str, markers: list[tuple[float, float, float]]) -> bool:
    box = text_box(*spot, name, deg_per_px=DPP, font_px=FONT)
    return not any(touches(box, *m) for m in markers)


def test_a_name_with_no_marker_near_stays_at_its_centre() -> None:
    spots = place_labels([("Morotai Jaya", 2.60, 128.50)], [(2.30, 128.60, R)], deg_per_px=DPP, font_px=FONT)
    assert spots == [(2.60, 128.50)]


def test_a_name_over_its_towns_markers_moves_clear_of_them_and_stays_near() -> None:
    markers = [(2.05, 128.31, R), (2.052, 128.295, 3 * R), (2.045, 128.30, R), (2.041, 128.292, R)]  # Daruba
    [(lat, lon)] = place_labels([("Morotai Selatan", 2.05, 128.31)], markers, deg_per_px=DPP, font_px=FONT)
    assert (lat, lon) != (2.05, 128.31)
    assert _clear((lat, lon), "Morotai Selatan", markers)
    assert abs(lat - 2.05) < 0.1 and abs(lon - 128.31) < 0.2, "next to its district, not across the map"


def test_two_names_at_one_place_do_not_sit_on_each_other() -> None:
    a, b = place_labels(
        [("Ternate Tengah", 0.79, 127.38), ("Ternate Utara", 0.79, 127.38)], [], deg_per_px=DPP / 5, font_px=FONT
    )
    boxes = [
        text_box(*s, n, deg_per_px=DPP / 5, font_px=FONT) for s, n in ((a, "Ternate Tengah"), (b, "Ternate Utara"))
    ]
    assert not overlap(*boxes)


def test_the_map_draws_district_names_off_the_markers() -> None:
    p = Point(128.31, 2.05, "online", "awlr", "AWLR")
    fig = map_figure(
        outline=OUTLINE,
        districts=[{"name": "Morotai Selatan", "lat": 2.05, "lon": 128.31}],
        clusters=[Cluster(128.31, 2.05, "online", (p,))],
    )
    names = next(t for t in fig.data if t.name == "districts")
    assert (names.y[0], names.x[0]) != (2.05, 128.31)
    assert names.text == ("Morotai Selatan",)


def test_the_plain_map_credits_the_outlines_data_escaped_and_tiles_do_not_repeat_it() -> None:
    fig = map_figure(outline=OUTLINE, districts=[], clusters=[], credit="© OpenStreetMap contributors <ODbL>")
    [note] = fig.layout.annotations
    assert note.text == "© OpenStreetMap contributors &lt;ODbL&gt;"
    assert not map_figure(outline=OUTLINE, districts=[], clusters=[]).layout.annotations
