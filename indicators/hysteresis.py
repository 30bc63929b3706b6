"""Hysteresis of levels (docs/vital-signs.md §4.5): a noisy signal does not flap.

A level rises at once. It falls only after the value has stayed on the better side of
(threshold − dead band) for the dwell time; the dead band is ``rule.dead_band_fraction`` of
the threshold's size (5 %: amber 101 AQI → released below 95.95), the dwell
``rule.dwell_s`` (600 s). Lower-is-worse metrics are mirrored (water pressure amber at
200 kPa → released above 210 kPa).

- **Several levels down**: the state remembers, for green and for amber, since when the
  value has been on the better side of that level's release point. Red falls straight to
  green when the value has been below (amber − dead band) for the dwell; to amber when only
  below (red − dead band) that long.
- **Bounce**: a value back inside the dead band (or beyond the threshold) before the dwell
  ends clears that timer; the dwell starts again at the next reading on the better side.
- **Grey gaps** (no fresh value: NaN): the level shown is grey, but the level held before the
  gap is kept and the timers are cleared, since nobody saw the value stay low. When data
  returns, a value at or beyond the held level shows at once; a better one must first stay
  better for a full dwell, counted from the first reading after the gap. A quiet sensor so
  never turns green just by coming back, and shows its held level at most one dwell.

The state is a frozen value: :func:`advance` returns a new one; nothing is mutated.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from indicators.levels import clip_to_band
from indicators.rules import MetricRule
from indicators.scores import level as level_of
from indicators.scores import score_and_level_by_row


@dataclass(frozen=True)
class HysteresisState:
    """Where one (sensor, metric) stands.

    ``level``: the level shown (0/1/2; ``None`` grey: not started, or no fresh value at the
    last step). ``held``: the level kept through a grey gap (equal to ``level`` otherwise).
    ``better_since``: for k = 0 (green) and 1 (amber), the time since which the value has stayed
    on the better side of the release point of level k + 1, or ``None``. ``time``: the last step.
    ``since`` and ``since_value``: when the held level began and the value then (§4.7: "held
    amber since 21:30 (58.7 dB(A))").
    """

    level: int | None = None
    held: int | None = None
    better_since: tuple[pd.Timestamp | None, pd.Timestamp | None] = (None, None)
    time: pd.Timestamp | None = None
    since: pd.Timestamp | None = None
    since_value: float | None = None


_START = HysteresisState()  # of a (sensor, metric) seen for the first time


def release_point(rule: MetricRule, level: int) -> float:
    """The value ``level`` (1 amber, 2 red) is released beyond: its threshold moved toward the
    better side by the dead band (``rule.dead_band_fraction × |threshold|``), in ``rule.unit``."""
    threshold = rule.thresholds[level - 1]
    sign = 1.0 if rule.higher_is_worse else -1.0
    return threshold - sign * rule.dead_band_fraction * abs(threshold)


def release_level(rule: MetricRule, value: float) -> int | None:
    """The level ``value`` has with each threshold moved toward the better side by its dead band:
    the lowest level the value allows a fall to. ``None`` for NaN."""
    if value is None or math.isnan(value):
        return None
    sign = 1.0 if rule.higher_is_worse else -1.0
    release = 0
    for level_ in range(1, len(rule.thresholds) + 1):
        point = release_point(rule, level_)
        oriented_value, oriented_point = sign * value, sign * point
        still_in = oriented_value >= oriented_point if rule.inclusive else oriented_value > oriented_point
        release += int(still_in)
    return release


def advance(state: HysteresisState, raw_value: float | None, time: datetime, rule: MetricRule) -> HysteresisState:
    """The state after observing ``raw_value`` (in ``rule.unit``; NaN/None: no fresh value) at
    ``time`` (tz-aware). ``ValueError`` when ``time`` is earlier than the last step."""
    stamp = pd.Timestamp(time)
    if stamp.tzinfo is None:
        raise ValueError(f"time must be timezone-aware, got {time!r}")
    stamp = stamp.tz_convert("UTC")
    if state.time is not None and stamp < state.time:
        raise ValueError(f"time {stamp} is earlier than the last step {state.time}")

    if raw_value is None or math.isnan(raw_value):
        return _grey(state, stamp)
    raw = level_of(rule, float(raw_value))
    release = release_level(rule, float(raw_value))
    assert raw is not None and release is not None
    return _step(state, raw, release, stamp, rule.dwell_s, float(raw_value))


def _grey(state: HysteresisState, stamp: pd.Timestamp) -> HysteresisState:
    """No fresh value at ``stamp``: keep the held level, forget the timers (the value was not seen
    staying low)."""
    return HysteresisState(level=None, held=state.held, better_since=(None, None), time=stamp, since=state.since,
                           since_value=state.since_value)


def _step(state: HysteresisState, raw: int, release: int, stamp: pd.Timestamp, dwell_s: float,
          value: float) -> HysteresisState:
    """:func:`advance` for a fresh ``value`` whose level is ``raw`` and release level ``release``,
    at ``stamp`` (UTC, checked)."""
    since = tuple(
        (previous if previous is not None else stamp) if release <= k else None
        for k, previous in enumerate(state.better_since)
    )
    held = state.held
    if held is None or raw >= held:
        new_level = raw
    else:
        new_level = held
        dwell = pd.Timedelta(seconds=dwell_s)
        for k in range(held):  # the lowest level whose release has lasted the dwell
            started = since[k]
            if started is not None and stamp - started >= dwell:
                new_level = k
                break
    began = new_level != held or state.since is None
    return HysteresisState(level=new_level, held=new_level, better_since=(since[0], since[1]), time=stamp,
                           since=stamp if began else state.since, since_value=value if began else state.since_value)


def held_explanation(state: HysteresisState, raw: int, value: float, rule: MetricRule) -> dict[str, Any] | None:
    """Why a level is shown that the value alone would not give (§4.7), JSON-ready, or None when it
    is not held: the level held, since when and the value then, the value it clears beyond
    (``release``) after ``dwell_s`` seconds, since when the value has been there (None: not yet),
    and the value now (in ``unit``)."""
    if state.level is None or state.level <= raw:
        return None
    below = state.better_since[state.level - 1]
    return {
        "level": state.level, "since": None if state.since is None else state.since.isoformat(),
        "since_value": state.since_value, "release": round(release_point(rule, state.level), 6),
        "higher_is_worse": rule.higher_is_worse, "dwell_s": rule.dwell_s,
        "clearing_since": None if below is None else below.isoformat(), "value": value, "unit": rule.unit,
    }


def levels_with_hysteresis(
    values: pd.Series,
    rule: MetricRule | Callable[[pd.Timestamp], MetricRule],
    state: HysteresisState | None = None,
) -> pd.Series:
    """Levels shown for a time series (index: tz-aware times, ascending; values in the rule's
    unit, NaN for no fresh value), as a nullable Int64 Series on the same index (``<NA>``: grey).

    ``rule`` may be a function of the time (noise: the zone's day or night limit). ``state``
    continues from an earlier run.
    """
    if not isinstance(values.index, pd.DatetimeIndex) or values.index.tz is None:
        raise ValueError("values needs a timezone-aware DatetimeIndex")
    if not values.index.is_monotonic_increasing:
        raise ValueError("values must be in time order")
    current = state or HysteresisState()
    shown: list[float] = []
    for moment, value in zip(values.index, values.to_numpy(dtype=float, na_value=np.nan), strict=True):
        step_rule = rule if isinstance(rule, MetricRule) else rule(moment)
        current = advance(current, value, moment, step_rule)
        shown.append(np.nan if current.level is None else float(current.level))
    return pd.Series(pd.array(np.array(shown, dtype=float), dtype="Int64"), index=values.index, name=values.name)


def apply_hysteresis(
    scored: pd.DataFrame, states: Mapping[tuple[str, str], HysteresisState], now: datetime
) -> tuple[pd.DataFrame, dict[tuple[str, str], HysteresisState]]:
    """One step of §4.5 for every row of ``indicators.sensors.score_sensors`` as of ``now``.

    Each (sensor_id, metric) advances its state from ``states`` (a new one when absent) with
    the row's value under the row's deciding ``rule`` (noise: the zone's limit at that time;
    rainfall: the window that decided). Returns the rows with ``level`` replaced by the level
    shown and ``score`` clipped into that level's band (so number and colour agree), and the
    new states of every row. Grey rows stay grey and keep their held level for later.
    """
    stamp = pd.Timestamp(now)
    if stamp.tzinfo is None:
        raise ValueError(f"now must be timezone-aware, got {now!r}")
    utc = stamp.tz_convert("UTC")
    result = scored.copy()
    values = result["value"].to_numpy(dtype=float, na_value=np.nan)
    rules = result["rule"].tolist()
    usable = [
        bool(fresh) and rule is not None and not math.isnan(value)
        for fresh, rule, value in zip(result["fresh"].tolist(), rules, values.tolist(), strict=True)
    ]
    # The levels of all usable values at once, vectorised per rule; the loop below only steps
    # the states (a scalar level per row through numpy cost more than the rest of a step).
    _, raw_levels = score_and_level_by_row(
        pd.Series(np.where(usable, values, np.nan)), pd.Series(rules, dtype=object).where(usable, None)
    )
    shown: list[float] = []
    scores: list[float] = []
    held: list[dict[str, Any] | None] = []
    new_states: dict[tuple[str, str], HysteresisState] = {}
    for sensor_id, metric, value, is_usable, raw, score, rule in zip(
        result["sensor_id"].tolist(), result["metric"].tolist(), values.tolist(), usable,
        raw_levels.to_numpy(dtype=float, na_value=np.nan).tolist(), result["score"].tolist(), rules, strict=True,
    ):
        key = (str(sensor_id), str(metric))
        state = states.get(key, _START)
        if state.time is not None and stamp < state.time:
            # A clock step back: start the timers again.
            state = HysteresisState(held=state.held, since=state.since, since_value=state.since_value)
        if is_usable:
            state = _step(state, int(raw), release_level(rule, value), utc, rule.dwell_s, value)
        else:
            state = _grey(state, utc)
        new_states[key] = state
        if state.level is None or not is_usable:
            shown.append(math.nan)
            scores.append(math.nan)
            held.append(None)
        else:
            shown.append(float(state.level))
            scores.append(clip_to_band(float(score), state.level))
            held.append(held_explanation(state, int(raw), value, rule))
    result["level"] = pd.array(np.array(shown, dtype=float), dtype="Int64") if len(result) else result["level"]
    result["score"] = np.array(scores, dtype=float) if len(result) else result["score"]
    result["held"] = pd.Series(held, index=result.index, dtype=object)
    return result, new_states
