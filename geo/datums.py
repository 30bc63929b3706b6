"""Conversions between the Chinese map datums GCJ-02 / BD-09 and WGS 84.

Chinese law requires civilian maps of mainland China to be published in an
obfuscated datum, so boundary and POI data for Chinese cities rarely arrive in
WGS 84:

* **GCJ-02** (国测局坐标, the "Mars" datum) is WGS 84 passed through a secret,
  deliberately non-linear offset published by the State Bureau of Surveying and
  Mapping. It is used by Amap (Gaode), Tencent Maps and most Chinese data
  sources. The reverse-engineered forward formula below is the one every open
  implementation uses.
* **BD-09** is Baidu's extra obfuscation layered on top of GCJ-02.

The shift is large enough to put features in the wrong street: in Shanghai
GCJ-02 sits roughly 300-700 m away from WGS 84 (about 0.0045° east, 0.002°
south), and BD-09 adds roughly another kilometre.

There is no closed-form inverse of GCJ-02, so ``gcj02_to_wgs84`` and
``bd09_to_gcj02`` solve for the exact preimage by fixed-point iteration; the
result round-trips with the forward transform to well under a centimetre.

Every coordinate function takes lon/lat in degrees as scalars or array-likes
(numpy broadcasting applies) and returns ``(lon, lat)``: Python floats for
scalar input, numpy float64 arrays otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

__all__ = [
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "to_wgs84",
    "transform_geometry",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

Coord: TypeAlias = float | npt.NDArray[np.float64]
LonLat: TypeAlias = tuple[Coord, Coord]
_Arrays: TypeAlias = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]

# Krasovsky 1940 ellipsoid, as baked into the published GCJ-02 formula.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0

# The customary rough box for "mainland China"; GCJ-02 is the identity outside it.
_LON_MIN, _LON_MAX = 72.004, 137.8347
_LAT_MIN, _LAT_MAX = 0.8293, 55.8271

# 1e-9 degrees is ~0.1 mm, far below the 1 cm target; each step shrinks the
# error by ~1e-2 or better, so 10 iterations is never the binding limit.
_TOL = 1e-9
_MAX_ITER = 10

# Inside the box the GCJ-02 offset stays below ~0.011°, so a GCJ-02 point further
# than this outside the box cannot have a preimage inside it.
_BOX_PAD = 0.05

_VALID_DATUMS = ("WGS84", "GCJ02", "BD09")


# --- raw array transforms (no validation) -----------------------------------


def _in_china(lon: np.ndarray, lat: np.ndarray, pad: float = 0.0) -> np.ndarray:
    return (
        (lon >= _LON_MIN - pad)
        & (lon <= _LON_MAX + pad)
        & (lat >= _LAT_MIN - pad)
        & (lat <= _LAT_MAX + pad)
    )


def _gcj_offset(lon: np.ndarray, lat: np.ndarray) -> _Arrays:
    """The GCJ-02 shift (dlon, dlat) in degrees, ignoring the China box."""
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0

    t_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
    t_lat += common
    t_lat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    t_lat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0

    t_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
    t_lon += common
    t_lon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    t_lon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0

    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (t_lat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (t_lon * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    return dlon, dlat


def _gcj_shift(lon: np.ndarray, lat: np.ndarray) -> _Arrays:
    dlon, dlat = _gcj_offset(lon, lat)
    return lon + dlon, lat + dlat


def _fixed_point_inverse(
    forward: Callable[[np.ndarray, np.ndarray], _Arrays],
    lon: np.ndarray,
    lat: np.ndarray,
    guess_lon: np.ndarray,
    guess_lat: np.ndarray,
) -> _Arrays:
    """Solve forward(w) == (lon, lat) for w, starting from the guess.

    Both forward maps are the identity plus a small, slowly varying offset, so
    w <- w - (forward(w) - target) is a contraction.
    """
    w_lon, w_lat = guess_lon, guess_lat
    for _ in range(_MAX_ITER):
        f_lon, f_lat = forward(w_lon, w_lat)
        err_lon = f_lon - lon
        err_lat = f_lat - lat
        # Freeze converged points so a value does not depend on which other
        # points it was batched with (scalar and array calls agree exactly).
        active = np.maximum(np.abs(err_lon), np.abs(err_lat)) >= _TOL
        if not active.any():
            break
        w_lon = np.where(active, w_lon - err_lon, w_lon)
        w_lat = np.where(active, w_lat - err_lat, w_lat)
    return np.asarray(w_lon), np.asarray(w_lat)


def _wgs_to_gcj(lon: np.ndarray, lat: np.ndarray) -> _Arrays:
    # np.array, not .copy(): numpy ufuncs turn 0-d arrays into immutable scalars.
    out_lon, out_lat = np.array(lon, dtype=np.float64), np.array(lat, dtype=np.float64)
    inside = _in_china(out_lon, out_lat)
    if inside.any():
        out_lon[inside], out_lat[inside] = _gcj_shift(out_lon[inside], out_lat[inside])
    return out_lon, out_lat


def _gcj_to_wgs(lon: np.ndarray, lat: np.ndarray) -> _Arrays:
    out_lon, out_lat = np.array(lon, dtype=np.float64), np.array(lat, dtype=np.float64)
    # Near the box edge the GCJ-02 point can lie just outside the box while its
    # WGS 84 preimage lies inside, so solve in a padded box and then keep only
    # solutions that really are inside (the forward map used the same test).
    near = _in_china(out_lon, out_lat, pad=_BOX_PAD)
    if not near.any():
        return out_lon, out_lat
    g_lon, g_lat = out_lon[near], out_lat[near]
    dlon, dlat = _gcj_offset(g_lon, g_lat)
    w_lon, w_lat = _fixed_point_inverse(_gcj_shift, g_lon, g_lat, g_lon - dlon, g_lat - dlat)
    solved = _in_china(w_lon, w_lat)
    out_lon[near] = np.where(solved, w_lon, g_lon)
    out_lat[near] = np.where(solved, w_lat, g_lat)
    return out_lon, out_lat


def _gcj_to_bd(lon: np.ndarray, lat: np.ndarray) -> _Arrays:
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _bd_to_gcj(lon: np.ndarray, lat: np.ndarray) -> _Arrays:
    # The published inverse only undoes the perturbation to first order (~1e-6°
    # residual); a few fixed-point steps make it exact.
    x = lon - 0.0065
    y = lat - 0.006
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return _fixed_point_inverse(_gcj_to_bd, lon, lat, z * np.cos(theta), z * np.sin(theta))


def _wgs_to_bd(lon: np.ndarray, lat: np.ndarray) -> _Arrays:
    return _gcj_to_bd(*_wgs_to_gcj(lon, lat))


def _bd_to_wgs(lon: np.ndarray, lat: np.ndarray) -> _Arrays:
    return _gcj_to_wgs(*_bd_to_gcj(lon, lat))


def _identity(lon: np.ndarray, lat: np.ndarray) -> _Arrays:
    return np.array(lon, dtype=np.float64), np.array(lat, dtype=np.float64)


# --- validation and the public scalar/array wrapper -------------------------


def _check(name: str, values: np.ndarray, limit: float) -> None:
    if np.isnan(values).any():
        raise ValueError(f"{name} contains NaN; coordinates must be finite")
    if np.isinf(values).any():
        raise ValueError(f"{name} contains infinity; coordinates must be finite")
    outside = np.abs(values) > limit
    if outside.any():
        bad = float(values[outside].flat[0])
        raise ValueError(f"{name} must be within [-{limit:g}, {limit:g}] degrees, got {bad!r}")


def _apply(
    fn: Callable[[np.ndarray, np.ndarray], _Arrays],
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
) -> LonLat:
    lon_a = np.asarray(lon, dtype=np.float64)
    lat_a = np.asarray(lat, dtype=np.float64)
    scalar = lon_a.ndim == 0 and lat_a.ndim == 0
    try:
        lon_a, lat_a = np.broadcast_arrays(lon_a, lat_a)
    except ValueError as exc:
        raise ValueError(
            f"lon and lat shapes do not match: {lon_a.shape} vs {lat_a.shape}"
        ) from exc
    _check("lon", lon_a, 180.0)
    _check("lat", lat_a, 90.0)
    # broadcast_arrays returns read-only views; the transforms need their own arrays.
    out_lon, out_lat = fn(np.array(lon_a), np.array(lat_a))
    if scalar:
        return float(out_lon), float(out_lat)
    return np.asarray(out_lon), np.asarray(out_lat)


def wgs84_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> LonLat:
    """WGS 84 -> GCJ-02. Points outside mainland China are returned unchanged."""
    return _apply(_wgs_to_gcj, lon, lat)


def gcj02_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> LonLat:
    """GCJ-02 -> WGS 84, exact inverse of :func:`wgs84_to_gcj02` (error < 1e-9°).

    Points outside mainland China are returned unchanged. Within ~1 km of the
    China box edge a GCJ-02 point can have two preimages (one shifted from
    inside the box, itself from outside); the inside one is returned, so
    ``gcj02_to_wgs84(*wgs84_to_gcj02(p))`` recovers every point ``p`` in the box.
    """
    return _apply(_gcj_to_wgs, lon, lat)


def gcj02_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> LonLat:
    """GCJ-02 -> BD-09 (Baidu)."""
    return _apply(_gcj_to_bd, lon, lat)


def bd09_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> LonLat:
    """BD-09 (Baidu) -> GCJ-02, exact inverse of :func:`gcj02_to_bd09` (error < 1e-9°)."""
    return _apply(_bd_to_gcj, lon, lat)


def wgs84_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> LonLat:
    """WGS 84 -> BD-09, via GCJ-02."""
    return _apply(_wgs_to_bd, lon, lat)


def bd09_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> LonLat:
    """BD-09 -> WGS 84, via GCJ-02."""
    return _apply(_bd_to_wgs, lon, lat)


_TO_WGS84: dict[str, Callable[[np.ndarray, np.ndarray], _Arrays]] = {
    "WGS84": _identity,
    "GCJ02": _gcj_to_wgs,
    "BD09": _bd_to_wgs,
}


def _resolve(datum: str) -> Callable[[np.ndarray, np.ndarray], _Arrays]:
    key = datum.strip().upper().replace("-", "").replace("_", "") if isinstance(datum, str) else ""
    try:
        return _TO_WGS84[key]
    except KeyError:
        valid = ", ".join(_VALID_DATUMS)
        raise ValueError(
            f"unknown datum {datum!r}; expected one of {valid} "
            "(case-insensitive, hyphens allowed, e.g. 'gcj-02')"
        ) from None


def to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike, datum: str) -> LonLat:
    """Convert lon/lat from ``datum`` ("WGS84", "GCJ02" or "BD09") to WGS 84."""
    return _apply(_resolve(datum), lon, lat)


def transform_geometry(geom: BaseGeometry, datum: str) -> BaseGeometry:
    """Return a copy of a shapely geometry converted from ``datum`` to WGS 84.

    All vertices go through numpy in one call, so large polygons are cheap.
    Z values, if any, are carried through untouched.
    """
    fn = _resolve(datum)

    def _convert(coords: np.ndarray) -> np.ndarray:
        out = np.array(coords, dtype=np.float64)
        out[:, 0], out[:, 1] = _apply(fn, coords[:, 0], coords[:, 1])
        return out

    return shapely.transform(geom, _convert, include_z=None)
