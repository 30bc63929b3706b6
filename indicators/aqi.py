"""Air quality index (docs/vital-signs.md §3): HJ 633-2012 (China) and the US EPA AQI (2024).

The numbers of each standard (breakpoints, categories, rounding, truncation, fall-back tables,
molar masses) live in versioned tables, ``indicators/standards/*.toml``; this module is the
generic reader and calculator, so a revision of a standard is a config change. The tables are
read once, from the package, and validated as they are read.

Inputs are always mass concentrations, whatever the standard: ``pm25``, ``pm10``, ``so2``,
``no2``, ``o3_1h`` (1 h mean O3), ``o3_8h`` (8 h mean O3) in µg/m³ and ``co`` in mg/m³. For the
US EPA the gases are converted to ppb / ppm at 25 °C and 1 atm (24.45 L/mol) before the lookup.

``averaging`` says which report is computed, and so which table each key is looked up in
(the ``[averaging]`` sections of the TOML files hold the mapping):

- HJ 633-2012, ``"24h"`` (daily report): 24 h tables for PM2.5, PM10, SO2, NO2, CO; the O3 1 h and
  8 h tables for ``o3_1h`` / ``o3_8h``.
- HJ 633-2012, ``"1h"`` (real-time hourly report): 1 h tables for SO2, NO2, CO (Table 1 note 1
  allows them only here); PM2.5 and PM10 have no 1 h limits and use the 24 h tables (give them
  the 24 h moving mean); O3 as in the daily report.
- US-EPA-2024, both: the EPA defines one averaging period per pollutant (24 h PM, 8 h CO, 1 h
  SO2 and NO2, 8 h and 1 h O3), so both reports use the same tables; ``"24h"`` means the caller
  gives the daily values (24 h PM means, daily maxima of the 1 h / 8 h means), ``"1h"`` the
  latest ones (NowCast or moving means).

Fall-back rules: a concentration above the top of a table that names ``beyond_top`` is looked
up in that table (HJ: SO2 1 h above 800 µg/m³ on the 24 h table, O3 8 h above 800 µg/m³ on the
1 h table; EPA: SO2 1 h from 305 ppb on the 24 h table, O3 8 h above 0.200 ppm on the 1 h
table), never scoring below the top of its own table, so an index never falls as the
concentration rises (this matters for EPA O3: 0.201 ppm sits low in the 1 h table). With one
value per pollutant, the fall-back looks up the same value, where the standards ask for the
other average (a lower bound: a 1 h mean of SO2 is not the 24 h mean). EPA 1 h O3 defines
indices only from 0.125 ppm; below that ``o3_1h`` gives no index and is left out.
"""

from __future__ import annotations

import math
import numbers
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from indicators.levels import AMBER, GREEN, RED

# The input keys, in the order results list them (API: docs/vital-signs.md §3).
AQI_KEYS: tuple[str, ...] = ("pm25", "pm10", "so2", "no2", "co", "o3_1h", "o3_8h")
AVERAGINGS: tuple[str, ...] = ("24h", "1h")
DEFAULT_STANDARD = "HJ633-2012"

# Unit each key is given in, and the gas whose molar mass converts it (None: particles).
_INPUT_UNITS: dict[str, str] = {key: "mg/m3" if key == "co" else "ug/m3" for key in AQI_KEYS}
_GAS_OF_KEY: dict[str, str | None] = {
    "pm25": None,
    "pm10": None,
    "so2": "so2",
    "no2": "no2",
    "co": "co",
    "o3_1h": "o3",
    "o3_8h": "o3",
}
_MASS_UNITS_UG: dict[str, float] = {"ug/m3": 1.0, "mg/m3": 1000.0}  # µg/m³ per unit
_MIXING_UNITS_PPB: dict[str, float] = {"ppb": 1.0, "ppm": 1000.0}  # ppb per unit
_UNITS = (*_MASS_UNITS_UG, *_MIXING_UNITS_PPB)

AQI_MAX = 500
# AQI → level, docs/vital-signs.md §2 (air: amber at ≥ 101, red at ≥ 201).
AQI_AMBER_FROM = 101
AQI_RED_FROM = 201
# §3: a primary pollutant is named only when the AQI is above 50.
PRIMARY_ABOVE = 50

# Guards float noise (9.1 × 10 = 90.999…, 50/325 × 325 = 50.000…01) before floor/ceil, far
# below any meaningful digit of a concentration or an index.
_NOISE_DECIMALS = 6


@dataclass(frozen=True)
class AqiResult:
    """The AQI of one set of concentrations under one standard.

    ``aqi`` is the highest sub-index (0–500); ``iaqi`` the sub-index of every key that defines
    one (keys in ``AQI_KEYS`` order); ``primary`` the keys whose sub-index equals the AQI, empty
    when the AQI is 50 or less; ``category`` the standard's word for the AQI; ``level`` 0 green,
    1 amber (AQI ≥ 101), 2 red (AQI ≥ 201); ``capped`` whether a concentration was beyond the
    top breakpoint, its sub-index then being 500.
    """

    aqi: int
    iaqi: dict[str, int]
    primary: list[str]
    category: str
    level: int
    capped: bool


@dataclass(frozen=True)
class AqiTable:
    """One breakpoint table: bands ``[c_lo, c_hi] → [index_lo, index_hi]`` in ``unit``."""

    name: str
    unit: str
    c_lo: np.ndarray
    c_hi: np.ndarray
    index_lo: np.ndarray
    index_hi: np.ndarray
    truncate_decimals: int | None
    beyond_top: str | None


@dataclass(frozen=True)
class AqiStandard:
    """A standard as read from its TOML file (see ``indicators/standards/``)."""

    id: str
    name: str
    source: str
    rounding: str  # "up" (ceiling) or "nearest" (halves up)
    categories: tuple[tuple[int, str], ...]  # (up_to, name), ascending, last up_to = 500
    averaging: dict[str, dict[str, str]]  # averaging → key → table name
    tables: dict[str, AqiTable]
    molar_volume_l_per_mol: float | None
    molar_mass_g_per_mol: dict[str, float]


# --- reading the tables ------------------------------------------------------------------------


class _Reader:
    """Checks one parsed TOML document; every error names the file and the field."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, field: str, problem: str) -> ValueError:
        return ValueError(f"AQI standard {self.source}: {field}: {problem}")

    def get(self, mapping: Mapping[str, Any], key: str, field: str, kind: type | tuple[type, ...]) -> Any:
        if key not in mapping:
            raise self.fail(field, "missing")
        value = mapping[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise self.fail(field, f"expected {_kind_name(kind)}, got {value!r}")
        return value

    def text(self, mapping: Mapping[str, Any], key: str, field: str) -> str:
        value = self.get(mapping, key, field, str)
        if not value.strip():
            raise self.fail(field, "empty")
        return value

    def number(self, value: Any, field: str) -> float:
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            raise self.fail(field, f"expected a finite number, got {value!r}")
        return float(value)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {str: "a string", int: "an integer", float: "a number", list: "a list", dict: "a table"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def parse_standard(text: str, source: str) -> AqiStandard:
    """Read and validate one standard from TOML ``text``; ``source`` names it in errors.

    Raises ``ValueError`` naming ``source`` and the offending field when the text is not TOML,
    a field is missing or of the wrong type, breakpoints are not monotone, a band's index range
    does not fit 0–500, a key maps to no table, or a unit cannot be reached from the input unit.
    """
    read = _Reader(source)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise read.fail("file", f"not valid TOML ({error})") from error

    standard_id = read.text(doc, "id", "id")
    name = read.text(doc, "name", "name")
    document = read.text(doc, "source", "source")
    rounding = read.text(doc, "rounding", "rounding")
    if rounding not in ("up", "nearest"):
        raise read.fail("rounding", f"expected 'up' or 'nearest', got {rounding!r}")

    categories = _read_categories(read, read.get(doc, "categories", "categories", list))
    conversion = doc.get("conversion")
    molar_volume, molar_mass = _read_conversion(read, conversion) if conversion is not None else (None, {})
    tables = _read_tables(read, read.get(doc, "tables", "tables", dict))
    averaging = _read_averaging(read, read.get(doc, "averaging", "averaging", dict), tables)
    for report, mapping in averaging.items():
        for key, table_name in mapping.items():
            _check_units_reachable(read, f"averaging.{report}.{key}", key, table_name, tables, molar_mass)
    return AqiStandard(
        id=standard_id,
        name=name,
        source=document,
        rounding=rounding,
        categories=categories,
        averaging=averaging,
        tables=tables,
        molar_volume_l_per_mol=molar_volume,
        molar_mass_g_per_mol=molar_mass,
    )


def _read_categories(read: _Reader, raw: list[Any]) -> tuple[tuple[int, str], ...]:
    if not raw:
        raise read.fail("categories", "empty")
    categories: list[tuple[int, str]] = []
    for position, entry in enumerate(raw):
        field = f"categories[{position}]"
        if not isinstance(entry, dict):
            raise read.fail(field, f"expected a table {{ up_to = …, name = … }}, got {entry!r}")
        up_to = read.get(entry, "up_to", f"{field}.up_to", int)
        category = read.text(entry, "name", f"{field}.name")
        if categories and up_to <= categories[-1][0]:
            raise read.fail(f"{field}.up_to", f"{up_to} does not rise above {categories[-1][0]}")
        if up_to < 0:
            raise read.fail(f"{field}.up_to", f"{up_to} is negative")
        categories.append((up_to, category))
    if categories[-1][0] != AQI_MAX:
        raise read.fail(f"categories[{len(raw) - 1}].up_to", f"the last category must reach {AQI_MAX}")
    return tuple(categories)


def _read_conversion(read: _Reader, raw: Any) -> tuple[float, dict[str, float]]:
    if not isinstance(raw, dict):
        raise read.fail("conversion", f"expected a table, got {raw!r}")
    volume = read.number(raw.get("molar_volume_l_per_mol"), "conversion.molar_volume_l_per_mol")
    if volume <= 0:
        raise read.fail("conversion.molar_volume_l_per_mol", f"must be positive, got {volume}")
    masses_raw = read.get(raw, "molar_mass_g_per_mol", "conversion.molar_mass_g_per_mol", dict)
    masses: dict[str, float] = {}
    for gas, mass in masses_raw.items():
        field = f"conversion.molar_mass_g_per_mol.{gas}"
        masses[gas] = read.number(mass, field)
        if masses[gas] <= 0:
            raise read.fail(field, f"must be positive, got {mass}")
    return volume, masses


def _read_tables(read: _Reader, raw: dict[str, Any]) -> dict[str, AqiTable]:
    if not raw:
        raise read.fail("tables", "empty")
    tables = {name: _read_table(read, name, spec) for name, spec in raw.items()}
    for table in tables.values():
        field = f"tables.{table.name}.beyond_top"
        if table.beyond_top is None:
            if table.index_hi[-1] != AQI_MAX:
                raise read.fail(
                    f"tables.{table.name}.bands",
                    f"the top band ends at {table.index_hi[-1]:g}; it must reach {AQI_MAX} or the table must name "
                    "`beyond_top`",
                )
            continue
        if table.beyond_top not in tables:
            raise read.fail(field, f"no table named {table.beyond_top!r}")
        if tables[table.beyond_top].unit != table.unit:
            raise read.fail(field, f"{table.beyond_top!r} is in {tables[table.beyond_top].unit}, not {table.unit}")
        seen = {table.name}
        follow = tables[table.beyond_top]
        while follow.beyond_top is not None:
            if follow.name in seen:
                raise read.fail(field, f"fall-back tables form a loop through {follow.name!r}")
            seen.add(follow.name)
            follow = tables[follow.beyond_top]
    return tables


def _read_table(read: _Reader, name: str, spec: Any) -> AqiTable:
    prefix = f"tables.{name}"
    if not isinstance(spec, dict):
        raise read.fail(prefix, f"expected a table, got {spec!r}")
    unknown = set(spec) - {"unit", "bands", "truncate_decimals", "beyond_top"}
    if unknown:
        raise read.fail(f"{prefix}.{sorted(unknown)[0]}", "unknown field")
    unit = read.text(spec, "unit", f"{prefix}.unit")
    if unit not in _UNITS:
        raise read.fail(f"{prefix}.unit", f"unknown unit {unit!r}; known: {', '.join(_UNITS)}")
    decimals = None
    if "truncate_decimals" in spec:
        decimals = read.get(spec, "truncate_decimals", f"{prefix}.truncate_decimals", int)
        if not 0 <= decimals <= 9:
            raise read.fail(f"{prefix}.truncate_decimals", f"expected 0 to 9, got {decimals}")
    beyond_top = read.text(spec, "beyond_top", f"{prefix}.beyond_top") if "beyond_top" in spec else None

    raw_bands = read.get(spec, "bands", f"{prefix}.bands", list)
    if not raw_bands:
        raise read.fail(f"{prefix}.bands", "empty")
    bands: list[tuple[float, float, float, float]] = []
    for position, band in enumerate(raw_bands):
        field = f"{prefix}.bands[{position}]"
        if not isinstance(band, list) or len(band) != 4:
            raise read.fail(field, f"expected [C_lo, C_hi, index_lo, index_hi], got {band!r}")
        c_lo, c_hi, i_lo, i_hi = (read.number(value, field) for value in band)
        if not 0 <= c_lo < c_hi:
            raise read.fail(field, f"concentrations must satisfy 0 <= C_lo < C_hi, got {c_lo:g}, {c_hi:g}")
        if not 0 <= i_lo < i_hi <= AQI_MAX:
            raise read.fail(field, f"indices must satisfy 0 <= lo < hi <= {AQI_MAX}, got {i_lo:g}, {i_hi:g}")
        if i_lo != int(i_lo) or i_hi != int(i_hi):
            raise read.fail(field, f"indices must be whole numbers, got {i_lo:g}, {i_hi:g}")
        if decimals is not None and any(round(c, decimals) != c for c in (c_lo, c_hi)):
            raise read.fail(field, f"breakpoints must have at most {decimals} decimals (truncate_decimals)")
        if bands:
            prev_c_hi, prev_i_hi = bands[-1][1], bands[-1][3]
            if c_lo < prev_c_hi:
                raise read.fail(field, f"C_lo {c_lo:g} is below the previous band's C_hi {prev_c_hi:g}")
            if i_lo < prev_i_hi:
                raise read.fail(field, f"index_lo {i_lo:g} is below the previous band's index_hi {prev_i_hi:g}")
            if c_lo == prev_c_hi and i_lo != prev_i_hi:
                raise read.fail(
                    field, f"C_lo {c_lo:g} equals the previous C_hi but index_lo {i_lo:g} is not {prev_i_hi:g}"
                )
        bands.append((c_lo, c_hi, i_lo, i_hi))
    columns = np.array(bands, dtype=float).T
    return AqiTable(name, unit, *columns, truncate_decimals=decimals, beyond_top=beyond_top)


def _read_averaging(read: _Reader, raw: dict[str, Any], tables: dict[str, AqiTable]) -> dict[str, dict[str, str]]:
    for report in raw:
        if report not in AVERAGINGS:
            raise read.fail(f"averaging.{report}", f"unknown averaging; known: {', '.join(AVERAGINGS)}")
    averaging: dict[str, dict[str, str]] = {}
    for report in AVERAGINGS:
        mapping = read.get(raw, report, f"averaging.{report}", dict)
        for key in mapping:
            if key not in AQI_KEYS:
                raise read.fail(f"averaging.{report}.{key}", f"unknown key; known: {', '.join(AQI_KEYS)}")
        averaging[report] = {}
        for key in AQI_KEYS:
            table_name = read.text(mapping, key, f"averaging.{report}.{key}")
            if table_name not in tables:
                raise read.fail(f"averaging.{report}.{key}", f"no table named {table_name!r}")
            averaging[report][key] = table_name
    return averaging


def _check_units_reachable(
    read: _Reader, field: str, key: str, table_name: str, tables: dict[str, AqiTable], molar_mass: dict[str, float]
) -> None:
    unit = tables[table_name].unit
    if unit in _MASS_UNITS_UG:
        return
    gas = _GAS_OF_KEY[key]
    if gas is None:
        raise read.fail(field, f"{key} is a particle mass; table {table_name!r} in {unit} cannot be used")
    if gas not in molar_mass:
        raise read.fail(field, f"table {table_name!r} is in {unit}: conversion.molar_mass_g_per_mol.{gas} is missing")


@cache
def _packaged_standards() -> dict[str, AqiStandard]:
    standards: dict[str, AqiStandard] = {}
    folder = resources.files("indicators").joinpath("standards")
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if not entry.name.endswith(".toml"):
            continue
        standard = parse_standard(entry.read_text(encoding="utf-8"), f"indicators/standards/{entry.name}")
        if standard.id in standards:
            raise ValueError(f"AQI standard indicators/standards/{entry.name}: id: {standard.id!r} is used twice")
        standards[standard.id] = standard
    return standards


def available_standards() -> tuple[str, ...]:
    """Ids of the packaged standards, e.g. ``("HJ633-2012", "US-EPA-2024")``."""
    return tuple(sorted(_packaged_standards()))


def load_standard(standard: str) -> AqiStandard:
    """The packaged standard with id ``standard``; ``ValueError`` naming it when unknown."""
    standards = _packaged_standards()
    if standard not in standards:
        raise ValueError(f"unknown AQI standard {standard!r}; known: {', '.join(sorted(standards))}")
    return standards[standard]


def _check_averaging(averaging: str) -> None:
    if averaging not in AVERAGINGS:
        raise ValueError(f"unknown averaging {averaging!r}; known: {', '.join(AVERAGINGS)}")


# --- computing ----------------------------------------------------------------------------------


def _to_table_unit(values: np.ndarray, key: str, unit: str, standard: AqiStandard) -> np.ndarray:
    """``values`` (the key's input unit) in ``unit``; gases at 25 °C, 1 atm via the molar volume."""
    micrograms = values * _MASS_UNITS_UG[_INPUT_UNITS[key]]
    if unit in _MASS_UNITS_UG:
        return micrograms / _MASS_UNITS_UG[unit]
    # Validated at load: a mixing-ratio table always has the gas's molar mass.
    gas = _GAS_OF_KEY[key]
    assert gas is not None and standard.molar_volume_l_per_mol is not None
    ppb = micrograms * standard.molar_volume_l_per_mol / standard.molar_mass_g_per_mol[gas]
    return ppb / _MIXING_UNITS_PPB[unit]


def _truncate(values: np.ndarray, decimals: int | None) -> np.ndarray:
    if decimals is None:
        return values
    scale = 10.0**decimals
    return np.floor(np.round(values * scale, _NOISE_DECIMALS)) / scale


def _round_index(raw: np.ndarray, rounding: str) -> np.ndarray:
    raw = np.round(raw, _NOISE_DECIMALS)
    return np.ceil(raw) if rounding == "up" else np.floor(raw + 0.5)


def _iaqi(standard: AqiStandard, averaging: str, key: str, concentrations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sub-indices (float, whole numbers; NaN: not measured or not defined) and capped flags."""
    result = np.full(concentrations.shape, np.nan)
    capped = np.zeros(concentrations.shape, dtype=bool)
    floor = np.full(concentrations.shape, -np.inf)  # the top index of tables fallen back from
    pending = ~np.isnan(concentrations)
    table = standard.tables[standard.averaging[averaging][key]]
    # Huge inputs overflow to inf on conversion: they are simply beyond every table.
    with np.errstate(over="ignore", invalid="ignore"):
        while pending.any():
            values = _truncate(_to_table_unit(concentrations, key, table.unit, standard), table.truncate_decimals)
            band = np.searchsorted(table.c_hi, values, side="left")
            beyond = pending & (band == len(table.c_hi))
            fallen_back = np.isfinite(floor)
            below = pending & ~beyond & (values < table.c_lo[0]) & ~fallen_back
            inside = pending & ~beyond & ~below
            band = np.minimum(band, len(table.c_hi) - 1)
            c_lo, c_hi = table.c_lo[band], table.c_hi[band]
            i_lo, i_hi = table.index_lo[band], table.index_hi[band]
            # Between two bands (only without truncation) or below a fall-back table: its lower end.
            clipped = np.clip(values, c_lo, c_hi)
            raw = (i_hi - i_lo) * (clipped - c_lo) / (c_hi - c_lo) + i_lo
            rounded = np.maximum(_round_index(raw, standard.rounding), floor)
            result[inside] = rounded[inside]
            if table.beyond_top is None:
                result[beyond] = AQI_MAX
                capped[beyond] = True
                break
            floor[beyond] = np.maximum(floor[beyond], table.index_hi[-1])
            pending = beyond
            table = standard.tables[table.beyond_top]
    return result, capped


def _category(standard: AqiStandard, value: int) -> str:
    for up_to, name in standard.categories:
        if value <= up_to:
            return name
    raise AssertionError(f"AQI {value} above {AQI_MAX}")  # the last category reaches 500 (validated)


def _level(value: int) -> int:
    if value >= AQI_RED_FROM:
        return RED
    return AMBER if value >= AQI_AMBER_FROM else GREEN


def aqi(concentrations: Mapping[str, float], standard: str = DEFAULT_STANDARD, averaging: str = "24h") -> AqiResult:
    """The air quality index of one set of concentrations (docs/vital-signs.md §3).

    ``concentrations`` maps keys of ``AQI_KEYS`` to mass concentrations: µg/m³ for ``pm25``,
    ``pm10``, ``so2``, ``no2``, ``o3_1h``, ``o3_8h``; mg/m³ for ``co``. ``standard`` is
    ``"HJ633-2012"`` (HJ 633-2012; sub-indices rounded up) or ``"US-EPA-2024"``
    (EPA-454/B-24-002; gases converted to ppb/ppm at 25 °C, concentrations truncated, indices
    rounded to the nearest integer). ``averaging`` is ``"24h"`` (daily report) or ``"1h"``
    (real-time report); the module docstring says which table each key uses in each.

    Each sub-index is the linear interpolation within its band; the AQI is the highest.
    A concentration beyond the top breakpoint scores 500 and sets ``capped``. Keys that define
    no sub-index (EPA ``o3_1h`` below 0.125 ppm) are left out of ``iaqi``.

    Raises ``ValueError`` for no concentrations, an unknown key, standard or averaging, a
    negative or non-finite value, or when no given key defines a sub-index; ``TypeError`` for a
    value that is not a real number.
    """
    chosen = load_standard(standard)
    _check_averaging(averaging)
    if not concentrations:
        raise ValueError(f"no concentrations given; expected some of {', '.join(AQI_KEYS)}")
    for key, value in concentrations.items():
        if key not in AQI_KEYS:
            raise ValueError(f"unknown pollutant key {key!r}; known: {', '.join(AQI_KEYS)}")
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise TypeError(f"concentration of {key} must be a real number, got {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"concentration of {key} must be finite, got {value!r}")
        if value < 0:
            raise ValueError(f"concentration of {key} must not be negative, got {value!r}")

    iaqi: dict[str, int] = {}
    capped = False
    for key in AQI_KEYS:
        if key not in concentrations:
            continue
        index, key_capped = _iaqi(chosen, averaging, key, np.array([float(concentrations[key])]))
        if not np.isnan(index[0]):
            iaqi[key] = int(index[0])
            capped = capped or bool(key_capped[0])
    if not iaqi:
        starts = []
        for key in concentrations:
            table = chosen.tables[chosen.averaging[averaging][key]]
            starts.append(f"{key} is below table {table.name}, which starts at {table.c_lo[0]:g} {table.unit}")
        raise ValueError(f"no sub-index defined under {standard}: {'; '.join(starts)}")
    value = max(iaqi.values())
    primary = [key for key, index in iaqi.items() if index == value] if value > PRIMARY_ABOVE else []
    return AqiResult(
        aqi=value,
        iaqi=iaqi,
        primary=primary,
        category=_category(chosen, value),
        level=_level(value),
        capped=capped,
    )


def aqi_frame(concentrations: pd.DataFrame, standard: str = DEFAULT_STANDARD, averaging: str = "24h") -> pd.DataFrame:
    """The AQI of every row of ``concentrations``: the vectorised :func:`aqi`, same numbers.

    ``concentrations`` has one column per key of ``AQI_KEYS`` (units as in :func:`aqi`: µg/m³,
    CO mg/m³), one row per sensor or site; NaN means not measured. Returns a frame with the same
    index and the columns ``aqi`` (Int64), ``primary`` (list of keys), ``category`` (string),
    ``level`` (Int64), ``capped`` (bool) and ``iaqi_<key>`` (Int64) per input column. A row
    where no measured key defines a sub-index has ``<NA>`` AQI, category and level.

    Raises ``ValueError`` for no columns, an unknown column, standard or averaging, a
    non-numeric column, or a negative or infinite value (naming column and row).
    """
    chosen = load_standard(standard)
    _check_averaging(averaging)
    if concentrations.shape[1] == 0:
        raise ValueError(f"no concentration columns; expected some of {', '.join(AQI_KEYS)}")
    for column in concentrations.columns:
        if column not in AQI_KEYS:
            raise ValueError(f"unknown pollutant column {column!r}; known: {', '.join(AQI_KEYS)}")
    if concentrations.columns.has_duplicates:
        raise ValueError("duplicate pollutant columns")
    keys = [key for key in AQI_KEYS if key in concentrations.columns]

    n_rows = len(concentrations)
    indices = np.full((n_rows, len(keys)), np.nan)
    capped = np.zeros(n_rows, dtype=bool)
    for position, key in enumerate(keys):
        try:
            values = concentrations[key].to_numpy(dtype=float, na_value=np.nan)
        except (TypeError, ValueError) as error:
            raise ValueError(f"column {key!r} is not numeric ({error})") from error
        bad = np.isinf(values) | (values < 0)
        if bad.any():
            row = concentrations.index[np.flatnonzero(bad)[0]]
            problem = "infinite" if np.isinf(values[bad][0]) else "negative"
            raise ValueError(f"concentration of {key} at row {row!r} is {problem}: {values[bad][0]!r}")
        indices[:, position], key_capped = _iaqi(chosen, averaging, key, values)
        capped |= key_capped

    overall = np.fmax.reduce(indices, axis=1)
    known = ~np.isnan(overall)
    is_primary = (indices == overall[:, None]) & (overall > PRIMARY_ABOVE)[:, None]
    key_array = np.array(keys, dtype=object)
    up_tos = np.array([up_to for up_to, _ in chosen.categories])
    names = np.array([name for _, name in chosen.categories], dtype=object)
    category = np.full(n_rows, None, dtype=object)
    category[known] = names[np.searchsorted(up_tos, overall[known], side="left")]
    level = np.where(overall >= AQI_RED_FROM, RED, np.where(overall >= AQI_AMBER_FROM, AMBER, GREEN))

    result = pd.DataFrame(
        {
            "aqi": _int_array(overall),
            "primary": pd.Series([list(key_array[row]) for row in is_primary], dtype=object),
            "category": pd.array(category, dtype="string"),
            "level": _int_array(np.where(known, level, np.nan)),
            "capped": capped,
        }
    )
    for position, key in enumerate(keys):
        result[f"iaqi_{key}"] = _int_array(indices[:, position])
    result.index = concentrations.index
    return result


def _int_array(values: np.ndarray) -> pd.arrays.IntegerArray:
    """Whole numbers held as floats (NaN: missing) as a nullable Int64 array."""
    missing = np.isnan(values)
    return pd.arrays.IntegerArray(np.where(missing, 0, values).astype(np.int64), missing)
