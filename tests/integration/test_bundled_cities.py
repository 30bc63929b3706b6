"""The bundled cities as built by `make test` (cityops city build nyc / shanghai), with real figures."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely

from city import city_folder, load_city
from city.folder import display_path
from city.model import display_budget
from geo.boundaries import area_km2
from geo.datums import wgs84_to_gcj02
from indicators.registry import registry


def test_nyc_has_its_three_real_levels(nyc) -> None:
    assert nyc.levels == ("borough", "cdta", "nta")
    assert [len(nyc.boundaries[level]) for level in nyc.levels] == [5, 71, 262]
    assert set(nyc.boundaries["borough"].index) == {"MN", "BX", "BK", "QN", "SI"}


def test_nyc_areas_match_the_official_land_areas(nyc) -> None:
    for level in nyc.levels:
        total = area_km2(nyc.boundaries[level].geometry).sum()
        assert abs(total - 783) / 783 < 0.02, level
    manhattan = area_km2(nyc.boundaries["borough"].geometry)["MN"]
    assert manhattan == pytest.approx(59, abs=1.5)


def test_nyc_levels_nest_exactly(nyc) -> None:
    nta, cdta = nyc.boundaries["nta"], nyc.boundaries["cdta"]
    assert set(nta["parent"]) == set(cdta.index)
    assert set(cdta["parent"]) == set(nyc.boundaries["borough"].index)
    assert (nta.index.str[:4] == nta["parent"]).all()
    assert nyc.lineage("MN0101") == [("borough", "MN"), ("cdta", "MN01"), ("nta", "MN0101")]


def test_nyc_population_is_estimated_and_sums_up_the_levels(nyc) -> None:
    nta = nyc.boundaries["nta"]
    assert nta["population_estimated"].all()
    total = nta["population"].sum()
    assert 8_000_000 < total < 9_000_000
    assert nyc.boundaries["borough"]["population"].sum() == pytest.approx(total, rel=1e-6)
    # Parks get a token share: Central Park holds far fewer people than the Upper West Side.
    parks = nta[nta["name"] == "Central Park"]["population"].iloc[0]
    assert parks < 0.05 * nta[nta["name"] == "Upper West Side (Central)"]["population"].iloc[0]


def test_nyc_sensors_are_synthetic_placed_and_cover_every_nta(nyc) -> None:
    assert nyc.config.synthetic == ("sensors", "units")
    assert 2000 <= len(nyc.sensors) <= 3000
    located = nyc.locator.locate(nyc.sensors["lon"].to_numpy(), nyc.sensors["lat"].to_numpy())
    assert located["nta"].notna().all()
    kinds_per_nta = nyc.sensors.assign(nta=located["nta"]).groupby("nta")["kind"].nunique()
    assert len(kinds_per_nta) == 262 and (kinds_per_nta == len(registry().sensor_kinds)).all()
    # Denser where more people live: the busiest quarter of NTAs holds more sensors per NTA.
    counts = located["nta"].value_counts().reindex(nyc.boundaries["nta"].index, fill_value=0)
    population = nyc.boundaries["nta"]["population"]
    assert (
        counts[population >= population.quantile(0.75)].mean() > counts[population <= population.quantile(0.25)].mean()
    )


def test_nyc_response_units_cover_every_district(nyc) -> None:
    located = nyc.locator.locate(nyc.units["lon"].to_numpy(), nyc.units["lat"].to_numpy())
    units = nyc.units.assign(cdta=located["cdta"])
    for kind in ("fire", "police", "ambulance"):
        assert set(units.loc[units["kind"] == kind, "cdta"]) == set(nyc.boundaries["cdta"].index), kind
    assert set(units["kind"]) == {"fire", "police", "ambulance", "city_management", "utility"}


def test_nyc_display_geometries_fit_their_budgets_without_gaps(nyc) -> None:
    for level in nyc.levels:
        text = display_path(nyc.folder, level).read_bytes()
        assert len(text) <= display_budget(nyc.levels, level), level
        features = json.loads(text)["features"]
        assert len(features) == len(nyc.boundaries[level])
        shapes = np.array([shapely.geometry.shape(f["geometry"]) for f in features])
        assert shapely.coverage_is_valid(shapes), f"{level}: simplified neighbours overlap"
        simplified_area = shapely.area(shapely.union_all(shapes))
        original_area = shapely.area(shapely.union_all(nyc.boundaries[level].geometry.values))
        assert abs(simplified_area - original_area) / original_area < 0.01, level


@pytest.mark.shanghai
def test_shanghai_has_sixteen_districts_in_wgs84() -> None:
    shanghai = load_city(city_folder("shanghai"))
    districts = shanghai.boundaries["district"]
    assert shanghai.levels == ("district",) and len(districts) == 16
    assert districts["name_zh"].notna().all() and districts.at["310101", "name"] == "Huangpu"
    assert area_km2(districts.geometry)["310101"] == pytest.approx(20.5, abs=1.0)
    assert area_km2(districts.geometry)["310104"] == pytest.approx(55, abs=2.0)
    assert (
        len(shanghai.sensors) == 2500
        and shanghai.locator.locate(shanghai.sensors["lon"].to_numpy(), shanghai.sensors["lat"].to_numpy())["district"]
        .notna()
        .all()
    )


@pytest.mark.shanghai
def test_shanghai_was_shifted_from_gcj02_by_about_480_metres() -> None:
    from city.packs.shanghai import district_files
    from geo.nearest import haversine_m

    shanghai = load_city(city_folder("shanghai"))
    source = shapely.from_geojson(district_files()["310101"].read_text(encoding="utf-8"))
    ours = shanghai.boundaries["district"].geometry["310101"]
    # Our stored geometry, pushed forward to GCJ-02 again, is the source to within ~1 cm.
    back = shapely.transform(ours, lambda xy: np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1])))
    assert shapely.hausdorff_distance(back, source) < 1e-7
    a, b = source.centroid, ours.centroid
    shift = float(haversine_m(a.x, a.y, b.x, b.y))
    assert 300 < shift < 700
