"""Synthetic sensors and response units: counts, coverage, positions, determinism."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from geo.locate import Locator
from geo.placement import (
    NOISE_ZONES,
    SENSOR_COLUMNS,
    UNIT_COLUMNS,
    UNIT_KINDS,
    _allocate,
    place_sensors,
    place_units,
    random_points_in,
    safe_id,
)
from indicators.registry import registry

KINDS = [k.kind for k in registry().sensor_kinds]
PREFIX_KIND = {k.prefix: k.kind for k in registry().sensor_kinds}
SAFE = re.compile(r"^[A-Za-z0-9_.-]+$")
SEED = 20261121


@pytest.fixture
def lowest(blocks: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The toy city's blocks as a prepared lowest level: indexed by code."""
    return blocks.set_index("code")


@pytest.fixture
def locator(regions: gpd.GeoDataFrame, blocks: gpd.GeoDataFrame) -> Locator:
    return Locator([("region", regions.set_index("code")), ("block", blocks.set_index("code"))])


def _unit_of(sensor_ids: pd.Series) -> pd.Series:
    """The unit code inside a sensor id ``PREFIX-CODE-NN``."""
    return sensor_ids.str.split("-").str[1]


# --- place_sensors ------------------------------------------------------------------


@pytest.mark.parametrize("total", [1, 5, 36, 100, 437])
def test_place_sensors_gives_exactly_total_rows_with_the_sensor_columns(
    lowest: gpd.GeoDataFrame, total: int
) -> None:
    sensors = place_sensors(lowest, total, SEED)
    assert len(sensors) == total
    assert list(sensors.columns) == SENSOR_COLUMNS
    assert sensors["sensor_id"].is_monotonic_increasing  # sorted by id


def test_sensor_rows_describe_their_kind(lowest: gpd.GeoDataFrame) -> None:
    sensors = place_sensors(lowest, 100, SEED)
    by_kind = {k.kind: k for k in registry().sensor_kinds}
    for row in sensors.itertuples():
        kind = by_kind[row.kind]
        assert row.sensor_id.startswith(kind.prefix + "-")
        assert row.metrics == ";".join(kind.metrics)
        assert row.expected_interval_s == kind.expected_interval_s


def test_same_seed_gives_identical_sensors_and_another_seed_different_ones(lowest: gpd.GeoDataFrame) -> None:
    first = place_sensors(lowest, 200, SEED)
    pd.testing.assert_frame_equal(place_sensors(lowest, 200, SEED), first)
    other = place_sensors(lowest, 200, SEED + 1)
    assert not other[["lon", "lat"]].equals(first[["lon", "lat"]])


@pytest.mark.parametrize("total", [36, 100])
def test_with_enough_sensors_every_unit_has_every_kind_inside_itself(
    lowest: gpd.GeoDataFrame, locator: Locator, total: int
) -> None:
    assert total >= len(lowest) * len(registry().sensor_kinds)
    sensors = place_sensors(lowest, total, SEED)
    code = _unit_of(sensors["sensor_id"])
    kinds_per_unit = sensors.groupby(code)["kind"].agg(set)
    assert kinds_per_unit.to_dict() == {c: set(KINDS) for c in lowest.index}
    located = locator.locate(sensors["lon"].to_numpy(), sensors["lat"].to_numpy())
    assert located["block"].tolist() == code.tolist()


def test_with_a_small_total_the_most_populous_unit_is_served_first(lowest: gpd.GeoDataFrame) -> None:
    # A1 has the most people (2000), then A2 (1000), B1 (900), B2 (100).
    five = place_sensors(lowest, 5, SEED)
    assert set(_unit_of(five["sensor_id"])) == {"A1"}
    assert sorted(five["kind"]) == sorted(KINDS[:5])
    twelve = place_sensors(lowest, 12, SEED)
    assert _unit_of(twelve["sensor_id"]).value_counts().to_dict() == {"A1": 9, "A2": 3}
    assert set(twelve.loc[_unit_of(twelve["sensor_id"]) == "A1", "kind"]) == set(KINDS)


def test_extra_sensors_go_to_units_in_proportion_to_population(lowest: gpd.GeoDataFrame) -> None:
    base = len(lowest) * len(registry().sensor_kinds)
    sensors = place_sensors(lowest, base + 400, SEED)
    per_unit = _unit_of(sensors["sensor_id"]).value_counts()
    # 400 extra split 2000 : 1000 : 900 : 100 on top of 9 each.
    assert per_unit.to_dict() == {"A1": 209, "A2": 109, "B1": 99, "B2": 19}


def test_extra_sensors_follow_area_when_population_is_unknown(lowest: gpd.GeoDataFrame) -> None:
    lowest = lowest.assign(population=np.nan)
    sensors = place_sensors(lowest, 36 + 400, SEED)
    per_unit = _unit_of(sensors["sensor_id"]).value_counts()
    # Four cells of (almost exactly) the same area: 100 extra each, give or take one.
    assert per_unit.sum() == 436
    assert (abs(per_unit - 109) <= 1).all()


def test_extra_sensors_draw_kinds_by_their_extra_share(lowest: gpd.GeoDataFrame) -> None:
    sensors = place_sensors(lowest, 36 + 4000, SEED)
    shares = np.array([k.extra_share for k in registry().sensor_kinds])
    counts = sensors["kind"].value_counts().reindex(KINDS).to_numpy() - len(lowest)
    np.testing.assert_allclose(counts / counts.sum(), shares / shares.sum(), atol=0.02)


def test_sensor_ids_are_unique_and_safe(lowest: gpd.GeoDataFrame) -> None:
    sensors = place_sensors(lowest, 36 + 1500, SEED)
    assert sensors["sensor_id"].is_unique
    assert sensors["sensor_id"].map(lambda s: bool(SAFE.match(s))).all()


def test_sensor_ids_are_safe_for_codes_with_unsafe_characters(lowest: gpd.GeoDataFrame) -> None:
    lowest = lowest.set_axis(pd.Index(["A/1", "A 2", "B+1", "B#2"], name="code"))
    sensors = place_sensors(lowest, 100, SEED)
    assert sensors["sensor_id"].is_unique
    assert sensors["sensor_id"].map(lambda s: bool(SAFE.match(s))).all()
    assert set(_unit_of(sensors["sensor_id"])) == {safe_id(code) for code in lowest.index}


def test_noise_sensors_have_a_zone_and_others_none(lowest: gpd.GeoDataFrame) -> None:
    sensors = place_sensors(lowest, 36 + 2000, SEED)
    noise = sensors["kind"] == "noise"
    assert noise.sum() > 100
    assert sensors.loc[noise, "noise_zone"].isin(NOISE_ZONES).all()
    assert (sensors.loc[~noise, "noise_zone"] == "").all()
    # The toy city is sparse (about 2000 people/km²): quiet residential class 1, or roadside 4a.
    assert set(sensors.loc[noise, "noise_zone"]) == {"1", "4a"}


def test_dense_units_get_noise_zone_2(lowest: gpd.GeoDataFrame) -> None:
    lowest = lowest.assign(population=[40_000, 30_000, 20_000, 16_000])  # all ≥ 15,000 per km²
    sensors = place_sensors(lowest, 36 + 2000, SEED)
    assert set(sensors.loc[sensors["kind"] == "noise", "noise_zone"]) == {"2", "4a"}


def test_noise_zone_hint_is_honoured_except_by_the_roadside(lowest: gpd.GeoDataFrame) -> None:
    lowest = lowest.assign(noise_zone=["3", "0", "3", "0"])
    sensors = place_sensors(lowest, 36 + 2000, SEED)
    noise = sensors[sensors["kind"] == "noise"]
    zone_of_unit = {"A1": "3", "A2": "0", "B1": "3", "B2": "0"}
    hinted = noise["noise_zone"] == _unit_of(noise["sensor_id"]).map(zone_of_unit)
    roadside = noise["noise_zone"] == "4a"
    assert (hinted | roadside).all()
    # About a quarter stand by a trunk road; the rest take the hint.
    assert 0.15 < roadside.mean() < 0.35
    assert hinted.sum() > 0


def test_invalid_noise_zone_hint_falls_back_to_density(lowest: gpd.GeoDataFrame) -> None:
    lowest = lowest.assign(noise_zone=["9", None, "", "1"])
    sensors = place_sensors(lowest, 36 + 1000, SEED)
    assert set(sensors.loc[sensors["kind"] == "noise", "noise_zone"]) == {"1", "4a"}


@pytest.mark.parametrize("total", [0, -3])
def test_fewer_than_one_sensor_raises(lowest: gpd.GeoDataFrame, total: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        place_sensors(lowest, total, SEED)


# --- place_units --------------------------------------------------------------------


def test_every_coverage_area_gets_fire_police_and_ambulance(lowest: gpd.GeoDataFrame, locator: Locator) -> None:
    units = place_units(lowest, lowest["parent"], SEED)
    region = locator.locate(units["lon"].to_numpy(), units["lat"].to_numpy())["region"]
    areas_per_kind = units.assign(region=region).groupby("kind")["region"].agg(set)
    for kind in ("fire", "police", "ambulance"):
        assert areas_per_kind[kind] == {"A", "B"}


def test_every_block_as_its_own_area_gets_fire_police_and_ambulance(
    lowest: gpd.GeoDataFrame, locator: Locator
) -> None:
    coverage = pd.Series(lowest.index, index=lowest.index)  # a one-level city
    units = place_units(lowest, coverage, SEED)
    block = locator.locate(units["lon"].to_numpy(), units["lat"].to_numpy())["block"]
    blocks_per_kind = units.assign(block=block).groupby("kind")["block"].agg(set)
    for kind in ("fire", "police", "ambulance"):
        assert blocks_per_kind[kind] == set(lowest.index)


def test_an_area_where_nobody_lives_still_gets_covered(lowest: gpd.GeoDataFrame, locator: Locator) -> None:
    lowest = lowest.assign(population=[2000, 1000, 0, 0])  # region B: a park
    units = place_units(lowest, lowest["parent"], SEED)
    region = locator.locate(units["lon"].to_numpy(), units["lat"].to_numpy())["region"]
    areas_per_kind = units.assign(region=region).groupby("kind")["region"].agg(set)
    for kind in ("fire", "police", "ambulance"):
        assert areas_per_kind[kind] == {"A", "B"}


def test_unit_ids_are_unique_and_numbered_per_kind(lowest: gpd.GeoDataFrame) -> None:
    units = place_units(lowest, lowest["parent"], SEED)
    assert list(units.columns) == UNIT_COLUMNS
    assert units["unit_id"].is_unique
    prefix = {k.kind: k.prefix for k in UNIT_KINDS}
    for row in units.itertuples():
        assert re.fullmatch(rf"{prefix[row.kind]}-\d{{3}}", row.unit_id)


def test_units_are_of_the_unit_kinds_every_kind_present(lowest: gpd.GeoDataFrame) -> None:
    units = place_units(lowest, lowest["parent"], SEED)
    assert set(units["kind"]) == {k.kind for k in UNIT_KINDS}


def test_unit_names_say_the_kind_and_the_block(lowest: gpd.GeoDataFrame, locator: Locator) -> None:
    units = place_units(lowest, lowest["parent"], SEED)
    block = locator.locate(units["lon"].to_numpy(), units["lat"].to_numpy())["block"]
    label = {k.kind: k.label for k in UNIT_KINDS}
    for row, code in zip(units.itertuples(), block, strict=True):
        assert row.name.startswith(label[row.kind] + " ")
        assert row.name.endswith("· " + lowest.loc[code, "name"])


def test_unit_positions_are_inside_the_city(lowest: gpd.GeoDataFrame, locator: Locator) -> None:
    units = place_units(lowest, lowest["parent"], SEED)
    located = locator.locate(units["lon"].to_numpy(), units["lat"].to_numpy())
    assert located["block"].notna().all()


def test_number_of_units_follows_population(lowest: gpd.GeoDataFrame) -> None:
    lowest = lowest.assign(population=[500_000, 400_000, 200_000, 100_000])  # 1.2 million
    units = place_units(lowest, lowest["parent"], SEED)
    expected = {k.kind: round(1_200_000 / k.people_per_unit) for k in UNIT_KINDS}
    assert units["kind"].value_counts().to_dict() == expected


def test_place_units_is_deterministic_for_a_seed(lowest: gpd.GeoDataFrame) -> None:
    first = place_units(lowest, lowest["parent"], SEED)
    pd.testing.assert_frame_equal(place_units(lowest, lowest["parent"], SEED), first)
    other = place_units(lowest, lowest["parent"], SEED + 1)
    assert not other[["lon", "lat"]].equals(first[["lon", "lat"]])


def test_lowest_unit_without_a_coverage_area_raises(lowest: gpd.GeoDataFrame) -> None:
    coverage = lowest["parent"].drop("B2")
    with pytest.raises(ValueError, match="needs a coverage area"):
        place_units(lowest, coverage, SEED)
    coverage = lowest["parent"].copy()
    coverage["A2"] = None
    with pytest.raises(ValueError, match="needs a coverage area"):
        place_units(lowest, coverage, SEED)


# --- helpers ------------------------------------------------------------------------


def test_safe_id_replaces_slash_plus_hash_and_spaces() -> None:
    assert safe_id("a/b+c#d e").startswith("a_b_c_d_e.")
    assert safe_id("MN 01/02").startswith("MN_01_02.")
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", safe_id("静安"))


def test_safe_id_keeps_codes_that_differ_only_in_unsafe_characters_apart() -> None:
    assert safe_id("A/1") != safe_id("A 1")
    assert safe_id("A/1") == safe_id("A/1")


def test_safe_id_keeps_safe_codes_and_stringifies() -> None:
    assert safe_id("MN-01_x.y") == "MN-01_x.y"
    assert safe_id(101) == "101"


def test_random_points_in_returns_points_inside_the_polygon() -> None:
    # An L shape: its bounding box is a third empty.
    ell = Polygon([(10.0, 50.0), (10.02, 50.0), (10.02, 50.01), (10.01, 50.01), (10.01, 50.02), (10.0, 50.02)])
    points = random_points_in(ell, 500, np.random.default_rng(1))
    assert points.shape == (500, 2)
    assert shapely.contains_xy(ell, points[:, 0], points[:, 1]).all()
    # Spread over the whole shape, not bunched in one arm.
    assert (points[:, 0] > 10.01).mean() == pytest.approx(1 / 3, abs=0.07)


def test_random_points_in_a_multipolygon_fall_in_every_part() -> None:
    parts = MultiPolygon([box(10.0, 50.0, 10.01, 50.01), box(10.05, 50.05, 10.06, 50.06)])
    points = random_points_in(parts, 200, np.random.default_rng(2))
    assert shapely.contains_xy(parts, points[:, 0], points[:, 1]).all()
    assert 0 < (points[:, 0] < 10.03).sum() < 200


def test_random_points_in_is_deterministic_for_a_seed() -> None:
    square = box(10.0, 50.0, 10.01, 50.01)
    np.testing.assert_array_equal(
        random_points_in(square, 50, np.random.default_rng(7)), random_points_in(square, 50, np.random.default_rng(7))
    )


def test_random_points_in_of_no_points_is_empty() -> None:
    assert random_points_in(box(0, 0, 1, 1), 0, np.random.default_rng(0)).shape == (0, 2)


def test_random_points_in_a_degenerate_polygon_raises() -> None:
    flat = box(10.0, 50.0, 10.01, 50.0)  # zero height
    with pytest.raises(ValueError, match="degenerate"):
        random_points_in(flat, 3, np.random.default_rng(0))


def test_allocate_splits_by_largest_remainder() -> None:
    np.testing.assert_array_equal(_allocate(10, np.array([1.0, 1.0, 1.0])), [4, 3, 3])
    # 3.5, 1.75, 1.75: the two largest remainders (0.75) get the two left over.
    np.testing.assert_array_equal(_allocate(7, np.array([0.5, 0.25, 0.25])), [3, 2, 2])
    np.testing.assert_array_equal(_allocate(0, np.array([1.0, 2.0])), [0, 0])
