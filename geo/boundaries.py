"""One level of administrative boundaries: normalise, repair, validate.

A level is a GeoDataFrame indexed by ``code`` with the columns of the city folder
(``name``, ``name_zh``, ``parent``, ``population``, ``population_estimated``) and a
WGS 84 polygonal ``geometry``. :func:`prepare_level` turns whatever a file held into
that shape, or raises :class:`BoundaryError` with one line saying what is wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

WGS84 = "EPSG:4326"
# World equal-area projection (EASE-Grid 2.0): areas in m² anywhere on Earth.
EQUAL_AREA = "EPSG:6933"
# A child must lie inside its parent by at least this share of its area; boundaries of
# different levels are drawn by different hands, so a few metres of mismatch is normal.
MIN_SHARE_INSIDE_PARENT = 0.95

LEVEL_COLUMNS = ["name", "name_zh", "parent", "population", "population_estimated", "geometry"]


class BoundaryError(ValueError):
    """A boundary level that cannot be used, with one line saying why."""


@dataclass(frozen=True)
class PreparedLevel:
    """A validated level and the codes whose geometry had to be repaired."""

    units: gpd.GeoDataFrame
    repaired: tuple[str, ...]


def area_km2(geometries: gpd.GeoSeries | gpd.GeoDataFrame) -> pd.Series:
    """Area of each geometry in km², computed in an equal-area projection."""
    return geometries.to_crs(EQUAL_AREA).area / 1e6


def _list(values: Sequence[object], most: int = 5) -> str:
    shown = ", ".join(repr(v) for v in list(values)[:most])
    more = len(values) - most
    return shown + (f" and {more} more" if more > 0 else "")


def repair_geometries(geometries: gpd.GeoSeries) -> tuple[gpd.GeoSeries, np.ndarray]:
    """Make invalid polygons valid, keeping only their polygonal parts.

    Returns the repaired series and a boolean mask of what was repaired. A geometry
    that is empty after repair (e.g. a polygon collapsed to a line) comes back empty:
    the caller decides that it is unrepairable.
    """
    values = geometries.values
    invalid = ~shapely.is_valid(np.asarray(values))
    if not invalid.any():
        return geometries, invalid
    fixed = shapely.make_valid(np.asarray(values)[invalid])
    # make_valid may return a GeometryCollection with stray lines or points: keep the area.
    polygonal = [_polygonal_part(g) for g in fixed]
    out = geometries.copy()
    out[invalid] = polygonal
    return out, invalid


def _polygonal_part(geometry: shapely.Geometry) -> shapely.Geometry:
    if isinstance(geometry, shapely.Polygon | shapely.MultiPolygon):
        return geometry
    parts = [p for p in shapely.get_parts(geometry) if isinstance(p, shapely.Polygon | shapely.MultiPolygon)]
    if not parts:
        return shapely.MultiPolygon()
    return shapely.union_all(parts)


def prepare_level(
    frame: gpd.GeoDataFrame,
    level: str,
    parent: gpd.GeoDataFrame | None = None,
    *,
    min_share_inside_parent: float = MIN_SHARE_INSIDE_PARENT,
) -> PreparedLevel:
    """Normalise and validate one level; ``parent`` is the prepared level above, if any.

    ``frame`` needs ``code``, ``name`` and a geometry column; ``parent`` codes are
    required when there is a level above. Checks, in order: not empty, a CRS, polygons
    only, codes present and unique, names present, geometry valid (repaired where
    possible), coordinates within WGS 84 ranges, every parent exists, every child lies
    inside its parent by ``min_share_inside_parent`` of its area.
    """
    where = f"level {level!r}"
    if frame is None or len(frame) == 0:
        raise BoundaryError(f"{where}: the file holds no features")
    if frame.crs is None:
        raise BoundaryError(f"{where}: no coordinate reference system; say which with --crs EPSG")
    for column in ("code", "name"):
        if column not in frame.columns:
            raise BoundaryError(f"{where}: no {column!r} field")
    if parent is not None and "parent" not in frame.columns:
        raise BoundaryError(f"{where}: no 'parent' field, but there is a level above it")

    frame = frame.to_crs(WGS84) if not frame.crs.equals(WGS84) else frame.copy()
    geometry = frame.geometry
    if geometry.isna().any() or geometry.is_empty.any():
        empty_codes = frame.loc[geometry.isna() | geometry.is_empty, "code"].astype(str).tolist()
        raise BoundaryError(f"{where}: features without geometry: {_list(empty_codes)}")
    kinds = set(geometry.geom_type)
    if not kinds <= {"Polygon", "MultiPolygon"}:
        raise BoundaryError(f"{where}: boundaries must be polygons, found {_list(sorted(kinds))}")

    codes = frame["code"].map(_clean_text)
    if codes.isna().any():
        raise BoundaryError(f"{where}: {int(codes.isna().sum())} features have an empty code")
    duplicated = codes[codes.duplicated()].unique().tolist()
    if duplicated:
        raise BoundaryError(f"{where}: duplicate codes {_list(duplicated)}")
    names = frame["name"].map(_clean_text)
    if names.isna().any():
        raise BoundaryError(f"{where}: features without a name: {_list(codes[names.isna()].tolist())}")

    repaired_geometry, repaired_mask = repair_geometries(geometry)
    lost = repaired_geometry.is_empty.to_numpy()
    if lost.any():
        raise BoundaryError(f"{where}: unrepairable geometry for {_list(codes[lost].tolist())}")

    minx, miny, maxx, maxy = repaired_geometry.total_bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise BoundaryError(
            f"{where}: coordinates outside longitude/latitude ranges "
            f"({minx:.1f}, {miny:.1f}, {maxx:.1f}, {maxy:.1f}); is the CRS right?"
        )

    units = gpd.GeoDataFrame(
        {
            "name": names.to_numpy(),
            "name_zh": _optional_text(frame, "name_zh"),
            "parent": _optional_text(frame, "parent") if parent is not None else None,
            "population": pd.to_numeric(frame["population"], errors="coerce").to_numpy(float)
            if "population" in frame.columns
            else np.nan,
            "population_estimated": _optional_bool(frame, "population_estimated"),
        },
        geometry=repaired_geometry.to_numpy(),
        crs=WGS84,
        index=pd.Index(codes.to_numpy(), name="code"),
    )
    if (units["population"] < 0).any():
        raise BoundaryError(f"{where}: negative population for {_list(units.index[units['population'] < 0].tolist())}")
    if parent is not None:
        _check_parents(units, parent, where, min_share_inside_parent)
    repaired = tuple(units.index[repaired_mask].tolist())
    return PreparedLevel(units=units[LEVEL_COLUMNS], repaired=repaired)


def _clean_text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    # Integer-like codes read from a number column must not become "101.0".
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _optional_text(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), None, dtype=object)
    return frame[column].map(_clean_text).to_numpy(dtype=object)


def _optional_bool(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    return frame[column].map(lambda v: str(v).strip().lower() in {"true", "1", "yes"}).to_numpy(bool)


def _check_parents(units: gpd.GeoDataFrame, parent: gpd.GeoDataFrame, where: str, min_share: float) -> None:
    missing_parent = units["parent"].isna()
    if missing_parent.any():
        raise BoundaryError(f"{where}: features without a parent code: {_list(units.index[missing_parent].tolist())}")
    orphans = ~units["parent"].isin(parent.index)
    if orphans.any():
        pairs = [f"{c}→{p}" for c, p in units.loc[orphans, "parent"].items()]
        raise BoundaryError(f"{where}: parent codes that do not exist one level up: {_list(pairs)}")
    child = units.geometry.to_crs(EQUAL_AREA)
    mother = parent.geometry.to_crs(EQUAL_AREA).reindex(units["parent"].to_numpy())
    inside = shapely.intersection(child.to_numpy(), mother.to_numpy())
    share = shapely.area(inside) / shapely.area(child.to_numpy())
    outside = share < min_share
    if outside.any():
        worst = [
            f"{c} ({s:.0%} inside {p})"
            for c, s, p in zip(units.index[outside], share[outside], units["parent"][outside], strict=True)
        ]
        raise BoundaryError(f"{where}: units not inside their parent: {_list(worst)}")
