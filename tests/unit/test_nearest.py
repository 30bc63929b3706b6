"""Great-circle distance and the nearest available response units."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.nearest import (
    DEFAULT_SPEED_KMH,
    RESPONSE_SPEED_KMH,
    ROAD_DETOUR_FACTOR,
    haversine_m,
    nearest_units,
)

# The incident: the middle of the toy city.
LON, LAT = 10.014, 50.009


def _units() -> pd.DataFrame:
    # Units due north of the incident, 0.001° of latitude (about 111 m) apart per step.
    return pd.DataFrame(
        {
            "unit_id": ["FD-001", "PD-001", "EMS-001", "FD-002", "PD-002", "FD-003", "UT-001"],
            "kind": ["fire", "police", "ambulance", "fire", "police", "fire", "utility"],
            "lon": [LON] * 7,
            "lat": [LAT + 0.005, LAT + 0.001, LAT + 0.003, LAT + 0.002, LAT + 0.004, LAT + 0.006, LAT + 0.007],
            "status": ["available", "available", "busy", "available", "offline", "available", "available"],
        }
    )


# --- haversine_m --------------------------------------------------------------------


def test_one_degree_of_latitude_is_about_111_2_km() -> None:
    for lon, lat in [(0.0, 0.0), (10.0, 50.0), (-73.9, 40.7), (121.5, -31.2)]:
        assert haversine_m(lon, lat, lon, lat + 1.0) == pytest.approx(111_195, abs=200)


def test_one_degree_of_longitude_shrinks_with_the_cosine_of_latitude() -> None:
    assert haversine_m(10.0, 60.0, 11.0, 60.0) == pytest.approx(111_195 * np.cos(np.radians(60.0)), rel=1e-3)


def test_haversine_is_symmetric() -> None:
    a, b = (10.0, 50.0), (121.47, 31.23)
    assert haversine_m(*a, *b) == pytest.approx(haversine_m(*b, *a), rel=1e-12)


def test_haversine_is_zero_for_the_same_point() -> None:
    assert haversine_m(10.0, 50.0, 10.0, 50.0) == 0.0
    assert haversine_m(-180.0, 90.0, -180.0, 90.0) == 0.0


def test_haversine_of_antipodes_is_half_the_circumference() -> None:
    assert haversine_m(0.0, 0.0, 180.0, 0.0) == pytest.approx(np.pi * 6_371_008.8, rel=1e-12)


def test_haversine_broadcasts_arrays() -> None:
    lats = np.array([50.0, 51.0, 52.0])
    distances = haversine_m(10.0, 50.0, np.full(3, 10.0), lats)
    assert distances.shape == (3,)
    np.testing.assert_allclose(distances, [0.0, 111_195, 222_390], atol=400)
    # A column against a row gives the full matrix.
    matrix = haversine_m(10.0, lats[:, None], 10.0, lats[None, :])
    assert matrix.shape == (3, 3)
    np.testing.assert_allclose(matrix, matrix.T)
    np.testing.assert_allclose(np.diag(matrix), 0.0)


# --- nearest_units ------------------------------------------------------------------


def test_nearest_units_are_closest_first() -> None:
    found = nearest_units(LON, LAT, _units(), available_only=False, limit=10)
    assert found["unit_id"].tolist() == ["PD-001", "FD-002", "EMS-001", "PD-002", "FD-001", "FD-003", "UT-001"]
    assert found["distance_m"].is_monotonic_increasing
    assert found.index.tolist() == list(range(7))


def test_limit_caps_the_number_of_units() -> None:
    found = nearest_units(LON, LAT, _units(), available_only=False, limit=2)
    assert found["unit_id"].tolist() == ["PD-001", "FD-002"]


def test_limit_below_one_raises() -> None:
    with pytest.raises(ValueError, match="limit"):
        nearest_units(LON, LAT, _units(), limit=0)


def test_kinds_filter_keeps_only_those_kinds() -> None:
    found = nearest_units(LON, LAT, _units(), kinds=["fire"], available_only=False)
    assert found["unit_id"].tolist() == ["FD-002", "FD-001", "FD-003"]
    found = nearest_units(LON, LAT, _units(), kinds={"police", "utility"}, available_only=False)
    assert set(found["kind"]) == {"police", "utility"}


def test_available_only_drops_busy_and_offline_units() -> None:
    found = nearest_units(LON, LAT, _units(), limit=10)
    assert found["unit_id"].tolist() == ["PD-001", "FD-002", "FD-001", "FD-003", "UT-001"]
    assert (found["status"] == "available").all()


def test_available_only_without_status_column_raises() -> None:
    with pytest.raises(ValueError, match="'status' column"):
        nearest_units(LON, LAT, _units().drop(columns="status"))
    # Without available_only no status is needed.
    assert len(nearest_units(LON, LAT, _units().drop(columns="status"), available_only=False)) == 5


@pytest.mark.parametrize(("lon", "lat"), [(np.nan, LAT), (LON, np.nan), (np.inf, LAT), (LON, -np.inf)])
def test_non_finite_point_raises(lon: float, lat: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        nearest_units(lon, lat, _units())


def test_units_with_nan_coordinates_are_skipped() -> None:
    units = _units()
    units.loc[units["unit_id"] == "PD-001", "lat"] = np.nan
    units.loc[units["unit_id"] == "FD-002", "lon"] = np.nan
    found = nearest_units(LON, LAT, units, limit=10)
    assert found["unit_id"].tolist() == ["FD-001", "FD-003", "UT-001"]
    assert np.isfinite(found["distance_m"]).all()


def test_no_candidates_gives_an_empty_frame() -> None:
    found = nearest_units(LON, LAT, _units(), kinds=["helicopter"])
    assert len(found) == 0
    assert {"distance_m", "eta_min"} <= set(found.columns)


def test_distance_and_eta_columns_are_added_and_eta_grows_with_distance() -> None:
    found = nearest_units(LON, LAT, _units(), kinds=["fire"], available_only=False)
    assert {"unit_id", "kind", "lon", "lat", "distance_m", "eta_min"} <= set(found.columns)
    np.testing.assert_allclose(found["distance_m"], [222.4, 556.0, 667.2], atol=1.0)
    assert found["eta_min"].is_monotonic_increasing
    assert (found["eta_min"].diff().dropna() > 0).all()


def test_eta_uses_the_detour_factor_and_the_kind_speed() -> None:
    found = nearest_units(LON, LAT, _units(), available_only=False, limit=10).set_index("unit_id")
    for unit_id in ["FD-001", "PD-001", "UT-001"]:
        row = found.loc[unit_id]
        speed_m_per_min = RESPONSE_SPEED_KMH[row["kind"]] * 1000 / 60
        assert row["eta_min"] == pytest.approx(row["distance_m"] * ROAD_DETOUR_FACTOR / speed_m_per_min)


def test_unknown_kind_uses_the_default_speed() -> None:
    units = pd.DataFrame({"unit_id": ["X-1"], "kind": ["drone"], "lon": [LON], "lat": [LAT + 0.01]})
    row = nearest_units(LON, LAT, units, available_only=False).iloc[0]
    assert row["eta_min"] == pytest.approx(row["distance_m"] * ROAD_DETOUR_FACTOR / (DEFAULT_SPEED_KMH * 1000 / 60))


def test_input_frame_is_not_modified() -> None:
    units = _units()
    before = units.copy()
    nearest_units(LON, LAT, units, limit=3)
    pd.testing.assert_frame_equal(units, before)


def test_nearest_elements_take_the_closest_of_each_kind_asked_in_that_order() -> None:
    from geo.nearest import nearest_elements

    elements = pd.DataFrame({
        "kind": ["hydrant", "hydrant", "hydrant", "fire_station", "hospital", "hydrant"],
        "name": ["far", "near", "middle", "station", "hospital", "broken"],
        "lon": [0.02, 0.001, 0.005, 0.01, 0.0, float("nan")], "lat": [0.0, 0.0, 0.0, 0.0, 0.03, 0.0]})
    near = nearest_elements(0.0, 0.0, elements, ["fire_station", "hydrant", "hydrant", "shelter"], per_kind=2)
    assert list(near["name"]) == ["station", "near", "middle"]  # the kinds' order; no shelter; NaN skipped
    assert 100 < near["distance_m"].iloc[1] < 120 < near["distance_m"].iloc[2]
    assert nearest_elements(0.0, 0.0, elements, []).empty
    with pytest.raises(ValueError):
        nearest_elements(float("nan"), 0.0, elements, ["hydrant"])
