"""Scenarios the simulator plays on top of a city's normal day (:data:`SCENARIOS`).

Each ramps up, holds and ramps down over its duration: ``rainstorm`` (core ≥ 50 mm/h, low-lying
ponding past 30 cm), ``gas-leak`` (the gas sensor nearest the spot past 50 % LEL, its neighbours
amber), ``pollution-episode`` (city-wide pm25 above 150 µg/m³), ``crowd-surge`` (nearest crowd
sensor past 5 persons/m²) and ``sensor-outage`` (the ~5 % of sensors nearest the spot go silent).

Pure code: :func:`place` decides which sensors a scenario affects and how much, the other functions
read the running scenarios' effect at given times; :mod:`ingest.synthetic_city` keeps them and the
models in :mod:`ingest.sensor_models` add their effect to the readings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

SCENARIOS: tuple[str, ...] = ("rainstorm", "gas-leak", "pollution-episode", "crowd-surge", "sensor-outage")
MAX_SPEED = 60.0  # an hour a minute

DEFAULT_DURATIONS: dict[str, timedelta] = {
    "rainstorm": timedelta(hours=2, minutes=30),
    "gas-leak": timedelta(minutes=90),
    "pollution-episode": timedelta(hours=48),
    "crowd-surge": timedelta(hours=2),
    "sensor-outage": timedelta(hours=1),
}
# The sensor kind whose sensors a scenario singles out (the others: any sensor).
POOLS: dict[str, str] = {"gas-leak": "gas", "crowd-surge": "crowd"}

_STORM_CORE_MM_PER_H = 70.0
_STORM_RADIUS_M = 8000.0
_STORM_FLOOR = 0.35  # share of the core rate far from the core
_LEAK_PEAKS = (75.0, 30.0, 16.0)  # % LEL at the nearest, 2nd and 3rd nearest gas sensor
_SURGE_PEAKS = (6.5, 3.8, 3.2)  # persons/m²
_NEIGHBOUR_M = 2000.0  # 2nd/3rd nearest take part only within this distance
_EPISODE_PM25 = 210.0
_OUTAGE_SHARE = 0.05
# (rise, fall) as shares of the duration
_SHAPES: dict[str, tuple[float, float]] = {
    "rainstorm": (0.25, 0.35),
    "gas-leak": (0.35, 0.25),
    "pollution-episode": (0.25, 0.15),
    "crowd-surge": (0.3, 0.25),
    "sensor-outage": (0.0, 0.0),
}

# Scenario → [(preferred category, its domain, reports per hour at full intensity, severity mix)].
SCENARIO_EVENTS: dict[str, tuple[tuple[str, str, float, tuple[float, float, float]], ...]] = {
    "rainstorm": (("waterlogging", "waterlogging", 20.0, (0.2, 0.55, 0.25)),
                  ("heavy_rain", "rainfall", 5.0, (0.5, 0.4, 0.1))),
    "gas-leak": (("gas_leak", "gas", 6.0, (0.0, 0.5, 0.5)),),
    "pollution-episode": (("air_pollution", "air", 4.0, (0.6, 0.35, 0.05)),),
    "crowd-surge": (("crowd_gathering", "crowd", 8.0, (0.1, 0.6, 0.3)),),
    "sensor-outage": (),
}


def smoothstep(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


@dataclass(frozen=True)
class ScenarioRun:
    """A started scenario: when, where, and the sensors it singles out."""

    name: str
    start: datetime
    end: datetime
    area: tuple[float, float]
    sensors: tuple[str, ...]


@dataclass
class Scenario:
    """A scenario as the simulator keeps it: epoch seconds, and its effect on every sensor."""

    name: str
    start: float
    end: float
    area: tuple[float, float]
    weights: np.ndarray  # (N,) effect at full intensity, in the affected metric's unit (outage: 0/1)
    site: np.ndarray  # (N,) where its events happen (probabilities)

    def shape(self, t: np.ndarray) -> np.ndarray:
        """Intensity 0…1 at epoch seconds ``t``: smooth rise, plateau, smooth fall."""
        rise, fall = _SHAPES[self.name]
        x = (np.asarray(t, dtype=float) - self.start) / (self.end - self.start)
        inside = (x >= 0) & (x < 1)
        if rise == 0 and fall == 0:
            return inside.astype(float)
        up = smoothstep(x / rise) if rise else np.ones_like(x)
        down = smoothstep((1 - x) / fall) if fall else np.ones_like(x)
        return np.where(inside, np.minimum(up, down), 0.0)


def place(name: str, distance: np.ndarray, members: dict[str, np.ndarray], low: np.ndarray,
          episode_site: np.ndarray, rng: np.random.Generator, speed: float
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where scenario ``name`` strikes: (weights, site, singled) over the N sensors.

    ``distance``: each sensor's distance (m) from the scenario's spot; ``members``: sensor kind →
    the indices of its sensors; ``low``: the low-lying sensors; ``episode_site``: each sensor's
    exposure to a pollution episode. ``weights``: its effect at full intensity; ``site``: where its
    events happen (unnormalised); ``singled``: the sensors it singles out.
    """
    n = len(distance)
    weights = np.zeros(n)
    site = np.zeros(n)
    singled: np.ndarray
    if name == "rainstorm":
        spatial = _STORM_FLOOR + (1 - _STORM_FLOOR) * np.exp(-0.5 * (distance / _STORM_RADIUS_M) ** 2)
        weights = _STORM_CORE_MM_PER_H * speed * spatial
        water = members["water_level"]
        site[water] = spatial[water] * np.where(low[water], 4.0, 1.0)
        singled = water[low[water]]
    elif name in ("gas-leak", "crowd-surge"):
        peaks = _LEAK_PEAKS if name == "gas-leak" else _SURGE_PEAKS
        pool = members.get(POOLS[name], np.array([], dtype=np.intp))
        order = pool[np.argsort(distance[pool], kind="stable")]
        chosen = [int(i) for rank, i in enumerate(order[:3]) if rank == 0 or distance[i] <= _NEIGHBOUR_M]
        for rank, i in enumerate(chosen):
            weights[i] = peaks[rank] * rng.uniform(0.95, 1.08)
            site[i] = 1.0 / (rank + 1)
        singled = np.array(chosen, dtype=np.intp)
        if not chosen:  # no such sensor: events at the nearest sensor of any kind
            site[int(np.argmin(distance))] = 1.0
    elif name == "pollution-episode":
        weights = _EPISODE_PM25 * episode_site
        site[:] = 1.0
        singled = np.array([], dtype=np.intp)
    else:  # sensor-outage: the nearest ~5 % of sensors, "a district's worth"
        count = max(1, round(_OUTAGE_SHARE * n))
        singled = np.sort(np.argsort(distance, kind="stable")[:count])
        weights[singled] = 1.0
    return weights, site, singled


def added(scenarios: list[Scenario], name: str, t: np.ndarray, sensors: np.ndarray) -> np.ndarray | None:
    """What the running scenarios ``name`` add to ``sensors``' readings at ``t``, (T, n); None: nothing runs."""
    found = [s for s in scenarios if s.name == name and s.end > t[0] and s.start <= t[-1]]
    if not found:
        return None
    total = np.zeros((len(t), len(sensors)))
    for s in found:
        total += s.shape(t)[:, None] * s.weights[sensors][None, :]
    return total


def storm_rate(scenarios: list[Scenario], t: np.ndarray, sensors: np.ndarray) -> np.ndarray | None:
    """Rainstorm rate (mm/h) at times ``t`` for ``sensors``, (T, n), or None."""
    return added(scenarios, "rainstorm", t, sensors)


def intensity(scenarios: list[Scenario], name: str, t: np.ndarray) -> np.ndarray:
    """Summed intensity of the city-wide scenario ``name`` at ``t``, (T, 1)."""
    level = np.zeros(len(t))
    for s in scenarios:
        if s.name == name and s.end > t[0] and s.start <= t[-1]:
            level += s.shape(t)
    return level[:, None]


def silenced(scenarios: list[Scenario], t: np.ndarray, n_sensors: int) -> np.ndarray:
    """(T, N) True where a sensor is in an outage."""
    mask = np.zeros((len(t), n_sensors), dtype=bool)
    for s in scenarios:
        if s.name == "sensor-outage" and s.end > t[0] and s.start <= t[-1]:
            on = (t >= s.start) & (t < s.end)
            mask |= on[:, None] & (s.weights > 0)[None, :]
    return mask
