"""Per-sensor scores: the schema the roll-up consumes, and what each kind of sensor is judged on."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from indicators.levels import AMBER, GREEN, RED
from indicators.rules import load_rules
from indicators.sensors import SENSOR_SCORE_COLUMNS, score_readings, score_sensors
from indicators.windows import window_values

RULES = load_rules()
TZ = "Asia/Shanghai"
NOW = pd.Timestamp("2024-07-01 15:00", tz="UTC")  # 23:00 in Shanghai: night
POLLUTANTS = "pm25;pm10;no2;so2;co;o3"
CLEAN_AIR = {"pm10": 20.0, "no2": 10.0, "so2": 5.0, "co": 0.3, "o3": 30.0}


def every(minutes: int, hours: float, last_minutes_ago: float = 1) -> list[pd.Timestamp]:
    """Times every ``minutes`` over the last ``hours``, the newest ``last_minutes_ago`` before NOW."""
    newest = NOW - pd.Timedelta(minutes=last_minutes_ago)
    count = int(hours * 60 / minutes)
    return [newest - pd.Timedelta(minutes=minutes * i) for i in range(count)]


def air_rows(sensor: str, pm25: float, last_minutes_ago: float = 1) -> list[tuple]:
    rows = [(t, sensor, "pm25", pm25) for t in every(10, 24, last_minutes_ago)]
    for metric, value in CLEAN_AIR.items():
        rows += [(t, sensor, metric, value) for t in every(10, 24, last_minutes_ago)]
    return rows


def build_readings(rows: list[tuple]) -> pd.DataFrame:
    times, sensors, metrics, values = zip(*rows, strict=True)
    return pd.DataFrame(
        {"time": pd.to_datetime(list(times), utc=True), "sensor_id": sensors, "metric": metrics, "value": values}
    )


SENSORS = pd.DataFrame(
    [
        # sensor_id, kind, metrics, unit_code, expected_interval_s, noise_zone, maintenance, free_flow_speed_kmh
        ("AQ1", "air_quality", POLLUTANTS, "U1", 600, "", False, np.nan),
        ("AQ2", "air_quality", "aqi", "U1", 60, "", False, np.nan),
        ("AQ3", "air_quality", POLLUTANTS, "U2", 600, "", False, np.nan),
        ("AQ4", "air_quality", POLLUTANTS, "U2", 600, "", False, np.nan),
        ("TR1", "traffic", "tpi;speed_kmh", "U1", 60, "", False, np.nan),
        ("TR2", "traffic", "speed_kmh", "U1", 60, "", False, np.nan),
        ("TR3", "traffic", "speed_kmh", "U2", 60, "", False, 30.0),
        ("WX1", "weather", "rain_mm;temperature_c", "U1", 60, "", False, np.nan),
        ("WX2", "weather", "rain_mm", "U2", 60, "", False, np.nan),
        ("NS1", "noise", "noise_dba", "U1", 60, "1", False, np.nan),
        ("NS2", "noise", "noise_dba", "U2", 60, "", False, np.nan),
        ("NS3", "noise", "noise_dba", "U2", 3600, "4a", False, np.nan),
        ("WP1", "water_pressure", "water_pressure_kpa", "U1", 60, "", True, np.nan),
        ("WL1", "water_level", "water_depth_cm", "U2", 60, "", False, np.nan),
        ("GS1", "gas", "methane_lel", "U2", 30, "", False, np.nan),
        ("XX1", "other", "radiation_usv", "U2", 60, "", False, np.nan),
    ],
    columns=["sensor_id", "kind", "metrics", "unit_code", "expected_interval_s", "noise_zone", "maintenance",
             "free_flow_speed_kmh"],
)


def readings() -> pd.DataFrame:
    minute = pd.Timedelta(minutes=1)
    rows: list[tuple] = []
    rows += air_rows("AQ1", pm25=100.0)  # HJ 633 worked check: PM2.5 24 h mean 100 → IAQI 132
    rows += [(NOW - minute, "AQ2", "aqi", 250.0)]
    rows += air_rows("AQ3", pm25=100.0, last_minutes_ago=120)  # silent for 2 h: stale
    rows += [(t, "AQ4", "pm25", -5.0) for t in every(10, 24)]  # faulty PM sensor: left out of the AQI
    rows += [(t, "AQ4", "o3", 30.0) for t in every(10, 24)]
    rows += [(NOW - minute, "TR1", "tpi", 7.0), (NOW - minute, "TR1", "speed_kmh", 10.0)]
    rows += [(NOW - minute, "TR2", "speed_kmh", 25.0), (NOW - minute, "TR3", "speed_kmh", 25.0)]
    # WX1: 100 mm within the last 3 h → red; WX2: 60 mm in 6 h, only 20 of it in the last 3 h → amber.
    rows += [(NOW - pd.Timedelta(hours=h), "WX1", "rain_mm", 25.0) for h in (2.5, 2, 1, 0)]
    rows += [(NOW - pd.Timedelta(hours=5), "WX2", "rain_mm", 40.0), (NOW - minute, "WX2", "rain_mm", 20.0)]
    rows += [(NOW - pd.Timedelta(hours=h), "WX1", "temperature_c", v) for h, v in ((8, 37.5), (3, 33.0), (0, 29.0))]
    rows += [(NOW - minute, "NS1", "noise_dba", 46.0), (NOW - minute, "NS2", "noise_dba", 46.0)]
    rows += [(pd.Timestamp("2024-07-01 13:59", tz="UTC"), "NS3", "noise_dba", 58.0)]  # 21:59 local: day
    rows += [(NOW - minute, "WP1", "water_pressure_kpa", 130.0)]
    rows += [(NOW - pd.Timedelta(seconds=20), "GS1", "methane_lel", 20.0)]
    rows += [(NOW - minute, "XX1", "radiation_usv", 0.1)]
    return build_readings(rows)


@pytest.fixture(scope="module")
def scored() -> pd.DataFrame:
    windows = window_values(readings(), SENSORS, RULES, NOW, TZ)
    return score_sensors(windows, SENSORS, RULES, NOW, TZ, aqi_standard="HJ633-2012")


def row(scored: pd.DataFrame, sensor_id: str) -> pd.Series:
    rows = scored[scored["sensor_id"] == sensor_id]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_the_schema_is_exactly_what_the_roll_up_consumes(scored: pd.DataFrame) -> None:
    assert tuple(scored.columns) == SENSOR_SCORE_COLUMNS == (
        "sensor_id", "unit_code", "domain", "metric", "value", "time", "age_s", "fresh", "score", "level",
        "maintenance", "rule",
    )
    assert scored["value"].dtype == np.float64 and scored["age_s"].dtype == np.float64
    assert scored["score"].dtype == np.float64
    assert isinstance(scored["time"].dtype, pd.DatetimeTZDtype) and str(scored["time"].dt.tz) == "UTC"
    assert scored["fresh"].dtype == bool and scored["maintenance"].dtype == bool
    assert str(scored["level"].dtype) == "Int64"
    assert not scored.duplicated(["sensor_id", "metric"]).any()


def test_one_row_per_judged_metric_and_none_for_unknown_metrics(scored: pd.DataFrame) -> None:
    judged = sorted(zip(scored["sensor_id"], scored["metric"], strict=True))
    assert judged == [
        ("AQ1", "aqi"), ("AQ2", "aqi"), ("AQ3", "aqi"), ("AQ4", "aqi"), ("GS1", "methane_lel"), ("NS1", "noise_dba"),
        ("NS2", "noise_dba"), ("NS3", "noise_dba"), ("TR1", "tpi"), ("TR2", "tpi"), ("TR3", "tpi"),
        ("WL1", "water_depth_cm"), ("WP1", "water_pressure_kpa"), ("WX1", "rain_mm"), ("WX1", "temperature_c"),
        ("WX2", "rain_mm"),
    ]
    assert dict(zip(scored["metric"], scored["domain"], strict=False))["aqi"] == "air"
    assert set(scored["domain"]) <= {"air", "gas", "noise", "traffic", "waterlogging", "water_supply", "rainfall",
                                     "heat"}


def test_the_aqi_is_computed_from_the_pollutant_means(scored: pd.DataFrame) -> None:
    aq1 = row(scored, "AQ1")
    assert aq1["value"] == 132.0  # HJ 633: PM2.5 100 µg/m³ → 50/40 × 25 + 100 = 131.25 → 132
    assert aq1["score"] == pytest.approx(70 - 30 * (132 - 101) / 100)
    assert aq1["level"] == AMBER and aq1["fresh"] and aq1["unit_code"] == "U1"
    assert aq1["time"] == NOW - pd.Timedelta(minutes=1) and aq1["age_s"] == 60.0


def test_a_sensor_publishing_the_aqi_is_judged_on_it(scored: pd.DataFrame) -> None:
    aq2 = row(scored, "AQ2")
    assert aq2["value"] == 250.0 and aq2["level"] == RED
    assert aq2["score"] == pytest.approx(40 - 40 * (250 - 201) / (500 - 201))


def test_stale_rows_are_grey_but_keep_their_time_and_age(scored: pd.DataFrame) -> None:
    aq3 = row(scored, "AQ3")
    assert not aq3["fresh"] and math.isnan(aq3["value"]) and math.isnan(aq3["score"]) and pd.isna(aq3["level"])
    assert aq3["time"] == NOW - pd.Timedelta(minutes=120) and aq3["age_s"] == 7200.0
    never = row(scored, "WL1")
    assert not never["fresh"] and pd.isna(never["time"]) and math.isnan(never["age_s"]) and pd.isna(never["level"])


def test_a_negative_pollutant_mean_is_left_out_of_the_aqi(scored: pd.DataFrame) -> None:
    aq4 = row(scored, "AQ4")
    # Only O3 counts: 30 µg/m³ → 1 h IAQI 10 (0–160 → 0–50), 8 h IAQI 15 (0–100 → 0–50).
    assert aq4["fresh"] and aq4["value"] == 15.0


def test_traffic_is_judged_on_tpi_or_on_speed_against_free_flow(scored: pd.DataFrame) -> None:
    tr1 = row(scored, "TR1")
    assert tr1["value"] == 7.0 and tr1["level"] == AMBER and tr1["score"] == pytest.approx(55.0)
    tr2 = row(scored, "TR2")  # 50 / 25 = 2.0 × free-flow travel time → between 1.8 (6) and 2.1 (8)
    assert tr2["metric"] == "tpi" and tr2["value"] == pytest.approx(6 + 2 * 0.2 / 0.3) and tr2["level"] == AMBER
    tr3 = row(scored, "TR3")  # registry free flow 30 km/h: 30 / 25 = 1.2 → TPI 2
    assert tr3["value"] == pytest.approx(2.0) and tr3["level"] == GREEN and tr3["score"] == pytest.approx(90.0)


def test_rainfall_takes_the_worse_of_its_two_windows(scored: pd.DataFrame) -> None:
    wx1 = scored[(scored["sensor_id"] == "WX1") & (scored["metric"] == "rain_mm")].iloc[0]
    assert wx1["level"] == RED and wx1["score"] == 40.0 and wx1["value"] == 100.0  # 3 h sum 100 mm
    wx2 = row(scored, "WX2")
    assert wx2["level"] == AMBER and wx2["value"] == 60.0  # the 6 h sum decides
    assert wx2["score"] == pytest.approx(70 - 30 * (60 - 50) / 150)
    assert wx2["time"] == NOW - pd.Timedelta(minutes=1)


def test_heat_is_the_local_days_maximum(scored: pd.DataFrame) -> None:
    heat = scored[(scored["sensor_id"] == "WX1") & (scored["metric"] == "temperature_c")].iloc[0]
    # 37.5 °C at 15:00 local counts; local midnight was 16:00 UTC yesterday.
    assert heat["value"] == 37.5 and heat["level"] == AMBER and heat["time"] == NOW


def test_noise_follows_the_zone_and_the_readings_local_time(scored: pd.DataFrame) -> None:
    assert row(scored, "NS1")["level"] == AMBER  # class 1 at night: 45 dB(A)
    assert row(scored, "NS2")["level"] == GREEN  # no zone → class 2, night limit 50
    ns3 = row(scored, "NS3")  # read at 21:59 local: the day limit of class 4a (70) applies
    assert ns3["level"] == GREEN and ns3["fresh"]


def test_exact_thresholds_and_lower_is_worse(scored: pd.DataFrame) -> None:
    gas = row(scored, "GS1")
    assert gas["value"] == 20.0 and gas["score"] == 70.0 and gas["level"] == AMBER
    pressure = row(scored, "WP1")
    assert pressure["level"] == RED and pressure["maintenance"]  # scored; the roll-up leaves it out
    assert not scored.loc[scored["sensor_id"] != "WP1", "maintenance"].any()


def test_the_standard_changes_the_aqi() -> None:
    rows = [(t, "AQ", "pm25", 35.5) for t in every(10, 24)]
    sensors = SENSORS.iloc[:1].assign(sensor_id="AQ", metrics="pm25")
    hj = score_readings(build_readings(rows), sensors, RULES, NOW, TZ, aqi_standard="HJ633-2012")
    epa = score_readings(build_readings(rows), sensors, RULES, NOW, TZ, aqi_standard="US-EPA-2024")
    assert hj["value"].iloc[0] == 51.0 and epa["value"].iloc[0] == 101.0
    assert hj["level"].iloc[0] == GREEN and epa["level"].iloc[0] == AMBER
    with pytest.raises(ValueError, match="no table for AQI standard 'WHO'"):
        score_readings(build_readings(rows), sensors, RULES, NOW, TZ, aqi_standard="WHO")


def test_score_readings_is_window_values_then_score_sensors(scored: pd.DataFrame) -> None:
    direct = score_readings(readings(), SENSORS, RULES, NOW, TZ)
    pd.testing.assert_frame_equal(direct, scored)


def test_a_registry_without_optional_columns_and_no_readings() -> None:
    sensors = pd.DataFrame({"sensor_id": ["S1"], "metrics": [["tpi"]]})
    empty = build_readings([(NOW, "S1", "tpi", 1.0)]).iloc[:0]
    result = score_readings(empty, sensors, RULES, NOW, TZ)
    assert tuple(result.columns) == SENSOR_SCORE_COLUMNS and len(result) == 1
    assert not result["fresh"].iloc[0] and not result["maintenance"].iloc[0] and pd.isna(result["unit_code"].iloc[0])
    nothing = score_readings(empty, sensors.assign(metrics="radiation_usv"), RULES, NOW, TZ)
    assert nothing.empty and tuple(nothing.columns) == SENSOR_SCORE_COLUMNS
    assert str(nothing["level"].dtype) == "Int64"


def test_registry_errors_are_named() -> None:
    with pytest.raises(ValueError, match="sensors: missing column metrics"):
        score_readings(readings(), SENSORS.drop(columns="metrics"), RULES, NOW, TZ)
    with pytest.raises(ValueError, match="sensors: duplicate sensor_id"):
        score_readings(readings(), pd.concat([SENSORS, SENSORS.iloc[:1]]), RULES, NOW, TZ)


def test_windows_with_two_rows_for_one_window_are_rejected() -> None:
    windows = window_values(readings(), SENSORS, RULES, NOW, TZ)
    with pytest.raises(ValueError, match="windows: more than one row"):
        score_sensors(pd.concat([windows, windows.iloc[:1]]), SENSORS, RULES, NOW, TZ)
