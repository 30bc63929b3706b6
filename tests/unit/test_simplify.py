"""simplify_to_budget: a level's GeoJSON simplified as a coverage to fit a byte budget."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Polygon, shape

from geo.simplify import simplify_to_budget

LON0, LAT0 = 10.0, 50.0
DLON, DLAT = 0.014, 0.009  # about 1 km each way at 50°N


def _noisy_grid(nx: int = 2, ny: int = 2, points_per_edge: int = 80, amplitude: float = 0.0003,
                seed: int = 3) -> gpd.GeoDataFrame:
    """The toy city's four blocks with every edge (shared and outer) a noisy polyline.

    Neighbours are built from the very same edge coordinates, so they form an exact
    coverage. The noise tapers to zero at the corners and stays within a 45° cone there,
    so edges meet only at their end nodes.
    """
    rng = np.random.default_rng(seed)
    s = np.linspace(0, 1, points_per_edge + 2)[1:-1]
    taper = np.sin(np.pi * s)

    def node(i: int, j: int) -> tuple[float, float]:
        return LON0 + i * DLON, LAT0 + j * DLAT

    def edge(start: tuple[float, float], end: tuple[float, float], horizontal: bool) -> np.ndarray:
        noise = amplitude * taper * rng.uniform(-1, 1, s.size)
        xs = start[0] + (end[0] - start[0]) * s + (0 if horizontal else noise)
        ys = start[1] + (end[1] - start[1]) * s + (noise if horizontal else 0)
        return np.column_stack([np.r_[start[0], xs, end[0]], np.r_[start[1], ys, end[1]]])

    h = {(i, j): edge(node(i, j), node(i + 1, j), True) for i in range(nx) for j in range(ny + 1)}
    v = {(i, j): edge(node(i, j), node(i, j + 1), False) for i in range(nx + 1) for j in range(ny)}
    codes, names, cells = [], [], []
    for i in range(nx):
        for j in range(ny):
            ring = np.vstack([h[i, j][:-1], v[i + 1, j][:-1], h[i, j + 1][::-1][:-1], v[i, j][::-1]])
            codes.append(f"{'ABCDEFGH'[i]}{j + 1}")
            names.append(f"Block {i}-{j}")
            cells.append(Polygon(ring))
    return gpd.GeoDataFrame(
        {"name": names, "name_zh": [f"街区{n}" for n in range(len(codes))], "parent": [c[0] for c in codes]},
        geometry=cells,
        crs="EPSG:4326",
        index=pd.Index(codes, name="code"),
    )


@pytest.fixture(scope="module")
def detailed() -> gpd.GeoDataFrame:
    units = _noisy_grid()
    # Preconditions: a detailed, valid coverage.
    assert units.is_valid.all()
    assert shapely.coverage_is_valid(units.geometry.to_numpy())
    assert shapely.get_num_coordinates(units.geometry.to_numpy()).sum() > 1000
    return units


@pytest.fixture(scope="module")
def full_size(detailed: gpd.GeoDataFrame) -> int:
    return simplify_to_budget(detailed, 10**9).size_bytes


def _shapes(geojson: str) -> list[shapely.Geometry]:
    return [shape(feature["geometry"]) for feature in json.loads(geojson)["features"]]


@pytest.mark.parametrize("share", [0.75, 0.5, 0.25, 0.1])
def test_geojson_fits_the_budget_and_size_bytes_is_its_utf8_length(
    detailed: gpd.GeoDataFrame, full_size: int, share: float
) -> None:
    budget = int(full_size * share)
    display = simplify_to_budget(detailed, budget)
    assert display.size_bytes <= budget
    assert display.size_bytes == len(display.geojson.encode("utf-8"))
    assert display.tolerance_deg > 0
    # Names in Chinese: bytes, not characters, are what is counted.
    assert len(display.geojson) < display.size_bytes


def test_coordinates_counts_the_vertices_in_the_geojson(detailed: gpd.GeoDataFrame, full_size: int) -> None:
    display = simplify_to_budget(detailed, full_size // 3)
    assert display.coordinates == sum(shapely.get_num_coordinates(g) for g in _shapes(display.geojson))


def test_tighter_budget_keeps_fewer_vertices(detailed: gpd.GeoDataFrame, full_size: int) -> None:
    loose = simplify_to_budget(detailed, full_size * 3 // 4)
    tight = simplify_to_budget(detailed, full_size // 4)
    assert tight.coordinates < loose.coordinates
    assert tight.tolerance_deg > loose.tolerance_deg


def test_generous_budget_returns_the_unsimplified_version(detailed: gpd.GeoDataFrame) -> None:
    display = simplify_to_budget(detailed, 10**9)
    assert display.tolerance_deg == 0
    original = detailed.geometry.to_numpy()
    assert display.coordinates == shapely.get_num_coordinates(original).sum()
    # Only snapped to the 1e-5° (about 1 m) display grid.
    for drawn, source in zip(_shapes(display.geojson), original, strict=True):
        assert drawn.hausdorff_distance(source) <= 1e-5


def test_budget_exactly_the_full_size_is_not_simplified(detailed: gpd.GeoDataFrame, full_size: int) -> None:
    assert simplify_to_budget(detailed, full_size).tolerance_deg == 0
    assert simplify_to_budget(detailed, full_size - 1).tolerance_deg > 0


@pytest.mark.parametrize("share", [0.5, 0.1])
def test_simplified_units_still_form_a_valid_coverage(
    detailed: gpd.GeoDataFrame, full_size: int, share: float
) -> None:
    shapes = _shapes(simplify_to_budget(detailed, int(full_size * share)).geojson)
    assert all(s.is_valid and not s.is_empty for s in shapes)
    assert shapely.coverage_is_valid(shapes)
    # No overlaps: the parts add up to their union.
    union = shapely.union_all(shapes)
    assert sum(s.area for s in shapes) == pytest.approx(union.area, rel=1e-9)


@pytest.mark.parametrize("share", [0.5, 0.1])
def test_union_area_changes_by_less_than_one_percent(
    detailed: gpd.GeoDataFrame, full_size: int, share: float
) -> None:
    shapes = _shapes(simplify_to_budget(detailed, int(full_size * share)).geojson)
    original = shapely.union_all(detailed.geometry.to_numpy()).area
    assert shapely.union_all(shapes).area == pytest.approx(original, rel=0.01)


def test_geojson_is_a_feature_collection_with_one_feature_per_unit(
    detailed: gpd.GeoDataFrame, full_size: int
) -> None:
    document = json.loads(simplify_to_budget(detailed, full_size // 2).geojson)
    assert document["type"] == "FeatureCollection"
    features = document["features"]
    assert len(features) == len(detailed)
    for feature, (code, unit) in zip(features, detailed.iterrows(), strict=True):
        assert feature["type"] == "Feature"
        assert feature["id"] == code
        assert feature["properties"]["code"] == code
        assert feature["properties"]["name"] == unit["name"]
        assert feature["properties"]["name_zh"] == unit["name_zh"]
        assert feature["properties"]["parent"] == unit["parent"]
        assert feature["geometry"]["type"] in {"Polygon", "MultiPolygon"}


def test_only_requested_and_present_properties_are_written(regions: gpd.GeoDataFrame) -> None:
    units = regions.set_index("code")
    units["parent"] = None  # missing values are left out
    document = json.loads(simplify_to_budget(units, 10**6, properties=("name", "parent", "nope")).geojson)
    assert [f["properties"] for f in document["features"]] == [
        {"code": "A", "name": "West"},
        {"code": "B", "name": "East"},
    ]


def test_impossible_budget_raises(detailed: gpd.GeoDataFrame) -> None:
    with pytest.raises(ValueError, match="cannot fit in 100 bytes"):
        simplify_to_budget(detailed, 100)


@pytest.mark.parametrize("max_bytes", [0, -1])
def test_non_positive_budget_raises(detailed: gpd.GeoDataFrame, max_bytes: int) -> None:
    with pytest.raises(ValueError, match="max_bytes must be positive"):
        simplify_to_budget(detailed, max_bytes)


def test_slightly_overlapping_neighbours_come_out_as_a_valid_coverage() -> None:
    # West overlaps east by about 20 m, as boundaries drawn by different hands do.
    units = gpd.GeoDataFrame(
        {"name": ["West", "East"]},
        geometry=[Polygon([(10.0, 50.0), (10.0143, 50.0), (10.0143, 50.018), (10.0, 50.018)]),
                  Polygon([(10.014, 50.0), (10.028, 50.0), (10.028, 50.018), (10.014, 50.018)])],
        crs="EPSG:4326",
        index=pd.Index(["A", "B"], name="code"),
    )
    assert not shapely.coverage_is_valid(units.geometry.to_numpy())
    shapes = _shapes(simplify_to_budget(units, 10**6).geojson)
    assert shapely.coverage_is_valid(shapes)
    assert sum(s.area for s in shapes) == pytest.approx(shapely.union_all(shapes).area, rel=1e-9)
