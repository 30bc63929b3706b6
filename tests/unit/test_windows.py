"""Windows over readings: latest and freshness, rolling sums and means, daily maxima, day and night (DST)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from indicators.rules import load_rules
from indicators.windows import (
    WINDOW_COLUMNS,
    assemble_windows,
    freshness,
    is_daytime,
    latest_readings,
    local_midnight,
    required_windows,
    sensor_metrics,
    window_statistic,
    window_values,
    worst_since_last_run,
)

RULES = load_rules()
NOW = pd.Timestamp("2024-07-01 12:00", tz="UTC")


def readings(*rows: tuple[str | pd.Timestamp, str, str, float]) -> pd.DataFrame:
    """Readings from (time, sensor_id, metric, value) rows; times are UTC."""
    times, sensor_ids, metrics, values = zip(*rows, strict=True)
    return pd.DataFrame(
        {"time": pd.to_datetime(list(times), utc=True), "sensor_id": sensor_ids, "metric": metrics, "value": values}
    )


def minutes_before(now: pd.Timestamp, minutes: float) -> pd.Timestamp:
    return now - pd.Timedelta(minutes=minutes)


def one(frame: pd.DataFrame, **where: object) -> pd.Series:
    mask = np.ones(len(frame), dtype=bool)
    for column, value in where.items():
        mask &= (frame[column] == value).to_numpy()
    assert mask.sum() == 1, f"{mask.sum()} rows for {where}"
    return frame[mask].iloc[0]


# --- latest and freshness -----------------------------------------------------------------------


def test_latest_is_the_newest_reading_at_or_before_now() -> None:
    frame = readings(
        (minutes_before(NOW, 3), "S1", "tpi", 3.0),
        (minutes_before(NOW, 1), "S1", "tpi", 4.0),
        (NOW, "S1", "noise_dba", 50.0),
        (NOW + pd.Timedelta(seconds=30), "S1", "tpi", 9.0),  # after now: not known yet
        (minutes_before(NOW, 2), "S2", "tpi", 5.0),
    )
    latest = latest_readings(frame, NOW)
    assert one(latest, sensor_id="S1", metric="tpi")["value"] == 4.0
    assert one(latest, sensor_id="S1", metric="tpi")["time"] == minutes_before(NOW, 1)
    assert one(latest, sensor_id="S1", metric="noise_dba")["value"] == 50.0
    assert one(latest, sensor_id="S2", metric="tpi")["value"] == 5.0
    assert len(latest) == 3


def test_readings_in_any_zone_are_compared_in_utc() -> None:
    frame = readings((minutes_before(NOW, 1), "S1", "tpi", 3.0))
    frame["time"] = frame["time"].dt.tz_convert("Asia/Shanghai")
    latest = latest_readings(frame, NOW.tz_convert("America/New_York"))
    assert latest["time"].iloc[0] == minutes_before(NOW, 1) and str(latest["time"].dt.tz) == "UTC"


def test_freshness_is_three_expected_intervals_inclusive() -> None:
    times = pd.Series(pd.to_datetime([NOW - pd.Timedelta(seconds=s) for s in (0, 180, 181)] + [None], utc=True))
    age_s, fresh = freshness(times, pd.Series([60.0, 60.0, 60.0, 60.0]), NOW, 3)
    assert age_s.iloc[:3].tolist() == [0.0, 180.0, 181.0] and np.isnan(age_s.iloc[3])
    assert fresh.tolist() == [True, True, False, False]


def test_naive_times_and_missing_columns_are_errors() -> None:
    frame = readings((NOW, "S1", "tpi", 1.0))
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        latest_readings(frame, datetime(2024, 7, 1, 12))  # noqa: DTZ001 - naive on purpose
    naive = frame.assign(time=frame["time"].dt.tz_localize(None))
    with pytest.raises(ValueError, match="readings.time must be timezone-aware"):
        latest_readings(naive, NOW)
    with pytest.raises(ValueError, match="missing columns value"):
        latest_readings(frame.drop(columns="value"), NOW)


# --- rolling windows ----------------------------------------------------------------------------


def test_rolling_sums_cover_the_window_ending_now() -> None:
    frame = readings(
        (NOW - pd.Timedelta(hours=6), "R", "rain_mm", 100.0),  # exactly 6 h ago: outside (now − 6 h, now]
        (NOW - pd.Timedelta(hours=5), "R", "rain_mm", 30.0),
        (NOW - pd.Timedelta(hours=3), "R", "rain_mm", 20.0),  # exactly 3 h ago: outside the 3 h window
        (NOW - pd.Timedelta(hours=2), "R", "rain_mm", 15.0),
        (NOW, "R", "rain_mm", 5.0),
    )
    three = window_statistic(frame, NOW, "sum", 3 * 3600)
    six = window_statistic(frame, NOW, "sum", 6 * 3600)
    assert one(three, sensor_id="R")["value"] == 20.0 and one(three, sensor_id="R")["count"] == 2
    assert one(six, sensor_id="R")["value"] == 70.0 and one(six, sensor_id="R")["count"] == 4


def test_rolling_means_for_the_aqi_inputs() -> None:
    hours = np.arange(24)
    rows = [(NOW - pd.Timedelta(hours=int(h)), "A", "pm25", float(h)) for h in hours]
    rows += [(NOW - pd.Timedelta(minutes=int(m)), "A", "o3", 100.0 if m < 60 else 40.0) for m in range(0, 600, 10)]
    frame = readings(*rows)
    pm_24h = one(window_statistic(frame, NOW, "mean", 86400), sensor_id="A", metric="pm25")
    assert pm_24h["value"] == pytest.approx(hours.mean()) and pm_24h["count"] == 24
    o3_8h = one(window_statistic(frame, NOW, "mean", 8 * 3600), sensor_id="A", metric="o3")
    assert o3_8h["value"] == pytest.approx((6 * 100 + 42 * 40) / 48)
    o3_1h = one(window_statistic(frame, NOW, "mean", 3600), sensor_id="A", metric="o3")
    assert o3_1h["value"] == 100.0 and o3_1h["count"] == 6


def test_a_window_without_readings_is_absent() -> None:
    frame = readings((NOW - pd.Timedelta(hours=2), "A", "o3", 50.0))
    assert window_statistic(frame, NOW, "mean", 3600).empty
    with pytest.raises(ValueError, match="needs a window"):
        window_statistic(frame, NOW, "mean", 0)
    with pytest.raises(ValueError, match="unknown statistic"):
        window_statistic(frame, NOW, "median", 3600)


# --- daily maximum, local midnight, day and night -------------------------------------------


@pytest.mark.parametrize(
    ("tz", "now", "midnight"),
    [
        ("America/New_York", "2024-03-10 15:00", "2024-03-10 05:00"),  # spring forward: the day starts in EST
        ("America/New_York", "2024-03-11 15:00", "2024-03-11 04:00"),
        ("America/New_York", "2024-11-03 15:00", "2024-11-03 04:00"),  # fall back: the day starts in EDT
        ("America/New_York", "2024-11-04 15:00", "2024-11-04 05:00"),
        ("America/New_York", "2024-03-10 04:30", "2024-03-09 05:00"),  # 23:30 local, the evening before
        ("Asia/Shanghai", "2024-06-01 03:00", "2024-05-31 16:00"),
        ("Asia/Shanghai", "2024-06-01 15:59", "2024-05-31 16:00"),
        ("Asia/Shanghai", "2024-06-01 16:00", "2024-06-01 16:00"),
        ("America/Havana", "2024-03-10 12:00", "2024-03-10 05:00"),  # no 00:00 that day: the transition
    ],
)
def test_local_midnight_follows_the_zone(tz: str, now: str, midnight: str) -> None:
    assert local_midnight(pd.Timestamp(now, tz="UTC"), tz) == pd.Timestamp(midnight, tz="UTC")


def test_daily_max_is_since_local_midnight_on_dst_days() -> None:
    tz = "America/New_York"
    now = pd.Timestamp("2024-03-10 20:00", tz="UTC")  # 16:00 EDT; the day began at 05:00 UTC
    frame = readings(
        ("2024-03-10 04:59", "W", "temperature_c", 30.0),  # 23:59 EST the day before
        ("2024-03-10 05:00", "W", "temperature_c", 12.0),  # 00:00 EST
        ("2024-03-10 17:00", "W", "temperature_c", 21.5),
        ("2024-03-10 19:59", "W", "temperature_c", 18.0),
    )
    result = one(window_statistic(frame, now, "daily_max", tz=tz), sensor_id="W")
    assert result["value"] == 21.5 and result["count"] == 3
    fall = pd.Timestamp("2024-11-03 23:00", tz="UTC")  # 18:00 EST; the day began at 04:00 UTC (EDT)
    frame = readings(
        ("2024-11-03 03:59", "W", "temperature_c", 25.0),
        ("2024-11-03 04:00", "W", "temperature_c", 11.0),
        ("2024-11-03 05:30", "W", "temperature_c", 13.0),  # 01:30 EDT … and again
        ("2024-11-03 06:30", "W", "temperature_c", 12.0),  # 01:30 EST: the 25 h day has two
        ("2024-11-03 22:55", "W", "temperature_c", 9.0),
    )
    result = one(window_statistic(frame, fall, "daily_max", tz=tz), sensor_id="W")
    assert result["value"] == 13.0 and result["count"] == 4


def test_daily_max_uses_the_city_zone_in_shanghai() -> None:
    tz = "Asia/Shanghai"
    now = pd.Timestamp("2024-07-01 07:00", tz="UTC")  # 15:00 CST
    frame = readings(
        ("2024-06-30 15:59", "W", "temperature_c", 39.0),  # 23:59 the day before
        ("2024-06-30 16:01", "W", "temperature_c", 27.0),
        ("2024-07-01 06:00", "W", "temperature_c", 36.5),
    )
    assert one(window_statistic(frame, now, "daily_max", tz=tz), sensor_id="W")["value"] == 36.5


def test_daily_max_before_the_days_first_reading_is_the_latest() -> None:
    tz = "Asia/Shanghai"
    now = pd.Timestamp("2024-06-30 16:00:30", tz="UTC")  # 00:00:30 local
    frame = readings(
        ("2024-06-30 15:59:30", "W", "temperature_c", 28.0),  # 23:59:30 local
        ("2024-06-30 10:00:00", "W", "temperature_c", 38.0),  # 18:00 local, the day before
    )
    result = one(window_statistic(frame, now, "daily_max", tz=tz), sensor_id="W")
    assert result["value"] == 28.0 and result["count"] == 0
    with pytest.raises(ValueError, match="time zone"):
        window_statistic(frame, now, "daily_max")


@pytest.mark.parametrize(
    ("utc", "daytime"),
    [
        # New York, spring forward (Sunday 10 March 2024, 02:00 EST → 03:00 EDT).
        ("2024-03-10 09:59", False),  # 05:59 EDT
        ("2024-03-10 10:00", True),  # 06:00 EDT
        ("2024-03-11 01:59", True),  # 21:59 EDT
        ("2024-03-11 02:00", False),  # 22:00 EDT
        ("2024-03-09 10:59", False),  # 05:59 EST, the Saturday before
        ("2024-03-09 11:00", True),  # 06:00 EST
        ("2024-03-10 02:59", True),  # 21:59 EST, Saturday evening
        ("2024-03-10 03:00", False),  # 22:00 EST
        # New York, fall back (Sunday 3 November 2024, 02:00 EDT → 01:00 EST).
        ("2024-11-03 05:30", False),  # 01:30 EDT
        ("2024-11-03 06:30", False),  # 01:30 EST, the repeated hour
        ("2024-11-03 10:59", False),  # 05:59 EST
        ("2024-11-03 11:00", True),  # 06:00 EST
        ("2024-11-02 10:00", True),  # 06:00 EDT, the Saturday before
        ("2024-11-04 02:59", True),  # 21:59 EST
        ("2024-11-04 03:00", False),  # 22:00 EST
    ],
)
def test_day_and_night_in_new_york_across_dst(utc: str, daytime: bool) -> None:
    assert is_daytime(pd.Timestamp(utc, tz="UTC"), "America/New_York") is daytime


@pytest.mark.parametrize(
    ("utc", "daytime"),
    [("2024-06-01 21:59", False), ("2024-06-01 22:00", True), ("2024-06-01 13:59", True), ("2024-06-01 14:00", False)],
)
def test_day_and_night_in_shanghai(utc: str, daytime: bool) -> None:
    assert is_daytime(pd.Timestamp(utc, tz="UTC"), "Asia/Shanghai") is daytime


def test_is_daytime_answers_series_and_index_alike() -> None:
    moments = ["2024-03-10 09:59", "2024-03-10 10:00", None]
    series = pd.Series(pd.to_datetime(moments, utc=True), index=[7, 8, 9])
    result = is_daytime(series, "America/New_York")
    assert result.tolist() == [False, True, False] and list(result.index) == [7, 8, 9]
    index = pd.DatetimeIndex(moments[:2], tz="UTC")
    assert is_daytime(index, "America/New_York").tolist() == [False, True]
    assert is_daytime(datetime(2024, 6, 1, 23, 0, tzinfo=UTC), "UTC", time(6), time(23)) is False
    with pytest.raises(ValueError, match="timezone-aware"):
        is_daytime(pd.Series(pd.to_datetime(["2024-01-01"])), "UTC")


# --- window_values ------------------------------------------------------------------------------


def registry(*rows: tuple[str, str, float | None]) -> pd.DataFrame:
    sensor_ids, metrics, intervals = zip(*rows, strict=True)
    return pd.DataFrame({"sensor_id": sensor_ids, "metrics": metrics, "expected_interval_s": intervals})


def test_the_registry_is_exploded_into_declared_metrics() -> None:
    sensors = pd.DataFrame({"sensor_id": ["A", "B", "C"], "metrics": ["pm25;pm10", ["tpi", "speed_kmh"], None]})
    pairs = sensor_metrics(sensors)
    assert sorted(map(tuple, pairs.to_numpy())) == [("A", "pm10"), ("A", "pm25"), ("B", "speed_kmh"), ("B", "tpi")]


def test_required_windows_follow_the_rules() -> None:
    needed = required_windows(RULES)
    assert needed["rain_mm"] == {("latest", 0.0), ("sum", 10800.0), ("sum", 21600.0)}
    assert needed["temperature_c"] == {("latest", 0.0), ("daily_max", 0.0)}
    assert needed["co"] == {("latest", 0.0), ("mean", 3600.0), ("mean", 28800.0)}
    assert needed["pm25"] == {("latest", 0.0), ("mean", 86400.0)}
    assert needed["speed_kmh"] == {("latest", 0.0)}


def test_window_values_per_sensor_with_freshness_and_silence() -> None:
    tz = "Asia/Shanghai"
    frame = readings(
        (NOW - pd.Timedelta(hours=2), "WX", "rain_mm", 40.0),
        (NOW - pd.Timedelta(hours=4), "WX", "rain_mm", 25.0),
        (NOW - pd.Timedelta(minutes=1), "WX", "rain_mm", 1.0),
        (NOW - pd.Timedelta(minutes=1), "WX", "temperature_c", 33.0),
        (NOW - pd.Timedelta(minutes=10), "OLD", "tpi", 7.0),  # 600 s > 3 × 60 s: stale
        (NOW - pd.Timedelta(minutes=2), "GS", "methane_lel", 5.0),  # 120 s ≤ 3 × 60 s (default interval)
    )
    sensors = registry(("WX", "rain_mm;temperature_c", 60), ("OLD", "tpi", 60), ("GS", "methane_lel", None),
                       ("MUTE", "water_depth_cm", 60))
    values = window_values(frame, sensors, RULES, NOW, tz)
    assert tuple(values.columns) == WINDOW_COLUMNS
    assert not values.duplicated(["sensor_id", "metric", "statistic", "window_s"]).any()
    rain_3h = one(values, sensor_id="WX", statistic="sum", window_s=10800.0)
    rain_6h = one(values, sensor_id="WX", statistic="sum", window_s=21600.0)
    assert (rain_3h["value"], rain_3h["count"], rain_6h["value"]) == (41.0, 2, 66.0)
    assert rain_3h["fresh"] and rain_3h["age_s"] == 60.0 and rain_3h["time"] == NOW - pd.Timedelta(minutes=1)
    assert one(values, sensor_id="WX", metric="temperature_c", statistic="daily_max")["value"] == 33.0
    old = one(values, sensor_id="OLD", statistic="latest")
    assert (old["value"], old["age_s"], bool(old["fresh"])) == (7.0, 600.0, False)
    assert bool(one(values, sensor_id="GS", statistic="latest")["fresh"])
    mute = one(values, sensor_id="MUTE", statistic="latest")
    assert np.isnan(mute["value"]) and pd.isna(mute["time"]) and np.isnan(mute["age_s"]) and not mute["fresh"]
    assert str(values["time"].dt.tz) == "UTC" and values["fresh"].dtype == bool


def test_window_values_use_each_sensors_expected_interval() -> None:
    frame = readings((NOW - pd.Timedelta(minutes=61), "SLOW", "noise_dba", 50.0),
                     (NOW - pd.Timedelta(minutes=61), "FAST", "noise_dba", 50.0))
    values = window_values(frame, registry(("SLOW", "noise_dba", 3600), ("FAST", "noise_dba", 60)), RULES, NOW, "UTC")
    assert bool(one(values, sensor_id="SLOW")["fresh"]) and not bool(one(values, sensor_id="FAST")["fresh"])


def test_window_values_without_any_reading_or_sensor() -> None:
    empty = readings((NOW, "X", "tpi", 1.0)).iloc[:0]
    values = window_values(empty, registry(("S", "tpi", 60)), RULES, NOW, "UTC")
    assert len(values) == 1 and not values["fresh"].any()
    nothing = window_values(empty, registry(("S", "unknown_metric", 60)), RULES, NOW, "UTC")
    assert nothing.empty and tuple(nothing.columns) == WINDOW_COLUMNS


def test_an_old_reading_falls_out_of_a_window_and_goes_stale() -> None:
    frame = readings((NOW - timedelta(hours=2), "A", "o3", 50.0))
    values = window_values(frame, registry(("A", "o3", 60)), RULES, NOW, "UTC")
    one_hour = one(values, statistic="mean", window_s=3600.0)
    eight_hours = one(values, statistic="mean", window_s=28800.0)
    assert np.isnan(one_hour["value"]) and not one_hour["fresh"]
    assert eight_hours["value"] == 50.0 and not eight_hours["fresh"]  # the value, but no fresh reading


def test_freshness_follows_the_newest_reading_not_the_reading_judged() -> None:
    """§4.1: the worst reading since the previous run may be older than the freshness window (runs stalled);
    a sensor still reporting is fresh, judged on that worst value."""
    worst = pd.DataFrame({"sensor_id": ["GS"], "metric": ["methane_lel"], "statistic": ["latest"],
                          "window_s": [0.0], "value": [65.0], "count": [1]})  # read 155 s before NOW
    newest = pd.DataFrame({"sensor_id": ["GS"], "metric": ["methane_lel"], "time": [NOW - pd.Timedelta(seconds=10)]})
    [row] = assemble_windows(worst, newest, registry(("GS", "methane_lel", 30)), RULES, NOW).itertuples()
    assert (row.value, row.age_s, row.fresh) == (65.0, 10.0, True)


def test_worst_since_last_run_follows_the_roll_up_policy_and_the_statistic_a_city_sets(tmp_path: Path) -> None:
    """§4.1: in the worst-of domains, a metric judged on its latest value or a maximum is judged on its
    worst reading since the previous run; a sum or a mean is judged as it stands at run time."""
    assert worst_since_last_run(RULES) == (["crowd_density", "methane_lel", "water_depth_cm"], [])
    override = tmp_path / "indicators.toml"
    override.write_text(
        '[rollup.policy]\nheat = "worst"\ntraffic = "worst"\nrainfall = "worst"\nwater_supply = "worst"\n'
        '[metrics.methane_lel]\nstatistic = "max"\nwindow = "1min"\n'
        '[metrics.crowd_density]\nstatistic = "mean"\nwindow = "15min"\n', encoding="utf-8")
    highest, lowest = worst_since_last_run(load_rules(override_path=override))
    # temperature_c: the day's maximum; methane_lel: a 1-minute maximum; tpi: its latest value.
    # Not rain_mm (3 h and 6 h sums) nor crowd_density (a mean).
    assert highest == ["methane_lel", "temperature_c", "tpi", "water_depth_cm"]
    # A speed-only traffic sensor is judged on the TPI of its speed: its lowest speed is its worst.
    assert lowest == ["speed_kmh", "water_pressure_kpa"]
