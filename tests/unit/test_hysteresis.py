"""Hysteresis (docs/vital-signs.md §4.5): rise at once, fall after the dwell beyond the dead band, grey gaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from indicators.hysteresis import (
    HysteresisState,
    advance,
    apply_hysteresis,
    held_explanation,
    levels_with_hysteresis,
    release_level,
)
from indicators.levels import AMBER, GREEN, RED
from indicators.rules import MetricRule, load_rules
from indicators.scores import level as level_of
from indicators.scores import score as score_of

RULES = load_rules()
(AQI,) = RULES.metrics["aqi"]  # amber 101 (released below 95.95), red 201 (released below 190.95)
(PRESSURE,) = RULES.metrics["water_pressure_kpa"]  # amber ≤ 200 (released above 210), red ≤ 140 (above 147)
T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def run(values: list[tuple[float, float]], rule: MetricRule = AQI) -> list[int | None]:
    """Levels shown after each (minute, value) step from T0."""
    state, shown = HysteresisState(), []
    for minute, value in values:
        state = advance(state, value, T0 + timedelta(minutes=minute), rule)
        shown.append(state.level)
    return shown


def every_minute(values: list[float], start: int = 0) -> list[tuple[float, float]]:
    return [(start + i, value) for i, value in enumerate(values)]


def test_the_default_dead_band_and_dwell() -> None:
    assert (AQI.dead_band_fraction, AQI.dwell_s) == (0.05, 600)
    assert release_level(AQI, 96.0) == AMBER and release_level(AQI, 95.9) == GREEN
    assert release_level(AQI, 191.0) == RED and release_level(AQI, 190.9) == AMBER
    assert release_level(PRESSURE, 209.0) == AMBER and release_level(PRESSURE, 211.0) == GREEN
    assert release_level(AQI, float("nan")) is None


def test_a_level_rises_at_once() -> None:
    assert run(every_minute([50, 120, 250])) == [GREEN, AMBER, RED]
    assert run(every_minute([50, 300])) == [GREEN, RED]


def test_a_level_falls_only_after_the_dwell_below_the_dead_band() -> None:
    # Amber at minute 0, then 80 (below 95.95) from minute 1: green once 10 minutes have passed.
    shown = run(every_minute([150] + [80] * 12))
    assert shown[:11] == [AMBER] * 11
    assert shown[11] == GREEN  # minute 11: 10 min since minute 1
    assert shown[12] == GREEN


def test_a_value_inside_the_dead_band_never_releases() -> None:
    shown = run(every_minute([150] + [97, 100, 96.5, 99] * 10))
    assert shown == [AMBER] * 41


def test_a_bounce_back_restarts_the_dwell() -> None:
    # Below the dead band minutes 1–8, back inside it at minute 9, below again from minute 10.
    values = [150] + [80] * 8 + [98] + [80] * 11
    shown = run(every_minute(values))
    assert shown[:20] == [AMBER] * 20  # minute 19 is only 9 min after minute 10
    assert shown[20] == GREEN  # minute 20: 10 min since minute 10


def test_a_bounce_above_the_threshold_restarts_the_dwell_too() -> None:
    values = [150] + [80] * 5 + [130] + [80] * 11  # 130 at minute 6, below again from minute 7
    shown = run(every_minute(values))
    assert shown[:17] == [AMBER] * 17 and shown[17] == GREEN


def test_red_falls_straight_to_green_when_the_value_is_green_for_the_dwell() -> None:
    shown = run(every_minute([250] + [40] * 11))
    assert shown[:11] == [RED] * 11 and shown[11] == GREEN


def test_red_falls_in_stages_when_the_value_passes_through_amber() -> None:
    # Amber-range values minutes 1–5, green-range from minute 6.
    shown = run(every_minute([250] + [150] * 5 + [40] * 12))
    assert shown[10] == RED
    assert shown[11] == AMBER  # below red − dead band since minute 1
    assert shown[15] == AMBER
    assert shown[16] == GREEN  # below amber − dead band since minute 6


def test_a_rise_during_a_fall_wins_at_once() -> None:
    shown = run(every_minute([150] + [80] * 5 + [260, 80]))
    assert shown[-2:] == [RED, RED]


def test_sparse_readings_count_real_time_not_steps() -> None:
    shown = run([(0, 150), (1, 80), (5, 80), (11, 80)])
    assert shown == [AMBER, AMBER, AMBER, GREEN]


def test_lower_is_worse_is_mirrored() -> None:
    # 205 kPa is above the amber threshold (200) but inside its dead band (210): stays amber.
    shown = run(every_minute([190] + [205] * 12 + [220] * 11), PRESSURE)
    assert shown[:23] == [AMBER] * 23 and shown[23] == GREEN  # above 210 from minute 13: green at 23
    assert run(every_minute([300, 150, 130]), PRESSURE) == [GREEN, AMBER, RED]


def test_a_grey_gap_shows_grey_and_keeps_the_level() -> None:
    state = advance(HysteresisState(), 250.0, T0, AQI)
    grey = advance(state, float("nan"), T0 + timedelta(minutes=5), AQI)
    assert grey.level is None and grey.held == RED and grey.better_since == (None, None)
    assert advance(grey, None, T0 + timedelta(minutes=6), AQI).held == RED


def test_after_a_gap_a_better_value_needs_a_full_dwell() -> None:
    values = [(0, 250.0), (1, 40.0), (2, np.nan), (30, 40.0), (35, 40.0), (40, 40.0)]
    shown = run(values)
    # The timer from minute 1 does not survive the gap: green only 10 min after minute 30.
    assert shown == [RED, RED, None, RED, RED, GREEN]


def test_after_a_gap_a_value_at_or_beyond_the_held_level_shows_at_once() -> None:
    assert run([(0, 150.0), (1, np.nan), (20, 300.0)]) == [AMBER, None, RED]
    assert run([(0, 150.0), (1, np.nan), (20, 120.0)]) == [AMBER, None, AMBER]


def test_a_first_value_sets_the_level_directly() -> None:
    assert run([(0, np.nan), (1, 40.0)]) == [None, GREEN]
    assert run([(0, 300.0)]) == [RED]


def test_non_inclusive_rules_release_at_the_dead_band_point() -> None:
    night_1 = RULES.noise.rule("1", daytime=False)  # amber above 45; released at or below 42.75
    assert release_level(night_1, 42.75) == GREEN and release_level(night_1, 42.8) == AMBER
    shown = run(every_minute([50] + [42.75] * 11), night_1)
    assert shown[10] == AMBER and shown[11] == GREEN


def test_time_must_not_go_backwards_and_must_be_aware() -> None:
    state = advance(HysteresisState(), 50.0, T0, AQI)
    assert advance(state, 60.0, T0, AQI).level == GREEN  # the same time again is fine
    with pytest.raises(ValueError, match="earlier than the last step"):
        advance(state, 60.0, T0 - timedelta(seconds=1), AQI)
    with pytest.raises(ValueError, match="timezone-aware"):
        advance(state, 60.0, datetime(2024, 5, 1, 9, 0), AQI)  # noqa: DTZ001 - naive on purpose


def test_levels_with_hysteresis_runs_a_series() -> None:
    index = pd.date_range(T0, periods=14, freq="1min")
    values = pd.Series([150.0] + [80.0] * 11 + [np.nan, 80.0], index=index, name="aqi")
    shown = levels_with_hysteresis(values, AQI)
    assert str(shown.dtype) == "Int64" and shown.name == "aqi" and shown.index.equals(index)
    assert shown.tolist() == [AMBER] * 11 + [GREEN, pd.NA, GREEN]


def test_levels_with_hysteresis_continues_from_a_state() -> None:
    index = pd.date_range(T0, periods=4, freq="1min")
    first = levels_with_hysteresis(pd.Series([250.0, 40.0, 40.0, 40.0], index=index), AQI)
    state = HysteresisState()
    for moment, value in zip(index, [250.0, 40.0, 40.0, 40.0], strict=True):
        state = advance(state, value, moment, AQI)
    later = pd.date_range(T0 + timedelta(minutes=10), periods=2, freq="1min")
    resumed = levels_with_hysteresis(pd.Series([40.0, 40.0], index=later), AQI, state)
    assert first.tolist() == [RED] * 4 and resumed.tolist() == [RED, GREEN]


def test_levels_with_hysteresis_takes_a_rule_that_depends_on_the_time() -> None:
    tz = "Asia/Shanghai"
    index = pd.DatetimeIndex(["2024-06-01 13:58", "2024-06-01 14:00", "2024-06-01 14:05"], tz="UTC")  # 21:58–22:05

    def noise_rule(moment: pd.Timestamp) -> MetricRule:
        daytime = 6 <= moment.tz_convert(tz).hour < 22
        return RULES.noise.rule("1", daytime)

    shown = levels_with_hysteresis(pd.Series([50.0, 50.0, 50.0], index=index), noise_rule)
    assert shown.tolist() == [GREEN, AMBER, AMBER]  # 50 dB(A) is fine by day, above 45 at night


def test_levels_with_hysteresis_needs_an_aware_ordered_index() -> None:
    with pytest.raises(ValueError, match="timezone-aware DatetimeIndex"):
        levels_with_hysteresis(pd.Series([1.0], index=pd.DatetimeIndex(["2024-01-01"])), AQI)
    backwards = pd.DatetimeIndex(["2024-01-01 01:00", "2024-01-01 00:00"], tz="UTC")
    with pytest.raises(ValueError, match="time order"):
        levels_with_hysteresis(pd.Series([1.0, 2.0], index=backwards), AQI)


def test_apply_hysteresis_holds_a_falling_level_for_the_dwell_and_clips_the_score() -> None:
    from indicators.hysteresis import apply_hysteresis
    from indicators.rules import load_rules
    from indicators.scores import level, score

    gas = load_rules().metrics["methane_lel"][0]  # amber 20, red 50 % LEL; dwell 10 min
    start = pd.Timestamp("2026-11-22T10:00:00Z")

    def row(value: float, fresh: bool = True) -> pd.DataFrame:
        return pd.DataFrame({
            "sensor_id": ["GS-1"], "metric": ["methane_lel"], "value": [value], "fresh": [fresh],
            "score": [float(score(gas, value))], "level": pd.array([level(gas, value)], dtype="Int64"),
            "rule": [gas],
        })

    shown, states = apply_hysteresis(row(55.0), {}, start)
    assert shown["level"].tolist() == [2]
    # Back to 10 % LEL: green by value, but red is held until the value has stayed low for 10 min.
    shown, states = apply_hysteresis(row(10.0), states, start + pd.Timedelta(minutes=1))
    assert shown["level"].tolist() == [2] and shown["score"].tolist() == [40.0]
    shown, states = apply_hysteresis(row(10.0, fresh=False), states, start + pd.Timedelta(minutes=5))
    assert shown["level"].isna().all()  # grey while silent …
    shown, states = apply_hysteresis(row(10.0), states, start + pd.Timedelta(minutes=6))
    assert shown["level"].tolist() == [2]  # … and the silence does not count towards the dwell
    shown, states = apply_hysteresis(row(10.0), states, start + pd.Timedelta(minutes=17))
    assert shown["level"].tolist() == [0]
    assert shown["score"].iloc[0] == pytest.approx(float(score(gas, 10.0)))


def _noise_row(value: float, rule: MetricRule) -> pd.DataFrame:
    return pd.DataFrame({
        "sensor_id": ["NS-1"], "metric": ["noise_dba"], "value": [value], "fresh": [True],
        "score": [float(score_of(rule, value))], "level": pd.array([level_of(rule, value)], dtype="Int64"),
        "rule": [rule],
    })


def test_a_level_held_by_hysteresis_says_so_with_its_numbers() -> None:
    """docs/vital-signs.md §4.7: "held amber since 21:30 (58.7 dB(A)); clears after 10 min below 52.25 — now 40.1"."""
    night = RULES.noise.rule("3", daytime=False)  # amber above 55 dB(A), released at or below 52.25
    start = pd.Timestamp("2026-11-23T02:30:00Z")  # 21:30 in New York
    shown, states = apply_hysteresis(_noise_row(58.7, night), {}, start)
    assert shown["level"].tolist() == [AMBER] and shown["held"].tolist() == [None]  # amber by value: not held
    shown, states = apply_hysteresis(_noise_row(40.1, night), states, start + pd.Timedelta(minutes=3))
    assert shown["level"].tolist() == [AMBER]
    assert shown["held"].iloc[0] == {
        "level": AMBER, "since": "2026-11-23T02:30:00+00:00", "since_value": 58.7, "release": 52.25,
        "higher_is_worse": True, "dwell_s": 600.0, "clearing_since": "2026-11-23T02:33:00+00:00", "value": 40.1,
        "unit": "dB(A)",
    }
    # Still above the release point: held, but the clock towards clearing has not started.
    shown, states = apply_hysteresis(_noise_row(53.0, night), states, start + pd.Timedelta(minutes=4))
    assert shown["held"].iloc[0]["clearing_since"] is None
    # Worse again: the level began anew.
    shown, states = apply_hysteresis(_noise_row(66.0, night), states, start + pd.Timedelta(minutes=5))
    assert shown["level"].tolist() == [RED] and shown["held"].tolist() == [None]
    assert states[("NS-1", "noise_dba")].since == start + pd.Timedelta(minutes=5)
    assert states[("NS-1", "noise_dba")].since_value == 66.0


def test_a_held_lower_is_worse_level_clears_above_its_release_point() -> None:
    state = advance(HysteresisState(), 130.0, T0, PRESSURE)  # red at or below 140 kPa
    state = advance(state, 300.0, T0 + timedelta(minutes=1), PRESSURE)
    held = held_explanation(state, GREEN, 300.0, PRESSURE)
    assert held is not None and held["level"] == RED and held["since_value"] == 130.0
    assert held["release"] == pytest.approx(147.0) and held["higher_is_worse"] is False
