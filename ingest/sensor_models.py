"""The simulator's sensor models: one function per sensor kind, named by the kind's ``model`` in
``indicators.registry`` (:data:`MODELS`).

Units as in docs/vital-signs.md §2; hours are local hours of the city's time zone.

- **traffic** — ``tpi`` (0–10) = a weekday or weekend hourly profile (peaks 07–09 and
  17–19 on weekdays, ~0.5 at night) × a per-segment busyness + a per-segment AR(1)
  congestion (τ 25 min) + a rain penalty; ``speed_kmh`` = the segment's free-flow speed ×
  (1 − 0.088 × tpi).
- **air_quality** — a city-wide air mass (Ornstein–Uhlenbeck, τ 18 h, washed out by rain)
  sets ``pm25``/``so2`` (µg/m³); ``pm10`` = pm25 × a coarse ratio ≥ 1.15; ``no2`` (µg/m³) and
  ``co`` (mg/m³) follow the traffic profile; ``o3`` (µg/m³) peaks in summer afternoons.
- **weather** — ``rain_mm`` from the latent wetness (see :mod:`ingest.synthetic_city`);
  ``temperature_c`` = season by day of year (hemisphere from the sensors' latitude) +
  diurnal cycle + a weather anomaly (OU, τ 3 days, σ 3 °C) − rain cooling.
- **water_level** — ``water_depth_cm``: the latent ponding depth (d′ = gain × max(0, rain −
  drain capacity) − d/τ, τ 18 min) plus gauge noise.
- **gas** — ``methane_lel`` background 0.2–3 % LEL.
- **water_pressure** — ``water_pressure_kpa`` 325–370 minus a morning/evening demand dip.
- **power** — ``power_load_pct`` 42–52 + a daily demand shape + cooling/heating load.
- **crowd** — ``crowd_density`` (persons/m²) busier in the evening and at weekends.
- **noise** — ``noise_dba`` by the GB 3096 zone: ~5 dB under the day limit by day, ~4 dB
  under the night limit at night (day 06–22), with occasional spikes.

A model returns its metrics as (T, n) arrays for the sensors it is given. All models draw their
noise from one generator in the order of :data:`MODELS`, so that order is part of every seeded
feed: a new model goes last.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ingest import scenarios

# GB 3096-2008 limits, dB(A): zone → (day, night).
NOISE_LIMITS: dict[str, tuple[float, float]] = {"0": (50, 40), "1": (55, 45), "2": (60, 50), "3": (65, 55),
                                                "4a": (70, 55)}
_PM25_MEDIAN = 10.0

# -- hourly profiles (index = local hour; interpolated, periodic) ---------------------------
_HOURS = np.arange(24.0)
_TRAFFIC_WEEKDAY = np.array([1.0, 0.7, 0.5, 0.5, 0.6, 1.2, 2.8, 5.0, 5.8, 4.6, 3.6, 3.6,
                             3.8, 3.7, 3.8, 4.3, 5.0, 5.9, 5.8, 4.4, 3.2, 2.6, 2.0, 1.5])
_TRAFFIC_WEEKEND = np.array([1.4, 1.0, 0.8, 0.6, 0.5, 0.6, 0.9, 1.3, 1.8, 2.4, 3.0, 3.5,
                             3.7, 3.8, 3.8, 3.8, 3.8, 3.7, 3.5, 3.1, 2.7, 2.3, 2.0, 1.7])
_TEMP_DIURNAL = np.array([-2.5, -3.0, -3.4, -3.8, -4.1, -4.4, -4.3, -3.3, -1.8, -0.3, 1.1, 2.4,
                          3.4, 4.1, 4.5, 4.6, 4.3, 3.5, 2.3, 1.1, 0.1, -0.8, -1.5, -2.0])
_CROWD_WEEKDAY = np.array([0.25, 0.18, 0.15, 0.12, 0.12, 0.18, 0.35, 0.7, 0.95, 0.8, 0.75, 0.85,
                           1.0, 0.95, 0.85, 0.9, 1.05, 1.35, 1.6, 1.55, 1.35, 1.05, 0.7, 0.4])
_CROWD_WEEKEND = np.array([0.4, 0.3, 0.22, 0.15, 0.12, 0.12, 0.18, 0.3, 0.5, 0.8, 1.1, 1.35,
                           1.5, 1.6, 1.65, 1.65, 1.6, 1.6, 1.7, 1.75, 1.6, 1.3, 0.95, 0.6])
_POWER_DEMAND = np.array([0.25, 0.15, 0.08, 0.03, 0.0, 0.04, 0.18, 0.42, 0.6, 0.68, 0.72, 0.75,
                          0.78, 0.78, 0.78, 0.8, 0.85, 0.93, 1.0, 0.98, 0.9, 0.75, 0.55, 0.38])
_WATER_DEMAND = np.array([0.1, 0.05, 0.03, 0.02, 0.03, 0.15, 0.55, 0.95, 1.0, 0.7, 0.45, 0.4,
                          0.45, 0.4, 0.35, 0.35, 0.4, 0.5, 0.65, 0.7, 0.6, 0.45, 0.3, 0.18])
_NOISE_ACTIVITY = np.array([0.08, 0.04, 0.0, 0.0, 0.0, 0.15, 0.5, 0.85, 1.0, 1.0, 1.0, 1.0,
                            1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.95, 0.8, 0.5, 0.2, 0.1])


def profile(hour: np.ndarray, table: np.ndarray) -> np.ndarray:
    """An hourly profile at local ``hour`` (fractional), interpolated and periodic."""
    return np.interp(hour, _HOURS, table, period=24.0)


def seasonal_temperature(summer: np.ndarray, hour: np.ndarray, anomaly: np.ndarray) -> np.ndarray:
    """The city's air temperature (°C) before local effects: season + diurnal cycle + weather anomaly."""
    return 0.5 + 24.5 * summer + profile(hour, _TEMP_DIURNAL) + anomaly


@dataclass
class Latent:
    """Latent state at T times: city scalars (T,), per-member vectors (T, n)."""

    wet: np.ndarray
    air: np.ndarray
    temp_anomaly: np.ndarray
    congestion: np.ndarray
    depth: np.ndarray
    rain_total: np.ndarray


@dataclass
class Clock:
    """Local-time features at T times, each (T, 1)."""

    hour: np.ndarray
    weekend: np.ndarray
    summer: np.ndarray  # 0 in mid-winter … 1 in mid-summer
    doy: np.ndarray


@dataclass
class Sites:
    """Each sensor's fixed parameters, (N,) arrays drawn once from the seed."""

    rain_factor: np.ndarray
    traffic_busy: np.ndarray
    free_flow: np.ndarray
    pm_site: np.ndarray
    coarse: np.ndarray
    exposure: np.ndarray
    so2_site: np.ndarray
    temp_offset: np.ndarray
    gas_base: np.ndarray
    pressure_base: np.ndarray
    pressure_dip: np.ndarray
    power_base: np.ndarray
    crowd_base: np.ndarray
    noise_day: np.ndarray
    noise_night: np.ndarray
    roadside: np.ndarray


@dataclass
class Step:
    """What the models see at T times: the latent state, local time, the running scenarios."""

    t: np.ndarray
    latent: Latent
    clock: Clock
    sites: Sites
    rng: np.random.Generator
    running: list[scenarios.Scenario]
    city_rain: np.ndarray  # (T, 1) mm/h

    def __post_init__(self) -> None:
        hour, weekend = self.clock.hour, self.clock.weekend
        self.traffic_profile = np.where(weekend, profile(hour, _TRAFFIC_WEEKEND), profile(hour, _TRAFFIC_WEEKDAY))
        self.air = self.latent.air[:, None]
        self.season_temp = seasonal_temperature(self.clock.summer, hour, self.latent.temp_anomaly[:, None])

    def z(self, sensors: np.ndarray) -> np.ndarray:
        """Standard normal noise, (T, n)."""
        return self.rng.standard_normal((len(self.t), len(sensors)))

    def rain_here(self, sensors: np.ndarray) -> np.ndarray:
        """The rain rate (mm/h) at ``sensors``, storms included, (T, n)."""
        rate = self.city_rain * self.sites.rain_factor[sensors][None, :]
        storm = scenarios.storm_rate(self.running, self.t, sensors)
        return rate if storm is None else rate + storm

    def added(self, scenario: str, sensors: np.ndarray) -> np.ndarray | None:
        return scenarios.added(self.running, scenario, self.t, sensors)


# (step, the sensors' global indices, their positions among the kind's sensors) → {metric: (T, n)}
Model = Callable[[Step, np.ndarray, np.ndarray], dict[str, np.ndarray]]


def traffic(step: Step, g: np.ndarray, k: np.ndarray) -> dict[str, np.ndarray]:
    s, tp = step.sites, step.traffic_profile
    congestion = step.latent.congestion[:, k]
    tpi = (tp * s.traffic_busy[g] + congestion * (0.4 + tp / 6)
           + 1.6 * (1 - np.exp(-step.rain_here(g) / 8)) + 0.15 * step.z(g))
    tpi = np.clip(tpi, 0.0, 10.0)
    speed = np.clip(s.free_flow[g] * (1 - 0.088 * tpi) * np.exp(0.04 * step.z(g)), 0.0, 130.0)
    return {"tpi": tpi, "speed_kmh": speed}


def air_quality(step: Step, g: np.ndarray, k: np.ndarray) -> dict[str, np.ndarray]:
    s, clock, air = step.sites, step.clock, step.air
    tf = step.traffic_profile / 6
    episode = step.added("pollution-episode", g)
    stagnant = 1 + 0.8 * scenarios.intensity(step.running, "pollution-episode", step.t)
    pm25 = (_PM25_MEDIAN * np.exp(0.5 * air) * (1 + 0.25 * tf + 0.2 * (1 - clock.summer))
            * s.pm_site[g] * np.exp(0.08 * step.z(g)))
    if episode is not None:
        pm25 = pm25 + episode * np.exp(0.05 * step.z(g))
    pm25 = np.clip(pm25, 1.0, 900.0)
    pm10 = np.clip(pm25 * np.maximum(1.15, s.coarse[g] * np.exp(0.06 * step.z(g))), 0.0, 2000.0)
    no2 = (12 + 40 * tf * s.exposure[g]) * np.exp(0.3 * air) * stagnant * np.exp(0.1 * step.z(g))
    so2 = 4 * (1 + 0.6 * (1 - clock.summer)) * np.exp(0.3 * air) * s.so2_site[g] * stagnant
    so2 = np.clip(so2 * np.exp(0.1 * step.z(g)), 0.0, 2000.0)
    co = (0.3 + 0.5 * tf * s.exposure[g]) * np.exp(0.3 * air) * stagnant * np.exp(0.08 * step.z(g))
    sun = np.exp(-(((clock.hour - 14.5) / 3.2) ** 2))
    o3 = (25 + 85 * sun * (0.35 + 0.65 * clock.summer)) * np.exp(0.15 * air) * np.exp(0.08 * step.z(g))
    return {"pm25": pm25, "pm10": pm10, "no2": np.clip(no2, 0.0, 2000.0), "so2": so2, "co": np.clip(co, 0.0, 100.0),
            "o3": np.clip(o3 - 0.3 * no2, 2.0, 1000.0)}


def water_level(step: Step, g: np.ndarray, k: np.ndarray) -> dict[str, np.ndarray]:
    return {"water_depth_cm": np.clip(step.latent.depth[:, k] + 0.2 * step.z(g), 0.0, 300.0)}


def weather(step: Step, g: np.ndarray, k: np.ndarray) -> dict[str, np.ndarray]:
    """``rain_mm`` is the cumulative rain (mm) since the start: the caller differences it per reading."""
    temp = (step.season_temp + step.sites.temp_offset[g] - 2.5 * (1 - np.exp(-step.rain_here(g) / 3))
            + 0.2 * step.z(g))
    return {"rain_mm": step.latent.rain_total[:, k], "temperature_c": np.clip(temp, -50.0, 60.0)}


def gas(step: Step, g: np.ndarray, k: np.ndarray) -> dict[str, np.ndarray]:
    methane = step.sites.gas_base[g] + 0.3 * np.abs(step.z(g))
    leak = step.added("gas-leak", g)
    if leak is not None:
        methane = methane + leak * np.exp(0.05 * step.z(g))
    return {"methane_lel": np.clip(methane, 0.0, 100.0)}


def water_pressure(step: Step, g: np.ndarray, k: np.ndarray) -> dict[str, np.ndarray]:
    s = step.sites
    dip = 18 * profile(step.clock.hour, _WATER_DEMAND) * s.pressure_dip[g]
    return {"water_pressure_kpa": np.clip(s.pressure_base[g] - dip + 2.5 * step.z(g), 0.0, 1000.0)}


def power(step: Step, g: np.ndarray, k: np.ndarray) -> dict[str, np.ndarray]:
    season_temp, clock = step.season_temp, step.clock
    heat = 1.0 * np.maximum(0.0, season_temp - 22) + 0.4 * np.maximum(0.0, 5 - season_temp)
    load = (step.sites.power_base[g] + 22 * profile(clock.hour, _POWER_DEMAND) - 4 * clock.weekend + heat
            + 1.5 * step.z(g))
    return {"power_load_pct": np.clip(load, 0.0, 150.0)}


def crowd(step: Step, g: np.ndarray, k: np.ndarray) -> dict[str, np.ndarray]:
    hour, weekend = step.clock.hour, step.clock.weekend
    shape = np.where(weekend, profile(hour, _CROWD_WEEKEND), profile(hour, _CROWD_WEEKDAY))
    density = step.sites.crowd_base[g] * shape * np.exp(0.1 * step.z(g))
    surge = step.added("crowd-surge", g)
    if surge is not None:
        density = density + surge * np.exp(0.05 * step.z(g))
    return {"crowd_density": np.clip(density, 0.0, 10.0)}


def noise(step: Step, g: np.ndarray, k: np.ndarray) -> dict[str, np.ndarray]:
    s, rng = step.sites, step.rng
    shape = (len(step.t), len(g))
    activity = profile(step.clock.hour, _NOISE_ACTIVITY)
    day, night = s.noise_day[g], s.noise_night[g]
    level = night + (day - night) * activity + 1.5 * (step.traffic_profile / 6 - 0.5) * s.roadside[g]
    spikes = (rng.random(shape) < 0.01) * rng.uniform(5.0, 15.0, shape)
    return {"noise_dba": np.clip(level + 2.5 * step.z(g) + spikes, 20.0, 140.0)}


# In the order their noise is drawn (see the module's docstring): a new model goes last.
MODELS: dict[str, Model] = {
    "traffic": traffic,
    "air_quality": air_quality,
    "water_level": water_level,
    "weather": weather,
    "gas": gas,
    "water_pressure": water_pressure,
    "power": power,
    "crowd": crowd,
    "noise": noise,
}
