"""Invariants of scores, levels and hysteresis over random rules and signals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from indicators.hysteresis import HysteresisState, advance, release_level
from indicators.levels import LEVEL_BANDS
from indicators.rules import MetricRule
from indicators.scores import level, score

FINITE = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
T0 = datetime(2024, 1, 1, tzinfo=UTC)


@st.composite
def rules(draw: st.DrawFn) -> MetricRule:
    """A rule with four well-separated points in either direction, inclusive or not."""
    start = draw(st.floats(min_value=-1000, max_value=1000, allow_nan=False))
    gaps = draw(st.lists(st.floats(min_value=0.01, max_value=500, allow_nan=False), min_size=3, max_size=3))
    points = [start, start + gaps[0], start + gaps[0] + gaps[1], start + gaps[0] + gaps[1] + gaps[2]]
    assume(len(set(points)) == 4)
    higher_is_worse = draw(st.booleans())
    if not higher_is_worse:
        points = points[::-1]
    fraction = draw(st.sampled_from([0.0, 0.02, 0.05, 0.1]))
    sign = 1.0 if higher_is_worse else -1.0
    # The config refuses a dead band of red that reaches back to amber.
    assume(sign * (points[2] - sign * fraction * abs(points[2])) > sign * points[1])
    return MetricRule(
        metric="x",
        domain="gas",
        best=points[0],
        amber=points[1],
        red=points[2],
        worst=points[3],
        higher_is_worse=higher_is_worse,
        inclusive=draw(st.booleans()),
        dead_band_fraction=fraction,
        dwell_s=draw(st.sampled_from([0.0, 60.0, 600.0])),
    )


def worse(rule: MetricRule, a: float, b: float) -> tuple[float, float]:
    """(better, worse) of two values under the rule's direction."""
    low, high = min(a, b), max(a, b)
    return (low, high) if rule.higher_is_worse else (high, low)


@given(rules(), FINITE, FINITE)
def test_score_never_rises_as_the_value_worsens(rule: MetricRule, a: float, b: float) -> None:
    better, worse_value = worse(rule, a, b)
    assert score(rule, better) >= score(rule, worse_value)
    assert level(rule, better) <= level(rule, worse_value)


@given(rules())
def test_scores_are_exact_at_the_four_points(rule: MetricRule) -> None:
    assert score(rule, rule.best) == 100.0
    assert score(rule, rule.amber) == 70.0
    assert score(rule, rule.red) == 40.0
    assert score(rule, rule.worst) == 0.0


@given(rules(), FINITE)
def test_the_level_agrees_with_the_score_band(rule: MetricRule, value: float) -> None:
    low, high = LEVEL_BANDS[level(rule, value)]
    assert low <= score(rule, value) <= high


@given(rules(), st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_scores_clip_beyond_best_and_worst(rule: MetricRule, beyond: float) -> None:
    sign = 1.0 if rule.higher_is_worse else -1.0
    assert score(rule, rule.best - sign * beyond) == 100.0
    assert score(rule, rule.worst + sign * beyond) == 0.0


@given(rules(), st.lists(FINITE, min_size=1, max_size=30))
def test_vectorised_scores_equal_scalar_ones(rule: MetricRule, values: list[float]) -> None:
    array = np.array(values)
    assert score(rule, array).tolist() == [score(rule, v) for v in values]
    assert level(rule, array).tolist() == [float(level(rule, v)) for v in values]
    assert all(0.0 <= s <= 100.0 for s in score(rule, array))


@st.composite
def steps(draw: st.DrawFn, size: int) -> list[float]:
    """Increasing step times in seconds."""
    gaps = draw(st.lists(st.floats(min_value=1, max_value=900), min_size=size, max_size=size))
    return list(np.cumsum(gaps))


@settings(max_examples=200)
@given(rules(), st.data())
def test_a_signal_oscillating_within_the_dead_band_never_changes_level_after_the_first_rise(
    rule: MetricRule, data: st.DataObject
) -> None:
    assume(rule.dead_band_fraction > 0)
    sign = 1.0 if rule.higher_is_worse else -1.0
    dead_band = rule.dead_band_fraction * abs(rule.amber)
    assume(dead_band > 1e-6)
    release_point = rule.amber - sign * dead_band
    # Between the release point and (at most) the red threshold, excluding both ends.
    far_end = rule.amber + sign * min(dead_band, abs(rule.red - rule.amber) / 2)
    low, high = sorted((release_point, far_end))
    fraction = st.floats(min_value=0.01, max_value=0.99)
    n = data.draw(st.integers(min_value=2, max_value=40))
    signal = [low + data.draw(fraction) * (high - low) for _ in range(n)]
    times = data.draw(steps(n))
    assume(all(release_level(rule, v) >= 1 and level(rule, v) <= 1 for v in signal))

    # The first rise: a value well inside amber.
    state = advance(HysteresisState(), (rule.amber + rule.red) / 2, T0, rule)
    assert state.level == 1
    for seconds, value in zip(times, signal, strict=True):
        state = advance(state, value, T0 + timedelta(seconds=seconds), rule)
        assert state.level == 1


@settings(max_examples=200)
@given(rules(), st.data())
def test_hysteresis_never_shows_better_than_the_raw_level_and_settles_on_it(
    rule: MetricRule, data: st.DataObject
) -> None:
    n = data.draw(st.integers(min_value=1, max_value=30))
    span = abs(rule.worst - rule.best)
    low, high = min(rule.best, rule.worst) - 0.1 * span, max(rule.best, rule.worst) + 0.1 * span
    values = data.draw(st.lists(st.floats(min_value=low, max_value=high), min_size=n, max_size=n))
    times = data.draw(steps(n))
    state = HysteresisState()
    for seconds, value in zip(times, values, strict=True):
        state = advance(state, value, T0 + timedelta(seconds=seconds), rule)
        assert state.level is not None and state.level >= level(rule, value)
    # Held for the dwell, the last value settles the level between its raw level and its release
    # level (higher only inside a dead band, above a level already held).
    last = times[-1]
    for later in (last + 1, last + rule.dwell_s + 2):
        state = advance(state, values[-1], T0 + timedelta(seconds=later), rule)
    assert level(rule, values[-1]) <= state.level <= release_level(rule, values[-1])
