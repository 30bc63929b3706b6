"""Scores and levels of metric values (docs/vital-signs.md §1, §2).

``score``: 100 (healthy) … 0, piecewise-linear through (best, 100), (amber, 70), (red, 40),
(worst, 0), clipped beyond best and worst. ``level``: 0 green, 1 amber, 2 red; a value at a
threshold is in that level (≥ when higher is worse, ≤ when lower is worse), or only beyond it
when the rule is not ``inclusive`` (GB 3096 noise: "above the limit"). Both take a scalar, a
numpy array or a pandas Series and answer in kind; NaN is grey: score NaN, level ``None``
(scalar), NaN (array) or ``<NA>`` (Series, nullable Int64).
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from indicators.levels import AMBER_SCORE, RED_SCORE
from indicators.rules import MetricRule, NoiseRule, TrafficRule
from indicators.windows import is_daytime

Values: TypeAlias = float | np.ndarray | pd.Series

# Scores at best, amber, red, worst (§1).
_POINT_SCORES = np.array([100.0, AMBER_SCORE, RED_SCORE, 0.0])


def _as_float_array(value: Any) -> np.ndarray:
    if isinstance(value, pd.Series | pd.Index):
        return value.to_numpy(dtype=float, na_value=np.nan)
    if value is None or value is pd.NA:
        return np.array(np.nan)
    return np.asarray(value, dtype=float)


def _is_scalar(value: Any) -> bool:
    return value is None or value is pd.NA or np.ndim(value) == 0 and not isinstance(value, pd.Series)


def _oriented(rule: MetricRule, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values and the four points turned so that higher is always worse (negation is exact)."""
    points = np.array([rule.best, rule.amber, rule.red, rule.worst])
    return (x, points) if rule.higher_is_worse else (-x, -points)


def _score_array(rule: MetricRule, x: np.ndarray) -> np.ndarray:
    x, points = _oriented(rule, x)
    # Segment k runs from points[k] to points[k+1]; side="right" puts a value equal to a point
    # at the start of the next segment, where the formula gives that point's score exactly.
    segment = np.clip(np.searchsorted(points, x, side="right") - 1, 0, 2)
    x0, x1 = points[segment], points[segment + 1]
    s0, s1 = _POINT_SCORES[segment], _POINT_SCORES[segment + 1]
    with np.errstate(invalid="ignore"):
        raw = s0 + (s1 - s0) * ((x - x0) / (x1 - x0))
    return np.clip(raw, 0.0, 100.0)


def _level_array(rule: MetricRule, x: np.ndarray) -> np.ndarray:
    """Levels as floats (NaN for NaN values)."""
    x, points = _oriented(rule, x)
    amber, red = points[1], points[2]
    # Inclusive: at the threshold is in the level; otherwise only strictly beyond it.
    beyond = np.greater_equal if rule.inclusive else np.greater
    with np.errstate(invalid="ignore"):
        levels = beyond(x, amber).astype(float) + beyond(x, red)
    return np.where(np.isnan(x), np.nan, levels)


def score(rule: MetricRule, value: Values) -> Values:
    """Score 0–100 of ``value`` (in ``rule.unit``) under ``rule``; NaN stays NaN.

    Exactly 70 at the amber threshold and 40 at the red one, 100 at ``best`` and beyond, 0 at
    ``worst`` and beyond; monotone in between (falling as the value worsens).
    """
    x = _as_float_array(value)
    scores = _score_array(rule, x)
    if isinstance(value, pd.Series):
        return pd.Series(scores, index=value.index, name=value.name, dtype=float)
    return float(scores) if _is_scalar(value) else scores


def level(rule: MetricRule, value: Values) -> int | None | np.ndarray | pd.Series:
    """Level 0/1/2 of ``value`` under ``rule``; grey for NaN: ``None`` / NaN / ``<NA>``."""
    x = _as_float_array(value)
    levels = _level_array(rule, x)
    if isinstance(value, pd.Series):
        return pd.Series(pd.array(levels, dtype="Int64"), index=value.index, name=value.name)
    if _is_scalar(value):
        return None if np.isnan(levels) else int(levels)
    return levels


def score_and_level_by_row(values: pd.Series, rules: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Score (float) and level (Int64) of each value under the rule on the same row.

    ``rules`` holds a :class:`MetricRule` (or ``None``: grey) per row of ``values``; the work is
    vectorised per distinct rule, so noise rows (a rule per zone and day/night) stay cheap.
    """
    x = values.to_numpy(dtype=float, na_value=np.nan)
    scores = np.full(len(x), np.nan)
    levels = np.full(len(x), np.nan)
    for rule, rows in _rows_by_rule(rules):
        scores[rows] = _score_array(rule, x[rows])
        levels[rows] = _level_array(rule, x[rows])
    return (
        pd.Series(scores, index=values.index, dtype=float),
        pd.Series(pd.array(levels, dtype="Int64"), index=values.index),
    )


def _rows_by_rule(rules: pd.Series) -> list[tuple[MetricRule, np.ndarray]]:
    """Each rule of ``rules`` (missing ones skipped) with the positions of its rows.

    Rows are grouped by rule identity: rules are shared objects, and hashing a frozen dataclass
    of a dozen fields for every row cost more than the scoring itself. Equal rules that are
    distinct objects merely form separate groups, with the same outcome.
    """
    objects = rules.tolist()
    rows_of: dict[int, list[int]] = {}
    for row in np.flatnonzero(rules.notna().to_numpy()).tolist():
        rows_of.setdefault(id(objects[row]), []).append(row)
    return [(objects[rows[0]], np.array(rows, dtype=np.intp)) for rows in rows_of.values()]


def noise_rule_at(noise: NoiseRule, zone: str | None, time: datetime, tz: tzinfo | str) -> MetricRule:
    """The rule for a noise reading taken at ``time`` (tz-aware) in ``zone``: the GB 3096-2008
    day or night limit by the city's local time (``tz``)."""
    return noise.rule(zone, bool(is_daytime(time, tz, noise.day_start, noise.day_end)))


def noise_rules(noise: NoiseRule, zones: pd.Series, times: pd.Series, tz: tzinfo | str) -> pd.Series:
    """The rule of every noise reading (zone, time) as a Series of :class:`MetricRule`; ``None``
    where the time is missing (the reading's day/night is unknown: grey)."""
    daytime = pd.Series(is_daytime(times, tz, noise.day_start, noise.day_end), index=times.index)
    known = times.notna().to_numpy()
    keys = [noise.zone_of(zone) for zone in zones]
    cache: dict[tuple[str, bool], MetricRule] = {}
    result: list[MetricRule | None] = []
    for zone, day, has_time in zip(keys, daytime.to_numpy(bool), known, strict=True):
        if not has_time:
            result.append(None)
            continue
        key = (str(zone), bool(day))
        if key not in cache:
            cache[key] = noise.rule(key[0], key[1])
        result.append(cache[key])
    return pd.Series(result, index=times.index, dtype=object)


def tpi_from_speed(traffic: TrafficRule, speed_kmh: Values, free_flow_speed_kmh: Values | None = None) -> Values:
    """Traffic performance index 0–10 from a measured speed (km/h) against the free-flow speed.

    The travel-time ratio free-flow ÷ speed (how many times longer a trip takes than at free
    flow) is mapped through ``traffic.travel_time_ratio_to_tpi`` (DB11/T 785 bands read as
    travel-time ratios: 1.2× → 2, 1.5× → 4, 1.8× → 6, 2.1× → 8 by default), clamped to the
    first and last points. A speed of 0 (standstill) is the last point's TPI; NaN or a
    negative speed gives NaN.
    ``free_flow_speed_kmh`` per value; NaN or ``None`` takes the configured default.
    """
    speed = _as_float_array(speed_kmh)
    free_flow = np.full(speed.shape, traffic.free_flow_speed_kmh)
    if free_flow_speed_kmh is not None:
        given = np.broadcast_to(_as_float_array(free_flow_speed_kmh), speed.shape)
        free_flow = np.where(np.isfinite(given) & (given > 0), given, free_flow)
    ratios, tpis = (np.array(column) for column in zip(*traffic.travel_time_ratio_to_tpi, strict=True))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # a crawl past any ratio is TPI 10
        ratio = np.where(speed > 0, free_flow / np.maximum(speed, 0.0), np.inf)
    # A negative speed is a faulty reading: no TPI.
    tpi = np.where(np.isnan(speed) | (speed < 0), np.nan, np.interp(np.minimum(ratio, ratios[-1]), ratios, tpis))
    if isinstance(speed_kmh, pd.Series):
        return pd.Series(tpi, index=speed_kmh.index, name="tpi", dtype=float)
    return float(tpi) if _is_scalar(speed_kmh) else tpi
