"""``cityops city import``: one level of boundaries from a GIS file into a city folder.

Reads GeoJSON, GeoPackage or Shapefile, reprojects to WGS 84, validates against the
levels already there, and only then writes: a rejected file changes nothing.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyproj

from city.folder import write_config, write_display, write_level
from city.model import (
    CITY_ID,
    LEVEL_NAME,
    CityConfig,
    CityError,
    read_boundaries,
    read_city_config,
)
from geo.boundaries import BoundaryError, area_km2, prepare_level

# The largest file accepted: a level of a city's boundaries is a few MB; anything far
# bigger is a mistake (a national dataset) and would exhaust memory while validating.
MAX_FILE_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class ImportResult:
    folder: Path
    level: str
    units: int
    area_km2: float
    repaired: tuple[str, ...]
    levels: tuple[str, ...]
    new_city: bool


def read_geo_file(path: Path, crs: str | None, *, max_bytes: int | None = None) -> gpd.GeoDataFrame:
    """Read a GIS file of at most ``max_bytes`` (default :data:`MAX_FILE_BYTES`); ``crs`` (e.g.
    ``EPSG:2263`` or ``2263``) overrides what the file says."""
    max_bytes = MAX_FILE_BYTES if max_bytes is None else max_bytes
    if not path.is_file():
        raise CityError(f"{path}: no such file")
    size = path.stat().st_size
    if size == 0:
        raise CityError(f"{path}: empty file")
    if size > max_bytes:
        raise CityError(f"{path}: {size / 2**20:.1f} MiB is larger than the {max_bytes / 2**20:.1f} MiB limit")
    try:
        with warnings.catch_warnings():
            # pyogrio warns about columns of mixed types; the checks below say what matters.
            warnings.simplefilter("ignore")
            frame = gpd.read_file(path)
    except Exception as error:  # pyogrio raises several types for unreadable input
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CityError(
            f"{path}: not a geometry file GeoJSON, GeoPackage or Shapefile can read ({first_line})"
        ) from None
    if "geometry" not in frame or not isinstance(frame, gpd.GeoDataFrame):
        raise CityError(f"{path}: holds no geometry")
    if len(frame) == 0:
        raise CityError(f"{path}: holds no features")
    if crs is not None:
        try:
            chosen = pyproj.CRS.from_user_input(int(crs) if crs.isdigit() else crs)
        except pyproj.exceptions.CRSError:
            raise CityError(f"--crs {crs!r} is not a coordinate reference system pyproj knows") from None
        frame = frame.set_crs(chosen, allow_override=True)
    elif frame.crs is None:
        raise CityError(f"{path}: the file does not say its coordinate reference system; give --crs EPSG")
    return frame


def _pick_fields(frame: gpd.GeoDataFrame, path: Path, fields: dict[str, str | None]) -> gpd.GeoDataFrame:
    """Rename the user's fields to the city-folder names; every named field must exist."""
    available = [c for c in frame.columns if c != frame.geometry.name]
    columns = {}
    for target, source in fields.items():
        if source is None:
            continue
        if source not in frame.columns:
            raise CityError(f"{path}: missing field {source!r} (fields: {', '.join(map(str, available)) or 'none'})")
        columns[target] = frame[source]
    return gpd.GeoDataFrame(columns, geometry=frame.geometry.values, crs=frame.crs)


def _new_config(city_id: str, units: gpd.GeoDataFrame) -> CityConfig:
    minx, miny, maxx, maxy = units.total_bounds
    extent = max(maxx - minx, (maxy - miny) * 1.5, 1e-4)
    # A web map shows 360° of longitude across 256 px at zoom 0; fit the city in ~1000 px.
    zoom = min(16.0, max(1.0, math.log2(360 / extent * 1000 / 256) - 0.3))
    return CityConfig(
        id=city_id,
        name=city_id,
        name_zh=None,
        timezone="UTC",
        center=((minx + maxx) / 2, (miny + maxy) / 2),
        zoom=zoom,
        aqi_standard="US-EPA-2024",
        levels=(),
    )


def import_level(
    file: Path,
    folder: Path,
    *,
    city_id: str,
    level: str,
    code_field: str,
    name_field: str,
    parent_field: str | None = None,
    name_zh_field: str | None = None,
    population_field: str | None = None,
    crs: str | None = None,
) -> ImportResult:
    """Add (or replace) ``level`` of the city in ``folder`` from ``file``.

    A new level goes below the current lowest one and needs ``parent_field``; the first
    level of a new city must not have one. Replacing an existing level keeps its place
    and must keep every code its children refer to.
    """
    if not CITY_ID.match(city_id):
        raise CityError(f"city id {city_id!r} must be lower-case letters, digits, '-' or '_'")
    if not LEVEL_NAME.match(level):
        raise CityError(f"level name {level!r} must be lower-case letters, digits or '_', starting with a letter")
    config_path = folder / "city.toml"
    new_city = not config_path.is_file()
    config = None if new_city else read_city_config(config_path)
    if config is not None and config.id != city_id:
        raise CityError(f"{config_path}: belongs to city {config.id!r}, not {city_id!r}")
    levels = () if config is None else config.levels
    position = _position(levels, level)
    if position == 0 and parent_field is not None:
        raise CityError(f"level {level!r} is the top level: it has no parent, drop --parent-field")
    if position > 0 and parent_field is None:
        raise CityError(f"level {level!r} goes below {levels[position - 1]!r}: --parent-field is needed")
    above, _ = read_boundaries(folder, levels[:position])

    frame = read_geo_file(file, crs)
    frame = _pick_fields(
        frame,
        file,
        {
            "code": code_field,
            "name": name_field,
            "parent": parent_field,
            "name_zh": name_zh_field,
            "population": population_field,
        },
    )
    if population_field is not None:
        population = pd.to_numeric(frame["population"], errors="coerce")
        if population.isna().any():
            raise CityError(f"{file}: field {population_field!r} must be a number for every feature")
        frame["population"] = population
    try:
        prepared = prepare_level(frame, level, above[levels[position - 1]] if position else None)
    except BoundaryError as error:
        raise CityError(f"{file}: {error}") from None
    units = prepared.units
    for other in levels:
        if other == level:
            continue
        other_codes = above[other].index if other in above else _codes(folder, other)
        shared = units.index.intersection(other_codes)
        if len(shared):
            raise CityError(
                f"{file}: code {shared[0]!r} is already used at level {other!r}; codes must be unique across levels"
            )
    if position + 1 < len(levels):
        _check_children(folder, levels[position + 1], units)

    new_levels = levels if level in levels else (*levels, level)
    config = replace(_new_config(city_id, units) if config is None else config, levels=new_levels)
    write_level(folder, level, units)
    write_config(folder, config)
    boundaries, _ = read_boundaries(folder, new_levels)
    write_display(folder, boundaries, new_levels)
    return ImportResult(
        folder, level, len(units), float(area_km2(units.geometry).sum()), prepared.repaired, new_levels, new_city
    )


def _position(levels: tuple[str, ...], level: str) -> int:
    return levels.index(level) if level in levels else len(levels)


def _codes(folder: Path, level: str) -> pd.Index:
    path = folder / "boundaries" / f"{level}.geojson"
    return pd.Index(gpd.read_file(path, columns=["code"], read_geometry=False)["code"].astype(str))


def _check_children(folder: Path, child_level: str, replacement: gpd.GeoDataFrame) -> None:
    """Replacing a level: its children must still find (and lie inside) their parents."""
    path = folder / "boundaries" / f"{child_level}.geojson"
    try:
        prepare_level(gpd.read_file(path), child_level, replacement)
    except BoundaryError as error:
        raise CityError(f"the new level would break {path}: {error}") from None
