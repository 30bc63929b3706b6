"""Boundary outlines for the offline map."""

from __future__ import annotations

from shapely.geometry import MultiPolygon, Polygon, box

from geo.outlines import outline_coordinates


def test_every_ring_is_traced_and_separated() -> None:
    square = box(0, 0, 1, 1)
    with_hole = Polygon([(2, 0), (5, 0), (5, 3), (2, 3)], holes=[[(3, 1), (4, 1), (4, 2), (3, 2)]])
    xs, ys = outline_coordinates([square, MultiPolygon([with_hole]), None, Polygon()])
    assert xs.count(None) == ys.count(None) == 3  # the square, the outer ring and the hole
    assert len(xs) == len(ys) == 3 * 5 + 3  # closed rings of 5 points each


def test_outlines_are_simplified_to_the_tolerance() -> None:
    wiggly = Polygon([(0, 0), *[(x / 100, 0.00001 * (x % 2)) for x in range(1, 100)], (1, 0), (1, 1), (0, 1)])
    xs, _ = outline_coordinates([wiggly], tolerance_deg=0.001)
    assert len(xs) < 10
