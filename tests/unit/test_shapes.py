"""Units as the maps draw them (geo.shapes): rings and outlines from the display geometry, which
neighbours share exactly — no gap opens between two units on the map."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from geo.shapes import outline_coordinates, unit_shapes_of
from geo.simplify import clean_coverage, simplify_to_budget


def test_every_ring_is_traced_and_separated() -> None:
    square = box(0, 0, 1, 1)
    with_hole = Polygon([(2, 0), (5, 0), (5, 3), (2, 3)], holes=[[(3, 1), (4, 1), (4, 2), (3, 2)]])
    xs, ys = outline_coordinates([square, MultiPolygon([with_hole]), None, Polygon()])
    assert xs.count(None) == ys.count(None) == 3  # the square, the outer ring and the hole
    assert len(xs) == len(ys) == 3 * 5 + 3  # closed rings of 5 points each


def test_outlines_and_fills_draw_the_geometry_as_given() -> None:
    """The display geometry is already simplified (together, gap-free): nothing is simplified again."""
    wiggly = Polygon([(0, 0), *[(x / 100, 0.00001 * (x % 2)) for x in range(1, 100)], (1, 0), (1, 1), (0, 1)])
    xs, _ = outline_coordinates([wiggly])
    assert len(xs) == len(wiggly.exterior.coords) + 1
    shape = unit_shapes_of(gpd.GeoDataFrame({"geometry": [wiggly]}, index=["W"]))["W"]
    assert len(shape.xs) == len(wiggly.exterior.coords) + 1 and np.isnan(shape.xs[-1]) and np.isnan(shape.ys[-1])
    assert not shape.xs.flags.writeable  # shared by every screen of the process
    assert shapely.Point(shape.point).within(wiggly) and shape.bounds == wiggly.bounds


def test_a_unit_without_geometry_is_not_drawn_and_every_part_of_a_multipolygon_is() -> None:
    frame = gpd.GeoDataFrame({"geometry": [MultiPolygon([box(0, 0, 1, 1), box(2, 0, 3, 1)]), None]},
                             index=["M", "E"])
    shapes = unit_shapes_of(frame)
    assert set(shapes) == {"M"} and int(np.isnan(shapes["M"].xs).sum()) == 2


def _neighbours() -> gpd.GeoDataFrame:
    """Twelve units tiling the unit square, with borders wiggling as real ones do (detail a
    simplification removes); a shared border wiggles the same for both of its units."""
    rng = np.random.default_rng(3)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.MultiPoint(rng.random((12, 2)))))
    cells = [shapely.segmentize(cell.intersection(box(0, 0, 1, 1)), 0.01) for cell in cells]

    def wiggle(xy: np.ndarray) -> np.ndarray:
        inside = ((xy > 1e-9) & (xy < 1 - 1e-9)).all(axis=1)[:, None]  # the square's edge stays straight
        return xy + 0.003 * inside * np.stack([np.sin(xy[:, 1] * 97 + xy[:, 0] * 41),
                                               np.cos(xy[:, 0] * 89 - xy[:, 1] * 23)], axis=1)

    codes = [f"U{n:02d}" for n in range(len(cells))]
    return gpd.GeoDataFrame({"name": codes, "geometry": [shapely.transform(c, wiggle) for c in cells]},
                            index=codes, crs="EPSG:4326")


def _drawn(frame: gpd.GeoDataFrame) -> list[Polygon]:
    return [Polygon([(x, y) for x, y in zip(shape.xs, shape.ys, strict=True) if not np.isnan(x)])
            for shape in unit_shapes_of(frame).values()]


def test_neighbours_share_their_borders_in_what_the_map_draws() -> None:
    units = _neighbours()
    display = simplify_to_budget(units, len(units.to_json()) // 4)  # simplified well below the source
    drawn = _drawn(gpd.read_file(display.geojson).set_index("code"))
    assert sum(len(p.exterior.coords) for p in drawn) < sum(len(p.exterior.coords) for p in units.geometry) / 2
    together = shapely.union_all(drawn)
    assert together.geom_type == "Polygon" and not together.interiors  # no gap anywhere between them
    assert math.isclose(sum(p.area for p in drawn), together.area, rel_tol=1e-9)  # and no overlap
    assert bool(shapely.coverage_is_valid(drawn))
    # What the map did before: each polygon of the same clean coverage simplified on its own opens gaps.
    cleaned = clean_coverage(units.geometry.values)
    assert bool(shapely.coverage_is_valid(cleaned))
    assert not shapely.coverage_is_valid(shapely.simplify(cleaned, display.tolerance_deg, preserve_topology=True))
