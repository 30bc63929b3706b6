"""``cityops indicators run``: the process that computes the city's vital signs on a schedule.

Each run: read the sensor registry and the window statistics of the readings from the
database (rollups, so a run costs the same with a day or a year of history) → score every
sensor (``indicators.sensors``) → hysteresis per sensor and metric (state kept in the
database, so a restart changes nothing) → roll up to every level and the city
(``indicators.aggregate``) → trend and early warning (``indicators.trend``) → write the
current state, the history that is due, and alarms with their events, in one transaction;
then report the run time to ``process_status``. The run loop also rolls up the history's
closed hours for reports (``store.rollup_hours``) and deletes what is past retention. The
pure steps live in ``indicators/``; this module only moves data between them and the database.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

import store
from city import City, alarm_categories, city_folder, load_city
from cityops.process import run_periodically
from geo import area_km2
from incidents.alarms import AlarmFacts, alarm_titles
from indicators.aggregate import Aggregation, aggregate, units_frame
from indicators.domains import INDEX
from indicators.hysteresis import HysteresisState, apply_hysteresis
from indicators.kpis import PublicSafetyRule, incident_frame, public_safety_level
from indicators.registry import metric_domains
from indicators.rules import DAILY_MAX, LATEST, MAX, IndicatorRules, load_rules
from indicators.sensors import score_sensors
from indicators.trend import forecast_frame
from indicators.windows import (
    assemble_windows,
    is_daytime,
    local_midnight,
    required_windows,
    statistic_groups,
    worst_since_last_run,
)
from vocabulary.messages import CHINESE, ENGLISH

log = logging.getLogger(__name__)

DEFAULT_EVERY_S = 30.0
TREND_HISTORY = timedelta(hours=2)
RETENTION_EVERY_S = 3600.0
# The advisory lock whose holder is the one indicators process that writes ("vita"); the others stand by.
LEADER_LOCK = 0x76_69_74_61
# An alarm's event severity by level: amber is "watch" (minor), red "act now" (major). An
# officer raises an incident to critical; a threshold alone does not.
ALARM_SEVERITY = {1: "minor", 2: "major"}


@dataclass(frozen=True)
class VitalsContext:
    """What every run needs and nothing changes between runs: the city, its rules, its zone."""

    city: City
    rules: IndicatorRules
    zone: ZoneInfo
    units: pd.DataFrame
    category_of_domain: dict[str, str]  # domain → its sensor-alarm category (never a hotline one)

    @classmethod
    def for_city(cls, city: City, *, time_zone: str | None = None) -> VitalsContext:
        """The context of ``city``; its folder's ``indicators.toml``, if any, overrides the defaults."""
        override = city.folder / "indicators.toml"
        rules = load_rules(override_path=override if override.is_file() else None)
        # Area weighs units in a share roll-up where no population is known (§4.3).
        levels = [(level, city.boundaries[level].assign(area_km2=area_km2(city.boundaries[level])))
                  for level in city.levels]
        return cls(city=city, rules=rules, zone=ZoneInfo(time_zone or city.config.timezone),
                   units=units_frame(levels), category_of_domain=alarm_categories(city.categories))


@dataclass(frozen=True)
class RunResult:
    computed_at: datetime
    seconds: float
    sensors: int
    written: dict[str, int]
    aggregation: Aggregation
    stages: dict[str, float]  # seconds per stage: read, score, hysteresis, aggregate, trend, write


# -- reading -------------------------------------------------------------------------------

def _freshness_lookback(registry: pd.DataFrame, rules: IndicatorRules) -> timedelta:
    intervals = pd.to_numeric(registry.get("expected_interval_s"), errors="coerce")
    longest = float(intervals.max()) if len(intervals) and intervals.notna().any() else 0.0
    longest = max(longest, rules.default_expected_interval_s)
    return timedelta(seconds=rules.freshness_factor * longest + 60)


def _pooled_into_max(values: pd.DataFrame, readings: pd.DataFrame) -> pd.DataFrame:
    """``values`` (sensor_id, metric, value, count) of a maximum with ``readings`` (sensor_id, metric,
    value) pooled into each pair's maximum; they add nothing to the count."""
    pool = pd.concat([values, readings[["sensor_id", "metric", "value"]].assign(count=0)])
    return pool.groupby(["sensor_id", "metric"], as_index=False).agg(value=("value", "max"), count=("count", "sum"))


def window_frame(conn: store.Connection, registry: pd.DataFrame, ctx: VitalsContext, now: datetime,
                 since: datetime | None = None) -> pd.DataFrame:
    """The windows of ``indicators.windows`` for every sensor, computed by the database from its rollups.
    ``since``: the previous run; in the worst-of domains, the latest value is the worst reading after it
    (at most ``rollup.spike_lookback`` before ``now``) and a maximum takes in the highest reading after it (§4.1)."""
    needed = required_windows(ctx.rules)
    highest, lowest = worst_since_last_run(ctx.rules)
    # The whole gap since the previous run, up to rollup.spike_lookback: a stall or a backfill's cadence loses
    # no spike, and after a long outage an old one opens no alarm now (§4.1).
    if since is not None:
        since = max(since, now - timedelta(seconds=ctx.rules.rollup.spike_lookback_s))
    newest = pd.DataFrame(store.newest_readings(conn, sorted(needed), now, _freshness_lookback(registry, ctx.rules),
                                                worst_since=since, highest=highest, lowest=lowest),
                          columns=["sensor_id", "metric", "value", "time", "newest_time"])
    newest["time"] = pd.to_datetime(newest["time"], utc=True)
    newest["newest_time"] = pd.to_datetime(newest["newest_time"], utc=True)
    # The highest reading since the previous run: it may precede local midnight, or a window shorter than
    # the runs' interval, or the rollups' last refresh.
    spikes = newest[newest["metric"].isin(highest) & (newest["time"] > (now if since is None else since))]
    pieces = []
    for (statistic, window_s), metrics in statistic_groups(needed).items():
        if statistic == LATEST:
            piece = newest[newest["metric"].isin(metrics)].assign(count=1)
        elif statistic == DAILY_MAX:
            midnight = local_midnight(now, ctx.zone).to_pydatetime()
            today = pd.DataFrame(store.window_statistics(conn, metrics, MAX, midnight, now),
                                 columns=["sensor_id", "metric", "value", "count"])
            # As in indicators.windows: the newest reading stands in before the day's first one (for the
            # worst-of domains' metrics, ``newest`` is the spike since the previous run).
            piece = _pooled_into_max(today, newest[newest["metric"].isin(metrics)])
        else:
            start = now - timedelta(seconds=window_s)
            piece = pd.DataFrame(store.window_statistics(conn, metrics, statistic, start, now),
                                 columns=["sensor_id", "metric", "value", "count"])
            if statistic == MAX:
                piece = _pooled_into_max(piece, spikes[spikes["metric"].isin(metrics)])
        pieces.append(piece[["sensor_id", "metric", "value", "count"]].assign(statistic=statistic,
                                                                             window_s=float(window_s)))
    statistics = pd.concat(pieces, ignore_index=True) if pieces else None
    # Freshness follows the newest reading, not the worst one judged (§4.1).
    newest_times = newest[["sensor_id", "metric", "newest_time"]].rename(columns={"newest_time": "time"})
    return assemble_windows(statistics, newest_times, registry, ctx.rules, now)


def _state_from_json(data: dict[str, Any]) -> HysteresisState:
    def stamp(value: str | None) -> pd.Timestamp | None:
        return None if value is None else pd.Timestamp(datetime.fromisoformat(value))

    since = data.get("better_since") or [None, None]
    return HysteresisState(level=data.get("level"), held=data.get("held"),
                           better_since=(stamp(since[0]), stamp(since[1])), since=stamp(data.get("since")),
                           since_value=data.get("since_value"))


def _state_to_json(state: HysteresisState) -> dict[str, Any]:
    """The stored form of a state. Its ``time`` (the last step) is left out: it changes every run,
    and without it a state is rewritten only when the level or a timer changes."""
    def iso(value: pd.Timestamp | None) -> str | None:
        return None if value is None else value.isoformat()

    return {"level": state.level, "held": state.held,
            "better_since": [iso(state.better_since[0]), iso(state.better_since[1])],
            "since": iso(state.since), "since_value": state.since_value}


# -- one run -------------------------------------------------------------------------------

def _plain(value: Any) -> Any:
    """A cell as a JSON-ready Python value (NaN/NA → None, numpy → Python)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def _forecasts(conn: store.Connection, current: pd.DataFrame, now: datetime) -> dict[tuple[str, str], dict]:
    history = pd.DataFrame(store.recent_scores(conn, now - TREND_HISTORY),
                           columns=["scope_code", "domain", "time", "score"])
    frame = pd.concat([history, current[["scope_code", "domain", "score"]].assign(time=now)], ignore_index=True)
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    frame["score"] = pd.to_numeric(frame["score"]).astype(float)
    trends = forecast_frame(frame)
    result = {}
    for row in trends.itertuples(index=False):
        if pd.isna(row.forecast_score):
            continue
        result[(row.scope_code, row.domain)] = {
            "trend_per_hour": _plain(row.trend_per_hour), "forecast_score": _plain(row.forecast_score),
            "predicted_level": _plain(row.predicted_level), "minutes_to_crossing": _plain(row.minutes_to_crossing),
            "horizon_min": 60,
        }
    return result


def _current_values(result: Aggregation, forecasts: dict[tuple[str, str], dict], now: datetime
                    ) -> list[store.CurrentValue]:
    values = []
    for row in result.domains.itertuples(index=False):
        values.append(store.CurrentValue(
            scope_code=row.scope_code, domain=row.domain, level_name=row.level_name, parent=_plain(row.parent),
            score=_plain(row.score), level=_plain(row.level), level_since=None, computed_at=now,
            newest_input=_plain(row.newest_time), oldest_input=_plain(row.oldest_time),
            forecast=forecasts.get((row.scope_code, row.domain)), explanation=row.explanation))
    for row in result.index.itertuples(index=False):
        values.append(store.CurrentValue(
            scope_code=row.scope_code, domain=INDEX, level_name=row.level_name, parent=_plain(row.parent),
            score=_plain(row.index), level=_plain(row.level), level_since=None, computed_at=now,
            newest_input=_plain(row.newest_time), oldest_input=_plain(row.oldest_time),
            forecast=forecasts.get((row.scope_code, INDEX)), explanation=row.explanation))
    return values


def _alarm_event(ctx: VitalsContext, shown: pd.DataFrame
                 ) -> Callable[[str, str, str, int, float | None], store.AlarmEvent | None]:
    """What an opened alarm becomes: an event of the domain's sensor-alarm category, titled in words
    (``incidents.alarms``) from the rule that judged the sensor (``shown``: after hysteresis)."""
    judged: dict[tuple[str, str], Any] = {}
    lowest = ctx.city.boundaries[ctx.city.lowest_level]

    def make(_event_id: str, sensor_id: str, metric: str, level: int, value: float | None) -> store.AlarmEvent | None:
        category = ctx.category_of_domain.get(metric_domains().get(metric) or "")
        if category is None:
            return None  # the city has no sensor-alarm category for this domain: the alarm row alone records it
        if not judged:  # indexed at the first alarm only: most runs open none
            judged.update(((row.sensor_id, row.metric), row) for row in shown.itertuples(index=False))
        row = judged.get((sensor_id, metric))
        rule = getattr(row, "rule", None)
        unit_code = getattr(row, "unit_code", None)
        daytime = None
        if metric == "noise_dba" and row is not None and not pd.isna(row.time):
            # The GB 3096 limit is the day's or the night's, by the reading's local time.
            noise = ctx.rules.noise
            daytime = bool(is_daytime(row.time, ctx.zone, noise.day_start, noise.day_end))
        place = lowest.loc[unit_code] if unit_code in lowest.index else None
        facts = AlarmFacts(
            metric=metric, level=level, value=value,
            threshold=None if rule is None else (rule.red if level >= 2 else rule.amber),
            unit="" if rule is None else rule.unit, higher_is_worse=True if rule is None else rule.higher_is_worse,
            window_s=0.0 if rule is None else rule.window_s, daytime=daytime,
            place=None if place is None else _plain(place["name"]),
            place_zh=None if place is None else _plain(place.get("name_zh")),
        )
        titles = alarm_titles(facts)
        # The ids stay in the detail, for whoever checks the device; the title is for the officer.
        detail = f"sensor {sensor_id}, metric {metric}, unit {unit_code or '—'}"
        if rule is not None:
            detail += f"; threshold source: {rule.source}"
        return store.AlarmEvent(category=category, severity=ALARM_SEVERITY[level], title=titles[ENGLISH],
                                title_zh=titles[CHINESE], detail=detail)
    return make


def _public_safety(conn: store.Connection, ctx: VitalsContext, lowest: set[str], now: datetime) -> pd.DataFrame:
    """The public_safety domain of every lowest unit from its open incidents (none open: green)."""
    frame = incident_frame(store.open_incidents(conn))
    frame = frame[frame["district"].isin(lowest)]
    thresholds = ctx.rules.public_safety
    rule = PublicSafetyRule(amber_overdue=thresholds.amber_overdue, red_overdue=thresholds.red_overdue,
                            worst_overdue=thresholds.worst_overdue)
    return public_safety_level(frame, now, unit_codes=sorted(lowest), rule=rule)


@dataclass
class _Computed:
    registry: pd.DataFrame
    shown: pd.DataFrame  # the sensors' values after hysteresis
    states: dict[tuple[str, str], HysteresisState]
    result: Aggregation
    clock: _StageClock


def _compute(conn: store.Connection, ctx: VitalsContext, now: datetime,
             states: dict[tuple[str, str], HysteresisState], since: datetime | None) -> _Computed:
    """The vital signs as of ``now`` from the readings and the hysteresis ``states`` (read only);
    ``since``: the previous run's time."""
    clock = _StageClock()
    registry = pd.DataFrame(store.read_sensor_registry(conn),
                            columns=["sensor_id", "kind", "metrics", "expected_interval_s", "noise_zone", "unit_code",
                                     "maintenance"])
    lowest = set(ctx.units.loc[ctx.units["level_name"] == ctx.city.lowest_level, "code"])
    registry = registry[registry["unit_code"].isin(lowest)].reset_index(drop=True)  # located in this city
    windows = window_frame(conn, registry, ctx, now, since)
    clock.mark("read")
    scored = score_sensors(windows, registry, ctx.rules, now, ctx.zone, ctx.city.config.aqi_standard)
    clock.mark("score")
    shown, new_states = apply_hysteresis(scored, states, now)
    clock.mark("hysteresis")
    result = aggregate(shown, ctx.units, root_code=ctx.city.id, root_name=ctx.city.config.name,
                       weights=ctx.rules.weights, given=_public_safety(conn, ctx, lowest, now),
                       rollup=ctx.rules.rollup)
    clock.mark("aggregate")
    return _Computed(registry, shown, new_states, result, clock)


def run_once(conn: store.Connection, ctx: VitalsContext, now: datetime | None = None) -> RunResult:
    """Compute and store the vital signs as of ``now`` (default: the current time)."""
    now = now or datetime.now(UTC)
    stored_states = store.read_hysteresis(conn)
    computed = _compute(conn, ctx, now, {key: _state_from_json(data) for key, data in stored_states.items()},
                        store.last_run_time(conn))
    registry, shown, new_states, result, clock = (computed.registry, computed.shown, computed.states,
                                                  computed.result, computed.clock)
    current_frame = pd.concat([
        result.domains[["scope_code", "domain", "score"]],
        result.index[["scope_code", "index"]].rename(columns={"index": "score"}).assign(domain=INDEX),
    ], ignore_index=True)
    forecasts = _forecasts(conn, current_frame, now)
    clock.mark("trend")
    # An alarm stays open while its sensor is silent (held level): silence is not an all-clear.
    alarm_levels = {key: (state.level if state.level is not None else state.held, None)
                    for key, state in new_states.items()}
    for sensor_id, metric, value in zip(shown["sensor_id"], shown["metric"], shown["value"], strict=True):
        key = (sensor_id, metric)
        if key in alarm_levels and not pd.isna(value):
            alarm_levels[key] = (alarm_levels[key][0], float(value))
    maintenance = set(registry.loc[registry["maintenance"].astype(bool), "sensor_id"])
    alarm_levels = {key: value for key, value in alarm_levels.items() if key[0] not in maintenance}
    written = store.write_run(
        conn, now=now, current=_current_values(result, forecasts, now),
        history_every=timedelta(seconds=ctx.rules.history.cadence_s),
        hysteresis=_changed_states(stored_states, new_states),
        alarm_levels=alarm_levels, alarm_event=_alarm_event(ctx, shown),
    )
    clock.mark("write")
    return RunResult(computed_at=now, seconds=clock.total(), sensors=len(registry), written=written,
                     aggregation=result, stages=clock.stages)


def backfill_vitals(conn: store.Connection, ctx: VitalsContext, start: datetime, end: datetime, *,
                    say: Callable[[str], None] = log.info, stop: threading.Event | None = None) -> int:
    """The vital-sign history of ``start`` … ``end`` (docs/vital-signs.md §4.8), as the indicators process
    would have written it: a run every history cadence (5 min) with its own hysteresis carried
    from run to run, then the closed hours rolled up for reports.

    It writes history rows only — not the current state, the stored hysteresis, forecasts or
    alarms (a threshold crossed yesterday files no incident now) — so it may run while the live
    process runs, and the wall never shows the past as current. A period that already has
    vital-sign history is left as it is (it was computed live). ``stop`` ends it between runs.
    The number of runs.
    """
    cadence = timedelta(seconds=ctx.rules.history.cadence_s)
    if store.has_indicator_history(conn, start, end):
        say("vital signs: this period has its history already; not recomputed")
        return 0
    store.refresh_rollups(conn)  # the runs read the readings' minute and hour rollups
    step = cadence.total_seconds()
    # Runs at the cadence's instants within [start, end), as the readings of a backfill are: each run
    # then has every sensor's reading of that instant (none is written at ``end`` itself).
    moment = datetime.fromtimestamp(math.ceil(start.timestamp() / step) * step, UTC)
    moments = []
    while moment < end:
        moments.append(moment)
        moment += cadence
    # The live process must not roll up an hour this is still writing (it would never be re-read).
    with store.rollups_held(conn):
        states: dict[tuple[str, str], HysteresisState] = {}
        levels: dict[tuple[str, str], int | None] = {}
        started = last_said = time.monotonic()
        runs = 0
        previous: datetime | None = None
        for moment in moments:
            if stop is not None and stop.is_set():
                say(f"vital signs: stopped after {runs:,} of {len(moments):,} runs")
                break
            computed = _compute(conn, ctx, moment, states, previous)
            previous = moment
            states = computed.states
            store.write_history(conn, history_rows(_current_values(computed.result, {}, moment), levels, moment))
            runs += 1
            if time.monotonic() - last_said >= 15 or runs == len(moments):
                last_said = time.monotonic()
                say(f"vital signs: {runs:,} of {len(moments):,} runs (to {moment:%Y-%m-%d %H:%M} UTC), "
                    f"{(last_said - started) / runs:.2f} s each")
        store.rollup_period(conn, start, end, datetime.now(UTC), ctx.rules.history.cadence_s)
    return runs


def history_rows(values: list[store.CurrentValue], levels: dict[tuple[str, str], int | None],
                 now: datetime) -> list[store.HistoryRow]:
    """One history row per value, as a run at the history cadence writes it: the explanation only
    where the level changed since ``levels`` (the previous run's, updated here)."""
    rows = []
    for value in values:
        key = (value.scope_code, value.domain)
        changed = key not in levels or levels[key] != value.level
        rows.append(store.HistoryRow(now, value.scope_code, value.level_name, value.domain, value.score, value.level,
                                     changed and key in levels, value.explanation if changed else None))
        levels[key] = value.level
    return rows


def _changed_states(stored: dict[tuple[str, str], dict[str, Any]], states: dict[tuple[str, str], HysteresisState]
                    ) -> dict[tuple[str, str], dict[str, Any]]:
    changed = {}
    for key, state in states.items():
        data = _state_to_json(state)
        if stored.get(key) != data:
            changed[key] = data
    return changed


class _StageClock:
    """Seconds spent in each named stage of a run, for the process status and the benchmark."""

    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()
        self.stages: dict[str, float] = {}

    def mark(self, stage: str) -> None:
        now = time.perf_counter()
        self.stages[stage] = now - self.last
        self.last = now

    def total(self) -> float:
        return self.last - self.started


# -- the process ---------------------------------------------------------------------------

def run_forever(database_url: str, ctx: VitalsContext, stop: threading.Event, *, every_s: float = DEFAULT_EVERY_S,
                once: bool = False, say: Callable[[str], None] = log.info) -> None:
    """Run every ``every_s`` seconds until ``stop`` (or once); a failed run is logged and tried again. Only
    one indicators process writes, the leader (:class:`cityops.process.Leadership`): two running on two
    hosts would otherwise both write every run; the other stands by and takes over when it stops."""
    runs = 0
    last_retention = float("-inf")

    def one_pass(conn: store.Connection) -> dict[str, Any]:
        nonlocal runs, last_retention
        result = run_once(conn, ctx)
        runs += 1
        city = result.aggregation.index.iloc[0]
        say(f"indicators: {result.sensors:,} sensors, city index {_plain(city['index']) or '—'} "
            f"({_level_word(_plain(city['level']))}) in {result.seconds:.2f} s")
        # Reports read hours: roll up the hours closed since (cheap when none closed).
        store.rollup_hours(conn, result.computed_at, ctx.rules.history.cadence_s)
        if time.monotonic() - last_retention >= RETENTION_EVERY_S:
            last_retention = time.monotonic()
            store.delete_indicator_history(conn, datetime.now(UTC) - timedelta(days=ctx.rules.history.retention_days))
        return {"run_seconds": round(result.seconds, 3), "sensors": result.sensors, "runs": runs,
                "stage_seconds": {name: round(value, 3) for name, value in result.stages.items()},
                **{f"{name}_written": count for name, count in result.written.items()}}

    run_periodically(database_url, "indicators", one_pass, stop, every_s=every_s, once=once, leader_key=LEADER_LOCK)


def _level_word(level: int | None) -> str:
    return {0: "green", 1: "amber", 2: "red"}.get(level, "grey")  # type: ignore[arg-type]


def context_for(city: str, time_zone: str | None = None) -> VitalsContext:
    """The context of a bundled city id or a city folder path."""
    return VitalsContext.for_city(load_city(city_folder(city)), time_zone=time_zone)

