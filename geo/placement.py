"""Synthetic sensor, response-unit and city-element inventories, placed plausibly and reproducibly.

No real inventory of a city's sensors or response units is available offline, so the
bundled cities generate one: every lowest-level unit gets one sensor of each kind (so
every domain can be judged everywhere), the rest go where people live, and response
units cover every area with more of them where the population is. The same seed and
boundaries always give the same inventory.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.boundaries import area_km2
from indicators.registry import registry


@dataclass(frozen=True)
class UnitKind:
    """A kind of response unit, and how many people one unit serves."""

    kind: str
    prefix: str
    label: str
    people_per_unit: int
    one_per_area: bool  # at least one in every coverage area


UNIT_KINDS: tuple[UnitKind, ...] = (
    UnitKind("fire", "FD", "Fire engine", 100_000, True),
    UnitKind("police", "PD", "Police car", 80_000, True),
    UnitKind("ambulance", "EMS", "Ambulance", 100_000, True),
    UnitKind("city_management", "CM", "City management team", 250_000, False),
    UnitKind("utility", "UT", "Utility crew", 300_000, False),
)

SENSOR_COLUMNS = ["sensor_id", "kind", "metrics", "lon", "lat", "expected_interval_s", "noise_zone"]
UNIT_COLUMNS = ["unit_id", "kind", "name", "lon", "lat"]
NOISE_ZONES = ("0", "1", "2", "3", "4a")
# Share of noise sensors standing by a trunk road (GB 3096 class 4a).
_ROADSIDE_NOISE_SHARE = 0.25
_SAFE_ID = re.compile(r"[^A-Za-z0-9_.-]")


def safe_id(code: str) -> str:
    """A code made safe for an MQTT topic level and a CSV cell.

    Where characters had to be replaced, a checksum of the original keeps two codes that
    differ only in those characters ("A/1", "A 1") apart.
    """
    text = str(code)
    safe = _SAFE_ID.sub("_", text)
    return safe if safe == text else f"{safe}.{zlib.crc32(text.encode()):08x}"


def population_weights(units: gpd.GeoDataFrame) -> np.ndarray:
    """Each unit's share of people; where population is unknown, its share of area."""
    population = pd.to_numeric(units["population"], errors="coerce").to_numpy(float)
    if np.isfinite(population).all() and population.sum() > 0:
        weights = population
    else:
        weights = area_km2(units.geometry).to_numpy()
    return weights / weights.sum()


def random_points_in(geometry: shapely.Geometry, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` uniformly random points inside a polygon, as an (n, 2) lon/lat array."""
    if count <= 0:
        return np.empty((0, 2))
    shapely.prepare(geometry)
    minx, miny, maxx, maxy = geometry.bounds
    found: list[np.ndarray] = []
    have = 0
    for _ in range(1000):
        batch = max(16, 4 * (count - have))
        x = rng.uniform(minx, maxx, batch)
        y = rng.uniform(miny, maxy, batch)
        inside = shapely.contains_xy(geometry, x, y)
        found.append(np.column_stack([x[inside], y[inside]]))
        have += int(inside.sum())
        if have >= count:
            return np.concatenate(found)[:count]
    raise ValueError("could not place points inside a polygon (is it degenerate?)")


def _allocate(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weights`` (largest remainder)."""
    if total <= 0:
        return np.zeros(len(weights), dtype=int)
    exact = weights / weights.sum() * total
    counts = np.floor(exact).astype(int)
    remainder = total - counts.sum()
    counts[np.argsort(-(exact - counts), kind="stable")[:remainder]] += 1
    return counts


def _noise_zone(density_per_km2: float, hint: str | None, rng: np.random.Generator) -> str:
    if rng.random() < _ROADSIDE_NOISE_SHARE:
        return "4a"
    if hint in NOISE_ZONES:
        return hint
    # Dense mixed neighbourhoods are class 2, quieter residential areas class 1.
    return "2" if density_per_km2 >= 15_000 else "1"


def place_sensors(lowest: gpd.GeoDataFrame, total: int, seed: int) -> pd.DataFrame:
    """Synthetic sensors for the lowest-level units (indexed by code, with ``population``).

    Every unit gets one sensor of each kind while ``total`` allows (most populous units
    first); the remainder is spread in proportion to population, kinds drawn by their
    ``extra_share``. An optional ``noise_zone`` column in ``lowest`` (a GB 3096 class)
    says what a unit's noise sensors are zoned as, unless they stand by a trunk road.
    """
    if total < 1:
        raise ValueError("the number of sensors must be at least 1")
    rng = np.random.default_rng(seed)
    weights = population_weights(lowest)
    by_people = np.argsort(-weights, kind="stable")
    kinds = registry().sensor_kinds  # what each kind measures, how often, its share of the extras
    n_units, n_kinds = len(lowest), len(kinds)
    per_unit_kind = np.zeros((n_units, n_kinds), dtype=int)
    base = min(total, n_units * n_kinds)
    # Base coverage fills unit by unit, most populous first, every kind in each.
    for i in range(base):
        per_unit_kind[by_people[i // n_kinds], i % n_kinds] += 1
    extra = total - base
    if extra:
        extra_per_unit = _allocate(extra, weights)
        shares = np.array([k.extra_share for k in kinds])
        for row, count in enumerate(extra_per_unit):
            if count:
                per_unit_kind[row] += rng.multinomial(count, shares / shares.sum())
    density = (lowest["population"].fillna(0).to_numpy(float) / area_km2(lowest.geometry).to_numpy())
    hints = lowest["noise_zone"].to_numpy(object) if "noise_zone" in lowest.columns else [None] * n_units
    rows = []
    for row, (code, geometry) in enumerate(zip(lowest.index, lowest.geometry, strict=True)):
        counts = per_unit_kind[row]
        points = random_points_in(geometry, int(counts.sum()), rng)
        p = 0
        for k, kind in enumerate(kinds):
            for n in range(counts[k]):
                lon, lat = points[p]
                p += 1
                zone = _noise_zone(density[row], hints[row], rng) if kind.kind == "noise" else ""
                rows.append(
                    (f"{kind.prefix}-{safe_id(code)}-{n + 1:02d}", kind.kind, ";".join(kind.metrics),
                     round(lon, 6), round(lat, 6), kind.expected_interval_s, zone)
                )
    return pd.DataFrame(rows, columns=SENSOR_COLUMNS).sort_values("sensor_id", ignore_index=True)


def place_units(lowest: gpd.GeoDataFrame, coverage_area: pd.Series, seed: int) -> pd.DataFrame:
    """Synthetic response units, home positions inside the lowest-level units.

    ``coverage_area`` maps each lowest-level code to the area a station covers (e.g. its
    district). Kinds marked ``one_per_area`` get at least one unit per coverage area; the
    rest follow population (one unit per ``people_per_unit``), and each unit stands in a
    lowest-level unit drawn in proportion to its people, so stations sit where people live.
    """
    rng = np.random.default_rng(seed)
    weights = population_weights(lowest)
    area_of = coverage_area.reindex(lowest.index).to_numpy(object)
    if pd.isna(area_of).any():
        raise ValueError("every lowest-level unit needs a coverage area")
    areas = pd.unique(area_of)
    population = lowest["population"].fillna(0).to_numpy(float)
    total_people = population.sum()
    rows = []
    for kind in UNIT_KINDS:
        wanted = max(1, round(total_people / kind.people_per_unit))
        homes: list[int] = []
        if kind.one_per_area:
            for area in areas:
                members = np.flatnonzero(area_of == area)
                people = weights[members].sum()
                # An area where nobody lives (a park, an airport) is still covered: any of its units.
                p = weights[members] / people if people > 0 else None
                homes.append(int(rng.choice(members, p=p)))
        if wanted > len(homes):
            homes.extend(rng.choice(len(lowest), size=wanted - len(homes), p=weights).tolist())
        homes.sort()
        for n, row in enumerate(homes, start=1):
            lon, lat = random_points_in(lowest.geometry.iloc[row], 1, rng)[0]
            name = f"{kind.label} {n} · {lowest['name'].iloc[row]}"
            rows.append((f"{kind.prefix}-{n:03d}", kind.kind, name, round(lon, 6), round(lat, 6)))
    return pd.DataFrame(rows, columns=UNIT_COLUMNS)


def place_points(lowest: gpd.GeoDataFrame, count: int, seed: int) -> pd.DataFrame:
    """``count`` synthetic points where people live: each in a lowest-level unit drawn in proportion
    to its people, uniformly inside it. Columns ``code, lon, lat``; the same seed, the same points."""
    rng = np.random.default_rng(seed)
    per_unit = rng.multinomial(max(count, 0), population_weights(lowest))
    rows = []
    for row, n in enumerate(per_unit):
        for lon, lat in random_points_in(lowest.geometry.iloc[row], int(n), rng):
            rows.append((str(lowest.index[row]), round(float(lon), 6), round(float(lat), 6)))
    return pd.DataFrame(rows, columns=["code", "lon", "lat"])
