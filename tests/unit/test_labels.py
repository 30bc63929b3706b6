"""Names on the map (geo.labels): a point well inside each unit, names that never cover each other
or a unit's mark, larger units named first, and a name moved off its mark still over its unit."""

from __future__ import annotations

import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from geo.labels import Candidate, Frame, _box, label_point, place_labels, text_width_em


def _frame(bounds=(0.0, 0.0, 10.0, 10.0), px=(1000, 1000)) -> Frame:
    return Frame(bounds, 0.0, *px)  # at the equator a degree is as long both ways: 100 px per degree


def _candidate(key: str, geometry, text: str | None = None, priority: float | None = None) -> Candidate:
    return Candidate(key, text or key, label_point(geometry), geometry,
                     geometry.area if priority is None else priority)


def _placed_boxes(placed, frame: Frame, font_px: float, mark_px: float):
    boxes = []
    for label in placed:
        x, y = frame.to_px(label.lon, label.lat)
        boxes.append(_box(x, y, text_width_em(label.text) * font_px, 1.25 * font_px, label.position,
                          mark_px / 2 / 0.8 + 1))
    return boxes


def test_the_label_point_of_a_crescent_is_inside_it_and_far_from_its_border() -> None:
    # A C shape: its centroid lies in the empty middle; the pole lies in the thick back.
    crescent = box(0, 0, 10, 10).difference(box(3, 2, 10, 8))
    x, y = label_point(crescent)
    assert crescent.contains(shapely.Point(x, y))
    assert not crescent.contains(crescent.centroid)
    assert shapely.Point(x, y).distance(crescent.exterior) > 1.0


def test_a_multipolygon_is_labelled_in_its_largest_part() -> None:
    islands = MultiPolygon([box(0, 0, 1, 1), box(5, 5, 9, 9)])
    x, y = label_point(islands)
    assert box(5, 5, 9, 9).contains(shapely.Point(x, y))


def test_cjk_text_is_wider_per_character_than_latin() -> None:
    assert text_width_em("浦东新区") == 4.0
    assert text_width_em("Pudo") < text_width_em("浦东新区")


def test_far_apart_units_all_get_their_name_under_their_mark() -> None:
    units = [_candidate(f"U{i}", box(i * 3, 4, i * 3 + 2, 6)) for i in range(3)]
    placed = place_labels(units, _frame(), font_px=20, mark_px=10)
    assert [p.key for p in placed] == ["U0", "U1", "U2"]
    assert {p.position for p in placed} == {"bottom center"}


def test_colliding_names_keep_the_larger_unit_and_never_overlap() -> None:
    big = _candidate("BIG", box(2, 2, 6, 6), "A very long district name")
    small = _candidate("SMALL", box(6, 3.8, 6.4, 4.2), "Another long district name")
    frame = _frame()
    placed = place_labels([small, big], frame, font_px=24, mark_px=10)
    assert placed[0].key == "BIG"
    boxes = _placed_boxes(placed, frame, 24, 10)
    for i, first in enumerate(boxes):
        for second in boxes[i + 1:]:
            assert not (first[0] < second[2] and second[0] < first[2] and first[1] < second[3]
                        and second[1] < first[3])


def test_a_name_moves_off_a_blocked_place_only_where_it_stays_over_its_unit() -> None:
    # A wide unit whose "under the mark" place is taken by a neighbour's mark: it goes above.
    wide = _candidate("W", box(1, 3, 9, 7), "Wide")
    frame = _frame()
    x, y = wide.anchor
    placed = place_labels([wide], frame, font_px=20, mark_px=10, marks=[(x, y - 0.2)])
    assert [(p.key, p.position) for p in placed] == [("W", "top center")]
    # A thin unit has no room above or beside its mark: the name is dropped, not put elsewhere.
    thin = _candidate("T", box(4.9, 4.9, 5.1, 5.1), "Thin")
    x, y = thin.anchor
    assert place_labels([thin], frame, font_px=20, mark_px=10, marks=[(x, y - 0.2)]) == []


def test_no_name_covers_a_mark_or_leaves_the_frame() -> None:
    unit = _candidate("EDGE", box(0, 0, 10, 0.3), "At the bottom edge")
    placed = place_labels([unit], _frame(), font_px=20, mark_px=10)
    assert placed and placed[0].position != "bottom center"  # under the mark is off the map
    assert place_labels([unit], _frame(), font_px=20, mark_px=10, marks=[unit.anchor]) == []


def test_blank_names_are_skipped_and_the_order_is_deterministic() -> None:
    units = [_candidate("A", box(0, 0, 4, 4), " "), _candidate("B", box(5, 5, 9, 9), "B")]
    assert [p.key for p in place_labels(units, _frame(), font_px=20, mark_px=10)] == ["B"]
    # Equal priorities: by key, so every screen places the same names the same way.
    twins = [_candidate(k, box(x, 4, x + 1, 5), "Same name here", priority=1.0) for k, x in (("Z", 5), ("Y", 4))]
    placed = place_labels(twins, _frame(), font_px=20, mark_px=10)
    assert [(p.key, p.position) for p in placed] == [("Y", "bottom center"), ("Z", "top center")]


def test_the_frame_keeps_the_maps_aspect() -> None:
    frame = Frame((-74.3, 40.5, -73.7, 40.9), 40.7, 1000, 600)
    assert abs(frame.px_per_lat / frame.px_per_lon - 1 / 0.7581) < 0.01
    x0, y0 = frame.to_px(-74.3, 40.5)
    x1, y1 = frame.to_px(-73.7, 40.9)
    assert x1 - x0 <= 1000 + 1e-6 and y1 - y0 <= 600 + 1e-6
    assert max(x1 - x0, y1 - y0) in (1000, 600) or abs(y1 - y0 - 600) < 1e-6 or abs(x1 - x0 - 1000) < 1e-6
    assert frame.to_lonlat(*frame.to_px(-74.0, 40.7)) == (-74.0, 40.7) or all(
        abs(a - b) < 1e-9 for a, b in zip(frame.to_lonlat(*frame.to_px(-74.0, 40.7)), (-74.0, 40.7), strict=True))


def test_a_degenerate_geometry_still_gets_a_point() -> None:
    line_like = Polygon([(0, 0), (1, 0), (1, 1e-12), (0, 1e-12)])
    x, y = label_point(line_like)
    assert 0 <= x <= 1
