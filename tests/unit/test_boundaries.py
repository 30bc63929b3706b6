"""prepare_level: normalising, repairing and validating one level of boundaries."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point, Polygon, box

from geo.boundaries import LEVEL_COLUMNS, WGS84, BoundaryError, area_km2, prepare_level


def _frame(geometries, codes=None, names=None, crs="EPSG:4326", **columns) -> gpd.GeoDataFrame:
    n = len(geometries)
    data = {
        "code": codes if codes is not None else [f"U{i}" for i in range(n)],
        "name": names if names is not None else [f"Unit {i}" for i in range(n)],
    } | columns
    return gpd.GeoDataFrame(data, geometry=list(geometries), crs=crs)


def _prepared_regions(regions: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return prepare_level(regions, "region").units


# --- the happy path -----------------------------------------------------------------


def test_valid_level_is_indexed_by_code_in_wgs84_with_the_documented_columns(
    regions: gpd.GeoDataFrame,
) -> None:
    prepared = prepare_level(regions, "region")
    units = prepared.units
    assert list(units.columns) == LEVEL_COLUMNS
    assert units.index.name == "code"
    assert units.index.tolist() == ["A", "B"]
    assert units.crs.equals(WGS84)
    assert units.loc["A", "name"] == "West"
    assert units.loc["B", "name_zh"] == "东区"
    assert units.loc["A", "population"] == 3000.0
    assert not units["population_estimated"].any()
    assert prepared.repaired == ()
    # The top level has no parent.
    assert units["parent"].isna().all()


def test_child_level_keeps_its_parent_codes(regions: gpd.GeoDataFrame, blocks: gpd.GeoDataFrame) -> None:
    prepared = prepare_level(blocks, "block", parent=_prepared_regions(regions))
    assert prepared.units["parent"].to_dict() == {"A1": "A", "A2": "A", "B1": "B", "B2": "B"}
    assert prepared.repaired == ()


def test_missing_population_column_becomes_nan() -> None:
    units = prepare_level(_frame([box(10, 50, 10.01, 50.01)]), "region").units
    assert np.isnan(units["population"].iloc[0])


def test_population_estimated_flag_is_read_from_text() -> None:
    frame = _frame(
        [box(10, 50, 10.01, 50.01), box(10.01, 50, 10.02, 50.01)],
        population_estimated=["true", "no"],
    )
    units = prepare_level(frame, "region").units
    assert units["population_estimated"].tolist() == [True, False]


def test_projected_crs_is_reprojected_to_wgs84(regions: gpd.GeoDataFrame) -> None:
    for epsg in ("EPSG:3035", "EPSG:32632"):
        units = prepare_level(regions.to_crs(epsg), "region").units
        assert units.crs.equals(WGS84)
        np.testing.assert_allclose(units.total_bounds, regions.total_bounds, atol=1e-7)


def test_integer_like_float_codes_become_integer_text() -> None:
    frame = _frame([box(10, 50, 10.01, 50.01), box(10.01, 50, 10.02, 50.01)], codes=[101.0, 102.0])
    units = prepare_level(frame, "region").units
    assert units.index.tolist() == ["101", "102"]


def test_codes_and_names_are_stripped() -> None:
    frame = _frame([box(10, 50, 10.01, 50.01)], codes=["  A1 "], names=[" West "])
    units = prepare_level(frame, "region").units
    assert units.index.tolist() == ["A1"]
    assert units.loc["A1", "name"] == "West"


def test_area_km2_of_a_one_km_cell_is_about_one_km2(blocks: gpd.GeoDataFrame) -> None:
    # The conftest cells are 0.014° × 0.009° at 50°N: about 1.00 km × 1.00 km.
    areas = area_km2(blocks.geometry)
    np.testing.assert_allclose(areas.to_numpy(), 1.0, rtol=0.01)
    # The same in a projected CRS: area does not depend on the input CRS.
    np.testing.assert_allclose(area_km2(blocks.to_crs("EPSG:32632").geometry).to_numpy(), areas, rtol=1e-6)


# --- repair -------------------------------------------------------------------------


def test_bow_tie_polygon_is_repaired_and_its_code_reported() -> None:
    bow_tie = Polygon([(10.0, 50.0), (10.01, 50.01), (10.01, 50.0), (10.0, 50.01), (10.0, 50.0)])
    assert not bow_tie.is_valid
    frame = _frame([bow_tie, box(10.02, 50, 10.03, 50.01)], codes=["BOW", "OK"])
    prepared = prepare_level(frame, "region")
    assert prepared.repaired == ("BOW",)
    repaired = prepared.units.geometry.loc["BOW"]
    assert repaired.is_valid
    assert repaired.geom_type in {"Polygon", "MultiPolygon"}
    # Both triangles of the bow tie survive: half the bounding square.
    assert repaired.area == pytest.approx(0.5 * 0.01 * 0.01, rel=1e-6)
    assert prepared.units.geometry.loc["OK"].equals(box(10.02, 50, 10.03, 50.01))


def test_unrepairable_zero_area_polygon_is_rejected_naming_it() -> None:
    # Exactly collinear: make_valid gives only lines, no polygonal part.
    flat = Polygon([(10.0, 50.0), (10.01, 50.0), (10.02, 50.0), (10.0, 50.0)])
    frame = _frame([box(10, 50, 10.01, 50.01), flat], codes=["OK", "FLAT"])
    with pytest.raises(BoundaryError, match="unrepairable") as excinfo:
        prepare_level(frame, "region")
    assert "'FLAT'" in str(excinfo.value)
    assert "'OK'" not in str(excinfo.value)


# --- rejections ---------------------------------------------------------------------


def test_duplicate_codes_are_rejected_naming_them() -> None:
    frame = _frame(
        [box(10, 50, 10.01, 50.01), box(10.01, 50, 10.02, 50.01), box(10.02, 50, 10.03, 50.01)],
        codes=["A", "B", "A"],
    )
    with pytest.raises(BoundaryError, match=r"duplicate codes 'A'"):
        prepare_level(frame, "region")


@pytest.mark.parametrize("bad_code", ["", "   ", None, np.nan])
def test_empty_or_missing_code_is_rejected(bad_code: object) -> None:
    frame = _frame([box(10, 50, 10.01, 50.01), box(10.01, 50, 10.02, 50.01)], codes=["A", bad_code])
    with pytest.raises(BoundaryError, match="empty code"):
        prepare_level(frame, "region")


def test_missing_code_field_is_rejected() -> None:
    frame = _frame([box(10, 50, 10.01, 50.01)]).drop(columns="code")
    with pytest.raises(BoundaryError, match="no 'code' field"):
        prepare_level(frame, "region")


def test_missing_name_field_is_rejected() -> None:
    frame = _frame([box(10, 50, 10.01, 50.01)]).drop(columns="name")
    with pytest.raises(BoundaryError, match="no 'name' field"):
        prepare_level(frame, "region")


def test_empty_name_is_rejected_naming_the_code() -> None:
    frame = _frame([box(10, 50, 10.01, 50.01), box(10.01, 50, 10.02, 50.01)], codes=["A", "B"],
                   names=["West", "  "])
    with pytest.raises(BoundaryError, match=r"without a name: 'B'"):
        prepare_level(frame, "region")


def test_feature_without_geometry_is_rejected_naming_it() -> None:
    frame = _frame([box(10, 50, 10.01, 50.01), None], codes=["A", "B"])
    with pytest.raises(BoundaryError, match=r"without geometry: 'B'"):
        prepare_level(frame, "region")


def test_empty_geometry_is_rejected_naming_it() -> None:
    frame = _frame([box(10, 50, 10.01, 50.01), Polygon()], codes=["A", "B"])
    with pytest.raises(BoundaryError, match=r"without geometry: 'B'"):
        prepare_level(frame, "region")


def test_point_geometries_are_rejected() -> None:
    frame = _frame([Point(10, 50), Point(10.01, 50.01)])
    with pytest.raises(BoundaryError, match="must be polygons.*'Point'"):
        prepare_level(frame, "region")


def test_frame_without_crs_is_rejected() -> None:
    frame = _frame([box(10, 50, 10.01, 50.01)], crs=None)
    with pytest.raises(BoundaryError, match="no coordinate reference system"):
        prepare_level(frame, "region")


def test_empty_frame_is_rejected(regions: gpd.GeoDataFrame) -> None:
    with pytest.raises(BoundaryError, match="no features"):
        prepare_level(regions.iloc[0:0], "region")


def test_level_name_is_in_the_message() -> None:
    frame = _frame([box(10, 50, 10.01, 50.01)], crs=None)
    with pytest.raises(BoundaryError, match="level 'street'"):
        prepare_level(frame, "street")


def test_projected_metres_labelled_as_wgs84_are_rejected(regions: gpd.GeoDataFrame) -> None:
    mislabelled = regions.to_crs("EPSG:32632").set_crs("EPSG:4326", allow_override=True)
    with pytest.raises(BoundaryError, match="outside longitude/latitude ranges"):
        prepare_level(mislabelled, "region")


def test_negative_population_is_rejected_naming_the_code() -> None:
    frame = _frame([box(10, 50, 10.01, 50.01), box(10.01, 50, 10.02, 50.01)], codes=["A", "B"],
                   population=[10, -5])
    with pytest.raises(BoundaryError, match=r"negative population for 'B'"):
        prepare_level(frame, "region")


def test_child_level_without_parent_field_is_rejected(
    regions: gpd.GeoDataFrame, blocks: gpd.GeoDataFrame
) -> None:
    with pytest.raises(BoundaryError, match="no 'parent' field"):
        prepare_level(blocks.drop(columns="parent"), "block", parent=_prepared_regions(regions))


def test_child_without_parent_code_is_rejected(regions: gpd.GeoDataFrame, blocks: gpd.GeoDataFrame) -> None:
    blocks = blocks.copy()
    blocks["parent"] = ["A", "A", "", "B"]
    with pytest.raises(BoundaryError, match=r"without a parent code: 'B1'"):
        prepare_level(blocks, "block", parent=_prepared_regions(regions))


def test_orphan_parent_codes_are_rejected_naming_them(
    regions: gpd.GeoDataFrame, blocks: gpd.GeoDataFrame
) -> None:
    blocks = blocks.copy()
    blocks["parent"] = ["A", "A", "Z", "B"]
    with pytest.raises(BoundaryError, match="parent codes that do not exist") as excinfo:
        prepare_level(blocks, "block", parent=_prepared_regions(regions))
    assert "B1→Z" in str(excinfo.value)


def test_child_mostly_outside_its_parent_is_rejected(
    regions: gpd.GeoDataFrame, blocks: gpd.GeoDataFrame
) -> None:
    blocks = blocks.copy()
    blocks["parent"] = ["B", "A", "B", "B"]  # A1 lies wholly in A, not in B
    with pytest.raises(BoundaryError, match="not inside their parent") as excinfo:
        prepare_level(blocks, "block", parent=_prepared_regions(regions))
    assert "A1 (0% inside B)" in str(excinfo.value)


def test_child_slightly_over_its_parent_edge_is_accepted(
    regions: gpd.GeoDataFrame, blocks: gpd.GeoDataFrame
) -> None:
    # A1 widened by 2 % of its width into B: 98 % inside A, above the 95 % threshold.
    blocks = blocks.copy()
    minx, miny, maxx, maxy = blocks.geometry.iloc[0].bounds
    blocks.loc[0, "geometry"] = box(minx, miny, maxx + 0.02 * (maxx - minx), maxy)
    prepared = prepare_level(blocks, "block", parent=_prepared_regions(regions))
    assert "A1" in prepared.units.index
    # ...but not with a stricter threshold.
    with pytest.raises(BoundaryError, match="not inside their parent"):
        prepare_level(blocks, "block", parent=_prepared_regions(regions), min_share_inside_parent=0.99)
