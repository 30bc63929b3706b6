"""What each sensor's metric amounts to now: latest value, freshness, rolling windows, day/night.

Input: a readings frame ``(time, sensor_id, metric, value)`` as stored (``time`` tz-aware,
any zone; one row per reading). Readings stamped after ``now`` are ignored, so a past ``now``
reproduces what was known then.

- Latest value per (sensor, metric): the newest reading at or before ``now``; *fresh* while
  its age is at most ``freshness.factor × expected_interval_s`` (docs/vital-signs.md §4.1).
- Rolling windows ``(now − window, now]``: sums (rain 3 h / 6 h), means (PM 24 h, O3 8 h,
  the 1 h means of the real-time AQI), maxima.
- Daily maximum: the highest reading since local midnight in the city's zone (heat).
- Day or night (GB 3096: day 06:00–22:00 local) for noise, DST-correct: the local clock is
  read in the city's IANA zone, so a 23 h or 25 h day needs no special case.
"""

from __future__ import annotations

from datetime import datetime, time, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from indicators.rules import (
    AQI_INPUT_METRICS,
    DAILY_MAX,
    LATEST,
    MAX,
    WINDOWED_STATISTICS,
    IndicatorRules,
)

READING_COLUMNS: tuple[str, ...] = ("time", "sensor_id", "metric", "value")
# Columns of window_values(); value is in the metric's unit (a sum of rain_mm is in mm).
WINDOW_COLUMNS: tuple[str, ...] = (
    "sensor_id", "metric", "statistic", "window_s", "value", "count", "time", "age_s", "fresh"
)
_KEY = ["sensor_id", "metric"]


def as_zone(tz: tzinfo | str) -> tzinfo:
    """An IANA zone name (``"America/New_York"``) or a tzinfo, as a tzinfo."""
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def as_utc(moment: datetime | pd.Timestamp, name: str = "now") -> pd.Timestamp:
    """A tz-aware moment as a UTC Timestamp; ``ValueError`` naming ``name`` when it is naive."""
    stamp = pd.Timestamp(moment)
    if stamp.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment!r}")
    return stamp.tz_convert("UTC")


def is_daytime(
    times: datetime | pd.Timestamp | pd.Series | pd.DatetimeIndex,
    tz: tzinfo | str,
    day_start: time = time(6),
    day_end: time = time(22),
) -> bool | np.ndarray | pd.Series:
    """Whether each tz-aware moment falls in the day, ``day_start`` ≤ local clock < ``day_end``,
    in the zone ``tz`` (GB 3096-2008: day 06:00–22:00). A scalar gives a bool, a Series a bool
    Series (NaT: False), an index a bool array."""
    zone = as_zone(tz)
    start = day_start.hour * 3600 + day_start.minute * 60 + day_start.second
    end = day_end.hour * 3600 + day_end.minute * 60 + day_end.second
    if isinstance(times, pd.Series):
        if not isinstance(times.dtype, pd.DatetimeTZDtype):
            raise ValueError("times must be timezone-aware")
        local = times.dt.tz_convert(zone)
        clock = local.dt.hour * 3600 + local.dt.minute * 60 + local.dt.second
        return ((clock >= start) & (clock < end)).fillna(False).astype(bool)
    if isinstance(times, pd.DatetimeIndex):
        if times.tz is None:
            raise ValueError("times must be timezone-aware")
        local_index = times.tz_convert(zone)
        clock_index = local_index.hour * 3600 + local_index.minute * 60 + local_index.second
        return np.asarray((clock_index >= start) & (clock_index < end), dtype=bool)
    local_moment = as_utc(times, "time").tz_convert(zone)
    seconds = local_moment.hour * 3600 + local_moment.minute * 60 + local_moment.second
    return bool(start <= seconds < end)


def local_midnight(now: datetime | pd.Timestamp, tz: tzinfo | str) -> pd.Timestamp:
    """The start of ``now``'s local day in zone ``tz``, in UTC (where midnight does not exist
    on a DST day, the day starts at the transition)."""
    zone = as_zone(tz)
    local = as_utc(now).tz_convert(zone).to_pydatetime()
    start = datetime(local.year, local.month, local.day, tzinfo=zone)
    return as_utc(start)


def _prepared(readings: pd.DataFrame, now: pd.Timestamp) -> pd.DataFrame:
    """Readings at or before ``now``: time in UTC, value a float; other columns dropped."""
    missing = [column for column in READING_COLUMNS if column not in readings.columns]
    if missing:
        raise ValueError(f"readings: missing columns {', '.join(missing)}")
    if not isinstance(readings["time"].dtype, pd.DatetimeTZDtype):
        raise ValueError("readings.time must be timezone-aware (UTC)")
    frame = pd.DataFrame(
        {
            "time": readings["time"].dt.tz_convert("UTC"),
            "sensor_id": readings["sensor_id"].astype(str),
            "metric": readings["metric"].astype(str),
            "value": pd.to_numeric(readings["value"], errors="coerce").astype(float),
        }
    )
    return frame[frame["time"].notna() & (frame["time"] <= now)]


def latest_readings(readings: pd.DataFrame, now: datetime | pd.Timestamp) -> pd.DataFrame:
    """The newest reading at or before ``now`` per (sensor_id, metric):
    columns ``sensor_id, metric, value, time`` (UTC)."""
    frame = _prepared(readings, as_utc(now))
    return _latest(frame)


def _latest(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return frame[["sensor_id", "metric", "value", "time"]].reset_index(drop=True)
    newest = frame.groupby(_KEY, sort=False, observed=True)["time"].idxmax()
    return frame.loc[newest.to_numpy(), ["sensor_id", "metric", "value", "time"]].reset_index(drop=True)


def window_statistic(
    readings: pd.DataFrame,
    now: datetime | pd.Timestamp,
    statistic: str,
    window_s: float = 0.0,
    tz: tzinfo | str | None = None,
) -> pd.DataFrame:
    """``statistic`` of each (sensor_id, metric)'s readings: columns ``sensor_id, metric,
    value, count``.

    - ``"latest"``: the newest reading at or before ``now``.
    - ``"sum"``, ``"mean"``, ``"max"``: over the readings in ``(now − window_s, now]`` (a pair
      with none there is absent).
    - ``"daily_max"``: the highest reading since local midnight in zone ``tz``; before the
      day's first reading, the newest reading stands in for it.
    """
    stamp = as_utc(now)
    return _statistic(_prepared(readings, stamp), stamp, statistic, window_s, tz)


def _statistic(
    frame: pd.DataFrame,
    now: pd.Timestamp,
    statistic: str,
    window_s: float,
    tz: tzinfo | str | None,
    latest: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``statistic`` of the prepared ``frame``; ``latest`` (of the same frame) saves recomputing it."""
    latest = _latest(frame) if latest is None and statistic in (LATEST, DAILY_MAX) else latest
    if statistic == LATEST:
        assert latest is not None
        return latest.assign(count=1)[["sensor_id", "metric", "value", "count"]]
    if statistic == DAILY_MAX:
        if tz is None:
            raise ValueError("daily_max needs the city's time zone (tz)")
        assert latest is not None
        today = frame[frame["time"] >= local_midnight(now, tz)]
        # The newest reading joins the day's readings: it is the day's only news before the
        # first reading after midnight, and changes nothing once there is one.
        pool = pd.concat([today[["sensor_id", "metric", "value"]], latest[["sensor_id", "metric", "value"]]])
        result = pool.groupby(_KEY, sort=False)["value"].max().to_frame()
        result["count"] = today.groupby(_KEY).size().reindex(result.index, fill_value=0)
        return result.reset_index()
    if statistic not in WINDOWED_STATISTICS:
        raise ValueError(f"unknown statistic {statistic!r}")
    if not window_s > 0:
        raise ValueError(f"{statistic} needs a window longer than 0 s")
    start = now - pd.Timedelta(seconds=window_s)
    inside = frame[frame["time"] > start]
    grouped = inside.groupby(_KEY, sort=False)["value"]
    result = grouped.agg(statistic).rename("value").to_frame()
    result["count"] = grouped.count()
    return result.reset_index()


def freshness(
    times: pd.Series, intervals_s: pd.Series, now: datetime | pd.Timestamp, factor: float
) -> tuple[pd.Series, pd.Series]:
    """Age in seconds (NaN for NaT) and freshness: ``age_s ≤ factor × interval`` (§4.1)."""
    stamp = as_utc(now)
    age_s = (stamp - times).dt.total_seconds().astype(float)
    fresh = (age_s <= factor * intervals_s.astype(float)).fillna(False).astype(bool)
    return age_s, fresh


def _metric_lists(metrics: Any) -> list[str]:
    """A registry ``metrics`` cell (``"pm25;pm10"`` or a list) as a list of names."""
    if isinstance(metrics, str):
        return [name.strip() for name in metrics.split(";") if name.strip()]
    if metrics is None or (isinstance(metrics, float) and np.isnan(metrics)):
        return []
    return [str(name) for name in metrics]


def check_registry(sensors: pd.DataFrame) -> None:
    """``ValueError`` unless the registry has ``sensor_id`` and ``metrics`` and unique ids."""
    for column in ("sensor_id", "metrics"):
        if column not in sensors.columns:
            raise ValueError(f"sensors: missing column {column}")
    if sensors["sensor_id"].duplicated().any():
        duplicated = sensors.loc[sensors["sensor_id"].duplicated(), "sensor_id"].iloc[0]
        raise ValueError(f"sensors: duplicate sensor_id {duplicated!r}")


def sensor_metrics(sensors: pd.DataFrame) -> pd.DataFrame:
    """The registry exploded to one row per (sensor_id, metric) it declares."""
    check_registry(sensors)
    pairs = [(sensor, name) for sensor, names in zip(sensors["sensor_id"], sensors["metrics"], strict=True)
             for name in _metric_lists(names)]
    frame = pd.DataFrame(pairs, columns=["sensor_id", "metric"], dtype=object).drop_duplicates()
    return frame.astype({"sensor_id": str, "metric": str})


def declared_metrics(sensors: pd.DataFrame) -> dict[str, set[str]]:
    """Sensor id → the metrics it declares: :func:`sensor_metrics` as sets, without a frame."""
    check_registry(sensors)
    ids = sensors["sensor_id"].astype(str).tolist()
    return {sensor: set(_metric_lists(names)) for sensor, names in zip(ids, sensors["metrics"].tolist(), strict=True)}


def required_windows(rules: IndicatorRules) -> dict[str, set[tuple[str, float]]]:
    """Metric → the (statistic, window_s) it is judged on ("latest" always): the metric rules,
    the AQI inputs of every configured standard, noise, and speed_kmh over the TPI's windows."""
    needed: dict[str, set[tuple[str, float]]] = {}
    for metric, metric_rules in rules.metrics.items():
        needed.setdefault(metric, set()).update((rule.statistic, rule.window_s) for rule in metric_rules)
    for windows in rules.air.windows.values():
        for key, window_s in windows.items():
            needed.setdefault(AQI_INPUT_METRICS[key], set()).add(("mean", window_s))
    needed.setdefault("noise_dba", set()).add((rules.noise.statistic, rules.noise.window_s))
    # A sensor without a TPI is judged on the TPI of its speed over the TPI rule's windows.
    needed.setdefault("speed_kmh", set()).update((rule.statistic, rule.window_s) for rule in rules.metrics["tpi"])
    for metric in needed:
        needed[metric].add((LATEST, 0.0))
    return needed


# What a reading since the previous run can make worse: the latest value whichever way is worse, and
# a maximum (the day's, a window's) where higher is worse, the reading pooled into it. A sum or a
# mean is judged as it stands at run time: a spike already counts in a sum, a mean dilutes it.
WORSENED_BY_THE_HIGHEST: frozenset[str] = frozenset({LATEST, DAILY_MAX, MAX})
WORSENED_BY_THE_LOWEST: frozenset[str] = frozenset({LATEST})


def worst_since_last_run(rules: IndicatorRules) -> tuple[list[str], list[str]]:
    """(metrics whose highest, metrics whose lowest reading since the previous run is judged), in the
    domains rolled up by the worst child (gas, waterlogging, crowd by default; a city may add any):
    a metric whose higher values are worse and that is judged on its latest value or a maximum, one
    whose lower values are worse and that is judged on its latest value. A detector that reads 65 %
    LEL for ten seconds between two runs must still raise the level, the alarm and the incident
    (§4.1); hysteresis then holds it."""
    judged: list[tuple[str, bool, str, set[str]]] = [
        (metric, metric_rules[0].higher_is_worse, metric_rules[0].domain, {rule.statistic for rule in metric_rules})
        for metric, metric_rules in rules.metrics.items()
    ]
    judged.append(("noise_dba", True, "noise", {rules.noise.statistic}))
    # A sensor without a TPI is judged on the TPI of its speed: the lower the speed, the worse.
    tpi_rules = rules.metrics["tpi"]
    judged.append(("speed_kmh", False, tpi_rules[0].domain, {rule.statistic for rule in tpi_rules}))
    worst_domains = rules.rollup.worst_domains
    higher = sorted(metric for metric, higher_is_worse, domain, statistics in judged
                    if domain in worst_domains and higher_is_worse and statistics & WORSENED_BY_THE_HIGHEST)
    lower = sorted(metric for metric, higher_is_worse, domain, statistics in judged
                   if domain in worst_domains and not higher_is_worse and statistics & WORSENED_BY_THE_LOWEST)
    return higher, lower


def window_values(
    readings: pd.DataFrame,
    sensors: pd.DataFrame,
    rules: IndicatorRules,
    now: datetime | pd.Timestamp,
    tz: tzinfo | str,
) -> pd.DataFrame:
    """Every window the rules judge, per sensor and declared metric, as of ``now``.

    ``sensors``: the registry (``sensor_id``, ``metrics`` as ``"a;b"`` or a list,
    ``expected_interval_s`` (NaN: ``rules.default_expected_interval_s``)). Returns one row per
    (sensor_id, metric, statistic, window_s) with the columns of :data:`WINDOW_COLUMNS`:
    ``value`` (NaN when there is nothing to show), ``count`` (readings in the window),
    ``time`` (UTC, the newest reading of that metric, NaT if none), ``age_s`` (seconds since
    ``time``; NaN if none) and ``fresh``: the newest reading is fresh and the window holds a
    value. Rows exist for declared metrics without readings (NaN, NaT, not fresh): silence
    shows as grey.
    """
    stamp = as_utc(now)
    frame = _prepared(readings, stamp)
    latest_all = _latest(frame)
    pieces: list[pd.DataFrame] = []
    for (statistic, window_s), metrics in statistic_groups(required_windows(rules)).items():
        subset = frame[frame["metric"].isin(metrics)]
        subset_latest = latest_all[latest_all["metric"].isin(metrics)]
        values = _statistic(subset, stamp, statistic, window_s, tz, subset_latest)
        pieces.append(values.assign(statistic=statistic, window_s=float(window_s)))
    statistics = pd.concat(pieces, ignore_index=True) if pieces else None
    return assemble_windows(statistics, latest_all[["sensor_id", "metric", "time"]], sensors, rules, stamp)


def statistic_groups(needed: dict[str, set[tuple[str, float]]]) -> dict[tuple[str, float], list[str]]:
    """:func:`required_windows` turned around: (statistic, window_s) → the metrics judged on it, sorted."""
    groups: dict[tuple[str, float], list[str]] = {}
    for metric, pairs in sorted(needed.items()):
        for pair in pairs:
            groups.setdefault(pair, []).append(metric)
    return dict(sorted(groups.items()))


def assemble_windows(
    statistics: pd.DataFrame | None,
    newest: pd.DataFrame,
    sensors: pd.DataFrame,
    rules: IndicatorRules,
    now: datetime | pd.Timestamp,
) -> pd.DataFrame:
    """The rows of :func:`window_values` from statistics computed elsewhere (e.g. by the database
    from its rollups): ``statistics`` has ``sensor_id, metric, statistic, window_s, value, count``
    (a pair without readings in a window may be absent), ``newest`` the time of each pair's
    newest reading (``sensor_id, metric, time``). Every declared metric of every sensor gets
    its rows; freshness follows the newest reading (§4.1)."""
    stamp = as_utc(now)
    declared = sensor_metrics(sensors)
    given = sensors["expected_interval_s"].to_numpy() if "expected_interval_s" in sensors.columns else np.nan
    intervals = pd.to_numeric(pd.Series(given, index=sensors["sensor_id"].astype(str).to_numpy()), errors="coerce")
    intervals = intervals.where(intervals > 0, rules.default_expected_interval_s)

    pieces: list[pd.DataFrame] = []
    for (statistic, window_s), metrics in statistic_groups(required_windows(rules)).items():
        rows = declared[declared["metric"].isin(metrics)]
        if rows.empty:
            continue
        if statistics is None:
            values = pd.DataFrame(columns=["sensor_id", "metric", "value", "count"])
        else:
            chosen = (statistics["statistic"] == statistic) & (statistics["window_s"] == float(window_s))
            values = statistics.loc[chosen, ["sensor_id", "metric", "value", "count"]]
        piece = rows.merge(values, on=_KEY, how="left")
        piece["statistic"], piece["window_s"] = statistic, float(window_s)
        pieces.append(piece)
    if not pieces:
        return _empty_windows()
    result = pd.concat(pieces, ignore_index=True).merge(newest[["sensor_id", "metric", "time"]], on=_KEY,
                                                          how="left")
    result["count"] = pd.to_numeric(result["count"]).fillna(0).astype(int)
    result["value"] = pd.to_numeric(result["value"]).astype(float)
    result["time"] = pd.to_datetime(result["time"], utc=True)
    interval = result["sensor_id"].map(intervals).astype(float).fillna(rules.default_expected_interval_s)
    result["age_s"], newest_fresh = freshness(result["time"], interval, stamp, rules.freshness_factor)
    result["fresh"] = (newest_fresh & result["value"].notna()).astype(bool)
    return result[list(WINDOW_COLUMNS)].sort_values(["sensor_id", "metric", "statistic", "window_s"],
                                                    ignore_index=True)


def _empty_windows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sensor_id": pd.Series(dtype=object),
            "metric": pd.Series(dtype=object),
            "statistic": pd.Series(dtype=object),
            "window_s": pd.Series(dtype=float),
            "value": pd.Series(dtype=float),
            "count": pd.Series(dtype=int),
            "time": pd.Series(dtype="datetime64[ns, UTC]"),
            "age_s": pd.Series(dtype=float),
            "fresh": pd.Series(dtype=bool),
        }
    )
