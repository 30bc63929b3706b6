"""Scores and levels at and around every threshold of the shipped config, on scalars, arrays and Series."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from indicators.levels import AMBER, GREEN, LEVEL_BANDS, RED
from indicators.rules import MetricRule, load_rules
from indicators.scores import (
    level,
    noise_rule_at,
    noise_rules,
    score,
    score_and_level_by_row,
    tpi_from_speed,
)

RULES = load_rules()


def _shipped_rules() -> list[MetricRule]:
    judged = [rule for metric_rules in RULES.metrics.values() for rule in metric_rules]
    noise = [RULES.noise.rule(zone, daytime) for zone in RULES.noise.limits for daytime in (True, False)]
    return judged + noise


SHIPPED = _shipped_rules()
IDS = [f"{rule.label}[{rule.amber:g}]" for rule in SHIPPED]


def _step(rule: MetricRule, x: float) -> float:
    """A small step from ``x`` in the worsening direction."""
    size = 1e-6 * max(1.0, abs(x))
    return x + size if rule.higher_is_worse else x - size


def _back(rule: MetricRule, x: float) -> float:
    """A small step from ``x`` in the improving direction."""
    size = 1e-6 * max(1.0, abs(x))
    return x - size if rule.higher_is_worse else x + size


@pytest.mark.parametrize("rule", SHIPPED, ids=IDS)
def test_scores_are_exact_at_the_four_points(rule: MetricRule) -> None:
    assert score(rule, rule.best) == 100.0
    assert score(rule, rule.amber) == 70.0
    assert score(rule, rule.red) == 40.0
    assert score(rule, rule.worst) == 0.0


@pytest.mark.parametrize("rule", SHIPPED, ids=IDS)
def test_levels_change_at_each_threshold(rule: MetricRule) -> None:
    for threshold, below, at_level in ((rule.amber, GREEN, AMBER), (rule.red, AMBER, RED)):
        assert level(rule, _back(rule, threshold)) == below
        assert level(rule, threshold) == (at_level if rule.inclusive else below)
        assert level(rule, _step(rule, threshold)) == at_level
        assert score(rule, _back(rule, threshold)) > score(rule, threshold) > score(rule, _step(rule, threshold))
    assert level(rule, rule.best) == GREEN
    assert level(rule, rule.worst) == RED


@pytest.mark.parametrize("rule", SHIPPED, ids=IDS)
def test_scores_clip_beyond_best_and_worst(rule: MetricRule) -> None:
    span = abs(rule.worst - rule.best)
    beyond_best = rule.best - span if rule.higher_is_worse else rule.best + span
    beyond_worst = rule.worst + span if rule.higher_is_worse else rule.worst - span
    assert score(rule, beyond_best) == 100.0 and level(rule, beyond_best) == GREEN
    assert score(rule, beyond_worst) == 0.0 and level(rule, beyond_worst) == RED


@pytest.mark.parametrize("rule", SHIPPED, ids=IDS)
def test_every_score_lies_in_its_levels_band(rule: MetricRule) -> None:
    values = np.linspace(min(rule.best, rule.worst) - 5, max(rule.best, rule.worst) + 5, 2001)
    values = np.concatenate([values, [rule.amber, rule.red, _step(rule, rule.amber), _back(rule, rule.red)]])
    scores, levels = score(rule, values), level(rule, values)
    for s, lv in zip(scores, levels, strict=True):
        low, high = LEVEL_BANDS[int(lv)]
        assert low <= s <= high


def test_scores_between_points_are_straight_lines() -> None:
    (gas,) = RULES.metrics["methane_lel"]
    assert score(gas, 10) == pytest.approx(85.0)
    assert score(gas, 35) == pytest.approx(55.0)
    assert score(gas, 75) == pytest.approx(20.0)
    (pressure,) = RULES.metrics["water_pressure_kpa"]
    assert score(pressure, 275) == pytest.approx(85.0)
    assert score(pressure, 170) == pytest.approx(55.0)
    assert score(pressure, 70) == pytest.approx(20.0)
    (power,) = RULES.metrics["power_load_pct"]
    assert score(power, 20) == 100.0  # below best: clipped


def test_lower_is_worse_uses_at_or_below() -> None:
    (pressure,) = RULES.metrics["water_pressure_kpa"]
    assert [level(pressure, v) for v in (400, 201, 200, 141, 140, 0, -5)] == [0, 0, 1, 1, 2, 2, 2]


def test_noise_is_judged_strictly_above_the_limit() -> None:
    night_1 = RULES.noise.rule("1", daytime=False)  # limit 45 dB(A)
    assert level(night_1, 45.0) == GREEN and score(night_1, 45.0) == 70.0
    assert level(night_1, 45.1) == AMBER
    assert level(night_1, 55.0) == AMBER and score(night_1, 55.0) == 40.0
    assert level(night_1, 55.1) == RED
    assert score(night_1, 25.0) == 100.0 and score(night_1, 75.0) == 0.0


def test_scalars_arrays_and_series_answer_in_kind() -> None:
    (tpi,) = RULES.metrics["tpi"]
    assert isinstance(score(tpi, 7), float) and isinstance(level(tpi, 7), int)
    assert score(tpi, np.float64(7.0)) == 55.0 and level(tpi, np.int64(9)) == RED
    array_scores, array_levels = score(tpi, np.array([0.0, 6.0, np.nan])), level(tpi, np.array([0.0, 6.0, np.nan]))
    assert isinstance(array_scores, np.ndarray) and array_scores[:2].tolist() == [100.0, 70.0]
    assert math.isnan(array_scores[2]) and array_levels[:2].tolist() == [0.0, 1.0] and math.isnan(array_levels[2])
    series = pd.Series([3.0, 8.0, None], index=["a", "b", "c"], name="tpi")
    series_scores, series_levels = score(tpi, series), level(tpi, series)
    assert list(series_scores.index) == ["a", "b", "c"] and series_scores.name == "tpi"
    assert series_scores.iloc[:2].tolist() == [85.0, 40.0] and math.isnan(series_scores.iloc[2])
    assert str(series_levels.dtype) == "Int64" and series_levels.tolist() == [0, 2, pd.NA]
    assert score(tpi, [0, 10]).tolist() == [100.0, 0.0]


def test_nan_and_none_are_grey() -> None:
    (tpi,) = RULES.metrics["tpi"]
    assert math.isnan(score(tpi, float("nan"))) and level(tpi, float("nan")) is None
    assert math.isnan(score(tpi, None)) and level(tpi, None) is None
    nullable = pd.Series([1.0, None], dtype="Float64")
    assert level(tpi, nullable).tolist() == [0, pd.NA]


def test_rows_are_scored_under_their_own_rule() -> None:
    (tpi,) = RULES.metrics["tpi"]
    (pressure,) = RULES.metrics["water_pressure_kpa"]
    values = pd.Series([6.0, 200.0, 9.0, 400.0, 5.0], index=[10, 11, 12, 13, 14])
    rules = pd.Series([tpi, pressure, tpi, pressure, None], index=values.index, dtype=object)
    scores, levels = score_and_level_by_row(values, rules)
    assert scores.iloc[:4].tolist() == [70.0, 70.0, score(tpi, 9.0), 100.0] and math.isnan(scores.iloc[4])
    assert levels.tolist() == [1, 1, 2, 0, pd.NA] and list(levels.index) == [10, 11, 12, 13, 14]


@pytest.mark.parametrize(
    ("speed", "tpi"),
    [(50, 0.0), (60, 0.0), (50 / 1.2, 2.0), (50 / 1.5, 4.0), (50 / 1.8, 6.0), (50 / 2.1, 8.0), (50 / 2.4, 10.0),
     (25, 6 + 2 * (2.0 - 1.8) / 0.3), (10, 10.0), (0, 10.0)],
)
def test_speed_becomes_tpi_through_the_travel_time_ratio(speed: float, tpi: float) -> None:
    assert tpi_from_speed(RULES.traffic, speed) == pytest.approx(tpi)


def test_speed_to_tpi_takes_a_free_flow_speed_per_value_and_keeps_gaps() -> None:
    speeds = pd.Series([40.0, 40.0, np.nan, -3.0], index=list("abcd"))
    free_flow = pd.Series([80.0, np.nan, 50.0, 50.0], index=list("abcd"))
    tpi = tpi_from_speed(RULES.traffic, speeds, free_flow)
    assert tpi.iloc[0] == pytest.approx(6 + 2 * (2.0 - 1.8) / 0.3)  # ratio 80/40 = 2
    assert tpi.iloc[1] == pytest.approx(2 + 2 * (1.25 - 1.2) / 0.3)  # default 50/40 = 1.25
    assert math.isnan(tpi.iloc[2]) and math.isnan(tpi.iloc[3])
    assert list(tpi.index) == list("abcd")
    assert tpi_from_speed(RULES.traffic, np.array([50.0, 0.0])).tolist() == [0.0, 10.0]


def test_noise_rules_follow_zone_and_local_day_or_night() -> None:
    tz = "Asia/Shanghai"
    day = datetime(2024, 6, 1, 2, 0, tzinfo=UTC)  # 10:00 local
    night = datetime(2024, 6, 1, 15, 0, tzinfo=UTC)  # 23:00 local
    assert noise_rule_at(RULES.noise, "4a", day, tz).amber == 70
    assert noise_rule_at(RULES.noise, "4a", night, tz).amber == 55
    assert noise_rule_at(RULES.noise, None, night, tz).amber == 50  # default class 2
    times = pd.Series(pd.to_datetime([day, night, day, None], utc=True))
    zones = pd.Series(["0", "3", "", "1"])
    rules = noise_rules(RULES.noise, zones, times, tz)
    assert [rule.amber for rule in rules.iloc[:3]] == [50, 55, 60] and rules.iloc[3] is None
