"""Properties of the geo toolkit: locating, distances, allocation, areal interpolation."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from geo.locate import Locator
from geo.nearest import EARTH_RADIUS_M, haversine_m
from geo.placement import _allocate
from geo.population import areal_interpolate

FEW = settings(max_examples=100, deadline=None)

# The toy city of conftest, built here because Hypothesis tests cannot use
# function-scoped fixtures: regions A | B, each split into blocks south (1) / north (2).
LON0, LAT0, DLON, DLAT = 10.0, 50.0, 0.014, 0.009


def _cell(i: int, j: int, wide: int = 1, tall: int = 1) -> shapely.Polygon:
    return box(LON0 + i * DLON, LAT0 + j * DLAT, LON0 + (i + wide) * DLON, LAT0 + (j + tall) * DLAT)


REGIONS = gpd.GeoDataFrame(
    {"parent": [None, None]}, geometry=[_cell(0, 0, 1, 2), _cell(1, 0, 1, 2)], crs="EPSG:4326",
    index=pd.Index(["A", "B"], name="code"),
)
BLOCKS = gpd.GeoDataFrame(
    {"parent": ["A", "A", "B", "B"]}, geometry=[_cell(0, 0), _cell(0, 1), _cell(1, 0), _cell(1, 1)],
    crs="EPSG:4326", index=pd.Index(["A1", "A2", "B1", "B2"], name="code"),
)
LOCATOR = Locator([("region", REGIONS), ("block", BLOCKS)])

# Points over the city and a margin around it, often exactly on a line of the grid.
grid_lons = [LON0 + i * DLON for i in range(3)]
grid_lats = [LAT0 + j * DLAT for j in range(3)]
city_lon = st.one_of(st.floats(9.99, 10.04), st.sampled_from(grid_lons))
city_lat = st.one_of(st.floats(49.99, 50.03), st.sampled_from(grid_lats))

lon = st.floats(-180.0, 180.0)
lat = st.floats(-90.0, 90.0)


def _first_hit(frame: gpd.GeoDataFrame, x: float, y: float) -> str | None:
    """Brute force: the first unit (in frame order) that contains the point or has it on its edge."""
    for code, geometry in zip(frame.index, frame.geometry, strict=True):
        if geometry.intersects(shapely.Point(x, y)):
            return code
    return None


@FEW
@given(st.lists(st.tuples(city_lon, city_lat), min_size=1, max_size=40))
def test_locator_agrees_with_shapely(points: list[tuple[float, float]]) -> None:
    lons, lats = np.array(points).T
    found = LOCATOR.locate(lons, lats)
    for (x, y), block, region in zip(points, found["block"], found["region"], strict=True):
        expected_block = _first_hit(BLOCKS, x, y)
        assert block == expected_block
        # The region follows the block's parent; only outside every block is it looked up itself.
        expected_region = BLOCKS.loc[block, "parent"] if block is not None else _first_hit(REGIONS, x, y)
        assert region == expected_region
        assert LOCATOR.locate_one(x, y) == {"region": region, "block": block}


@FEW
@given(lon, lat, lon, lat)
def test_haversine_is_symmetric_and_non_negative(lon1: float, lat1: float, lon2: float, lat2: float) -> None:
    there = float(haversine_m(lon1, lat1, lon2, lat2))
    back = float(haversine_m(lon2, lat2, lon1, lat1))
    assert there == pytest.approx(back, rel=1e-12, abs=1e-6)
    assert 0.0 <= there <= np.pi * EARTH_RADIUS_M * (1 + 1e-12)


@FEW
@given(lon, lat)
def test_haversine_of_a_point_to_itself_is_zero(lon1: float, lat1: float) -> None:
    assert float(haversine_m(lon1, lat1, lon1, lat1)) == 0.0


@FEW
@given(lon, lat, lon, lat, lon, lat)
def test_haversine_satisfies_the_triangle_inequality(
    lon1: float, lat1: float, lon2: float, lat2: float, lon3: float, lat3: float
) -> None:
    ab = float(haversine_m(lon1, lat1, lon2, lat2))
    bc = float(haversine_m(lon2, lat2, lon3, lat3))
    ac = float(haversine_m(lon1, lat1, lon3, lat3))
    # 1 m of slack for rounding near antipodes, where arcsin loses precision.
    assert ac <= ab + bc + 1.0


@FEW
@given(
    st.integers(0, 100_000),
    st.lists(st.floats(0.0, 1e6), min_size=1, max_size=50),
)
def test_allocate_sums_to_total_and_is_never_negative(total: int, weights: list[float]) -> None:
    w = np.array(weights)
    assume(w.sum() > 0)
    counts = _allocate(total, w)
    assert counts.shape == w.shape
    assert counts.sum() == total
    assert (counts >= 0).all()
    # Largest remainder: each count is its exact share rounded down or up.
    exact = w / w.sum() * total
    assert (np.abs(counts - exact) < 1).all()


def _cuts(draw_from: st.SearchStrategy[list[float]]) -> st.SearchStrategy[list[float]]:
    """Sorted cut positions in (0, 1), at least 0.5 % apart, with 0 and 1 at the ends."""
    def clean(values: list[float]) -> list[float]:
        edges = [0.0]
        for v in sorted(values):
            if v - edges[-1] >= 0.005:
                edges.append(v)
        if 1.0 - edges[-1] < 0.005:
            edges.pop()
        return [*edges, 1.0]
    return draw_from.map(clean)


SQUARE = (10.0, 50.0, 10.02, 50.02)


def _strips(cuts: list[float], vertical: bool) -> gpd.GeoDataFrame:
    x0, y0, x1, y1 = SQUARE
    shapes = [
        box(x0 + a * (x1 - x0), y0, x0 + b * (x1 - x0), y1) if vertical
        else box(x0, y0 + a * (y1 - y0), x1, y0 + b * (y1 - y0))
        for a, b in zip(cuts[:-1], cuts[1:], strict=True)
    ]
    return gpd.GeoDataFrame(geometry=shapes, crs="EPSG:4326", index=[f"S{i}" for i in range(len(shapes))])


@FEW
@given(
    _cuts(st.lists(st.floats(0.0, 1.0), max_size=6)),
    _cuts(st.lists(st.floats(0.0, 1.0), max_size=6)),
    st.data(),
)
def test_areal_interpolate_conserves_the_total(source_cuts: list[float], target_cuts: list[float], data) -> None:
    # Sources are vertical strips of the square, targets horizontal ones: every source
    # overlaps every target.
    source = _strips(source_cuts, vertical=True)
    target = _strips(target_cuts, vertical=False)
    counts = pd.Series(
        data.draw(st.lists(st.floats(0.0, 1e7), min_size=len(source), max_size=len(source))),
        index=source.index,
    )
    received = areal_interpolate(source, counts, target)
    assert (received >= 0).all()
    assert received.sum() == pytest.approx(counts.sum(), rel=1e-9, abs=1e-6)
