"""Properties of the feed simulator: for any seed, time and scenario, values are finite and bounded."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.scenarios import SCENARIOS
from ingest.synthetic_city import CitySimulation, bounds
from vocabulary.terms import SEVERITIES

FEW = settings(max_examples=50, deadline=None)
SOME = settings(max_examples=20, deadline=None)

LON0, LAT0 = 10.0, 50.0
KINDS = {
    "TR": "tpi;speed_kmh", "AQ": "pm25;pm10;no2;so2;co;o3", "WL": "water_depth_cm", "WX": "rain_mm;temperature_c",
    "GS": "methane_lel", "WP": "water_pressure_kpa", "PW": "power_load_pct", "CR": "crowd_density",
    "NS": "noise_dba",
}
ZONES = ["0", "1", "2", "3", "4a"]
CATEGORIES = {"waterlogging": "waterlogging", "gas_leak": "gas", "crowd_gathering": "crowd",
              "air_pollution": "air", "fire": "public_safety", "heat_emergency": "heat"}


def _sensors() -> pd.DataFrame:
    """Three sensors of every kind on a 3 km grid, the first of each at the centre."""
    rows = []
    for k, (prefix, metrics) in enumerate(KINDS.items()):
        for n in range(3):
            lon = LON0 + 0.014 * ((k + n) % 3) * (n > 0)
            lat = LAT0 + 0.009 * ((k * n) % 3) * (n > 0)
            zone = ZONES[(k + n) % 5] if prefix == "NS" else ""
            rows.append((f"{prefix}-{n}", prefix, metrics, lon, lat, 30 if prefix == "GS" else 60, zone))
    return pd.DataFrame(rows, columns=["sensor_id", "kind", "metrics", "lon", "lat", "expected_interval_s",
                                       "noise_zone"])


SENSORS = _sensors()
UNITS = pd.DataFrame([("FD-1", "fire", "Fire 1", LON0, LAT0), ("PD-1", "police", "Police 1", LON0 + 0.01, LAT0)],
                     columns=["unit_id", "kind", "name", "lon", "lat"])

seeds = st.integers(min_value=0, max_value=2**32 - 1)
# Hypothesis takes naive bounds and attaches the time zone itself.
starts = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2060, 12, 31),  # noqa: DTZ001
                      timezones=st.just(UTC))
gaps = st.lists(st.integers(min_value=0, max_value=6 * 3600), min_size=1, max_size=8)
scenarios = st.sampled_from((None, *SCENARIOS))


def _check(values: dict[str, float], max_rain_mm: float) -> None:
    for metric, value in values.items():
        low, high = bounds()[metric]
        assert math.isfinite(value), (metric, value)
        assert low <= value <= high, (metric, value)
    if "pm25" in values and "pm10" in values:
        assert values["pm10"] > values["pm25"]
    if "rain_mm" in values:
        assert values["rain_mm"] <= max_rain_mm


@FEW
@given(seed=seeds, start=starts, steps=gaps, scenario=scenarios, offset=st.integers(0, 4 * 3600))
def test_readings_are_finite_and_within_bounds_for_any_seed_time_and_scenario(
    seed: int, start: datetime, steps: list[int], scenario: str | None, offset: int
) -> None:
    sim = CitySimulation(SENSORS, UNITS, CATEGORIES, "America/New_York", seed)
    if scenario is not None:
        sim.start_scenario(scenario, start + timedelta(seconds=offset), area=(LON0, LAT0))
    ids = sim.sensor_ids
    now = start
    last = start
    for gap in steps:
        now = now + timedelta(seconds=gap)
        hours = max((now - last).total_seconds(), 60.0) / 3600
        for sid, values in sim.readings_at(now, ids):
            assert values and sid in ids
            _check(values, max_rain_mm=200.0 * hours + 1.0)  # nothing rains harder than 200 mm/h here
        last = now


@SOME
@given(seed=seeds, start=starts, scenario=scenarios, hours=st.integers(1, 30))
def test_backfilled_values_are_finite_and_within_bounds(
    seed: int, start: datetime, scenario: str | None, hours: int
) -> None:
    sim = CitySimulation(SENSORS, UNITS, CATEGORIES, "Asia/Shanghai", seed)
    if scenario is not None:
        sim.start_scenario(scenario, start + timedelta(hours=hours / 3), area=(LON0, LAT0))
    table = sim.readings_table(start, start + timedelta(hours=hours), timedelta(minutes=10))
    assert len(table) > 0
    assert np.isfinite(table.value).all()
    for metric, group in table.groupby("metric", observed=True):
        low, high = bounds()[str(metric)]
        assert group.value.between(low, high).all(), metric


@SOME
@given(seed=seeds, start=starts, minutes=st.integers(0, 24 * 60), scenario=scenarios)
def test_events_are_valid_for_any_seed_and_window(seed: int, start: datetime, minutes: int,
                                                  scenario: str | None) -> None:
    sim = CitySimulation(SENSORS, UNITS, CATEGORIES, "Europe/Berlin", seed)
    if scenario is not None:
        sim.start_scenario(scenario, start, area=(LON0, LAT0))
    end = start + timedelta(minutes=minutes)
    events = sim.events_between(start, end)
    assert len({e["id"] for e in events}) == len(events)
    for e in events:
        assert e["category"] in CATEGORIES and e["severity"] in SEVERITIES
        assert 0 < len(e["title"]) <= 200
        assert start <= datetime.fromisoformat(e["ts"]) < end
        assert math.isfinite(e["lon"]) and math.isfinite(e["lat"])


@SOME
@given(seed=seeds, start=starts, steps=st.lists(st.integers(1, 3600), min_size=1, max_size=30))
def test_units_stay_within_3_km_of_home_for_any_seed_and_times(seed: int, start: datetime, steps: list[int]) -> None:
    sim = CitySimulation(SENSORS, UNITS, CATEGORIES, "UTC", seed)
    homes = UNITS.set_index("unit_id")
    now = start
    for gap in steps:
        now = now + timedelta(seconds=gap)
        for uid, payload in sim.unit_updates_at(now):
            home = homes.loc[uid]
            dx = (payload["lon"] - home.lon) * 111_320 * math.cos(math.radians(home.lat))
            dy = (payload["lat"] - home.lat) * 111_320
            assert math.hypot(dx, dy) <= 3000
            assert payload["status"] in {"available", "busy", "offline"}
