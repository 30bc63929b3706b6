"""The indicator rules (docs/vital-signs.md §1, §2, §4): thresholds, windows, weights, as checked config.

The numbers live in ``data/indicators.toml`` (:data:`DEFAULT_RULES_PATH`); a city folder may
carry its own ``indicators.toml`` that overrides some keys. :func:`load_rules` reads both,
merges them (tables key by key; a scalar or an array replaces the default whole) and checks
the result. Every problem is a ``ValueError`` whose message starts with the key path, e.g.
``metrics.methane_lel.amber: must lie between best and red``.

Units: thresholds are in the metric's unit (``MetricRule.unit``); durations in seconds.
Reading the files it is given is the only I/O here.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from types import MappingProxyType
from typing import Any

from indicators.registry import SHARE, WORST, domain_ids, metric_domains, registry

DEFAULT_RULES_PATH: Path = Path(__file__).resolve().parent.parent / "data" / "indicators.toml"

HIGHER_IS_WORSE = "higher_is_worse"
LOWER_IS_WORSE = "lower_is_worse"
DIRECTIONS: tuple[str, ...] = (HIGHER_IS_WORSE, LOWER_IS_WORSE)

# What the four numbers are compared with (windows.py computes each).
LATEST = "latest"  # the newest fresh reading
DAILY_MAX = "daily_max"  # the highest reading since local midnight
MAX = "max"
WINDOWED_STATISTICS: tuple[str, ...] = ("sum", "mean", MAX)  # over a rolling window ending now
STATISTICS: tuple[str, ...] = (LATEST, DAILY_MAX, *WINDOWED_STATISTICS)

# Inputs of the AQI (indicators.aqi.AQI_KEYS) → the metric sensors publish for each.
AQI_INPUT_METRICS: dict[str, str] = {
    "pm25": "pm25",
    "pm10": "pm10",
    "so2": "so2",
    "no2": "no2",
    "co": "co",
    "o3_1h": "o3",
    "o3_8h": "o3",
}
AQI_AVERAGINGS: tuple[str, ...] = ("24h", "1h")


def judged_metrics() -> tuple[str, ...]:
    """The metrics that must have a [metrics.<name>] table (the others are judged through another rule)."""
    return tuple(metric.name for metric in registry().metrics.values() if metric.judged)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|min|h|d)\s*$")
_DURATION_UNITS_S = {"s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _ordering_problem(best: float, amber: float, red: float, worst: float, higher_is_worse: bool) -> tuple[str, str]:
    """(key, problem) when the four numbers do not run strictly in the worsening direction, else ("", "")."""
    sign = 1.0 if higher_is_worse else -1.0
    b, a, r, w = (sign * x for x in (best, amber, red, worst))
    way = "best < amber < red < worst" if higher_is_worse else "best > amber > red > worst"
    if not b < a < r:
        return "amber", f"must lie between best and red ({way})"
    if not r < w:
        return "worst", f"must lie beyond red ({way})"
    return "", ""


def _dead_band_problem(amber: float, red: float, fraction: float, higher_is_worse: bool) -> str:
    """A problem with the dead band, else "": it must lie in [0, 1) and red's must not reach amber."""
    if not 0 <= fraction < 1:
        return "must lie in [0, 1)"
    sign = 1.0 if higher_is_worse else -1.0
    if not sign * (red - sign * fraction * abs(red)) > sign * amber:
        return "the dead band of red reaches back to amber; make it smaller"
    return ""


@dataclass(frozen=True)
class MetricRule:
    """How one quantity is judged: four numbers, a direction and the window they apply to.

    ``best`` scores 100, ``amber`` 70, ``red`` 40 and ``worst`` 0 (docs/vital-signs.md §1), in the
    metric's ``unit``. A value at or beyond a threshold is in that level (``inclusive``;
    strictly beyond when ``inclusive`` is false, as GB 3096 noise limits are). ``statistic``
    and ``window_s`` say what is compared: the latest reading, the day's maximum, or a sum,
    mean or maximum over a rolling window of ``window_s`` seconds. ``dead_band_fraction`` and
    ``dwell_s`` drive the hysteresis (§4.5). ``source`` names the standard, or "default".
    """

    metric: str
    domain: str
    best: float
    amber: float
    red: float
    worst: float
    higher_is_worse: bool = True
    inclusive: bool = True
    statistic: str = LATEST
    window_s: float = 0.0
    unit: str = ""
    source: str = "default"
    dead_band_fraction: float = 0.05
    dwell_s: float = 600.0

    def __post_init__(self) -> None:
        numbers = {"best": self.best, "amber": self.amber, "red": self.red, "worst": self.worst}
        for key, number in numbers.items():
            if not math.isfinite(number):
                raise ValueError(f"{self.metric}.{key}: must be a finite number, got {number!r}")
        key, problem = _ordering_problem(self.best, self.amber, self.red, self.worst, self.higher_is_worse)
        if key:
            raise ValueError(f"{self.metric}.{key}: {problem}")
        if self.statistic not in STATISTICS:
            raise ValueError(f"{self.metric}.statistic: must be one of {', '.join(STATISTICS)}")
        if (self.statistic in WINDOWED_STATISTICS) != (self.window_s > 0):
            raise ValueError(f"{self.metric}.window: a sum, mean or max needs a window; latest and daily_max take none")
        problem = _dead_band_problem(self.amber, self.red, self.dead_band_fraction, self.higher_is_worse)
        if problem:
            raise ValueError(f"{self.metric}.dead_band_fraction: {problem}")
        if self.dwell_s < 0:
            raise ValueError(f"{self.metric}.dwell: must not be negative")

    @property
    def thresholds(self) -> tuple[float, float]:
        """(amber, red): the values from which (or beyond which) the level is 1 and 2."""
        return (self.amber, self.red)

    @property
    def label(self) -> str:
        """``metric``, ``metric daily_max`` or ``metric sum 3h``: which quantity this rule judges."""
        if self.statistic == LATEST:
            return self.metric
        if self.statistic == DAILY_MAX:
            return f"{self.metric} daily_max"
        return f"{self.metric} {self.statistic} {format_duration(self.window_s)}"


@dataclass(frozen=True)
class NoiseRule:
    """GB 3096-2008 noise judgement: thresholds follow the zone's day/night limit, dB(A).

    ``limits`` maps a zone class to its (day, night) limit; day is ``day_start`` ≤ local time
    < ``day_end``. A sensor without a zone is judged as ``default_zone``. The four numbers
    are the limit plus the offsets (default −20, 0, +10, +30); ``inclusive`` false: a reading
    exactly at the limit is within it.
    """

    limits: Mapping[str, tuple[float, float]]
    default_zone: str = "2"
    day_start: time = time(6)
    day_end: time = time(22)
    best_offset: float = -20.0
    amber_offset: float = 0.0
    red_offset: float = 10.0
    worst_offset: float = 30.0
    inclusive: bool = False
    statistic: str = LATEST
    window_s: float = 0.0
    source: str = "GB 3096-2008"
    dead_band_fraction: float = 0.05
    dwell_s: float = 600.0

    def zone_of(self, zone: str | None) -> str:
        """The zone class a sensor is judged as: its own, or ``default_zone`` when empty/unknown."""
        if zone is None or (isinstance(zone, float) and math.isnan(zone)) or str(zone).strip() == "":
            return self.default_zone
        zone = str(zone).strip()
        if zone not in self.limits:
            raise ValueError(f"noise zone {zone!r} is not in noise.limits ({', '.join(self.limits)})")
        return zone

    def limit(self, zone: str | None, daytime: bool) -> float:
        """The zone's limit in dB(A), by day or by night."""
        day, night = self.limits[self.zone_of(zone)]
        return day if daytime else night

    def rule(self, zone: str | None, daytime: bool) -> MetricRule:
        """The :class:`MetricRule` for ``noise_dba`` in ``zone``, by day or by night."""
        limit = self.limit(zone, daytime)
        return MetricRule(
            metric="noise_dba",
            domain=metric_domains()["noise_dba"],
            best=limit + self.best_offset,
            amber=limit + self.amber_offset,
            red=limit + self.red_offset,
            worst=limit + self.worst_offset,
            higher_is_worse=True,
            inclusive=self.inclusive,
            statistic=self.statistic,
            window_s=self.window_s,
            unit=registry().metrics["noise_dba"].unit,
            source=self.source,
            dead_band_fraction=self.dead_band_fraction,
            dwell_s=self.dwell_s,
        )


@dataclass(frozen=True)
class TrafficRule:
    """``speed_kmh`` → TPI: travel-time ratio (free-flow speed ÷ speed) → TPI, piecewise-linear."""

    free_flow_speed_kmh: float
    travel_time_ratio_to_tpi: tuple[tuple[float, float], ...]
    source: str = "default"


@dataclass(frozen=True)
class AirRule:
    """What feeds the AQI: the report (``averaging`` "1h" or "24h") and each input's rolling mean.

    ``windows`` maps an AQI standard id to {AQI input key → window in seconds}; the city's
    ``aqi_standard`` picks one. The ``aqi`` thresholds themselves are ``metrics["aqi"]``.
    """

    averaging: str
    windows: Mapping[str, Mapping[str, float]]

    def windows_for(self, standard: str) -> Mapping[str, float]:
        """{AQI key → mean window in seconds} for ``standard``; ``ValueError`` when not configured."""
        if standard not in self.windows:
            raise ValueError(f"air.windows: no table for AQI standard {standard!r} ({', '.join(self.windows)})")
        return self.windows[standard]


@dataclass(frozen=True)
class PublicSafetyThresholds:
    """Public safety from the unit's open incidents, as counts (docs/vital-signs.md §2, default):
    amber at ``amber_overdue`` overdue, red at ``red_overdue`` overdue or any open critical
    incident; the score falls from 100 (none overdue) through 70 and 40 to 0 at
    ``worst_overdue``. ``indicators.kpis.PublicSafetyRule`` takes the same three numbers."""

    amber_overdue: int = 1
    red_overdue: int = 3
    worst_overdue: int = 6
    source: str = "default"


@dataclass(frozen=True)
class HistoryRule:
    """indicator_values: a row per unit and domain at most every ``cadence_s`` seconds (and at
    every level change), kept ``retention_days`` days (§4.8)."""

    cadence_s: float = 300.0
    retention_days: int = 365


# Roll-up policies of a domain (docs/vital-signs.md §4.3): how a higher unit's level comes from its children's.
# WORST: the worst child's level; SHARE: the worst level held by at least `share` of the population
# (red: half of that).
ROLLUP_POLICIES: tuple[str, ...] = (WORST, SHARE)


def default_rollup_policy() -> Mapping[str, str]:
    """Each domain's roll-up policy as the registry declares it (worst for the safety domains)."""
    return MappingProxyType({domain.id: domain.rollup for domain in registry().domains})


@dataclass(frozen=True)
class RollupRule:
    """How higher units (districts, boroughs, the city) take their level from their children (§4.3).

    ``policy``: domain → :data:`WORST` or :data:`SHARE`. Under ``share`` a unit is at the worst
    level L whose children at L or worse hold at least ``share`` of its population (0 < share ≤ 1),
    and red also when its red children hold at least ``share / 2``. ``spike_lookback_s``: how far
    back at most a run looks for the worst reading since the previous run in the worst-of domains
    (§4.1). The defaults (worst for the safety domains, share 0.10 for the others, 15 minutes) are
    ``data/indicators.toml``'s.
    """

    share: float = 0.10
    policy: Mapping[str, str] = field(default_factory=default_rollup_policy)
    spike_lookback_s: float = 900.0

    def __post_init__(self) -> None:
        if not 0 < self.share <= 1:
            raise ValueError(f"rollup.share: must lie in (0, 1], got {self.share!r}")
        if not self.spike_lookback_s > 0:
            raise ValueError(f"rollup.spike_lookback: must be longer than 0 s, got {self.spike_lookback_s!r}")
        for domain in domain_ids():
            if self.policy.get(domain) not in ROLLUP_POLICIES:
                raise ValueError(f"rollup.policy.{domain}: expected one of {', '.join(ROLLUP_POLICIES)}")

    def policy_of(self, domain: str) -> str:
        return self.policy[domain]

    @property
    def worst_domains(self) -> frozenset[str]:
        """The domains rolled up by the worst child: a run judges their worst reading since the last run (§4.1)."""
        return frozenset(domain for domain, policy in self.policy.items() if policy == WORST)


@dataclass(frozen=True)
class IndicatorRules:
    """All indicator rules of a city, checked.

    ``metrics``: metric name → its rules, one per judging window (rainfall has two: the worse
    decides). ``weights``: domain → weight in the vital-sign index. ``freshness_factor``: a
    reading is current for ``factor × expected_interval_s``; ``default_expected_interval_s``
    for sensors without one.
    """

    metrics: Mapping[str, tuple[MetricRule, ...]]
    noise: NoiseRule
    traffic: TrafficRule
    air: AirRule
    public_safety: PublicSafetyThresholds
    weights: Mapping[str, float]
    freshness_factor: float = 3.0
    default_expected_interval_s: float = 60.0
    dead_band_fraction: float = 0.05
    dwell_s: float = 600.0
    history: HistoryRule = field(default_factory=HistoryRule)
    rollup: RollupRule = field(default_factory=RollupRule)


# --- parsing -------------------------------------------------------------------------------------


def format_duration(seconds: float) -> str:
    """``10800`` → ``"3h"``, ``600`` → ``"10min"``, ``45`` → ``"45s"`` (the largest whole unit)."""
    for unit in ("d", "h", "min"):
        size = _DURATION_UNITS_S[unit]
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


class _Table:
    """One table of the config, with its key path, for errors that name the key."""

    def __init__(self, raw: Any, path: str) -> None:
        if not isinstance(raw, Mapping):
            raise ValueError(f"{path or 'config'}: expected a table, got {_shown(raw)}")
        self.raw = raw
        self.path = path

    def key(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def key_or(self, key: str, inherited: str) -> str:
        """The path of ``key`` when this table sets it, else the path it is inherited from."""
        return self.key(key) if key in self.raw else inherited

    def check_keys(self, allowed: set[str] | frozenset[str]) -> None:
        for key in self.raw:
            if key not in allowed:
                raise ValueError(f"{self.key(key)}: unknown key (expected one of {', '.join(sorted(allowed))})")

    def need(self, key: str) -> Any:
        if key not in self.raw:
            raise ValueError(f"{self.key(key)}: missing")
        return self.raw[key]

    def table(self, key: str) -> _Table:
        return _Table(self.need(key), self.key(key))

    def number(self, key: str, default: float | None = None) -> float:
        if key not in self.raw and default is not None:
            return default
        return _number(self.need(key), self.key(key))

    def count(self, key: str) -> int:
        value = self.need(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{self.key(key)}: expected a whole number ≥ 0, got {_shown(value)}")
        return value

    def text(self, key: str, default: str | None = None) -> str:
        if key not in self.raw and default is not None:
            return default
        value = self.need(key)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{self.key(key)}: expected a non-empty string, got {_shown(value)}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        if key not in self.raw:
            return default
        value = self.raw[key]
        if not isinstance(value, bool):
            raise ValueError(f"{self.key(key)}: expected true or false, got {_shown(value)}")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str | None = None) -> str:
        value = self.text(key, default)
        if value not in choices:
            raise ValueError(f"{self.key(key)}: expected one of {', '.join(choices)}, got {value!r}")
        return value

    def duration(self, key: str, default: float | None = None) -> float:
        if key not in self.raw and default is not None:
            return default
        return _duration_s(self.need(key), self.key(key))

    def clock(self, key: str) -> time:
        value = self.need(key)
        if isinstance(value, time) and value.tzinfo is None:
            return value
        match = _CLOCK.match(value) if isinstance(value, str) else None
        if match is None:
            raise ValueError(f"{self.key(key)}: expected a local time of day \"HH:MM\", got {_shown(value)}")
        return time(int(match[1]), int(match[2]))


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{path}: expected a finite number, got {_shown(value)}")
    return float(value)


def _duration_s(value: Any, path: str) -> float:
    """A duration in seconds from ``"90s"``, ``"10min"``, ``"3h"``, ``"1d"`` or a number of seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        seconds = float(value)
    else:
        match = _DURATION.match(value) if isinstance(value, str) else None
        if match is None:
            raise ValueError(f'{path}: expected a duration such as "90s", "10min", "3h" or "1d", got {_shown(value)}')
        seconds = float(match[1]) * _DURATION_UNITS_S[match[2]]
    if seconds < 0:
        raise ValueError(f"{path}: must not be negative")
    return seconds


_FOUR_NUMBERS = ("best", "amber", "red", "worst")
_WINDOW_KEYS = frozenset({"statistic", "window", *_FOUR_NUMBERS, "source"})
_METRIC_KEYS = frozenset({"direction", "inclusive", "dead_band_fraction", "dwell", "windows", "unit", *_WINDOW_KEYS})


def _metric_rules(metric: str, table: _Table, dead_band: float, dwell_s: float) -> tuple[MetricRule, ...]:
    table.check_keys(_METRIC_KEYS)
    unit = registry().metrics[metric].unit
    # The registry declares each metric's unit; a file may say which unit its thresholds are in
    # (older files did), and a different one is an error, never a silent misreading of the numbers.
    if "unit" in table.raw and table.raw["unit"] != unit:
        raise ValueError(f"{table.key('unit')}: {metric} is measured in {unit!r} (the domain registry), "
                         f"not {_shown(table.raw['unit'])}: give the thresholds in {unit!r}")
    shared = {
        "unit": unit,
        "higher_is_worse": table.choice("direction", DIRECTIONS) == HIGHER_IS_WORSE,
        "inclusive": table.flag("inclusive", True),
        "dead_band_fraction": table.number("dead_band_fraction", dead_band),
        "dwell_s": table.duration("dwell", dwell_s),
    }
    dead_band_key = table.key_or("dead_band_fraction", "hysteresis.dead_band_fraction")
    if "windows" in table.raw:
        entries = table.raw["windows"]
        if not isinstance(entries, list) or not entries:
            raise ValueError(f"{table.key('windows')}: expected a non-empty array of tables [[...windows]]")
        for key in _WINDOW_KEYS:
            if key in table.raw:
                raise ValueError(f"{table.key(key)}: give it in each [[{table.key('windows')}]], not beside them")
        windows = [_Table(entry, f"{table.key('windows')}[{i}]") for i, entry in enumerate(entries)]
        for window in windows:
            window.check_keys(_WINDOW_KEYS)
    else:
        windows = [table]
    return tuple(_window_rule(metric, window, shared, dead_band_key) for window in windows)


def _window_rule(metric: str, table: _Table, shared: dict[str, Any], dead_band_key: str) -> MetricRule:
    numbers = {key: table.number(key) for key in _FOUR_NUMBERS}
    key, problem = _ordering_problem(**numbers, higher_is_worse=shared["higher_is_worse"])
    if key:
        raise ValueError(f"{table.key(key)}: {problem}")
    problem = _dead_band_problem(numbers["amber"], numbers["red"], shared["dead_band_fraction"],
                                 shared["higher_is_worse"])
    if problem:
        raise ValueError(f"{dead_band_key}: {problem} (at {table.path})")
    statistic = table.choice("statistic", STATISTICS)
    window_s = 0.0
    if statistic in WINDOWED_STATISTICS:
        window_s = table.duration("window")
        if window_s <= 0:
            raise ValueError(f"{table.key('window')}: must be longer than 0 s")
    elif "window" in table.raw:
        raise ValueError(f"{table.key('window')}: {statistic} takes no window (only sum, mean and max do)")
    return MetricRule(
        metric=metric,
        domain=metric_domains()[metric],
        **numbers,
        statistic=statistic,
        window_s=window_s,
        source=table.text("source"),
        **shared,
    )


def _noise_rule(table: _Table, dead_band: float, dwell_s: float) -> NoiseRule:
    table.check_keys(
        {"statistic", "window", "day_start", "day_end", "default_zone", "best_offset", "amber_offset", "red_offset",
         "worst_offset", "inclusive", "source", "limits", "dead_band_fraction", "dwell"}
    )
    limits_table = table.table("limits")
    if not limits_table.raw:
        raise ValueError(f"{limits_table.path}: needs at least one zone class")
    limits: dict[str, tuple[float, float]] = {}
    for zone in limits_table.raw:
        entry = limits_table.table(zone)
        entry.check_keys({"day", "night"})
        limits[str(zone)] = (entry.number("day"), entry.number("night"))
    default_zone = table.text("default_zone")
    if default_zone not in limits:
        raise ValueError(f"{table.key('default_zone')}: {default_zone!r} is not a class in {limits_table.path}")
    day_start, day_end = table.clock("day_start"), table.clock("day_end")
    if not day_start < day_end:
        raise ValueError(f"{table.key('day_end')}: must be later than day_start")
    offsets = {key: table.number(key) for key in ("best_offset", "amber_offset", "red_offset", "worst_offset")}
    key, problem = _ordering_problem(*offsets.values(), higher_is_worse=True)
    if key:
        raise ValueError(f"{table.key(key + '_offset')}: {problem.replace('best', 'best_offset')}")
    statistic = table.choice("statistic", STATISTICS, LATEST)
    window_s = table.duration("window") if statistic in WINDOWED_STATISTICS else 0.0
    if statistic in WINDOWED_STATISTICS and window_s <= 0:
        raise ValueError(f"{table.key('window')}: must be longer than 0 s")
    noise_dead_band = table.number("dead_band_fraction", dead_band)
    dead_band_key = table.key_or("dead_band_fraction", "hysteresis.dead_band_fraction")
    for zone, zone_limits in limits.items():
        for limit in zone_limits:
            amber, red = limit + offsets["amber_offset"], limit + offsets["red_offset"]
            problem = _dead_band_problem(amber, red, noise_dead_band, True)
            if problem:
                raise ValueError(f"{dead_band_key}: {problem} (at {limits_table.key(zone)})")
    return NoiseRule(
        limits=MappingProxyType(limits),
        default_zone=default_zone,
        day_start=day_start,
        day_end=day_end,
        **offsets,
        inclusive=table.flag("inclusive", False),
        statistic=statistic,
        window_s=window_s,
        source=table.text("source"),
        dead_band_fraction=noise_dead_band,
        dwell_s=table.duration("dwell", dwell_s),
    )


def _traffic_rule(table: _Table) -> TrafficRule:
    table.check_keys({"free_flow_speed_kmh", "travel_time_ratio_to_tpi", "source"})
    free_flow = table.number("free_flow_speed_kmh")
    if free_flow <= 0:
        raise ValueError(f"{table.key('free_flow_speed_kmh')}: must be positive")
    path = table.key("travel_time_ratio_to_tpi")
    raw = table.need("travel_time_ratio_to_tpi")
    if not isinstance(raw, list) or len(raw) < 2:
        raise ValueError(f"{path}: expected at least two [ratio, tpi] points")
    points: list[tuple[float, float]] = []
    for i, point in enumerate(raw):
        if not isinstance(point, list) or len(point) != 2:
            raise ValueError(f"{path}[{i}]: expected [ratio, tpi], got {_shown(point)}")
        ratio, tpi = _number(point[0], f"{path}[{i}]"), _number(point[1], f"{path}[{i}]")
        if i == 0 and ratio < 1:
            raise ValueError(f"{path}[{i}]: a travel-time ratio starts at 1 (free flow) or above")
        if not 0 <= tpi <= 10:
            raise ValueError(f"{path}[{i}]: TPI must lie in 0–10")
        if points and not (ratio > points[-1][0] and tpi > points[-1][1]):
            raise ValueError(f"{path}[{i}]: ratios and TPIs must both rise from point to point")
        points.append((ratio, tpi))
    return TrafficRule(free_flow, tuple(points), table.text("source"))


def _air_rule(table: _Table) -> AirRule:
    table.check_keys({"averaging", "windows"})
    averaging = table.choice("averaging", AQI_AVERAGINGS)
    windows_table = table.table("windows")
    if not windows_table.raw:
        raise ValueError(f"{windows_table.path}: needs a table for at least one AQI standard")
    windows: dict[str, Mapping[str, float]] = {}
    for standard in windows_table.raw:
        entry = windows_table.table(standard)
        entry.check_keys(set(AQI_INPUT_METRICS))
        per_key: dict[str, float] = {}
        for key in AQI_INPUT_METRICS:
            per_key[key] = entry.duration(key)
            if per_key[key] <= 0:
                raise ValueError(f"{entry.key(key)}: must be longer than 0 s")
        windows[str(standard)] = MappingProxyType(per_key)
    return AirRule(averaging, MappingProxyType(windows))


def _public_safety(table: _Table) -> PublicSafetyThresholds:
    table.check_keys({"amber_overdue", "red_overdue", "worst_overdue", "source"})
    counts = {key: table.count(key) for key in ("amber_overdue", "red_overdue", "worst_overdue")}
    if counts["amber_overdue"] < 1:
        raise ValueError(f"{table.key('amber_overdue')}: must be at least 1 (none overdue is green)")
    if not counts["amber_overdue"] < counts["red_overdue"]:
        raise ValueError(f"{table.key('red_overdue')}: must be greater than amber_overdue")
    if not counts["red_overdue"] < counts["worst_overdue"]:
        raise ValueError(f"{table.key('worst_overdue')}: must be greater than red_overdue")
    return PublicSafetyThresholds(**counts, source=table.text("source"))


def _weights(table: _Table) -> dict[str, float]:
    domains = domain_ids()
    weights: dict[str, float] = dict.fromkeys(domains, 1.0)
    for domain in table.raw:
        if domain not in domains:
            raise ValueError(f"{table.key(domain)}: unknown domain (known: {', '.join(domains)})")
        weight = table.number(domain)
        if weight < 0:
            raise ValueError(f"{table.key(domain)}: must not be negative")
        weights[domain] = weight
    if not any(weights.values()):
        raise ValueError(f"{table.path}: at least one domain needs a weight above 0")
    return weights


def _rollup(table: _Table) -> RollupRule:
    table.check_keys({"share", "policy", "spike_lookback"})
    share = table.number("share")
    if not 0 < share <= 1:
        raise ValueError(f"{table.key('share')}: must lie in (0, 1] (a fraction of the population), got {share:g}")
    policies = table.table("policy")
    domains = domain_ids()
    for domain in policies.raw:
        if domain not in domains:
            raise ValueError(f"{policies.key(domain)}: unknown domain (known: {', '.join(domains)})")
    policy = {domain: policies.choice(domain, ROLLUP_POLICIES) for domain in domains}
    return RollupRule(share=share, policy=MappingProxyType(policy), spike_lookback_s=table.duration("spike_lookback"))


_TOP_KEYS = frozenset({"freshness", "hysteresis", "history", "weights", "metrics", "air", "traffic", "noise",
                       "public_safety", "rollup"})


def parse_rules(config: Mapping[str, Any]) -> IndicatorRules:
    """Check a parsed ``indicators.toml`` (a mapping) and build the rules.

    Raises ``ValueError`` starting with the key path for a missing or unknown key, a value of
    the wrong type, thresholds out of order for their direction, an unknown metric or domain.
    """
    root = _Table(config, "")
    root.check_keys(_TOP_KEYS)

    freshness = root.table("freshness")
    freshness.check_keys({"factor", "default_expected_interval"})
    factor = freshness.number("factor")
    if factor <= 0:
        raise ValueError(f"{freshness.key('factor')}: must be positive")
    default_interval = freshness.duration("default_expected_interval")
    if default_interval <= 0:
        raise ValueError(f"{freshness.key('default_expected_interval')}: must be longer than 0 s")

    hysteresis = root.table("hysteresis")
    hysteresis.check_keys({"dead_band_fraction", "dwell"})
    dead_band = hysteresis.number("dead_band_fraction")
    if not 0 <= dead_band < 1:
        raise ValueError(f"{hysteresis.key('dead_band_fraction')}: must lie in [0, 1)")
    dwell_s = hysteresis.duration("dwell")

    history = root.table("history")
    history.check_keys({"cadence", "retention_days"})
    cadence_s = history.duration("cadence")
    retention_days = history.count("retention_days")
    if cadence_s <= 0:
        raise ValueError(f"{history.key('cadence')}: must be longer than 0 s")
    if retention_days < 1:
        raise ValueError(f"{history.key('retention_days')}: must be at least 1")

    rollup = _rollup(root.table("rollup"))
    if rollup.spike_lookback_s < cadence_s:  # a backfill runs at the cadence: a shorter look-back loses spikes
        raise ValueError(f"rollup.spike_lookback: must be at least history.cadence "
                         f"({format_duration(cadence_s)}), got {format_duration(rollup.spike_lookback_s)}")

    metrics_table = root.table("metrics")
    metrics: dict[str, tuple[MetricRule, ...]] = {}
    known = registry().metrics
    for metric in metrics_table.raw:
        if metric not in known:
            raise ValueError(f"{metrics_table.key(metric)}: unknown metric (known: {', '.join(known)})")
        if not known[metric].judged:
            raise ValueError(f"{metrics_table.key(metric)}: judged through [air], [traffic] or [noise], not here")
        metrics[metric] = _metric_rules(metric, metrics_table.table(metric), dead_band, dwell_s)
    for metric in judged_metrics():
        if metric not in metrics:
            raise ValueError(f"{metrics_table.key(metric)}: missing")

    return IndicatorRules(
        metrics=MappingProxyType(metrics),
        noise=_noise_rule(root.table("noise"), dead_band, dwell_s),
        traffic=_traffic_rule(root.table("traffic")),
        air=_air_rule(root.table("air")),
        public_safety=_public_safety(root.table("public_safety")),
        weights=MappingProxyType(_weights(root.table("weights"))),
        freshness_factor=factor,
        default_expected_interval_s=default_interval,
        dead_band_fraction=dead_band,
        dwell_s=dwell_s,
        history=HistoryRule(cadence_s, retention_days),
        rollup=rollup,
    )


def merge_config(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` laid over it: tables merge key by key, anything else replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_config(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path}: not valid TOML ({error})") from error


def load_rules(path: Path | str = DEFAULT_RULES_PATH, override_path: Path | str | None = None) -> IndicatorRules:
    """Read ``path`` (default: the repository's ``data/indicators.toml``), lay the city's
    ``override_path`` over it when given, and check the result (:func:`parse_rules`).

    ``ValueError`` for a file that is not TOML (naming the file) or a bad key (naming the key
    path); ``FileNotFoundError`` for a missing file.
    """
    config = _read_toml(Path(path))
    if override_path is not None:
        config = merge_config(config, _read_toml(Path(override_path)))
    return parse_rules(config)
