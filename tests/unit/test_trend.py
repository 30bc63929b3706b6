"""Trend and early warning (docs/vital-signs.md §4.6): Holt forecast on a regular grid, threshold crossings."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from indicators.levels import AMBER, GREEN, RED
from indicators.trend import TREND_COLUMNS, forecast_frame, forecast_trend

T0 = pd.Timestamp("2024-06-01 08:00", tz="UTC")


def irregular_minutes(span_min: float = 60.0, n: int = 30, seed: int = 1) -> np.ndarray:
    """Sorted irregular sample times in minutes, from 0 to exactly ``span_min``."""
    minutes = np.sort(np.random.default_rng(seed).uniform(0, span_min, n))
    minutes[0], minutes[-1] = 0.0, span_min
    return minutes


def at(minutes: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex([T0 + pd.Timedelta(minutes=float(m)) for m in minutes])


def test_a_falling_ramp_predicts_amber_at_the_right_time() -> None:
    minutes = irregular_minutes()
    scores = 110.0 - 0.5 * minutes  # 80 now, falling 0.5 point/min: 70 in 20 min
    forecast = forecast_trend(at(minutes), scores)
    assert forecast.current_score == pytest.approx(80.0)
    assert forecast.current_level == GREEN
    assert forecast.trend_per_hour == pytest.approx(-30.0)
    assert forecast.predicted_level == AMBER
    assert forecast.warning
    assert forecast.minutes_to_crossing == pytest.approx(20.0, abs=5.0)  # within one 5-min step


def test_a_steep_ramp_predicts_the_worst_level_reached_within_the_horizon() -> None:
    minutes = irregular_minutes(seed=2)
    scores = 135.0 - 1.5 * minutes  # 45 now (amber), falling 1.5/min: 40 in 3.3 min
    forecast = forecast_trend(at(minutes), scores)
    assert forecast.current_level == AMBER
    assert forecast.predicted_level == RED
    assert forecast.minutes_to_crossing == pytest.approx(10 / 3, abs=5.0)

    green_now = forecast_trend(at(minutes), 150.0 - 1.25 * minutes)  # 75 now; 70 in 4 min, 40 in 28 min
    assert green_now.current_level == GREEN
    assert green_now.predicted_level == RED
    assert green_now.minutes_to_crossing == pytest.approx(28.0, abs=5.0)


def test_the_forecast_points_cover_the_next_hour_in_steps() -> None:
    minutes = irregular_minutes()
    forecast = forecast_trend(at(minutes), 110.0 - 0.5 * minutes)
    assert forecast.has_forecast
    assert len(forecast.times) == len(forecast.scores) == 12
    assert forecast.times[0] == T0 + pd.Timedelta(minutes=65)
    assert forecast.times[-1] == T0 + pd.Timedelta(minutes=120)
    assert forecast.scores[0] == pytest.approx(77.5)
    assert forecast.scores[-1] == pytest.approx(50.0)


def test_forecast_scores_stay_between_0_and_100() -> None:
    minutes = irregular_minutes()
    falling = forecast_trend(at(minutes), 60.0 - 0.9 * minutes)
    rising = forecast_trend(at(minutes), 40.0 + 0.9 * minutes)
    assert min(falling.scores) == 0.0
    assert max(rising.scores) == 100.0


def test_a_flat_series_gives_no_warning() -> None:
    minutes = irregular_minutes()
    forecast = forecast_trend(at(minutes), np.full(len(minutes), 72.0))
    assert forecast.has_forecast
    assert forecast.trend_per_hour == pytest.approx(0.0)
    assert forecast.predicted_level is None and forecast.minutes_to_crossing is None
    assert not forecast.warning


def test_a_rising_series_gives_no_warning() -> None:
    minutes = irregular_minutes()
    forecast = forecast_trend(at(minutes), 30.0 + 0.5 * minutes)
    assert forecast.predicted_level is None


def test_a_slow_fall_that_stays_green_within_the_hour_gives_no_warning() -> None:
    minutes = irregular_minutes()
    forecast = forecast_trend(at(minutes), 95.0 - 0.1 * minutes)  # 89 now, 83 in an hour
    assert forecast.trend_per_hour < 0
    assert forecast.predicted_level is None


def test_an_already_red_series_is_not_predicted_red() -> None:
    minutes = irregular_minutes()
    forecast = forecast_trend(at(minutes), 70.0 - 0.5 * minutes)  # 40 now: at the red threshold
    assert forecast.current_level == RED
    assert forecast.predicted_level is None
    assert forecast.minutes_to_crossing is None


@pytest.mark.parametrize("n", [0, 1, 2])
def test_too_short_a_series_gives_no_forecast_and_no_error(n: int) -> None:
    minutes = np.arange(n) * 5.0
    forecast = forecast_trend(at(minutes), 90.0 - minutes)
    assert not forecast.has_forecast
    assert forecast.times == () and forecast.scores == ()
    assert forecast.predicted_level is None and forecast.minutes_to_crossing is None
    assert math.isnan(forecast.trend_per_hour)
    if n:
        assert forecast.current_score == pytest.approx(90.0 - minutes[-1])


def test_samples_closer_than_a_step_are_too_few_points() -> None:
    minutes = np.array([0.0, 1.0, 2.0, 3.0])
    assert not forecast_trend(at(minutes), [90.0, 80.0, 70.0, 60.0]).has_forecast


def test_an_all_nan_series_gives_no_forecast() -> None:
    minutes = irregular_minutes()
    forecast = forecast_trend(at(minutes), np.full(len(minutes), np.nan))
    assert not forecast.has_forecast
    assert forecast.last_time is None and math.isnan(forecast.current_score) and forecast.current_level is None


def test_nan_samples_are_skipped() -> None:
    minutes = irregular_minutes()
    scores = 110.0 - 0.5 * minutes
    scores[5:10] = np.nan
    forecast = forecast_trend(at(minutes), scores)
    assert forecast.trend_per_hour == pytest.approx(-30.0)


def test_only_the_stretch_after_a_long_gap_is_used() -> None:
    before = np.array([0.0, 5.0, 10.0])
    after = np.arange(60.0, 91.0, 5.0)
    minutes = np.concatenate([before, after])
    scores = np.concatenate([[20.0, 20.0, 20.0], np.full(len(after), 85.0)])  # old outage values, then flat
    forecast = forecast_trend(at(minutes), scores)
    assert forecast.trend_per_hour == pytest.approx(0.0)
    assert forecast.predicted_level is None


def test_naive_times_are_rejected() -> None:
    times = pd.date_range("2024-06-01", periods=5, freq="5min")
    with pytest.raises(ValueError, match="timezone-aware"):
        forecast_trend(times, [90, 80, 70, 60, 50])


def test_bad_parameters_are_rejected() -> None:
    minutes = irregular_minutes()
    with pytest.raises(ValueError, match="alpha"):
        forecast_trend(at(minutes), minutes, alpha=0.0)
    with pytest.raises(ValueError, match="step_min"):
        forecast_trend(at(minutes), minutes, step_min=-5)
    with pytest.raises(ValueError, match="min_points"):
        forecast_trend(at(minutes), minutes, min_points=1)
    with pytest.raises(ValueError, match="times but"):
        forecast_trend(at(minutes), minutes[:-1])


def test_forecast_frame_gives_one_row_per_unit_and_domain() -> None:
    minutes = irregular_minutes()
    times = at(minutes)
    parts = [
        pd.DataFrame({"scope_code": "A1", "domain": "air", "time": times, "score": 110.0 - 0.5 * minutes}),
        pd.DataFrame({"scope_code": "A1", "domain": "noise", "time": times, "score": 72.0}),
        pd.DataFrame({"scope_code": "B1", "domain": "air", "time": times, "score": np.nan}),
        pd.DataFrame({"scope_code": "B2", "domain": "air", "time": times[-2:], "score": [50.0, 45.0]}),
    ]
    # Shuffled rows: the frame helper must not rely on order.
    frame = pd.concat(parts, ignore_index=True).sample(frac=1.0, random_state=3)
    result = forecast_frame(frame).set_index(["scope_code", "domain"]).sort_index()
    assert list(result.columns) == list(TREND_COLUMNS)
    assert len(result) == 4
    ramp = result.loc[("A1", "air")]
    assert ramp["predicted_level"] == AMBER
    assert ramp["minutes_to_crossing"] == pytest.approx(20.0, abs=5.0)
    assert ramp["last_time"] == times[-1]
    single = forecast_trend(times, 110.0 - 0.5 * minutes)
    assert ramp["minutes_to_crossing"] == pytest.approx(single.minutes_to_crossing)
    assert ramp["forecast_score"] == pytest.approx(single.scores[-1])
    assert pd.isna(result.loc[("A1", "noise"), "predicted_level"])
    assert result.loc[("A1", "noise"), "current_level"] == GREEN
    empty = result.loc[("B1", "air")]
    assert empty["n_points"] == 0 and pd.isna(empty["current_level"]) and pd.isna(empty["last_time"])
    short = result.loc[("B2", "air")]
    assert short["n_points"] < 3 and math.isnan(short["forecast_score"]) and short["current_score"] == 45.0
    assert result["predicted_level"].dtype == "Int64"


def test_forecast_frame_of_an_empty_frame_is_empty() -> None:
    frame = pd.DataFrame({"scope_code": [], "domain": [], "time": pd.Series([], dtype="datetime64[ns, UTC]"),
                          "score": []})
    result = forecast_frame(frame)
    assert result.empty
    assert list(result.columns) == ["scope_code", "domain", *TREND_COLUMNS]
