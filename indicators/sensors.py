"""Per-sensor scores and levels (docs/vital-signs.md §2, §4.1): the input of the roll-up.

:func:`score_sensors` turns the window values of every sensor (``indicators.windows``) into
one row per (sensor, metric judged), in the schema ``indicators.aggregate`` consumes
(:data:`SENSOR_SCORE_COLUMNS`). What is judged, per sensor, from the metrics it declares:

- a metric with a ``[metrics.<name>]`` rule: its windows; several windows (rainfall 6 h and
  3 h sums) are judged each, and the worse decides: lowest score, highest level, and the
  ``value`` of that window;
- ``noise_dba``: against the GB 3096 limit of the sensor's zone (default zone when it has
  none), by day or night at the local time of the reading;
- ``speed_kmh`` without ``tpi``: the TPI of the speed against the free-flow speed (the
  registry's ``free_flow_speed_kmh`` column if any, else ``[traffic]``); the row's metric is
  ``tpi`` and its value the TPI;
- pollutants (``pm25, pm10, so2, no2, co, o3``) without ``aqi``: the AQI of their rolling
  means (``[air]``, the city's standard), computed by ``indicators.aqi``; the row's metric is
  ``aqi``. A sensor publishing ``aqi`` is judged on it.

A stale row has ``value`` NaN, ``score`` NaN and ``level`` <NA> (grey) but keeps ``time`` and
``age_s`` of its newest reading: the feed page shows how long it has been silent.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.extensions import take

from indicators.aqi import aqi_frame
from indicators.registry import metric_domains
from indicators.rules import AQI_INPUT_METRICS, IndicatorRules
from indicators.scores import noise_rules, score_and_level_by_row, tpi_from_speed
from indicators.windows import as_utc, check_registry, declared_metrics, window_values

SENSOR_SCORE_COLUMNS: tuple[str, ...] = (
    "sensor_id", "unit_code", "domain", "metric", "value", "time", "age_s", "fresh", "score", "level", "maintenance",
    "rule",
)
_POLLUTANTS = frozenset(AQI_INPUT_METRICS.values())
_WINDOW_KEY = ["sensor_id", "metric", "statistic", "window_s"]


def _aqi_values(concentrations: pd.DataFrame, standard: str, averaging: str) -> pd.Series:
    """AQI per row (float, NaN where no input defines one) of concentrations in the columns of
    ``AQI_KEYS`` (µg/m³, CO mg/m³; NaN: not measured): the only call into ``indicators.aqi``."""
    result = aqi_frame(concentrations, standard=standard, averaging=averaging)
    return pd.Series(result["aqi"].to_numpy(dtype=float, na_value=np.nan), index=concentrations.index, dtype=float)


def _registry(sensors: pd.DataFrame) -> pd.DataFrame:
    """The registry columns used here, with defaults for the optional ones."""
    check_registry(sensors)
    registry = pd.DataFrame(index=sensors["sensor_id"].astype(str).to_numpy())
    registry.index.name = "sensor_id"
    registry["unit_code"] = sensors["unit_code"].to_numpy() if "unit_code" in sensors.columns else None
    registry["noise_zone"] = sensors["noise_zone"].to_numpy() if "noise_zone" in sensors.columns else None
    maintenance = sensors["maintenance"] if "maintenance" in sensors.columns else pd.Series(False, index=sensors.index)
    registry["maintenance"] = maintenance.astype("boolean").fillna(False).astype(bool).to_numpy()
    free_flow = sensors["free_flow_speed_kmh"] if "free_flow_speed_kmh" in sensors.columns else np.nan
    free_flow = pd.to_numeric(pd.Series(free_flow, index=sensors.index), errors="coerce")
    registry["free_flow_speed_kmh"] = free_flow.to_numpy(dtype=float)
    return registry


class _WindowRows:
    """The rows of ``windows`` by key (sensor_id, metric, statistic, window_s), indexed once.

    A DataFrame merge per judged window (about twenty per call) was most of the time of
    :func:`score_sensors`; with the rows indexed once, a lookup is a dict get per sensor and a
    ``take`` per column. ``windows`` has one row per key, as ``window_values`` and
    ``assemble_windows`` build it; a second row for a key is a ``ValueError``.
    """

    def __init__(self, windows: pd.DataFrame) -> None:
        keys = zip(
            windows["sensor_id"].tolist(), windows["metric"].tolist(), windows["statistic"].tolist(),
            windows["window_s"].astype(float).tolist(), strict=True,
        )
        self._row = {key: row for row, key in enumerate(keys)}
        if len(self._row) < len(windows):
            raise ValueError(f"windows: more than one row for a ({', '.join(_WINDOW_KEY)})")
        self._value = windows["value"].array
        self._time = windows["time"].array
        self._age_s = windows["age_s"].array
        # A missing key is not fresh: False appended at the end, where row -1 points.
        fresh = windows["fresh"].astype("boolean").fillna(False).astype(bool).to_numpy()
        self._fresh = np.append(fresh, False)

    def columns(self, sensor_ids: list[str], metric: str, statistic: str, window_s: float) -> dict[str, Any]:
        """For each sensor: value, time, age_s and fresh of its row of the window, as arrays;
        NaN, NaT, NaN and not fresh for a sensor without one."""
        key_rest = (metric, statistic, float(window_s))
        at = np.array([self._row.get((sensor, *key_rest), -1) for sensor in sensor_ids], dtype=np.intp)
        return {
            "value": take(self._value, at, allow_fill=True),
            "time": take(self._time, at, allow_fill=True),
            "age_s": take(self._age_s, at, allow_fill=True),
            "fresh": self._fresh[at],
        }

    def lookup(
        self, sensor_ids: list[str], metric: str, statistic: str, window_s: float, **more: Any
    ) -> pd.DataFrame:
        """:meth:`columns` as a frame with ``sensor_id``, ``metric`` and the ``more`` columns."""
        return pd.DataFrame(
            {
                "sensor_id": pd.array(sensor_ids, dtype=str),
                "metric": metric,
                **self.columns(sensor_ids, metric, statistic, window_s),
                **more,
            }
        )


def _judged_pieces(
    windows: pd.DataFrame, has: dict[str, set[str]], registry: pd.DataFrame, rules: IndicatorRules,
    tz: tzinfo | str, aqi_standard: str, now: pd.Timestamp,
) -> list[pd.DataFrame]:
    """Rows (sensor_id, metric, part, value, time, age_s, fresh, rule): one per judged window.
    ``has``: sensor id → the metrics it declares."""
    found = _WindowRows(windows)
    holders: dict[str, list[str]] = {}  # metric → the sensors declaring it, in registry order
    for sensor, metrics in has.items():
        for metric in metrics:
            holders.setdefault(metric, []).append(sensor)

    pieces: list[pd.DataFrame] = []
    for metric, metric_rules in rules.metrics.items():
        for part, rule in enumerate(metric_rules):
            holding = holders.get(metric, [])
            rows = found.lookup(holding, metric, rule.statistic, rule.window_s, part=part, rule=[rule] * len(holding))
            pieces.append(rows)

    rows = found.lookup(holders.get("noise_dba", []), "noise_dba", rules.noise.statistic, rules.noise.window_s, part=0)
    zones = rows["sensor_id"].map(registry["noise_zone"])
    rows["rule"] = noise_rules(rules.noise, zones, rows["time"], tz).to_numpy()
    pieces.append(rows)

    speed_only = [sensor for sensor in holders.get("speed_kmh", []) if "tpi" not in has[sensor]]
    for part, rule in enumerate(rules.metrics["tpi"]):
        rows = found.lookup(speed_only, "speed_kmh", rule.statistic, rule.window_s, part=part,
                            rule=[rule] * len(speed_only))
        free_flow = rows["sensor_id"].map(registry["free_flow_speed_kmh"]).astype(float)
        rows["value"] = tpi_from_speed(rules.traffic, rows["value"].astype(float), free_flow)
        rows["metric"] = "tpi"
        pieces.append(rows)

    pieces.extend(_aqi_pieces(found, has, rules, aqi_standard, now))
    return pieces


def _aqi_pieces(
    found: _WindowRows, has: dict[str, set[str]], rules: IndicatorRules, aqi_standard: str, now: pd.Timestamp
) -> list[pd.DataFrame]:
    """The AQI of sensors that publish pollutants but no ``aqi``, judged on the ``aqi`` rules."""
    computing = [sensor for sensor, metrics in has.items() if metrics & _POLLUTANTS and "aqi" not in metrics]
    if not computing:
        return []
    key_windows = rules.air.windows_for(aqi_standard)
    index = pd.Index(computing, name="sensor_id")
    concentrations: dict[str, np.ndarray] = {}
    input_times: dict[str, pd.Series] = {}
    for key, window_s in key_windows.items():
        rows = found.columns(computing, AQI_INPUT_METRICS[key], "mean", window_s)
        value = np.asarray(rows["value"], dtype=float)
        # Only fresh, physically possible means enter the AQI (a negative one is a faulty sensor).
        usable = rows["fresh"] & (value >= 0)
        concentrations[key] = np.where(usable, value, np.nan)
        input_times[key] = pd.to_datetime(pd.Series(rows["time"], index=index), utc=True)
    newest = pd.DataFrame(input_times, index=index).max(axis=1)
    value = _aqi_values(pd.DataFrame(concentrations, index=index), aqi_standard, rules.air.averaging)
    age_s = (now - newest).dt.total_seconds()
    piece = pd.DataFrame(
        {
            "sensor_id": index.to_numpy(),
            "metric": "aqi",
            "value": value.to_numpy(),
            "time": newest.to_numpy(),
            "age_s": age_s.to_numpy(dtype=float),
            "fresh": value.notna().to_numpy(),
        }
    )
    piece["time"] = pd.to_datetime(piece["time"], utc=True)
    return [piece.assign(part=part, rule=[rule] * len(piece)) for part, rule in enumerate(rules.metrics["aqi"])]


def score_sensors(
    windows: pd.DataFrame,
    sensors: pd.DataFrame,
    rules: IndicatorRules,
    now: datetime | pd.Timestamp,
    tz: tzinfo | str,
    aqi_standard: str = "HJ633-2012",
) -> pd.DataFrame:
    """Score and level of every (sensor, metric judged) as of ``now``.

    ``windows``: :func:`indicators.windows.window_values` of the same ``sensors``, ``rules``,
    ``now`` and ``tz``. ``sensors``: the registry with ``sensor_id``, ``metrics`` (``"a;b"`` or a
    list), ``unit_code`` (the lowest-level unit), ``expected_interval_s``, ``noise_zone`` (GB 3096
    class or empty), ``maintenance`` (bool), and optionally ``free_flow_speed_kmh``. ``tz``: the
    city's zone (noise day/night). ``aqi_standard``: city.toml's ``aqi_standard``.

    Returns the columns of :data:`SENSOR_SCORE_COLUMNS`: ``sensor_id, unit_code, domain, metric,
    value`` (float in the metric's unit — AQI, TPI, mm over the deciding window…; NaN when
    stale), ``time`` (UTC of the newest input reading, NaT if none), ``age_s`` (float, NaN if
    none), ``fresh`` (bool), ``score`` (float 0–100, NaN when not fresh), ``level`` (Int64 0/1/2,
    <NA> when not fresh), ``maintenance`` (bool), ``rule`` (the :class:`MetricRule` of the deciding
    window, for hysteresis; None when nothing was judged). Maintenance sensors are scored like
    the others; the roll-up leaves them out.
    """
    stamp = as_utc(now)
    registry = _registry(sensors)
    has = declared_metrics(sensors)
    pieces = [piece for piece in _judged_pieces(windows, has, registry, rules, tz, aqi_standard, stamp)
              if not piece.empty]
    if not pieces:
        return _empty_scores()
    judged = pd.concat(pieces, ignore_index=True)
    judged["value"] = judged["value"].astype(float)
    judged["fresh"] = (judged["fresh"].astype(bool) & judged["value"].notna()).to_numpy()
    judged["time"] = pd.to_datetime(judged["time"], utc=True)
    values = judged["value"].where(judged["fresh"])
    rule_of_row = judged["rule"].where(judged["fresh"], None)
    judged["score"], judged["level"] = score_and_level_by_row(values, rule_of_row)
    return _combine_windows(judged, registry)


def _combine_windows(judged: pd.DataFrame, registry: pd.DataFrame) -> pd.DataFrame:
    """One row per (sensor, metric): the worse window decides; fresh only if every window is."""
    judged = judged.assign(order_score=judged["score"].fillna(np.inf))
    judged = judged.sort_values(["sensor_id", "metric", "order_score", "part"], kind="stable", ignore_index=True)
    # The windows of a (sensor, metric) are now adjacent, the deciding one first: number the
    # groups along the rows rather than group by the two string columns again.
    first = ~judged.duplicated(["sensor_id", "metric"]).to_numpy()
    groups = judged.groupby(np.cumsum(first), sort=False)
    deciding = judged[first]
    fresh = groups["fresh"].all().to_numpy()
    result = pd.DataFrame(
        {
            "sensor_id": deciding["sensor_id"].array,
            "metric": deciding["metric"].array,
            "fresh": fresh,
            "value": np.where(fresh, deciding["value"].to_numpy(float), np.nan),
            "time": groups["time"].max().array,
            "age_s": groups["age_s"].min().to_numpy(),
            "score": np.where(fresh, deciding["score"].to_numpy(float), np.nan),
            "level": groups["level"].max().astype("Int64").where(fresh, pd.NA).array,
            "rule": deciding["rule"].array,
        }
    )
    result["domain"] = result["metric"].map(metric_domains())
    result["unit_code"] = result["sensor_id"].map(registry["unit_code"])
    result["maintenance"] = result["sensor_id"].map(registry["maintenance"]).astype(bool)
    result["time"] = pd.to_datetime(result["time"], utc=True)
    return result[list(SENSOR_SCORE_COLUMNS)].reset_index(drop=True)


def score_readings(
    readings: pd.DataFrame,
    sensors: pd.DataFrame,
    rules: IndicatorRules,
    now: datetime | pd.Timestamp,
    tz: tzinfo | str,
    aqi_standard: str = "HJ633-2012",
) -> pd.DataFrame:
    """:func:`score_sensors` straight from a readings frame ``(time, sensor_id, metric, value)``."""
    windows = window_values(readings, sensors, rules, now, tz)
    return score_sensors(windows, sensors, rules, now, tz, aqi_standard)


def _empty_scores() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sensor_id": pd.Series(dtype=object),
            "unit_code": pd.Series(dtype=object),
            "domain": pd.Series(dtype=object),
            "metric": pd.Series(dtype=object),
            "value": pd.Series(dtype=float),
            "time": pd.Series(dtype="datetime64[ns, UTC]"),
            "age_s": pd.Series(dtype=float),
            "fresh": pd.Series(dtype=bool),
            "score": pd.Series(dtype=float),
            "level": pd.Series(dtype="Int64"),
            "maintenance": pd.Series(dtype=bool),
            "rule": pd.Series(dtype=object),
        }
    )

