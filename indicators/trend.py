"""Short-term trend and early warning per unit and domain (docs/vital-signs.md §4.6, 趋势预判).

Method: Holt's linear trend (double exponential smoothing) on a regular grid.

1. Samples with a NaN score or NaT time are dropped; samples at the same time are averaged.
2. Only the recent past is used: the last ``window_min`` minutes before the latest sample,
   and of those only the part after the last gap longer than ``max_gap_min`` (a long outage
   says nothing about the current trend).
3. Resampling: scores are linearly interpolated at a regular grid of ``step_min`` minutes
   that ends exactly at the latest sample time ("now" for the series), so irregular sample
   times do not shift the trend and a straight line stays exactly straight.
4. Holt's recursion over the grid: level ``L₁ = y₁``; at the second point ``b = y₂ − y₁``,
   ``L = y₂``; then ``L ← α·y + (1 − α)(L + b)``, ``b ← β·(L − L_prev) + (1 − β)·b``.
   Forecast ``h`` steps ahead: ``L + h·b``, clipped to 0–100, for the next ``horizon_min``.
5. Fewer than ``min_points`` grid points: no forecast (not an error).

Early warning: scores fall as things get worse (100 healthy; 70 = amber, 40 = red
threshold, a score at a threshold is in that level). When the trend is falling and the
forecast at the horizon is in a worse level than the latest observed score,
``predicted_level`` is that (worst reached) level and ``minutes_to_crossing`` the minutes
from the latest sample until the forecast line reaches that level's threshold (0 when the
smoothed level is already past it). A unit already red gets no warning; an amber one can
only get "predicted red". Otherwise both are None.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from indicators.levels import AMBER, AMBER_SCORE, GREEN, RED, RED_SCORE

STEP_MIN = 5.0
HORIZON_MIN = 60.0
WINDOW_MIN = 120.0
MAX_GAP_MIN = 30.0
MIN_POINTS = 3
ALPHA = 0.5
BETA = 0.3

TREND_COLUMNS: tuple[str, ...] = (
    "last_time", "current_score", "current_level", "smoothed_score", "trend_per_hour",
    "forecast_score", "predicted_level", "minutes_to_crossing", "n_points",
)
_EPOCH = pd.Timestamp("1970-01-01", tz="UTC")


@dataclass(frozen=True)
class TrendForecast:
    """The forecast for one series. Scores are 0–100 (100 healthy), levels 0/1/2.

    ``times``/``scores``: forecast points, one per step after ``last_time`` up to the
    horizon (empty without a forecast). ``trend_per_hour``: smoothed slope in score points
    per hour (negative = worsening). ``predicted_level``/``minutes_to_crossing``: the early
    warning, see the module docstring; None when there is none.
    """

    last_time: pd.Timestamp | None
    current_score: float
    current_level: int | None
    trend_per_hour: float
    times: tuple[pd.Timestamp, ...]
    scores: tuple[float, ...]
    predicted_level: int | None
    minutes_to_crossing: float | None

    @property
    def has_forecast(self) -> bool:
        return bool(self.scores)

    @property
    def warning(self) -> bool:
        """True when a worse level is predicted within the horizon."""
        return self.predicted_level is not None


def forecast_trend(
    times: Sequence[pd.Timestamp] | pd.Series | pd.DatetimeIndex,
    scores: Sequence[float] | pd.Series | np.ndarray,
    *,
    step_min: float = STEP_MIN,
    horizon_min: float = HORIZON_MIN,
    window_min: float = WINDOW_MIN,
    max_gap_min: float = MAX_GAP_MIN,
    min_points: int = MIN_POINTS,
    alpha: float = ALPHA,
    beta: float = BETA,
) -> TrendForecast:
    """Holt forecast and early warning for one score series at tz-aware ``times``."""
    time_index = pd.DatetimeIndex(times)
    values = np.asarray(scores, dtype=float)
    if len(time_index) != len(values):
        raise ValueError(f"forecast_trend: {len(time_index)} times but {len(values)} scores")
    if not len(values):  # one all-NaN sample gives the "no forecast" answer
        time_index, values = pd.DatetimeIndex([pd.NaT], dtype="datetime64[ns, UTC]"), np.array([np.nan])
    series = pd.DataFrame({"scope_code": "", "domain": "", "time": time_index, "score": values})
    row = forecast_frame(
        series, step_min=step_min, horizon_min=horizon_min, window_min=window_min, max_gap_min=max_gap_min,
        min_points=min_points, alpha=alpha, beta=beta,
    ).iloc[0]
    has_forecast = row["n_points"] >= max(min_points, 2)
    steps = np.arange(1, int(horizon_min // step_min) + 1) if has_forecast else np.arange(0)
    trend_per_step = row["trend_per_hour"] * step_min / 60.0
    last_time = None if pd.isna(row["last_time"]) else row["last_time"]
    return TrendForecast(
        last_time=last_time,
        current_score=float(row["current_score"]),
        current_level=None if pd.isna(row["current_level"]) else int(row["current_level"]),
        trend_per_hour=float(row["trend_per_hour"]),
        times=tuple(last_time + pd.Timedelta(minutes=float(h * step_min)) for h in steps),
        scores=tuple(float(s) for s in np.clip(row["smoothed_score"] + steps * trend_per_step, 0.0, 100.0)),
        predicted_level=None if pd.isna(row["predicted_level"]) else int(row["predicted_level"]),
        minutes_to_crossing=None if pd.isna(row["minutes_to_crossing"]) else float(row["minutes_to_crossing"]),
    )


def forecast_frame(
    frame: pd.DataFrame,
    *,
    keys: Sequence[str] = ("scope_code", "domain"),
    step_min: float = STEP_MIN,
    horizon_min: float = HORIZON_MIN,
    window_min: float = WINDOW_MIN,
    max_gap_min: float = MAX_GAP_MIN,
    min_points: int = MIN_POINTS,
    alpha: float = ALPHA,
    beta: float = BETA,
) -> pd.DataFrame:
    """One row per ``keys`` group of a long frame (``*keys, time, score``): trend and warning.

    Columns: the keys, then ``TREND_COLUMNS``: ``last_time`` (latest sample), ``current_score``
    and ``current_level`` (Int64) at it, ``smoothed_score`` (Holt level), ``trend_per_hour``
    (score points per hour), ``forecast_score`` (at the horizon, 0–100), ``predicted_level``
    (Int64, <NA> without a warning), ``minutes_to_crossing`` (NaN without a warning) and
    ``n_points`` (grid points used). Groups with too few points have NaN forecasts.
    Computed for all groups at once (numpy over a groups × grid matrix).
    """
    keys = list(keys)
    _check_parameters(
        {"step_min": step_min, "horizon_min": horizon_min, "window_min": window_min, "max_gap_min": max_gap_min},
        min_points,
        alpha,
        beta,
    )
    missing = [column for column in [*keys, "time", "score"] if column not in frame.columns]
    if missing:
        raise ValueError(f"forecast_frame: missing columns {missing}")
    times = frame["time"]
    if not isinstance(times.dtype, pd.DatetimeTZDtype):
        if not times.isna().all():
            raise ValueError(f"forecast_frame: times must be timezone-aware, got dtype {times.dtype}")
        times = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")

    group_ids, groups = pd.MultiIndex.from_frame(frame[keys]).factorize()
    n_groups = len(groups)
    # Minutes since the earliest sample: small numbers keep float rounding out of the slopes.
    origin = times.min() if times.notna().any() else _EPOCH
    minutes = ((times - origin) / pd.Timedelta(minutes=1)).to_numpy(float)
    score = pd.to_numeric(frame["score"]).to_numpy(float)
    usable = ~np.isnan(minutes) & ~np.isnan(score)

    grid, n_points = _regular_grid(
        group_ids[usable], minutes[usable], score[usable], n_groups, step_min, window_min, max_gap_min
    )
    level, trend = _holt(grid, n_points, alpha, beta)
    has_forecast = n_points >= max(min_points, 2)
    level = np.where(has_forecast, level, np.nan)
    trend = np.where(has_forecast, trend, np.nan)

    current = grid[:, -1] if grid.shape[1] else np.full(n_groups, np.nan)
    current_level = _score_levels(current)
    steps = horizon_min / step_min
    forecast = np.clip(level + steps * trend, 0.0, 100.0)
    forecast_level = _score_levels(level + steps * trend)
    falling = trend < 0
    warn = has_forecast & falling & ~np.isnan(current_level) & (forecast_level > current_level)
    predicted = np.where(warn, forecast_level, np.nan)
    threshold = np.where(predicted == RED, RED_SCORE, AMBER_SCORE)
    with np.errstate(invalid="ignore", divide="ignore"):
        steps_to_cross = np.maximum((level - threshold) / -trend, 0.0)
    minutes_to_crossing = np.where(warn, steps_to_cross * step_min, np.nan)

    result = groups.set_names(keys).to_frame(index=False)
    result["last_time"] = times[usable].groupby(group_ids[usable]).max().reindex(range(n_groups)).array
    result["current_score"] = current
    result["current_level"] = pd.array(_to_int_or_na(current_level), dtype="Int64")
    result["smoothed_score"] = level
    result["trend_per_hour"] = trend * 60.0 / step_min
    result["forecast_score"] = forecast
    result["predicted_level"] = pd.array(_to_int_or_na(predicted), dtype="Int64")
    result["minutes_to_crossing"] = minutes_to_crossing
    result["n_points"] = n_points.astype("int64")
    return result


def _check_parameters(minutes: dict[str, float], min_points: int, alpha: float, beta: float) -> None:
    for name, value in minutes.items():
        if not np.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a positive number of minutes, got {value!r}")
    for name, value in (("alpha", alpha), ("beta", beta)):
        if not 0 < value <= 1:
            raise ValueError(f"{name} must be in (0, 1], got {value!r}")
    if min_points < 2:
        raise ValueError(f"min_points must be at least 2 (a trend needs two points), got {min_points!r}")


def _regular_grid(
    group_ids: np.ndarray,
    minutes: np.ndarray,
    score: np.ndarray,
    n_groups: int,
    step_min: float,
    window_min: float,
    max_gap_min: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores on a right-aligned regular grid, groups × steps (NaN before a group's start).

    Returns the grid and the number of valid (rightmost) points per group.
    """
    last_minute = pd.Series(minutes).groupby(group_ids).max().reindex(range(n_groups)).to_numpy(float)
    if not len(minutes):
        return np.full((n_groups, 0), np.nan), np.zeros(n_groups, dtype=int)
    # Time relative to the group's latest sample (≤ 0): small numbers, and a shared grid.
    relative = minutes - last_minute[group_ids]
    recent = relative >= -window_min - 1e-9
    samples = (
        pd.DataFrame({"group": group_ids[recent], "relative": relative[recent], "score": score[recent]})
        .groupby(["group", "relative"], sort=True)["score"]
        .mean()
        .reset_index()
    )
    group = samples["group"].to_numpy()
    relative = samples["relative"].to_numpy(float)
    value = samples["score"].to_numpy(float)

    # Keep what follows the last gap longer than max_gap_min in each group.
    starts_segment = np.ones(len(group), dtype=bool)
    starts_segment[1:] = (group[1:] != group[:-1]) | (np.diff(relative) > max_gap_min)
    start = pd.Series(relative[starts_segment]).groupby(group[starts_segment]).max()
    start = start.reindex(range(n_groups)).to_numpy(float)

    n_points = np.where(np.isnan(start), 0, np.floor(-start / step_min + 1e-9) + 1).astype(int)
    width = int(n_points.max())
    steps_back = np.arange(width - 1, -1, -1, dtype=float)  # column j is (width-1-j) steps before the end
    valid = steps_back[None, :] < n_points[:, None]
    # One np.interp for all groups: shift each group onto its own stretch of the axis.
    stride = window_min + 2 * step_min
    axis = relative + group * stride
    grid_axis = -steps_back[None, :] * step_min + np.arange(n_groups)[:, None] * stride
    grid = np.interp(grid_axis.ravel(), axis, value).reshape(n_groups, width)
    return np.where(valid, grid, np.nan), n_points


def _holt(grid: np.ndarray, n_points: np.ndarray, alpha: float, beta: float) -> tuple[np.ndarray, np.ndarray]:
    """Holt's level and trend (per step) after the last column, for every row at once."""
    n_groups, width = grid.shape
    level = np.full(n_groups, np.nan)
    trend = np.full(n_groups, np.nan)
    first_column = width - n_points
    for column in range(width):
        y = grid[:, column]
        is_first = column == first_column
        is_second = column == first_column + 1
        is_later = column > first_column + 1
        smoothed = alpha * y + (1 - alpha) * (level + trend)
        new_level = np.where(is_first | is_second, y, np.where(is_later, smoothed, level))
        new_trend = np.where(
            is_second, y - level, np.where(is_later, beta * (new_level - level) + (1 - beta) * trend, trend)
        )
        level, trend = new_level, new_trend
    return level, trend


def _score_levels(score: np.ndarray) -> np.ndarray:
    """Level of each score (float array, NaN for NaN): ≤ 40 red, ≤ 70 amber, else green."""
    return np.where(
        np.isnan(score), np.nan, np.where(score <= RED_SCORE, RED, np.where(score <= AMBER_SCORE, AMBER, GREEN))
    ).astype(float)


def _to_int_or_na(values: np.ndarray) -> list[int | None]:
    return [None if np.isnan(value) else int(value) for value in values]
