"""areal_interpolate: counts spread from source areas onto target areas by overlap."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from geo.population import areal_interpolate

# A 0.02° square near 10°E 50°N, and its west and east halves (equal area in any
# cylindrical equal-area projection, since they split it along a meridian).
SQUARE = box(10.0, 50.0, 10.02, 50.02)
WEST_HALF = box(10.0, 50.0, 10.01, 50.02)
EAST_HALF = box(10.01, 50.0, 10.02, 50.02)


def _frame(geometries: list, codes: list[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=geometries, crs="EPSG:4326", index=pd.Index(codes, name="code"))


def _square() -> tuple[gpd.GeoDataFrame, pd.Series]:
    source = _frame([SQUARE], ["S"])
    return source, pd.Series([1000.0], index=source.index)


def _halves() -> gpd.GeoDataFrame:
    return _frame([WEST_HALF, EAST_HALF], ["W", "E"])


def test_square_split_evenly_gives_each_half_half() -> None:
    source, counts = _square()
    received = areal_interpolate(source, counts, _halves())
    assert received.index.tolist() == ["W", "E"]
    assert received.name == "population"
    assert received.dtype == float
    np.testing.assert_allclose(received.to_numpy(), [500.0, 500.0], rtol=1e-9)


def test_uneven_split_follows_the_overlap_area() -> None:
    source, counts = _square()
    # A quarter and three quarters of the width.
    target = _frame([box(10.0, 50.0, 10.005, 50.02), box(10.005, 50.0, 10.02, 50.02)], ["Q", "R"])
    np.testing.assert_allclose(areal_interpolate(source, counts, target).to_numpy(), [250.0, 750.0], rtol=1e-9)


def test_totals_are_conserved() -> None:
    # Four sources (the quarters of the square) onto three uneven vertical strips.
    source = _frame(
        [box(10.0, 50.0, 10.01, 50.01), box(10.01, 50.0, 10.02, 50.01),
         box(10.0, 50.01, 10.01, 50.02), box(10.01, 50.01, 10.02, 50.02)],
        ["SW", "SE", "NW", "NE"],
    )
    counts = pd.Series([120.0, 7.0, 3300.0, 45.5], index=source.index)
    target = _frame(
        [box(10.0, 50.0, 10.003, 50.02), box(10.003, 50.0, 10.0131, 50.02), box(10.0131, 50.0, 10.02, 50.02)],
        ["T1", "T2", "T3"],
    )
    received = areal_interpolate(source, counts, target)
    assert received.sum() == pytest.approx(counts.sum(), rel=1e-12)
    assert (received > 0).all()


def test_integer_counts_are_accepted() -> None:
    source, _ = _square()
    received = areal_interpolate(source, pd.Series([10], index=source.index), _halves())
    np.testing.assert_allclose(received.to_numpy(), [5.0, 5.0], rtol=1e-9)


def test_target_with_zero_weight_gets_nothing_and_its_share_goes_to_the_others() -> None:
    source, counts = _square()
    target = _frame([box(10.0, 50.0, 10.005, 50.02), box(10.005, 50.0, 10.01, 50.02), EAST_HALF],
                    ["PARK", "W2", "E"])
    weight = pd.Series({"PARK": 0.0, "W2": 1.0, "E": 1.0})
    received = areal_interpolate(source, counts, target, weight)
    assert received["PARK"] == 0.0
    # W2 is a quarter of the square and E a half: they share 1000 as 1 : 2.
    assert received["W2"] == pytest.approx(1000 / 3, rel=1e-9)
    assert received["E"] == pytest.approx(2000 / 3, rel=1e-9)
    assert received.sum() == pytest.approx(1000.0, rel=1e-12)


def test_weights_scale_the_share() -> None:
    source, counts = _square()
    weight = pd.Series({"W": 3.0, "E": 1.0})
    np.testing.assert_allclose(areal_interpolate(source, counts, _halves(), weight).to_numpy(), [750.0, 250.0],
                               rtol=1e-9)


def test_weights_are_aligned_by_code_not_position() -> None:
    source, counts = _square()
    weight = pd.Series({"E": 1.0, "W": 0.0})
    received = areal_interpolate(source, counts, _halves(), weight)
    assert received.to_dict() == pytest.approx({"W": 0.0, "E": 1000.0})


def test_source_overlapping_no_target_is_dropped() -> None:
    source = _frame([SQUARE, box(11.0, 51.0, 11.01, 51.01)], ["IN", "FAR"])
    counts = pd.Series([1000.0, 77.0], index=source.index)
    received = areal_interpolate(source, counts, _halves())
    assert received.sum() == pytest.approx(1000.0, rel=1e-12)


def test_source_only_touching_a_target_gives_it_nothing() -> None:
    source = _frame([WEST_HALF], ["S"])
    received = areal_interpolate(source, pd.Series([100.0], index=source.index), _halves())
    assert received.to_dict() == pytest.approx({"W": 100.0, "E": 0.0})


def test_source_overlapping_only_zero_weight_targets_is_dropped() -> None:
    source, counts = _square()
    received = areal_interpolate(source, counts, _halves(), pd.Series({"W": 0.0, "E": 0.0}))
    assert received.to_dict() == {"W": 0.0, "E": 0.0}


def test_target_outside_every_source_gets_zero() -> None:
    source, counts = _square()
    target = _frame([WEST_HALF, EAST_HALF, box(12.0, 52.0, 12.01, 52.01)], ["W", "E", "AWAY"])
    received = areal_interpolate(source, counts, target)
    assert received["AWAY"] == 0.0
    assert received.sum() == pytest.approx(1000.0, rel=1e-12)


def test_projected_inputs_give_the_same_result() -> None:
    source, counts = _square()
    plain = areal_interpolate(source, counts, _halves())
    projected = areal_interpolate(source.to_crs("EPSG:32632"), counts, _halves().to_crs("EPSG:3035"))
    np.testing.assert_allclose(projected.to_numpy(), plain.to_numpy(), rtol=1e-6)


def test_misaligned_counts_index_raises() -> None:
    source, _ = _square()
    with pytest.raises(ValueError, match="indexed like source"):
        areal_interpolate(source, pd.Series([1000.0], index=["other"]), _halves())
    with pytest.raises(ValueError, match="indexed like source"):
        areal_interpolate(source, pd.Series([1000.0, 1.0], index=["S", "T"]), _halves())


@pytest.mark.parametrize("bad", [-1.0, np.nan, np.inf])
def test_negative_or_non_finite_counts_raise(bad: float) -> None:
    source = _frame([WEST_HALF, EAST_HALF], ["A", "B"])
    with pytest.raises(ValueError, match="counts must be finite and non-negative"):
        areal_interpolate(source, pd.Series([10.0, bad], index=source.index), _halves())


@pytest.mark.parametrize("bad", [-0.5, np.nan, np.inf])
def test_negative_or_non_finite_weights_raise(bad: float) -> None:
    source, counts = _square()
    with pytest.raises(ValueError, match="weights must be finite and non-negative"):
        areal_interpolate(source, counts, _halves(), pd.Series({"W": 1.0, "E": bad}))
