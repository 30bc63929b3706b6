"""The city folder, read and checked: boundaries, hierarchy, sensors, units, categories.

A city folder (``data/cities/<id>/``, see ``data/cities/README.md``) holds ``city.toml``,
``boundaries/<level>.geojson`` for each level top → bottom, ``sensors.csv``,
``units.csv`` and ``categories.toml``. :func:`load_city` reads all of it and raises
:class:`CityError` with one line naming the file and the problem.
"""

from __future__ import annotations

import math
import re
import tomllib
import zoneinfo
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.boundaries import BoundaryError, prepare_level
from geo.locate import Locator
from geo.placement import NOISE_ZONES, SENSOR_COLUMNS, UNIT_COLUMNS
from indicators.registry import domain_ids, registry
from vocabulary.terms import ELEMENT_KINDS, SEVERITIES, UNIT_KINDS

AQI_STANDARDS = ("US-EPA-2024", "HJ633-2012")
SYNTHETIC_PARTS = ("sensors", "units")
CITY_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
LEVEL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
METRIC_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# Sensor and unit ids become MQTT topic levels: no '/', '+', '#', spaces or controls.
DEVICE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# Display payload budgets (GeoJSON bytes) for the top level, middle levels and the lowest: what
# the maps draw (a fill per unit) and every wall screen loads. About 30 m of detail for NYC,
# finer than a wall screen shows a city, and what a browser draws in well under a second.
TOP_LEVEL_BUDGET = 120_000
MIDDLE_LEVEL_BUDGET = 200_000
LOWEST_LEVEL_BUDGET = 320_000


class CityError(ValueError):
    """A city folder that cannot be used, with one line saying where and why."""


@dataclass(frozen=True)
class Category:
    """An incident category from ``categories.toml``."""

    key: str
    name: str
    name_zh: str | None
    domain: str
    sla_minutes: dict[str, int]
    # True: the category of the alarms the indicators raise in its domain (docs/vital-signs.md
    # §4.10), never offered for a person's report; false: a hotline/patrol category.
    sensor_alarm: bool = False
    # The kinds of city element (vocabulary.terms.ELEMENT_KINDS) an officer wants to see nearest to
    # an incident of this category on the dispatch page: hydrants and fire stations for a fire.
    elements: tuple[str, ...] = ()


@dataclass(frozen=True)
class CityConfig:
    """What ``city.toml`` says."""

    id: str
    name: str
    name_zh: str | None
    timezone: str
    center: tuple[float, float]
    zoom: float
    aqi_standard: str
    levels: tuple[str, ...]
    synthetic: tuple[str, ...] = ()
    sources: tuple[dict[str, str], ...] = ()
    # May a sensor missing from sensors.csv register itself by sending its position? It is then
    # unverified (left out of the vital signs) until an admin accepts it; otherwise it is rejected.
    self_registration: bool = False
    basemap: BaseMapConfig | None = None  # the city's own offline base map, if it brings one


@dataclass(frozen=True)
class BaseMapConfig:
    """``[basemap]`` of ``city.toml``: a tile file the city supplies (docs/map.md "The base map")."""

    file: str  # MBTiles or PMTiles, relative to the city folder
    style: str | None = None  # vector tiles: a MapLibre style JSON (relative), whose sources cityops fills in
    attribution: str = ""  # shown on every map drawn over it ("© OpenStreetMap contributors")
    licence: str = ""


BASEMAP_KEYS = ("file", "style", "attribution", "licence")


def read_basemap_config(raw: Any, path: Path) -> BaseMapConfig | None:
    """``[basemap]`` checked: relative paths inside the city folder, text for the rest."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("file"), str):
        raise CityError(f"{path}: [basemap] needs file = \"<tile file>.pmtiles|.mbtiles\"")
    unknown = set(raw) - set(BASEMAP_KEYS)
    if unknown:
        raise CityError(f"{path}: [basemap] has unknown keys {', '.join(sorted(unknown))}")
    for key in BASEMAP_KEYS:
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            raise CityError(f"{path}: [basemap] {key} must be text")
    for key in ("file", "style"):
        value = raw.get(key)
        if value is not None and (Path(value).is_absolute() or ".." in Path(value).parts or not value.strip()):
            raise CityError(f"{path}: [basemap] {key} must be a path inside the city folder, not {value!r}")
    if not raw["file"].endswith((".pmtiles", ".mbtiles")):
        raise CityError(f"{path}: [basemap] file must be a .pmtiles or .mbtiles file")
    return BaseMapConfig(raw["file"], raw.get("style"), raw.get("attribution", ""), raw.get("licence", ""))


@dataclass(frozen=True)
class City:
    """A loaded, validated city. ``boundaries[level]`` is indexed by code."""

    config: CityConfig
    folder: Path
    boundaries: dict[str, gpd.GeoDataFrame]
    sensors: pd.DataFrame
    units: pd.DataFrame
    categories: dict[str, Category]
    repaired: dict[str, tuple[str, ...]] = field(default_factory=dict)
    layers: dict[str, Any] = field(default_factory=dict)  # id → city.layers.Layer (its element layers)

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def levels(self) -> tuple[str, ...]:
        return self.config.levels

    @property
    def lowest_level(self) -> str:
        return self.config.levels[-1]

    @cached_property
    def locator(self) -> Locator:
        return Locator([(level, self.boundaries[level]) for level in self.levels])

    def level_of(self, code: str) -> str:
        """The level a unit code belongs to (codes are unique across levels)."""
        for level in self.levels:
            if code in self.boundaries[level].index:
                return level
        raise KeyError(code)

    def children(self, code: str) -> gpd.GeoDataFrame:
        """The units one level below ``code`` (empty on the lowest level)."""
        position = self.levels.index(self.level_of(code))
        if position == len(self.levels) - 1:
            return self.boundaries[self.lowest_level].iloc[0:0]
        below = self.boundaries[self.levels[position + 1]]
        return below[below["parent"] == code]

    def lineage(self, code: str) -> list[tuple[str, str]]:
        """``(level, code)`` from the top level down to ``code``: the breadcrumb."""
        level = self.level_of(code)
        chain = [(level, code)]
        position = self.levels.index(level)
        while position > 0:
            code = self.boundaries[self.levels[position]].at[code, "parent"]
            position -= 1
            chain.append((self.levels[position], code))
        return chain[::-1]


def display_budget(levels: tuple[str, ...], level: str) -> int:
    """GeoJSON size budget in bytes for drawing ``level`` of a city with ``levels``."""
    if level == levels[0]:
        return TOP_LEVEL_BUDGET
    return LOWEST_LEVEL_BUDGET if level == levels[-1] else MIDDLE_LEVEL_BUDGET


def _read_toml(path: Path, missing: str) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CityError(f"{path}: {missing}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise CityError(f"{path}: not valid TOML ({error})") from None


def read_city_config(path: Path) -> CityConfig:
    """Parse and check ``city.toml``."""
    raw = _read_toml(path, "not found (every city folder needs a city.toml)")

    def need(key: str, kind: type | tuple[type, ...]) -> Any:
        if key not in raw:
            raise CityError(f"{path}: missing key {key!r}")
        if not isinstance(raw[key], kind):
            raise CityError(f"{path}: {key!r} has the wrong type")
        return raw[key]

    city_id = need("id", str)
    if not CITY_ID.match(city_id):
        raise CityError(f"{path}: id {city_id!r} must be lower-case letters, digits, '-' or '_'")
    timezone = need("timezone", str)
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise CityError(f"{path}: unknown time zone {timezone!r}") from None
    center = need("center", list)
    if len(center) != 2 or not all(isinstance(v, int | float) and math.isfinite(v) for v in center):
        raise CityError(f"{path}: center must be [lon, lat]")
    if not (-180 <= center[0] <= 180 and -90 <= center[1] <= 90):
        raise CityError(f"{path}: center {center} is not a longitude/latitude pair")
    aqi_standard = need("aqi_standard", str)
    if aqi_standard not in AQI_STANDARDS:
        raise CityError(f"{path}: aqi_standard must be one of {', '.join(AQI_STANDARDS)}")
    levels = need("levels", list)
    if not levels or not all(isinstance(v, str) and LEVEL_NAME.match(v) for v in levels):
        raise CityError(f"{path}: levels must be a non-empty list of lower-case names")
    if len(set(levels)) != len(levels):
        raise CityError(f"{path}: a level is named twice")
    synthetic = raw.get("synthetic", [])
    if not isinstance(synthetic, list) or not set(synthetic) <= set(SYNTHETIC_PARTS):
        raise CityError(f"{path}: synthetic may list {', '.join(SYNTHETIC_PARTS)}")
    sources = raw.get("sources", [])
    if not isinstance(sources, list) or not all(isinstance(s, dict) for s in sources):
        raise CityError(f"{path}: [[sources]] must be tables")
    self_registration = raw.get("self_registration", False)
    if not isinstance(self_registration, bool):
        raise CityError(f"{path}: self_registration must be true or false")
    name_zh = raw.get("name_zh")
    return CityConfig(
        id=city_id,
        name=need("name", str),
        name_zh=name_zh if isinstance(name_zh, str) else None,
        timezone=timezone,
        center=(float(center[0]), float(center[1])),
        zoom=float(need("zoom", int | float)),
        aqi_standard=aqi_standard,
        levels=tuple(levels),
        synthetic=tuple(synthetic),
        sources=tuple(sources),
        self_registration=self_registration,
        basemap=read_basemap_config(raw.get("basemap"), path),
    )


def read_categories(path: Path) -> dict[str, Category]:
    """Parse and check ``categories.toml``: one table per incident category."""
    raw = _read_toml(path, "not found")
    if not raw:
        raise CityError(f"{path}: no categories")
    categories = {}
    for key, table in raw.items():
        where = f"{path}: category {key!r}"
        if not isinstance(table, dict):
            raise CityError(f"{where} must be a table")
        if not isinstance(table.get("name"), str) or not table["name"].strip():
            raise CityError(f"{where} needs a name")
        if table.get("domain") not in domain_ids():
            raise CityError(f"{where}: domain must be one of {', '.join(domain_ids())}")
        sla = table.get("sla_minutes")
        if not isinstance(sla, dict) or set(sla) != set(SEVERITIES):
            raise CityError(f"{where}: sla_minutes needs exactly {', '.join(SEVERITIES)}")
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in sla.values()):
            raise CityError(f"{where}: sla_minutes must be positive whole minutes")
        sensor_alarm = table.get("sensor_alarm", False)
        if not isinstance(sensor_alarm, bool):
            raise CityError(f"{where}: sensor_alarm must be true or false")
        if sensor_alarm and table["domain"] not in registry().measured_domains:
            raise CityError(f"{where}: sensor_alarm needs a domain that sensors measure, not {table['domain']!r}")
        if sensor_alarm and (twin := alarm_categories(categories).get(table["domain"])):
            # One alarm category per domain: which one an alarm files under must not depend on order.
            raise CityError(f"{where}: {twin!r} is already the sensor_alarm category of domain {table['domain']!r}")
        elements = table.get("elements", [])
        if not isinstance(elements, list) or not set(elements) <= set(ELEMENT_KINDS):
            raise CityError(f"{where}: elements must list some of {', '.join(ELEMENT_KINDS)}")
        name_zh = table.get("name_zh")
        categories[key] = Category(
            key, table["name"], name_zh if isinstance(name_zh, str) else None, table["domain"], dict(sla),
            sensor_alarm, tuple(dict.fromkeys(elements)),
        )
    return categories


def alarm_categories(categories: dict[str, Category]) -> dict[str, str]:
    """Domain → the key of its ``sensor_alarm`` category: where a sensor's alarm in that domain is filed."""
    return {category.domain: key for key, category in categories.items() if category.sensor_alarm}


def report_categories(categories: dict[str, Category]) -> dict[str, Category]:
    """The categories a person's report may take (hotline, patrol, the dispatch form): all but sensor alarms."""
    return {key: category for key, category in categories.items() if not category.sensor_alarm}


def read_boundaries(
    folder: Path, levels: tuple[str, ...]
) -> tuple[dict[str, gpd.GeoDataFrame], dict[str, tuple[str, ...]]]:
    """Read and validate every level, top → bottom; codes must be unique across levels."""
    boundaries: dict[str, gpd.GeoDataFrame] = {}
    repaired: dict[str, tuple[str, ...]] = {}
    seen: dict[str, str] = {}
    parent = None
    for level in levels:
        path = folder / "boundaries" / f"{level}.geojson"
        if not path.is_file():
            raise CityError(f"{path}: not found (city.toml lists level {level!r})")
        try:
            frame = gpd.read_file(path)
            prepared = prepare_level(frame, level, parent)
        except BoundaryError as error:
            raise CityError(f"{path}: {error}") from None
        except Exception as error:  # pyogrio raises several types for unreadable files
            raise CityError(f"{path}: cannot read ({error})") from None
        for code in prepared.units.index:
            if code in seen:
                raise CityError(
                    f"{path}: code {code!r} is also used at level {seen[code]!r}; codes must be unique across levels"
                )
            seen[code] = level
        boundaries[level] = prepared.units
        repaired[level] = prepared.repaired
        parent = prepared.units
    return boundaries, repaired


def _read_csv(path: Path, columns: list[str]) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise CityError(f"{path}: not found") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise CityError(f"{path}: not a readable CSV ({error})") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise CityError(f"{path}: missing columns {', '.join(missing)}")
    return frame[columns]


def _coordinates(frame: pd.DataFrame, path: Path, id_column: str) -> pd.DataFrame:
    for column in ("lon", "lat"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    bad = ~(
        np.isfinite(frame["lon"])
        & np.isfinite(frame["lat"])
        & frame["lon"].between(-180, 180)
        & frame["lat"].between(-90, 90)
    )
    if bad.any():
        raise CityError(f"{path}: bad coordinates for {_first(frame.loc[bad, id_column])}")
    return frame


def _first(values: pd.Series, most: int = 5) -> str:
    items = [repr(v) for v in values.head(most)]
    return ", ".join(items) + (f" and {len(values) - most} more" if len(values) > most else "")


def _check_ids(frame: pd.DataFrame, column: str, path: Path) -> None:
    bad = ~frame[column].str.match(DEVICE_ID)
    if bad.any():
        raise CityError(f"{path}: ids must be 1–64 of A-Z a-z 0-9 _ . - : {_first(frame.loc[bad, column])}")
    duplicated = frame.loc[frame[column].duplicated(), column]
    if len(duplicated):
        raise CityError(f"{path}: duplicate ids {_first(duplicated)}")


def read_sensors(path: Path) -> pd.DataFrame:
    """Parse and check ``sensors.csv``."""
    sensors = _read_csv(path, SENSOR_COLUMNS)
    _check_ids(sensors, "sensor_id", path)
    metrics = sensors["metrics"].str.split(";")
    bad_metrics = metrics.map(lambda names: not names or not all(METRIC_NAME.match(n) for n in names))
    if bad_metrics.any():
        raise CityError(
            f"{path}: metrics must be ';'-separated lower-case names: {_first(sensors.loc[bad_metrics, 'sensor_id'])}"
        )
    sensors = _coordinates(sensors, path, "sensor_id")
    interval = pd.to_numeric(sensors["expected_interval_s"], errors="coerce")
    if not (interval > 0).all() or not (interval == interval.round()).all():
        raise CityError(f"{path}: expected_interval_s must be a positive whole number of seconds")
    sensors["expected_interval_s"] = interval.astype(int)
    bad_zone = ~sensors["noise_zone"].isin(("", *NOISE_ZONES))
    if bad_zone.any():
        raise CityError(
            f"{path}: noise_zone must be empty or one of {', '.join(NOISE_ZONES)}: "
            f"{_first(sensors.loc[bad_zone, 'sensor_id'])}"
        )
    return sensors


def read_units(path: Path) -> pd.DataFrame:
    """Parse and check ``units.csv``."""
    units = _read_csv(path, UNIT_COLUMNS)
    _check_ids(units, "unit_id", path)
    bad_kind = ~units["kind"].isin(UNIT_KINDS)
    if bad_kind.any():
        raise CityError(
            f"{path}: kind must be one of {', '.join(UNIT_KINDS)}: {_first(units.loc[bad_kind, 'unit_id'])}"
        )
    return _coordinates(units, path, "unit_id")


def load_city(folder: Path) -> City:
    """Read and validate a whole city folder."""
    from city.layers import read_layers  # it writes city folders too, with city.folder
    folder = Path(folder)
    if not folder.is_dir():
        raise CityError(f"{folder}: no such city folder")
    config = read_city_config(folder / "city.toml")
    boundaries, repaired = read_boundaries(folder, config.levels)
    city = City(
        config=config,
        folder=folder,
        boundaries=boundaries,
        sensors=read_sensors(folder / "sensors.csv"),
        units=read_units(folder / "units.csv"),
        categories=read_categories(folder / "categories.toml"),
        repaired=repaired,
        layers=read_layers(folder),
    )
    for name, frame, id_column in (("sensors.csv", city.sensors, "sensor_id"), ("units.csv", city.units, "unit_id")):
        located = city.locator.locate(frame["lon"].to_numpy(), frame["lat"].to_numpy())
        outside = located[city.levels[0]].isna().to_numpy()
        if outside.any():
            raise CityError(f"{folder / name}: outside the city's boundaries: {_first(frame.loc[outside, id_column])}")
    for layer in city.layers.values():
        located = city.locator.locate(layer.elements["lon"].to_numpy(), layer.elements["lat"].to_numpy())
        outside = located[city.levels[0]].isna().to_numpy()
        if outside.any():
            raise CityError(f"{folder / 'layers' / layer.id}.geojson: outside the city's boundaries: "
                            f"{_first(layer.elements.loc[outside, 'element_id'])}")
    return city
