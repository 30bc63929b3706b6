from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from geo.datums import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

china_lon = st.floats(min_value=73.0, max_value=135.0, allow_nan=False, allow_infinity=False)
china_lat = st.floats(min_value=18.0, max_value=53.0, allow_nan=False, allow_infinity=False)


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    r = 6_371_008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


@given(china_lon, china_lat)
def test_wgs84_gcj02_round_trip_within_1e_7_degrees(lon: float, lat: float) -> None:
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert abs(back_lon - lon) < 1e-7
    assert abs(back_lat - lat) < 1e-7


@given(china_lon, china_lat)
def test_wgs84_bd09_round_trip_within_1e_7_degrees(lon: float, lat: float) -> None:
    back_lon, back_lat = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    assert abs(back_lon - lon) < 1e-7
    assert abs(back_lat - lat) < 1e-7


@given(china_lon, china_lat)
def test_gcj02_bd09_round_trip_within_1e_7_degrees(lon: float, lat: float) -> None:
    back_lon, back_lat = bd09_to_gcj02(*gcj02_to_bd09(lon, lat))
    assert abs(back_lon - lon) < 1e-7
    assert abs(back_lat - lat) < 1e-7


@given(china_lon, china_lat)
def test_gcj02_offset_is_under_1_km_inside_china(lon: float, lat: float) -> None:
    gcj_lon, gcj_lat = wgs84_to_gcj02(lon, lat)
    assert haversine_m(lon, lat, gcj_lon, gcj_lat) < 1000.0


@given(
    hnp.arrays(np.float64, st.integers(0, 50), elements=china_lon),
    st.data(),
)
def test_array_round_trip_matches_elementwise_scalar_calls(lons: np.ndarray, data) -> None:
    lats = data.draw(hnp.arrays(np.float64, lons.shape, elements=china_lat))
    gcj_lon, gcj_lat = wgs84_to_gcj02(lons, lats)
    back_lon, back_lat = gcj02_to_wgs84(gcj_lon, gcj_lat)
    np.testing.assert_allclose(back_lon, lons, rtol=0, atol=1e-7)
    np.testing.assert_allclose(back_lat, lats, rtol=0, atol=1e-7)
    for i in range(lons.size):
        assert wgs84_to_gcj02(float(lons[i]), float(lats[i])) == (gcj_lon[i], gcj_lat[i])
