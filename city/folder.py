"""Writing a city folder: city.toml, boundaries, sensors, units and display geometries.

Files are written to a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import geopandas as gpd
import pandas as pd

from city.model import CityConfig, display_budget
from geo.geojson import feature_collection
from geo.placement import SENSOR_COLUMNS, UNIT_COLUMNS
from geo.simplify import DisplayLevel, simplify_to_budget

BOUNDARY_PROPERTIES = ("name", "name_zh", "parent", "population", "population_estimated")


def write_text_atomically(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` via a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; these files are for everyone
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_level(folder: Path, level: str, units: gpd.GeoDataFrame) -> Path:
    """``boundaries/<level>.geojson`` from a prepared level (indexed by code)."""
    frame = units.copy()
    if "population" in frame.columns:
        frame["population"] = frame["population"].round()
    if "population_estimated" in frame.columns:
        # Written only where true: absent means a counted (or no) population.
        estimated = frame["population_estimated"].astype(bool) & frame["population"].notna()
        frame["population_estimated"] = estimated.map({True: True, False: None})
    path = folder / "boundaries" / f"{level}.geojson"
    write_text_atomically(path, feature_collection(frame, BOUNDARY_PROPERTIES))
    return path


def write_sensors(folder: Path, sensors: pd.DataFrame) -> Path:
    path = folder / "sensors.csv"
    write_text_atomically(path, sensors[SENSOR_COLUMNS].to_csv(index=False, lineterminator="\n"))
    return path


def write_units(folder: Path, units: pd.DataFrame) -> Path:
    path = folder / "units.csv"
    write_text_atomically(path, units[UNIT_COLUMNS].to_csv(index=False, lineterminator="\n"))
    return path


def _toml_value(value: object) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return repr(float(value))  # float() unwraps numpy scalars, whose repr is not TOML
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def city_toml(config: CityConfig) -> str:
    """The text of ``city.toml`` for ``config``."""
    lines = [
        f"id = {_toml_value(config.id)}",
        f"name = {_toml_value(config.name)}",
    ]
    if config.name_zh:
        lines.append(f"name_zh = {_toml_value(config.name_zh)}")
    lines += [
        f"timezone = {_toml_value(config.timezone)}",
        f"center = {_toml_value([round(config.center[0], 5), round(config.center[1], 5)])}   # lon, lat",
        f"zoom = {_toml_value(round(config.zoom, 1))}",
        f"aqi_standard = {_toml_value(config.aqi_standard)}",
        f"levels = {_toml_value(list(config.levels))}   # top → bottom",
        f"synthetic = {_toml_value(list(config.synthetic))}",
    ]
    if config.self_registration:
        lines.append("self_registration = true   # unknown sensors with a position register, unverified")
    if config.basemap is not None:
        lines += ["", "[basemap]"] + [f"{key} = {_toml_value(value)}" for key, value in vars(config.basemap).items()
                                      if value]
    for source in config.sources:
        lines += ["", "[[sources]]"] + [f"{k} = {_toml_value(v)}" for k, v in source.items()]
    return "\n".join(lines) + "\n"


def write_config(folder: Path, config: CityConfig) -> Path:
    path = folder / "city.toml"
    write_text_atomically(path, city_toml(config))
    return path


def display_path(folder: Path, level: str) -> Path:
    return folder / "display" / f"{level}.geojson"


def write_display(
    folder: Path, boundaries: dict[str, gpd.GeoDataFrame], levels: tuple[str, ...]
) -> dict[str, DisplayLevel]:
    """Simplified geometries per level within the payload budgets, in ``display/``."""
    made = {}
    for level in levels:
        display = simplify_to_budget(boundaries[level], display_budget(levels, level))
        write_text_atomically(display_path(folder, level), display.geojson)
        made[level] = display
    return made
