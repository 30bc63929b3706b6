"""The feed simulator: reproducible, realistic, bounded; scenarios; events; units; backfill."""

from __future__ import annotations

import math
import re
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from ingest.scenarios import DEFAULT_DURATIONS, SCENARIOS
from ingest.synthetic_city import CitySimulation, bounds
from vocabulary.terms import SEVERITIES

NYC = Path(__file__).resolve().parents[2] / "data" / "cities" / "nyc"
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
SEED = 20261121
T0 = datetime(2026, 3, 3, 11, 0, tzinfo=UTC)  # a Tuesday, noon in Berlin

# The toy city: everything within ~6 km of SPOT (10.0°E, 50.0°N).
SPOT = (10.0, 50.0)
KM_LON = 1 / (111.32 * math.cos(math.radians(50.0)))
KM_LAT = 1 / 111.32

CATEGORIES = {
    "waterlogging": "waterlogging",
    "heavy_rain": "rainfall",
    "gas_leak": "gas",
    "crowd_gathering": "crowd",
    "air_pollution": "air",
    "noise_complaint": "noise",
    "fire": "public_safety",
    "traffic_accident": "public_safety",
}
CONTRACT_SOURCES = {"hotline", "sensor", "patrol", "camera", "external"}
UNIT_KINDS = {"fire", "police", "ambulance", "city_management", "utility"}
UNIT_STATUSES = {"available", "busy", "offline"}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def _at(east_km: float, north_km: float) -> tuple[float, float]:
    return round(SPOT[0] + east_km * KM_LON, 6), round(SPOT[1] + north_km * KM_LAT, 6)


def toy_sensors() -> pd.DataFrame:
    rows = [
        ("TR-1", "traffic", "tpi;speed_kmh", 0.5, 0.5, 60, ""),
        ("TR-2", "traffic", "tpi;speed_kmh", -1.0, 1.5, 60, ""),
        ("TR-3", "traffic", "tpi;speed_kmh", 2.0, -1.0, 60, ""),
        ("AQ-1", "air_quality", "pm25;pm10;no2;so2;co;o3", 0.3, -0.4, 60, ""),
        ("AQ-2", "air_quality", "pm25;pm10;no2;so2;co;o3", -2.0, 2.0, 60, ""),
        ("AQ-3", "air_quality", "pm25;pm10", 3.0, 1.0, 60, ""),  # lists only two of the six
        ("WL-1", "water_level", "water_depth_cm", 0.0, 0.0, 60, ""),
        ("WL-2", "water_level", "water_depth_cm", 0.2, 0.1, 60, ""),
        ("WL-3", "water_level", "water_depth_cm", -3.0, -2.0, 60, ""),
        ("WX-1", "weather", "rain_mm;temperature_c", 0.1, 0.0, 60, ""),
        ("WX-2", "weather", "rain_mm;temperature_c", 4.0, 3.0, 60, ""),
        ("GS-1", "gas", "methane_lel", 0.05, 0.05, 30, ""),
        ("GS-2", "gas", "methane_lel", 3.0, 0.0, 30, ""),
        ("GS-3", "gas", "methane_lel", 0.0, -6.0, 30, ""),
        ("WP-1", "water_pressure", "water_pressure_kpa", 1.0, 1.0, 60, ""),
        ("PW-1", "power", "power_load_pct", -1.0, -1.0, 60, ""),
        ("CR-1", "crowd", "crowd_density", 0.0, 0.1, 60, ""),
        ("CR-2", "crowd", "crowd_density", 4.0, 0.0, 60, ""),
        ("NS-0", "noise", "noise_dba", 1.5, 1.5, 60, "0"),
        ("NS-2", "noise", "noise_dba", -1.5, 0.5, 60, "2"),
        ("NS-4", "noise", "noise_dba", 0.5, -1.5, 60, "4a"),
        ("XX-1", "radiation", "gamma_usv", 0.0, 2.0, 60, ""),  # nothing the simulator models
    ]
    records = []
    for sid, kind, metrics, east, north, interval, zone in rows:
        lon, lat = _at(east, north)
        records.append((sid, kind, metrics, lon, lat, interval, zone))
    return pd.DataFrame(records, columns=["sensor_id", "kind", "metrics", "lon", "lat", "expected_interval_s",
                                          "noise_zone"])


def toy_units() -> pd.DataFrame:
    rows = [("FD-001", "fire", "Fire engine 1", 0.0, 0.0), ("PD-001", "police", "Police car 1", 1.0, 1.0),
            ("EMS-001", "ambulance", "Ambulance 1", -1.0, 0.5), ("CM-001", "city_management", "Team 1", 0.5, -1.0),
            ("UT-001", "utility", "Crew 1", -0.5, -0.5), ("PD-002", "police", "Police car 2", 3.0, 2.0)]
    return pd.DataFrame([(uid, kind, name, *_at(e, n)) for uid, kind, name, e, n in rows],
                        columns=["unit_id", "kind", "name", "lon", "lat"])


def toy(seed: int = SEED, **kwargs) -> CitySimulation:
    return CitySimulation(toy_sensors(), toy_units(), CATEGORIES, "Europe/Berlin", seed, **kwargs)


@pytest.fixture(scope="module")
def nyc() -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    if not (NYC / "sensors.csv").exists():
        pytest.skip("the NYC registry is built by `make test` / `cityops city build nyc`")
    sensors = pd.read_csv(NYC / "sensors.csv", dtype={"noise_zone": str, "sensor_id": str})
    units = pd.read_csv(NYC / "units.csv")
    with (NYC / "categories.toml").open("rb") as f:
        categories = {key: table["domain"] for key, table in tomllib.load(f).items()}
    return sensors, units, categories


def nyc_sim(nyc, seed: int = SEED, **kwargs) -> CitySimulation:
    sensors, units, categories = nyc
    return CitySimulation(sensors, units, categories, "America/New_York", seed, **kwargs)


def run(sim: CitySimulation, start: datetime, hours: float, every: timedelta = timedelta(minutes=1),
        ids: list[str] | None = None) -> pd.DataFrame:
    """Read ``ids`` (default: every sensor) every ``every``; a long table time/sensor/metric/value."""
    ids = sim.sensor_ids if ids is None else ids
    rows = []
    steps = int(timedelta(hours=hours) / every)
    for k in range(steps + 1):
        now = start + k * every
        for sid, values in sim.readings_at(now, ids):
            rows.extend((now, sid, metric, value) for metric, value in values.items())
    return pd.DataFrame(rows, columns=["time", "sensor_id", "metric", "value"])


def series(table: pd.DataFrame, sensor: str, metric: str) -> pd.Series:
    part = table[(table.sensor_id == sensor) & (table.metric == metric)]
    return part.set_index("time")["value"]


def metres(lon: float, lat: float, lon0: float, lat0: float) -> float:
    return math.hypot((lon - lon0) * 111_320 * math.cos(math.radians(lat0)), (lat - lat0) * 111_320)


# -- reproducibility ---------------------------------------------------------------------------


def test_same_seed_and_same_times_give_identical_readings_events_and_units() -> None:
    outputs = []
    for _ in range(2):
        sim = toy()
        sim.start_scenario("rainstorm", T0 + timedelta(minutes=5))
        got = []
        for k in range(30):
            now = T0 + timedelta(seconds=20 * k)
            got.append((sim.due_sensors(now), sim.readings_at(now), sim.unit_updates_at(now)))
        got.append(sim.events_between(T0, T0 + timedelta(minutes=10)))
        outputs.append(got)
    assert outputs[0] == outputs[1]


def test_different_seeds_give_different_readings() -> None:
    a = toy(1).readings_at(T0, toy().sensor_ids)
    b = toy(2).readings_at(T0, toy().sensor_ids)
    assert a != b


# -- readings ----------------------------------------------------------------------------------


def test_readings_only_carry_metrics_the_registry_row_lists() -> None:
    sim = toy()
    listed = {row.sensor_id: set(row.metrics.split(";")) for row in toy_sensors().itertuples()}
    readings = sim.readings_at(T0, sim.sensor_ids)
    for sid, values in readings:
        assert set(values) == listed[sid], sid
    assert dict(readings)["AQ-3"].keys() == {"pm25", "pm10"}
    assert "XX-1" not in dict(readings)  # a kind the simulator cannot model gives nothing


def test_nyc_registry_readings_carry_only_listed_metrics_and_finite_values(nyc) -> None:
    sensors = nyc[0]
    listed = dict(zip(sensors["sensor_id"], sensors["metrics"].str.split(";").map(set), strict=True))
    sim = nyc_sim(nyc)
    readings = sim.readings_at(T0, sim.sensor_ids)
    assert len(readings) > 0.97 * len(sensors)  # a few lost readings at most
    for sid, values in readings:
        assert set(values) <= listed[sid] and values
        assert all(math.isfinite(v) for v in values.values())


def test_values_stay_within_physical_bounds_and_pm10_exceeds_pm25() -> None:
    table = run(toy(), T0, hours=48, every=timedelta(minutes=10))
    assert set(table.metric) == set(bounds())
    for metric, group in table.groupby("metric"):
        low, high = bounds()[metric]
        assert group.value.between(low, high).all(), metric
    air = table[table.metric.isin(["pm25", "pm10"])].pivot_table(index=["time", "sensor_id"], columns="metric",
                                                                   values="value")
    assert (air.pm10 > air.pm25).all()


def test_values_are_mostly_green_on_an_ordinary_day() -> None:
    table = run(toy(), T0, hours=24, every=timedelta(minutes=10))

    def share(metric: str, threshold: float) -> float:
        return float((table[table.metric == metric].value >= threshold).mean())

    assert share("water_depth_cm", 15) == 0
    assert share("methane_lel", 20) == 0
    assert share("crowd_density", 3) == 0
    assert share("power_load_pct", 95) == 0
    assert share("tpi", 8) < 0.1  # a busy segment can be red through the rush hours
    assert share("pm25", 55.5) < 0.1
    pressure = table[table.metric == "water_pressure_kpa"].value
    assert pressure.between(250, 400).all()


def test_traffic_at_8am_local_on_a_weekday_is_worse_than_at_3am(nyc) -> None:
    sim = nyc_sim(nyc)
    ids = [s for s in sim.sensor_ids if s.startswith("TR-")]
    night = dict(sim.readings_at(datetime(2026, 3, 3, 3, 0, tzinfo=NEW_YORK), ids))
    rush = dict(sim.readings_at(datetime(2026, 3, 3, 8, 0, tzinfo=NEW_YORK), ids))
    assert np.mean([v["tpi"] for v in rush.values()]) > np.mean([v["tpi"] for v in night.values()]) + 3
    assert np.mean([v["speed_kmh"] for v in rush.values()]) < np.mean([v["speed_kmh"] for v in night.values()])


def test_weekend_mornings_are_calmer_than_weekday_mornings() -> None:
    sim = toy()
    ids = ["TR-1", "TR-2", "TR-3"]
    weekday = run(sim, datetime(2026, 3, 6, 7, 30, tzinfo=BERLIN), hours=1, ids=ids)  # Friday
    weekend = run(sim, datetime(2026, 3, 7, 7, 30, tzinfo=BERLIN), hours=1, ids=ids)  # Saturday
    assert weekend[weekend.metric == "tpi"].value.mean() < weekday[weekday.metric == "tpi"].value.mean() - 2


def test_noise_is_lower_at_night_than_by_day(nyc) -> None:
    sim = nyc_sim(nyc)
    ids = [s for s in sim.sensor_ids if s.startswith("NS-")]
    night = dict(sim.readings_at(datetime(2026, 3, 3, 3, 0, tzinfo=NEW_YORK), ids))
    day = dict(sim.readings_at(datetime(2026, 3, 3, 14, 0, tzinfo=NEW_YORK), ids))
    common = night.keys() & day.keys()
    assert np.mean([night[s]["noise_dba"] for s in common]) < np.mean([day[s]["noise_dba"] for s in common]) - 5


def test_noise_stays_mostly_below_the_zone_limit(nyc) -> None:
    sensors = nyc[0]
    zone = dict(zip(sensors["sensor_id"], sensors["noise_zone"].fillna("2"), strict=True))
    day_limit = {"0": 50, "1": 55, "2": 60, "3": 65, "4a": 70}
    sim = nyc_sim(nyc)
    ids = [s for s in sim.sensor_ids if s.startswith("NS-")]
    readings = dict(sim.readings_at(datetime(2026, 3, 3, 11, 0, tzinfo=NEW_YORK), ids))
    over = [values["noise_dba"] > day_limit[zone[sid]] for sid, values in readings.items()]
    assert np.mean(over) < 0.15


def test_summer_is_warmer_than_winter_and_afternoons_warmer_than_dawn() -> None:
    sim = toy()
    winter = run(sim, datetime(2026, 1, 15, 5, 0, tzinfo=BERLIN), hours=10, every=timedelta(hours=1), ids=["WX-1"])
    summer = run(sim, datetime(2026, 7, 15, 5, 0, tzinfo=BERLIN), hours=10, every=timedelta(hours=1), ids=["WX-1"])
    t_winter = series(winter, "WX-1", "temperature_c")
    t_summer = series(summer, "WX-1", "temperature_c")
    assert t_summer.mean() > t_winter.mean() + 12
    assert t_summer.iloc[-1] > t_summer.iloc[0]  # 15:00 warmer than 05:00


def test_southern_hemisphere_cities_have_summer_in_january() -> None:
    sensors = toy_sensors().assign(lat=lambda f: f.lat - 84.0)  # about 34°S
    sim = CitySimulation(sensors, toy_units().assign(lat=lambda f: f.lat - 84.0), CATEGORIES, "Australia/Sydney", 5)
    january = run(sim, datetime(2026, 1, 15, 12, 0, tzinfo=UTC), hours=6, every=timedelta(hours=1), ids=["WX-1"])
    july = run(sim, datetime(2026, 7, 15, 12, 0, tzinfo=UTC), hours=6, every=timedelta(hours=1), ids=["WX-1"])
    assert january[january.metric == "temperature_c"].value.mean() > july[july.metric == "temperature_c"].value.mean()


def test_readings_are_lost_at_the_configured_rate() -> None:
    sim = toy(missing=0.2)
    ids = sim.sensor_ids
    got = sum(len(sim.readings_at(T0 + timedelta(minutes=k), ids)) for k in range(200))
    modelled = len(ids) - 1  # XX-1 gives nothing
    assert got / (200 * modelled) == pytest.approx(0.8, abs=0.04)


def test_payload_for_builds_the_contract_reading_object() -> None:
    sim = toy()
    now = datetime(2026, 3, 3, 12, 0, 5, 250000, tzinfo=BERLIN)
    payload = sim.payload_for("AQ-1", {"pm25": 12.5}, now)
    assert payload == {"ts": "2026-03-03T11:00:05.250Z", "values": {"pm25": 12.5}}
    assert datetime.fromisoformat(payload["ts"]) == now
    with pytest.raises(ValueError, match="unknown sensor"):
        sim.payload_for("NOPE", {}, now)


# -- due sensors ---------------------------------------------------------------------------------


def test_due_sensors_spreads_the_first_readings_over_the_first_interval(nyc) -> None:
    sensors = nyc[0]
    interval = dict(zip(sensors["sensor_id"], sensors["expected_interval_s"], strict=True))
    sim = nyc_sim(nyc)
    first: dict[str, int] = {}
    per_second = []
    for second in range(61):
        now = T0 + timedelta(seconds=second)
        due = sim.due_sensors(now)
        per_second.append(len(due))
        for sid in due:
            first.setdefault(sid, second)
        sim.readings_at(now, due)
    assert per_second[0] < 0.05 * len(sensors)
    assert max(per_second) < 0.1 * len(sensors)
    assert set(first) == set(sensors["sensor_id"])
    assert all(first[s] <= interval[s] for s in first)


def test_a_sensor_is_due_again_after_its_interval() -> None:
    sim = toy(missing=0.0)
    seen: dict[str, list[int]] = {}
    for second in range(0, 240):
        now = T0 + timedelta(seconds=second)
        due = sim.due_sensors(now)
        for sid, _ in sim.readings_at(now, due):
            seen.setdefault(sid, []).append(second)
    gaps_gas = np.diff(seen["GS-2"])
    gaps_air = np.diff(seen["AQ-1"])
    assert set(gaps_gas.tolist()) <= {30, 31} and set(gaps_air.tolist()) <= {60, 61}


def test_readings_at_without_ids_reads_the_due_sensors() -> None:
    sim = toy()
    due = sim.due_sensors(T0 + timedelta(seconds=45))
    readings = sim.readings_at(T0 + timedelta(seconds=45))
    assert {sid for sid, _ in readings} <= set(due)
    assert sim.due_sensors(T0 + timedelta(seconds=45)) == []


# -- scenarios -----------------------------------------------------------------------------------


def test_rainstorm_ponds_low_lying_sensors_past_15_then_30_cm_and_drains_after() -> None:
    sim = toy(low_lying={"WL-1"})
    run_info = sim.start_scenario("rainstorm", T0 + timedelta(minutes=10), area=SPOT)
    assert run_info.sensors == ("WL-1",)
    assert run_info.end - run_info.start == DEFAULT_DURATIONS["rainstorm"]
    table = run(sim, T0, hours=5)
    depth = series(table, "WL-1", "water_depth_cm")
    first_15 = depth[depth > 15].index.min()
    first_30 = depth[depth > 30].index.min()
    assert first_15 < first_30 <= run_info.end
    assert depth[depth.index >= run_info.end + timedelta(minutes=90)].max() < 3
    assert series(table, "WL-2", "water_depth_cm").max() < 30  # not low-lying: less ponding
    rain = series(table, "WX-1", "rain_mm")  # mm per one-minute reading at the core
    assert rain.max() * 60 >= 50
    assert rain[rain.index >= run_info.end + timedelta(minutes=5)].max() * 60 < 10


def test_a_storm_shown_in_minutes_reaches_the_rain_and_ponding_of_hours() -> None:
    # `cityops simulate --scenario rainstorm --duration 10m --speed 15`: visible on the wall in minutes.
    sim = toy(low_lying={"WL-1"})
    info = sim.start_scenario("rainstorm", T0, area=SPOT, duration=timedelta(minutes=10), speed=15)
    table = run(sim, T0, hours=0.25)
    rain = series(table, "WX-1", "rain_mm")
    assert rain[rain.index <= info.end].sum() >= 100  # the red rain sum (100 mm / 3 h), in 10 minutes
    depth = series(table, "WL-1", "water_depth_cm")
    assert depth[depth.index <= info.end].max() > 30  # red ponding too
    for bad in (0, -1, float("nan"), 61):
        with pytest.raises(ValueError, match="speed"):
            toy().start_scenario("rainstorm", T0, speed=bad)


def test_rainstorm_brings_waterlogging_events_near_water_level_sensors() -> None:
    sim = toy(low_lying={"WL-1"}, events_per_hour=0)
    sim.start_scenario("rainstorm", T0, area=SPOT)
    events = sim.events_between(T0, T0 + timedelta(hours=3))
    flooding = [e for e in events if e["category"] == "waterlogging"]
    assert len(flooding) >= 10
    wl = toy_sensors().set_index("sensor_id").loc[["WL-1", "WL-2", "WL-3"]]
    for e in flooding:
        assert min(metres(e["lon"], e["lat"], r.lon, r.lat) for r in wl.itertuples()) < 60


def test_scenario_events_use_a_category_of_the_right_domain_when_the_key_differs() -> None:
    categories = {"street_flooding": "waterlogging", "other": "public_safety"}
    sim = CitySimulation(toy_sensors(), toy_units(), categories, "Europe/Berlin", 3, events_per_hour=0)
    sim.start_scenario("rainstorm", T0, area=SPOT)
    events = sim.events_between(T0, T0 + timedelta(hours=3))
    assert events and {e["category"] for e in events} == {"street_flooding"}


def test_gas_leak_crosses_50_percent_lel_near_the_spot_only() -> None:
    sim = toy()
    info = sim.start_scenario("gas-leak", T0 + timedelta(minutes=5), area=SPOT)
    assert info.sensors == ("GS-1",)  # GS-2 is 3 km away, GS-3 6 km
    table = run(sim, T0, hours=2.5)
    leak = series(table, "GS-1", "methane_lel")
    assert leak[leak > 20].index.min() < leak[leak > 50].index.min()
    assert leak.max() > 50
    assert leak[leak.index >= info.end].max() < 5
    assert series(table, "GS-2", "methane_lel").max() < 20
    assert series(table, "GS-3", "methane_lel").max() < 20
    events = sim.events_between(T0, T0 + timedelta(hours=2.5))
    assert any(e["category"] == "gas_leak" for e in events)


def test_pollution_episode_raises_city_pm25_into_red_and_recovers() -> None:
    sim = toy()
    info = sim.start_scenario("pollution-episode", T0)
    table = run(sim, T0, hours=60, every=timedelta(hours=1), ids=["AQ-1", "AQ-2", "AQ-3"])
    pm25 = table[table.metric == "pm25"].groupby("time").value.median()
    assert pm25.iloc[0] < 60
    plateau = pm25[(pm25.index >= T0 + timedelta(hours=14)) & (pm25.index <= T0 + timedelta(hours=38))]
    assert plateau.min() > 150  # above the HJ 633 red threshold for 24 h and EPA's "very unhealthy"
    assert pm25[pm25.index >= info.end + timedelta(hours=1)].max() < 60


def test_crowd_surge_passes_3_then_5_persons_per_m2_near_the_spot() -> None:
    sim = toy()
    info = sim.start_scenario("crowd-surge", T0, area=SPOT)
    table = run(sim, T0, hours=2.5)
    crowd = series(table, "CR-1", "crowd_density")
    assert crowd[crowd > 3].index.min() < crowd[crowd > 5].index.min()
    assert crowd[crowd.index >= info.end].max() < 3
    assert series(table, "CR-2", "crowd_density").max() < 3


def test_sensor_outage_silences_sensors_and_they_return_after(nyc) -> None:
    sim = nyc_sim(nyc)
    start = T0 + timedelta(minutes=3)
    info = sim.start_scenario("sensor-outage", start, duration=timedelta(minutes=20), area=(-73.95, 40.70))
    silent = set(info.sensors)
    assert 0.04 * sim.n_sensors < len(silent) < 0.06 * sim.n_sensors
    heard_before, heard_during, heard_after = set(), set(), set()
    for k in range(0, 50 * 6):
        now = T0 + timedelta(seconds=10 * k)
        due = set(sim.due_sensors(now))
        heard = {sid for sid, _ in sim.readings_at(now, sorted(due))}
        if now < start:
            heard_before |= heard & silent
        elif now < info.end:
            assert not due & silent
            heard_during |= heard & silent
            heard_during |= {sid for sid, _ in sim.readings_at(now, sorted(silent))}  # asked by name: still nothing
        else:
            heard_after |= heard & silent
    assert heard_during == set()
    assert len(heard_before) > 0.9 * len(silent)
    assert len(heard_after) > 0.95 * len(silent)


def test_unknown_scenario_is_a_value_error_listing_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="valid: rainstorm, gas-leak, pollution-episode, crowd-surge, sensor-outage"):
        toy().start_scenario("earthquake", T0)
    assert SCENARIOS == ("rainstorm", "gas-leak", "pollution-episode", "crowd-surge", "sensor-outage")


def test_scenario_duration_must_be_positive() -> None:
    with pytest.raises(ValueError, match="duration"):
        toy().start_scenario("rainstorm", T0, duration=timedelta(0))


def test_a_random_spot_is_chosen_from_the_seed_when_no_area_is_given() -> None:
    a = toy(9).start_scenario("gas-leak", T0)
    b = toy(9).start_scenario("gas-leak", T0)
    assert a == b and a.sensors and a.sensors[0].startswith("GS-")


# -- time ----------------------------------------------------------------------------------------


def test_time_going_backwards_is_a_value_error() -> None:
    earlier = T0 - timedelta(seconds=1)
    for call in (
        lambda s: s.readings_at(earlier),
        lambda s: s.due_sensors(earlier),
        lambda s: s.unit_updates_at(earlier),
        lambda s: s.events_between(earlier - timedelta(minutes=1), earlier),
        lambda s: s.start_scenario("rainstorm", earlier),
        lambda s: s.readings_chunks(earlier, T0, timedelta(minutes=5)),
    ):
        sim = toy()
        sim.readings_at(T0)
        with pytest.raises(ValueError, match="before"):
            call(sim)


def test_the_same_time_twice_is_allowed() -> None:
    sim = toy()
    sim.readings_at(T0)
    sim.readings_at(T0)
    sim.unit_updates_at(T0)


def test_event_windows_must_not_overlap() -> None:
    sim = toy()
    sim.events_between(T0, T0 + timedelta(minutes=10))
    with pytest.raises(ValueError, match="before the last one ended"):
        sim.events_between(T0 + timedelta(minutes=5), T0 + timedelta(minutes=20))


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        toy().readings_at(datetime(2026, 3, 3, 12, 0))  # noqa: DTZ001 - the point of the test


def test_unknown_time_zone_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="time zone"):
        CitySimulation(toy_sensors(), toy_units(), CATEGORIES, "Mars/Olympus_Mons", 1)


# -- events --------------------------------------------------------------------------------------


def test_event_payloads_have_every_contract_field_with_valid_values() -> None:
    sim = toy()
    start, end = T0, T0 + timedelta(hours=12)
    sim.start_scenario("gas-leak", T0 + timedelta(hours=1), area=SPOT)
    events = sim.events_between(start, end)
    assert len(events) > 100
    sensors = toy_sensors()
    for e in events:
        assert {"id", "ts", "source", "category", "severity", "lon", "lat", "title"} <= e.keys()
        assert set(e) <= {"id", "ts", "source", "category", "severity", "lon", "lat", "title", "detail",
                          "reporter_phone"}
        assert isinstance(e["id"], str) and 0 < len(e["id"]) <= 128
        assert RFC3339.match(e["ts"]), e["ts"]
        ts = datetime.fromisoformat(e["ts"])
        assert ts.utcoffset() is not None and start <= ts < end
        assert e["source"] in CONTRACT_SOURCES
        assert e["category"] in CATEGORIES
        assert e["severity"] in SEVERITIES
        assert 0 < len(e["title"]) <= 200 and e["title"][0].isupper()
        assert len(e.get("detail", "")) <= 4000
        assert min(metres(e["lon"], e["lat"], r.lon, r.lat) for r in sensors.itertuples()) < 60
        if "reporter_phone" in e:
            assert e["source"] == "hotline"
            assert re.fullmatch(r"\+1 \d{3} 555 01\d\d", e["reporter_phone"])
    assert [e["ts"] for e in events] == sorted(e["ts"] for e in events)
    assert {e["source"] for e in events} >= {"hotline", "patrol"}
    assert len({e["category"] for e in events}) >= 5


def test_event_ids_are_unique_and_stable_for_the_seed() -> None:
    def ids(seed: int) -> list[str]:
        sim = toy(seed)
        windows = [sim.events_between(T0 + timedelta(minutes=m), T0 + timedelta(minutes=m + 30))
                   for m in range(0, 600, 30)]
        return [e["id"] for window in windows for e in window]

    first = ids(4)
    assert len(first) == len(set(first)) > 100
    assert ids(4) == first
    assert set(ids(5)).isdisjoint(first)


def test_events_come_at_the_configured_rate_and_more_by_day() -> None:
    # Categories whose rate does not depend on the weather: the base rate holds exactly.
    categories = {"fire": "public_safety", "noise_complaint": "noise", "traffic_accident": "public_safety"}
    sim = CitySimulation(toy_sensors(), toy_units(), categories, "Europe/Berlin", SEED, events_per_hour=60)
    start = datetime(2026, 3, 3, 0, 0, tzinfo=BERLIN)
    events = sim.events_between(start, start + timedelta(days=2))
    assert len(events) == pytest.approx(60 * 48, rel=0.1)
    shares = pd.Series([e["category"] for e in events]).value_counts(normalize=True)
    assert shares["noise_complaint"] > shares["traffic_accident"] > shares["fire"]
    hours = pd.Series([datetime.fromisoformat(e["ts"]).astimezone(BERLIN).hour for e in events])
    assert hours.between(10, 15).sum() > 3 * hours.between(1, 6).sum()


def test_a_rainstorm_brings_more_waterlogging_reports_than_dry_weather() -> None:
    sim = toy(events_per_hour=200, low_lying={"WL-1"})
    dry = sim.events_between(T0, T0 + timedelta(hours=2))
    sim.start_scenario("rainstorm", T0 + timedelta(hours=2), area=SPOT)
    wet = sim.events_between(T0 + timedelta(hours=2), T0 + timedelta(hours=4))

    def flooding(events: list[dict]) -> int:
        return sum(e["category"] == "waterlogging" for e in events)

    assert flooding(wet) > 3 * max(1, flooding(dry))


def test_an_empty_event_window_gives_no_events() -> None:
    assert toy().events_between(T0, T0) == []


def test_event_positions_outside_the_city_fall_back_to_the_sensor() -> None:
    sensors = toy_sensors()
    points = set(zip(sensors.lon, sensors.lat, strict=True))
    sim = toy(contains=lambda lon, lat: np.zeros(len(lon), dtype=bool))
    events = sim.events_between(T0, T0 + timedelta(hours=2))
    assert events and all((e["lon"], e["lat"]) in points for e in events)


# -- response units ------------------------------------------------------------------------------


def test_unit_updates_have_valid_kind_and_status_and_stay_within_3_km_of_home() -> None:
    sim = toy()
    homes = toy_units().set_index("unit_id")
    last: dict[str, datetime] = {}
    gaps: list[float] = []
    statuses: dict[str, set[str]] = {}
    for k in range(12 * 720):  # 12 hours, every 5 s
        now = T0 + timedelta(seconds=5 * k)
        for uid, payload in sim.unit_updates_at(now):
            assert set(payload) == {"ts", "lon", "lat", "status", "kind"}
            assert payload["kind"] in UNIT_KINDS and payload["kind"] == homes.loc[uid, "kind"]
            assert payload["status"] in UNIT_STATUSES
            assert datetime.fromisoformat(payload["ts"]) == now
            home = homes.loc[uid]
            assert metres(payload["lon"], payload["lat"], home.lon, home.lat) <= 3000
            if uid in last:
                gaps.append((now - last[uid]).total_seconds())
            last[uid] = now
            statuses.setdefault(uid, set()).add(payload["status"])
    assert set(last) == set(homes.index)
    assert min(gaps) >= 10 and max(gaps) <= 35
    assert set().union(*statuses.values()) >= {"available", "busy"}


def test_patrol_units_move_and_station_units_stay_near_home_when_available() -> None:
    sim = toy()
    homes = toy_units().set_index("unit_id")
    far: dict[str, float] = {}
    for k in range(6 * 360):  # 6 hours, every 10 s
        for uid, payload in sim.unit_updates_at(T0 + timedelta(seconds=10 * k)):
            if payload["status"] == "available":
                home = homes.loc[uid]
                d = metres(payload["lon"], payload["lat"], home.lon, home.lat)
                far[uid] = max(far.get(uid, 0.0), d)
    assert far["FD-001"] < 50 and far["UT-001"] < 50
    assert far["PD-001"] > 200


# -- backfill ------------------------------------------------------------------------------------


def _value_count(sensors: pd.DataFrame) -> int:
    """How many values one step of every sensor gives: the listed metrics the simulator models."""
    return sum(len(set(m.split(";")) & set(bounds())) for m in sensors["metrics"])


def test_readings_chunks_cover_the_period_with_the_right_number_of_rows() -> None:
    start, end = T0, T0 + timedelta(days=2)
    exact = toy(missing=0.0)
    chunks = list(exact.readings_chunks(start, end, timedelta(minutes=5), chunk=timedelta(hours=6)))
    assert len(chunks) == 8
    table = pd.concat(chunks, ignore_index=True)
    assert list(table.columns) == ["time", "sensor_id", "metric", "value"]
    steps = 2 * 288
    assert len(table) == steps * _value_count(toy_sensors())
    assert table.time.min() == start and table.time.max() == end - timedelta(minutes=5)
    assert table.time.nunique() == steps and table.time.is_monotonic_increasing
    assert not table.duplicated(["time", "sensor_id", "metric"]).any()
    assert str(table.time.dt.tz) == "UTC"
    lossy = toy().readings_table(start, end, timedelta(minutes=5))
    assert 0.98 * len(table) < len(lossy) < len(table)


def test_readings_chunks_are_deterministic_and_within_bounds() -> None:
    def table(seed: int) -> pd.DataFrame:
        sim = toy(seed)
        sim.start_scenario("rainstorm", T0 + timedelta(hours=3), area=SPOT)
        return sim.readings_table(T0, T0 + timedelta(hours=12), timedelta(minutes=5))

    a, b = table(8), table(8)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(table(9))
    for metric, group in a.groupby("metric", observed=True):
        low, high = bounds()[str(metric)]
        assert group.value.between(low, high).all()
    depth = a[(a.sensor_id == "WL-1")].value
    assert depth.max() > 5  # the storm shows in the backfill too


def test_readings_chunks_honour_intervals_longer_than_the_step() -> None:
    sim = toy(missing=0.0)
    table = sim.readings_table(T0, T0 + timedelta(hours=1), timedelta(seconds=30))
    per_sensor = table[table.metric.isin(["methane_lel", "pm25"])].groupby("sensor_id", observed=True).time.nunique()
    assert per_sensor["GS-1"] == 120  # every 30 s
    assert per_sensor["AQ-1"] == 60  # every 60 s


def test_the_live_feed_carries_on_after_a_backfill() -> None:
    sim = toy()
    end = T0 + timedelta(hours=6)
    for _ in sim.readings_chunks(T0, end, timedelta(minutes=5)):
        pass
    with pytest.raises(ValueError, match="before"):
        sim.readings_at(end - timedelta(minutes=10))
    assert len(sim.due_sensors(end)) < 5  # spread over the first interval again, as at a start
    first_minute = set()
    for second in range(61):
        now = end + timedelta(seconds=second)
        first_minute |= {sid for sid, _ in sim.readings_at(now)}
    assert len(first_minute) >= sim.n_sensors - 3  # XX-1 never; a lost reading or two


def test_default_low_lying_sensors_are_about_a_fifth_of_water_level_sensors_and_seeded(nyc) -> None:
    sim = nyc_sim(nyc)
    water = [s for s in sim.sensor_ids if s.startswith("WL-")]
    assert len(sim.low_lying) == round(0.2 * len(water))
    assert sim.low_lying <= set(water)
    assert nyc_sim(nyc).low_lying == sim.low_lying
    assert nyc_sim(nyc, seed=SEED + 1).low_lying != sim.low_lying


def test_unknown_low_lying_sensor_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown sensors"):
        toy(low_lying={"WL-404"})
