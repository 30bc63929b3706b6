"""Assembling a city folder: prepared boundaries, a synthetic inventory, display geometries.

Shared by the bundled packs (``city.packs``) and ``cityops city import``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import pandas as pd

from city.folder import write_display, write_level, write_sensors, write_units
from city.model import City, load_city
from geo.boundaries import prepare_level
from geo.placement import place_sensors, place_units

DEFAULT_SENSORS = 2500
DEFAULT_SEED = 20261121


def write_boundaries(folder: Path, levels: Sequence[tuple[str, gpd.GeoDataFrame]]) -> dict[str, gpd.GeoDataFrame]:
    """Validate levels top → bottom (each against the one above) and write them."""
    prepared: dict[str, gpd.GeoDataFrame] = {}
    parent = None
    for level, frame in levels:
        units = prepare_level(frame, level, parent).units
        write_level(folder, level, units)
        prepared[level] = parent = units
    return prepared


def coverage_areas(boundaries: dict[str, gpd.GeoDataFrame], levels: Sequence[str]) -> pd.Series:
    """The area a station covers, per lowest-level code: its parent, or itself on a one-level city."""
    lowest = boundaries[levels[-1]]
    if len(levels) == 1:
        return pd.Series(lowest.index, index=lowest.index)
    return lowest["parent"]


def write_synthetic_inventory(
    folder: Path,
    boundaries: dict[str, gpd.GeoDataFrame],
    levels: Sequence[str],
    *,
    sensors: int = DEFAULT_SENSORS,
    seed: int = DEFAULT_SEED,
    lowest_extra: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Place and write ``sensors.csv`` and ``units.csv``.

    ``lowest_extra`` may add columns to the lowest level for the placement (e.g. a
    ``noise_zone`` hint per unit).
    """
    lowest = boundaries[levels[-1]]
    if lowest_extra is not None:
        lowest = lowest.join(lowest_extra)
    placed_sensors = place_sensors(lowest, sensors, seed)
    placed_units = place_units(lowest, coverage_areas(boundaries, levels), seed)
    write_sensors(folder, placed_sensors)
    write_units(folder, placed_units)
    return placed_sensors, placed_units


def finish(folder: Path) -> City:
    """Load the finished folder (validating all of it) and write its display geometries."""
    city = load_city(folder)
    write_display(folder, city.boundaries, city.levels)
    return city
