from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from shapely import affinity
from shapely.geometry import MultiPolygon, Point, Polygon

from geo.datums import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    to_wgs84,
    transform_geometry,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

# People's Square, Shanghai, in WGS 84.
SHANGHAI = (121.4737, 31.2304)
NEW_YORK = (-74.0060, 40.7128)

# Published outputs of the widely used coordtransform library (wandergis) for
# the input (116.404, 39.915) in Beijing: an independent check of the formulas.
BEIJING = (116.404, 39.915)
BEIJING_WGS_TO_GCJ = (116.41024449916938, 39.91640428150164)
BEIJING_GCJ_TO_BD = (116.41036949371029, 39.92133699351021)


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    r = 6_371_008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


# --- reference values ---------------------------------------------------------


def test_wgs84_to_gcj02_shifts_shanghai_east_and_south_by_about_half_a_km() -> None:
    lon, lat = wgs84_to_gcj02(*SHANGHAI)
    assert lon - SHANGHAI[0] == pytest.approx(0.0045, abs=0.0005)
    assert lat - SHANGHAI[1] == pytest.approx(-0.002, abs=0.0005)
    assert 300 < haversine_m(*SHANGHAI, lon, lat) < 700


def test_wgs84_to_gcj02_matches_published_coordtransform_output() -> None:
    assert wgs84_to_gcj02(*BEIJING) == pytest.approx(BEIJING_WGS_TO_GCJ, abs=1e-12)


def test_gcj02_to_bd09_matches_published_coordtransform_output() -> None:
    assert gcj02_to_bd09(*BEIJING) == pytest.approx(BEIJING_GCJ_TO_BD, abs=1e-12)


def test_gcj02_to_wgs84_inverts_published_forward_output_to_sub_millimetre() -> None:
    lon, lat = gcj02_to_wgs84(*BEIJING_WGS_TO_GCJ)
    assert haversine_m(lon, lat, *BEIJING) < 1e-3


def test_bd09_to_gcj02_inverts_published_forward_output_to_sub_millimetre() -> None:
    lon, lat = bd09_to_gcj02(*BEIJING_GCJ_TO_BD)
    assert haversine_m(lon, lat, *BEIJING) < 1e-3


def test_wgs84_to_bd09_moves_shanghai_further_than_gcj02() -> None:
    gcj = wgs84_to_gcj02(*SHANGHAI)
    bd = wgs84_to_bd09(*SHANGHAI)
    assert bd == pytest.approx(gcj02_to_bd09(*gcj), abs=1e-12)
    assert haversine_m(*SHANGHAI, *bd) > haversine_m(*SHANGHAI, *gcj)


# --- outside China --------------------------------------------------------------


@pytest.mark.parametrize(
    "func", [wgs84_to_gcj02, gcj02_to_wgs84], ids=["wgs84_to_gcj02", "gcj02_to_wgs84"]
)
def test_gcj02_leaves_new_york_unchanged(func) -> None:
    assert func(*NEW_YORK) == NEW_YORK


def test_gcj02_leaves_points_just_outside_the_china_box_unchanged() -> None:
    lon = np.array([72.0, 100.0, 100.0, 150.0])
    lat = np.array([40.0, 0.5, 56.0, 45.0])
    out_lon, out_lat = wgs84_to_gcj02(lon, lat)
    np.testing.assert_array_equal(out_lon, lon)
    np.testing.assert_array_equal(out_lat, lat)


def test_gcj02_round_trip_is_exact_right_at_the_china_box_edges() -> None:
    # The shifted point can leave the box; the inverse must still find it.
    lon = np.array([72.0041, 137.8346, 100.0, 100.0])
    lat = np.array([40.0, 45.0, 55.827, 0.8294])
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    np.testing.assert_allclose(back_lon, lon, rtol=0, atol=1e-9)
    np.testing.assert_allclose(back_lat, lat, rtol=0, atol=1e-9)


# --- scalar / array handling ----------------------------------------------------

ALL_FUNCS = [
    wgs84_to_gcj02,
    gcj02_to_wgs84,
    gcj02_to_bd09,
    bd09_to_gcj02,
    wgs84_to_bd09,
    bd09_to_wgs84,
]


@pytest.mark.parametrize("func", ALL_FUNCS, ids=lambda f: f.__name__)
def test_scalar_and_array_input_give_the_same_numbers(func) -> None:
    lons = [121.4737, 116.404, 113.2644, -74.006]
    lats = [31.2304, 39.915, 23.1291, 40.7128]
    arr_lon, arr_lat = func(np.array(lons), lats)
    assert isinstance(arr_lon, np.ndarray)
    assert isinstance(arr_lat, np.ndarray)
    assert arr_lon.dtype == np.float64
    assert arr_lon.shape == (4,)
    for i, (lon, lat) in enumerate(zip(lons, lats, strict=True)):
        s_lon, s_lat = func(lon, lat)
        assert type(s_lon) is float
        assert type(s_lat) is float
        assert s_lon == arr_lon[i]
        assert s_lat == arr_lat[i]


@pytest.mark.parametrize("func", ALL_FUNCS, ids=lambda f: f.__name__)
def test_numpy_scalar_and_zero_d_array_input_return_python_floats(func) -> None:
    for lon, lat in [(np.float64(121.4737), np.float64(31.2304)), (np.array(121.4737), 31.2304)]:
        out_lon, out_lat = func(lon, lat)
        assert type(out_lon) is float
        assert type(out_lat) is float


def test_array_input_keeps_its_shape_and_is_not_modified() -> None:
    lon = np.full((2, 3), SHANGHAI[0])
    lat = np.full((2, 3), SHANGHAI[1])
    out_lon, out_lat = wgs84_to_gcj02(lon, lat)
    assert out_lon.shape == out_lat.shape == (2, 3)
    assert np.all(lon == SHANGHAI[0])
    assert np.all(lat == SHANGHAI[1])


def test_scalar_lat_broadcasts_against_array_lon() -> None:
    out_lon, out_lat = wgs84_to_gcj02([121.4, 121.5], 31.2)
    assert out_lon.shape == out_lat.shape == (2,)


def test_mismatched_array_shapes_raise_value_error() -> None:
    with pytest.raises(ValueError, match="shapes"):
        wgs84_to_gcj02([121.4, 121.5, 121.6], [31.2, 31.3])


def test_empty_arrays_convert_to_empty_arrays() -> None:
    out_lon, out_lat = gcj02_to_wgs84(np.array([]), np.array([]))
    assert out_lon.shape == out_lat.shape == (0,)


# --- round trips ----------------------------------------------------------------


def _grid() -> tuple[np.ndarray, np.ndarray]:
    lon, lat = np.meshgrid(np.linspace(73.0, 135.0, 80), np.linspace(18.0, 53.0, 60))
    return lon.ravel(), lat.ravel()


def test_wgs84_gcj02_round_trip_is_within_1e_7_degrees() -> None:
    lon, lat = _grid()
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    np.testing.assert_allclose(back_lon, lon, rtol=0, atol=1e-7)
    np.testing.assert_allclose(back_lat, lat, rtol=0, atol=1e-7)


def test_wgs84_bd09_round_trip_is_within_1e_7_degrees() -> None:
    lon, lat = _grid()
    back_lon, back_lat = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    np.testing.assert_allclose(back_lon, lon, rtol=0, atol=1e-7)
    np.testing.assert_allclose(back_lat, lat, rtol=0, atol=1e-7)


def test_gcj02_bd09_round_trip_is_within_1e_7_degrees() -> None:
    lon, lat = _grid()
    back_lon, back_lat = bd09_to_gcj02(*gcj02_to_bd09(lon, lat))
    np.testing.assert_allclose(back_lon, lon, rtol=0, atol=1e-7)
    np.testing.assert_allclose(back_lat, lat, rtol=0, atol=1e-7)


def test_gcj02_to_wgs84_is_exact_not_the_one_step_approximation() -> None:
    # The one-step inverse is off by metres; the iterated one by < 1 cm.
    lon, lat = _grid()
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    worst = max(
        haversine_m(a, b, c, d) for a, b, c, d in zip(back_lon, back_lat, lon, lat, strict=True)
    )
    assert worst < 0.01


# --- to_wgs84 -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["GCJ02", "gcj02", "gcj-02", "GCJ-02", "Gcj02"])
def test_to_wgs84_accepts_gcj02_spellings(name: str) -> None:
    gcj = wgs84_to_gcj02(*SHANGHAI)
    assert to_wgs84(*gcj, name) == pytest.approx(SHANGHAI, abs=1e-9)


@pytest.mark.parametrize("name", ["BD09", "bd09", "bd-09", "BD-09"])
def test_to_wgs84_accepts_bd09_spellings(name: str) -> None:
    bd = wgs84_to_bd09(*SHANGHAI)
    assert to_wgs84(*bd, name) == pytest.approx(SHANGHAI, abs=1e-9)


@pytest.mark.parametrize("name", ["WGS84", "wgs84", "wgs-84"])
def test_to_wgs84_from_wgs84_is_identity(name: str) -> None:
    assert to_wgs84(*SHANGHAI, name) == SHANGHAI


def test_to_wgs84_rejects_unknown_datum_naming_it_and_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="CGCS2000") as excinfo:
        to_wgs84(*SHANGHAI, "CGCS2000")
    message = str(excinfo.value)
    for valid in ("WGS84", "GCJ02", "BD09"):
        assert valid in message


# --- invalid input --------------------------------------------------------------


@pytest.mark.parametrize("func", ALL_FUNCS, ids=lambda f: f.__name__)
def test_nan_longitude_raises_value_error_naming_nan(func) -> None:
    with pytest.raises(ValueError, match=r"lon.*NaN"):
        func(float("nan"), 31.0)


def test_nan_latitude_in_array_raises_value_error_naming_nan() -> None:
    with pytest.raises(ValueError, match=r"lat.*NaN"):
        wgs84_to_gcj02([121.0, 121.1], [31.0, np.nan])


@pytest.mark.parametrize("value", [math.inf, -math.inf])
def test_infinite_coordinate_raises_value_error_naming_infinity(value: float) -> None:
    with pytest.raises(ValueError, match=r"lon.*infinity"):
        gcj02_to_wgs84(value, 31.0)
    with pytest.raises(ValueError, match=r"lat.*infinity"):
        bd09_to_wgs84(121.0, value)


@pytest.mark.parametrize(
    ("lon", "lat", "which"),
    [(181.0, 31.0, "lon"), (-180.5, 31.0, "lon"), (121.0, 90.5, "lat"), (121.0, -91.0, "lat")],
)
def test_out_of_range_coordinate_raises_value_error(lon: float, lat: float, which: str) -> None:
    with pytest.raises(ValueError, match=which):
        wgs84_to_gcj02(lon, lat)


def test_to_wgs84_validates_coordinates_even_for_wgs84() -> None:
    with pytest.raises(ValueError, match="NaN"):
        to_wgs84(math.nan, 31.0, "WGS84")


def test_range_limits_themselves_are_accepted() -> None:
    lon, lat = wgs84_to_gcj02([-180.0, 180.0], [-90.0, 90.0])
    np.testing.assert_array_equal(lon, [-180.0, 180.0])
    np.testing.assert_array_equal(lat, [-90.0, 90.0])


# --- shapely geometries ---------------------------------------------------------


def _shanghai_square_wgs84() -> Polygon:
    lon0, lat0 = SHANGHAI
    return Polygon(
        [(lon0, lat0), (lon0 + 0.01, lat0), (lon0 + 0.01, lat0 + 0.01), (lon0, lat0 + 0.01)]
    )


def _shift_geometry(geom, fn):
    return shapely.transform(geom, lambda xy: np.column_stack(fn(xy[:, 0], xy[:, 1])))


def test_transform_geometry_converts_a_gcj02_polygon_back_to_wgs84() -> None:
    wgs = _shanghai_square_wgs84()
    gcj = _shift_geometry(wgs, wgs84_to_gcj02)
    back = transform_geometry(gcj, "gcj-02")
    assert isinstance(back, Polygon)
    np.testing.assert_allclose(
        shapely.get_coordinates(back), shapely.get_coordinates(wgs), rtol=0, atol=1e-9
    )


def test_transform_geometry_converts_every_vertex_of_a_multipolygon_with_holes() -> None:
    outer = _shanghai_square_wgs84()
    hole = outer.centroid.buffer(0.002)
    wgs = MultiPolygon([outer.difference(hole), affinity.translate(outer, xoff=0.05)])
    bd = _shift_geometry(wgs, wgs84_to_bd09)
    back = transform_geometry(bd, "BD09")
    assert isinstance(back, MultiPolygon)
    assert len(back.geoms[0].interiors) == 1
    np.testing.assert_allclose(
        shapely.get_coordinates(back), shapely.get_coordinates(wgs), rtol=0, atol=1e-9
    )


def test_transform_geometry_keeps_z_values() -> None:
    point = Point(121.4782, 31.2285, 12.5)
    back = transform_geometry(point, "GCJ02")
    assert back.has_z
    assert back.z == 12.5
    assert haversine_m(back.x, back.y, point.x, point.y) > 300


def test_transform_geometry_passes_empty_geometries_through() -> None:
    assert transform_geometry(Polygon(), "GCJ02").is_empty


def test_transform_geometry_rejects_unknown_datum() -> None:
    with pytest.raises(ValueError, match="ETRS89"):
        transform_geometry(_shanghai_square_wgs84(), "ETRS89")
