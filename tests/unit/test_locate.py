"""Locator: point → code at every level, vectorised."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.locate import Locator

# The toy city of conftest: 10.000–10.028°E, 50.000–50.018°N; A/B split at 10.014°E,
# the blocks of each region split at 50.009°N.
WEST, EAST, SOUTH, NORTH = 10.0, 10.028, 50.0, 50.018
MID_LON, MID_LAT = 10.014, 50.009


def _levels(regions: gpd.GeoDataFrame, blocks: gpd.GeoDataFrame) -> list[tuple[str, gpd.GeoDataFrame]]:
    return [("region", regions.set_index("code")), ("block", blocks.set_index("code"))]


@pytest.fixture
def locator(regions: gpd.GeoDataFrame, blocks: gpd.GeoDataFrame) -> Locator:
    return Locator(_levels(regions, blocks))


def test_points_inside_each_block_get_the_block_and_its_region(
    locator: Locator, blocks: gpd.GeoDataFrame
) -> None:
    centres = shapely.centroid(blocks.geometry.to_numpy())
    found = locator.locate(shapely.get_x(centres), shapely.get_y(centres))
    assert list(found.columns) == ["region", "block"]
    assert found["block"].tolist() == ["A1", "A2", "B1", "B2"]
    assert found["region"].tolist() == ["A", "A", "B", "B"]


def test_points_outside_everything_get_none_at_every_level(locator: Locator) -> None:
    lon = [WEST - 0.01, EAST + 0.01, MID_LON, MID_LON, 0.0]
    lat = [MID_LAT, MID_LAT, SOUTH - 0.01, NORTH + 0.01, 0.0]
    found = locator.locate(lon, lat)
    assert len(found) == 5
    assert found.isna().all().all()
    assert (found.to_numpy() == None).all()  # noqa: E711 - None exactly, not NaN


def test_nan_coordinates_get_none(locator: Locator) -> None:
    found = locator.locate([np.nan, 10.005, 10.005, np.inf], [50.004, np.nan, 50.004, 50.004])
    assert found["block"].tolist() == [None, None, "A1", None]
    assert found["region"].tolist() == [None, None, "A", None]


def test_point_on_a_shared_edge_gets_exactly_one_deterministic_answer(locator: Locator) -> None:
    # On the A1/B1 edge, on the A1/A2 edge, and on the corner all four blocks share.
    lon = [MID_LON, 10.005, MID_LON]
    lat = [50.004, MID_LAT, MID_LAT]
    first = locator.locate(lon, lat)
    assert first["block"].notna().all()
    for row in first.itertuples():
        assert row.block[0] == row.region  # the region is the block's parent
    for _ in range(3):
        pd.testing.assert_frame_equal(locator.locate(lon, lat), first)
    # The same answer point by point as in a batch.
    for i in range(3):
        assert locator.locate_one(lon[i], lat[i]) == first.iloc[i].to_dict()


def test_point_in_a_gap_of_the_lowest_level_still_gets_its_region(
    regions: gpd.GeoDataFrame, blocks: gpd.GeoDataFrame
) -> None:
    without_b2 = blocks[blocks["code"] != "B2"]
    locator = Locator(_levels(regions, without_b2))
    found = locator.locate([10.021, 10.005], [50.013, 50.004])  # in B2's place; in A1
    assert found.iloc[0].to_dict() == {"region": "B", "block": None}
    assert found.iloc[1].to_dict() == {"region": "A", "block": "A1"}


def test_random_points_agree_with_brute_force_shapely(
    locator: Locator, regions: gpd.GeoDataFrame, blocks: gpd.GeoDataFrame
) -> None:
    rng = np.random.default_rng(20240611)
    n = 10_000
    lon = rng.uniform(WEST - 0.005, EAST + 0.005, n)
    lat = rng.uniform(SOUTH - 0.005, NORTH + 0.005, n)
    found = locator.locate(lon, lat)

    points = shapely.points(lon, lat)
    expected_block = np.full(n, None, dtype=object)
    expected_region = np.full(n, None, dtype=object)
    for frame, expected in ((blocks, expected_block), (regions, expected_region)):
        for code, geometry in zip(frame["code"], frame.geometry, strict=True):
            hit = shapely.intersects(geometry, points) & (expected == None)  # noqa: E711
            expected[hit] = code
    assert 0 < (expected_block == None).sum() < n  # noqa: E711 - some points fall outside
    np.testing.assert_array_equal(found["block"].to_numpy(), expected_block)
    np.testing.assert_array_equal(found["region"].to_numpy(), expected_region)


def test_locate_one_returns_a_dict(locator: Locator) -> None:
    assert locator.locate_one(10.021, 50.013) == {"region": "B", "block": "B2"}
    assert locator.locate_one(0.0, 0.0) == {"region": None, "block": None}


def test_locate_accepts_numpy_arrays_and_lists_alike(locator: Locator) -> None:
    lon, lat = [10.005, 10.021], [50.004, 50.013]
    pd.testing.assert_frame_equal(locator.locate(lon, lat), locator.locate(np.array(lon), np.array(lat)))


def test_locate_of_no_points_is_an_empty_frame(locator: Locator) -> None:
    found = locator.locate([], [])
    assert len(found) == 0
    assert list(found.columns) == ["region", "block"]


def test_mismatched_lon_lat_lengths_raise(locator: Locator) -> None:
    with pytest.raises(ValueError, match="same length"):
        locator.locate([10.005, 10.006], [50.004])


def test_lower_level_naming_a_missing_parent_raises(
    regions: gpd.GeoDataFrame, blocks: gpd.GeoDataFrame
) -> None:
    blocks = blocks.copy()
    blocks["parent"] = ["A", "A", "Z", "B"]
    with pytest.raises(ValueError, match="'block' names parents missing"):
        Locator(_levels(regions, blocks))


def test_no_levels_raise() -> None:
    with pytest.raises(ValueError, match="at least one level"):
        Locator([])


def test_single_level_locator(regions: gpd.GeoDataFrame) -> None:
    locator = Locator([("region", regions.set_index("code"))])
    assert locator.level_names == ("region",)
    assert locator.locate([10.005, 10.021, 0.0], [50.004, 50.013, 0.0])["region"].tolist() == ["A", "B", None]
