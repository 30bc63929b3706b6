"""Reads and writes of the indicators process and the vitals API (docs/vital-signs.md §4).

The process reads the sensor registry, the window statistics of the readings (from the
minute and hour rollups, so its cost does not grow with the history kept), its hysteresis
states and the recent history for the trend; it writes everything of one run in one
transaction: the current state, the history rows that are due, the hysteresis states, and
alarms with their events.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import psycopg2.extensions
from psycopg2.extras import Json, execute_values

from store.connection import transaction
from store.hourly import delete_hourly
from store.incidents import incidents_for_events

# Statistics the database computes over a window ending now (docs/vital-signs.md §4; rules "statistic").
LATEST = "latest"
DAILY_MAX = "daily_max"
WINDOWED = ("sum", "mean", "max")


def read_sensor_registry(conn: psycopg2.extensions.connection) -> list[dict[str, Any]]:
    """Every located, verified sensor: id, kind, metrics (``a;b``), expected interval, noise zone, lowest unit,
    maintenance. A self-registered sensor no admin has accepted yet is left out: nobody vouched for it."""
    with transaction(conn) as cur:
        cur.execute(
            "SELECT sensor_id, kind, array_to_string(metrics, ';'), expected_interval_s, noise_zone, scope_code,"
            " in_maintenance FROM sensors WHERE scope_code IS NOT NULL AND verified ORDER BY sensor_id"
        )
        names = ("sensor_id", "kind", "metrics", "expected_interval_s", "noise_zone", "unit_code", "maintenance")
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def newest_readings(
    conn: psycopg2.extensions.connection, metrics: Sequence[str], now: datetime, lookback: timedelta, *,
    worst_since: datetime | None = None, highest: Sequence[str] = (), lowest: Sequence[str] = (),
) -> list[tuple[str, str, float, datetime, datetime]]:
    """(sensor_id, metric, value, time, newest_time) of the newest reading per pair in ``(now − lookback, now]``;
    for the metrics in ``highest`` (``lowest``) the highest (lowest) reading after ``worst_since``
    (the previous run, the caller bounds how long ago) instead, when there is one, so that a spike
    between two runs is not lost (docs/vital-signs.md §4.1): their rows are read from whichever of
    ``now − lookback`` and ``worst_since`` is earlier. One pass over the same rows: the sort puts that
    reading first. ``newest_time`` is the pair's newest reading's time, whichever reading was chosen:
    freshness follows it, else a spike early in a long gap would make a sensor still reporting look stale."""
    worst_of = [*highest, *lowest]
    with transaction(conn) as cur:
        cur.execute(
            "SELECT DISTINCT ON (sensor_id, metric) sensor_id, metric, value, time,"
            " max(time) OVER (PARTITION BY sensor_id, metric) FROM readings"
            " WHERE metric = ANY(%(metrics)s) AND time > least(%(start)s, %(since)s) AND time <= %(now)s"
            "  AND (time > %(start)s OR metric = ANY(%(worst_of)s))"
            " ORDER BY sensor_id, metric,"
            "  CASE WHEN time > %(since)s THEN CASE WHEN metric = ANY(%(highest)s) THEN value"
            "   WHEN metric = ANY(%(lowest)s) THEN -value END END DESC NULLS LAST,"
            "  time DESC",
            {"metrics": list(metrics), "start": now - lookback, "now": now,
             "since": now if worst_since is None else worst_since, "highest": list(highest), "lowest": list(lowest),
             "worst_of": worst_of},
        )
        return cur.fetchall()


def last_run_time(conn: psycopg2.extensions.connection) -> datetime | None:
    """When the indicators process last wrote the current state (None before its first run)."""
    with transaction(conn) as cur:
        cur.execute("SELECT max(computed_at) FROM indicator_current")
        return cur.fetchone()[0]


def _floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def window_statistics(
    conn: psycopg2.extensions.connection, metrics: Sequence[str], statistic: str, start: datetime, now: datetime
) -> list[tuple[str, str, float, int]]:
    """(sensor_id, metric, value, count) of ``statistic`` (sum, mean or max) over the readings of
    ``metrics`` from ``start`` to ``now``, to the minute: whole hours come from ``readings_1h``,
    the ragged ends from ``readings_1m`` (the minute holding ``start`` counts whole)."""
    if statistic not in WINDOWED:
        raise ValueError(f"unknown statistic {statistic!r}")
    first_minute = start.replace(second=0, microsecond=0)
    whole_from = _floor_hour(start) + timedelta(hours=1) if start != _floor_hour(start) else start
    whole_to = _floor_hour(now)
    if whole_to <= whole_from:  # no whole hour inside: minutes only
        whole_from = whole_to = first_minute
    aggregate = {"sum": "sum(value_sum)", "max": "max(value_max)",
                 "mean": "sum(value_sum) / nullif(sum(readings_count), 0)"}[statistic]
    with transaction(conn) as cur:
        cur.execute(
            f"SELECT sensor_id, metric, {aggregate}, sum(readings_count)::bigint FROM ("
            " SELECT sensor_id, metric, value_sum, value_max, readings_count FROM readings_1m"
            "  WHERE metric = ANY(%(metrics)s) AND bucket >= %(first_minute)s AND bucket <= %(now)s"
            "  AND NOT (bucket >= %(whole_from)s AND bucket < %(whole_to)s)"
            " UNION ALL"
            " SELECT sensor_id, metric, value_sum, value_max, readings_count FROM readings_1h"
            "  WHERE metric = ANY(%(metrics)s) AND bucket >= %(whole_from)s AND bucket < %(whole_to)s"
            ") AS parts GROUP BY sensor_id, metric",
            {"metrics": list(metrics), "first_minute": first_minute, "now": now, "whole_from": whole_from,
             "whole_to": whole_to},
        )
        return cur.fetchall()


def read_hysteresis(conn: psycopg2.extensions.connection) -> dict[tuple[str, str], dict[str, Any]]:
    with transaction(conn) as cur:
        cur.execute("SELECT sensor_id, metric, state FROM hysteresis_state")
        return {(sensor, metric): state for sensor, metric, state in cur.fetchall()}


def recent_scores(
    conn: psycopg2.extensions.connection, since: datetime
) -> list[tuple[str, str, datetime, float | None]]:
    """(scope_code, domain, time, score) of the history since ``since``, for the trend."""
    with transaction(conn) as cur:
        cur.execute("SELECT scope_code, domain, time, score FROM indicator_values WHERE time >= %s"
                    " ORDER BY scope_code, domain, time", (since,))
        return cur.fetchall()


@dataclass(frozen=True)
class CurrentValue:
    """One row of ``indicator_current``."""

    scope_code: str
    domain: str
    level_name: str
    parent: str | None
    score: float | None
    level: int | None
    level_since: datetime | None
    computed_at: datetime
    newest_input: datetime | None
    oldest_input: datetime | None
    forecast: dict[str, Any] | None
    explanation: dict[str, Any]


_CURRENT_COLUMNS = ("scope_code", "domain", "level_name", "parent", "score", "level", "level_since", "computed_at",
                    "newest_input", "oldest_input", "forecast", "explanation")


class HistoryRow(NamedTuple):
    """One row of ``indicator_values``; ``explanation`` only where the level changed (None otherwise)."""

    time: datetime
    scope_code: str
    level_name: str
    domain: str
    score: float | None
    level: int | None
    level_changed: bool
    explanation: dict[str, Any] | None


def _insert_history(cur: psycopg2.extensions.cursor, rows: Sequence[HistoryRow]) -> None:
    execute_values(cur, "INSERT INTO indicator_values (time, scope_code, level_name, domain, score, level,"
                        " level_changed, explanation) VALUES %s",
                   [(*row[:-1], None if row.explanation is None else Json(row.explanation)) for row in rows],
                   page_size=1000)


def write_history(conn: psycopg2.extensions.connection, rows: Sequence[HistoryRow]) -> None:
    """Add vital-sign history rows (a backfill of the past), committed."""
    with transaction(conn) as cur:
        _insert_history(cur, rows)


@dataclass(frozen=True)
class AlarmEvent:
    """What an opened alarm becomes in ``events`` (source ``sensor``)."""

    category: str
    severity: str
    title: str
    title_zh: str | None = None
    detail: str | None = None


def write_run(
    conn: psycopg2.extensions.connection,
    *,
    now: datetime,
    current: Sequence[CurrentValue],
    history_every: timedelta,
    hysteresis: Mapping[tuple[str, str], dict[str, Any]],
    alarm_levels: Mapping[tuple[str, str], tuple[int | None, float | None]],
    alarm_event: Any,
) -> dict[str, int]:
    """Everything one run produced, in one transaction; returns counts of what was written.

    ``current``: every value of this run (level_since is filled here from the stored row).
    History gets a row for each value whose level changed or whose last row is ``history_every``
    old. ``alarm_levels``: (sensor_id, metric) → (level shown, value); alarms of higher
    levels are cleared, missing ones opened, each opened one with an event made by
    ``alarm_event(alarm_id, sensor_id, metric, level, value) -> AlarmEvent | None``.
    """
    counts = {"current": 0, "history": 0, "alarms_opened": 0, "alarms_cleared": 0}
    with transaction(conn) as cur:
        cur.execute("LOCK TABLE indicator_current IN SHARE ROW EXCLUSIVE MODE")  # one writer at a time
        cur.execute("SELECT scope_code, domain, level, level_since FROM indicator_current")
        before = {(scope, domain): (level, since) for scope, domain, level, since in cur.fetchall()}
        cur.execute("SELECT DISTINCT ON (scope_code, domain) scope_code, domain, time FROM indicator_values"
                    " WHERE time > %s ORDER BY scope_code, domain, time DESC", (now - history_every,))
        recent = {(scope, domain) for scope, domain, _ in cur.fetchall()}

        rows, history = [], []
        for value in current:
            key = (value.scope_code, value.domain)
            old_level, old_since = before.get(key, (None, None))
            changed = key not in before or old_level != value.level
            since = now if changed else (old_since or now)
            rows.append((value.scope_code, value.domain, value.level_name, value.parent, value.score, value.level,
                         since, value.computed_at, value.newest_input, value.oldest_input,
                         None if value.forecast is None else json.dumps(value.forecast),
                         json.dumps(value.explanation)))
            if changed or key not in recent:
                history.append(HistoryRow(now, value.scope_code, value.level_name, value.domain, value.score,
                                          value.level, changed and key in before,
                                          value.explanation if changed else None))
        _upsert_current(cur, rows)
        counts["current"] = len(rows)
        if history:
            _insert_history(cur, history)
        counts["history"] = len(history)

        if hysteresis:
            execute_values(cur, "INSERT INTO hysteresis_state (sensor_id, metric, state) VALUES %s"
                                " ON CONFLICT (sensor_id, metric) DO UPDATE SET state = excluded.state",
                           [(sensor, metric, Json(state)) for (sensor, metric), state in sorted(hysteresis.items())],
                           page_size=1000)
        counts.update(_write_alarms(cur, now, alarm_levels, alarm_event))
    return counts


def _upsert_current(cur: psycopg2.extensions.cursor, rows: list[tuple]) -> None:
    """Replace the current rows: COPY into a staging table, then one upsert (a run writes
    thousands of rows with a megabyte of explanations; COPY is several times faster)."""
    cur.execute("CREATE TEMP TABLE IF NOT EXISTS indicator_current_staging"
                " (LIKE indicator_current INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(["" if cell is None else cell.isoformat() if isinstance(cell, datetime) else cell
                         for cell in row])
    buffer.seek(0)
    columns = ", ".join(_CURRENT_COLUMNS)
    cur.copy_expert(f"COPY indicator_current_staging ({columns}) FROM STDIN (FORMAT csv)", buffer)
    cur.execute(
        f"INSERT INTO indicator_current ({columns}) SELECT {columns} FROM indicator_current_staging"
        " ON CONFLICT (scope_code, domain) DO UPDATE SET "
        + ", ".join(f"{name} = excluded.{name}" for name in _CURRENT_COLUMNS[2:])
    )


def _write_alarms(cur, now: datetime, alarm_levels: Mapping[tuple[str, str], tuple[int | None, float | None]],
                  alarm_event: Any) -> dict[str, int]:
    cur.execute("SELECT id, sensor_id, metric, level FROM sensor_alarms WHERE cleared_at IS NULL")
    open_alarms = {(sensor, metric, level): alarm_id for alarm_id, sensor, metric, level in cur.fetchall()}
    to_clear = [alarm_id for (sensor, metric, level), alarm_id in open_alarms.items()
                if (alarm_levels.get((sensor, metric), (None, None))[0] or 0) < level
                and (sensor, metric) in alarm_levels]
    if to_clear:
        cur.execute("UPDATE sensor_alarms SET cleared_at = %s WHERE id = ANY(%s)", (now, to_clear))
    opened = 0
    for (sensor, metric), (level, value) in sorted(alarm_levels.items()):
        # Highest level first: a jump to red opens the incident with the red alarm's severity and
        # title (the red threshold); the amber alarm of the same run joins it.
        for alarm_level in range(level or 0, 0, -1):
            if (sensor, metric, alarm_level) in open_alarms:
                continue
            cur.execute(
                "INSERT INTO sensor_alarms (sensor_id, metric, level, opened_at, value, event_id)"
                " VALUES (%s, %s, %s, %s, %s, '') ON CONFLICT DO NOTHING RETURNING id",
                (sensor, metric, alarm_level, now, value),
            )
            row = cur.fetchone()
            if row is None:
                continue
            event_id = f"alarm-{row[0]}"
            cur.execute("UPDATE sensor_alarms SET event_id = %s WHERE id = %s", (event_id, row[0]))
            event = alarm_event(event_id, sensor, metric, alarm_level, value)
            if event is not None:
                cur.execute(
                    "INSERT INTO events (source, id, time, category, severity, lon, lat, title, title_zh, detail,"
                    " scope_code, scopes)"
                    " SELECT 'sensor', %s, %s, %s, %s, lon, lat, %s, %s, %s, scope_code, scopes FROM sensors"
                    " WHERE sensor_id = %s AND lon IS NOT NULL"
                    " ON CONFLICT (source, id) DO NOTHING RETURNING source, id",
                    (event_id, now, event.category, event.severity, event.title[:200],
                     None if event.title_zh is None else event.title_zh[:200],
                     None if event.detail is None else event.detail[:4000], sensor),
                )
                incidents_for_events(cur, cur.fetchall())  # the alarm's event becomes (or joins) an incident
            opened += 1
    return {"alarms_opened": opened, "alarms_cleared": len(to_clear)}


# What of an explanation a list shows (docs/vital-signs.md §4.3): the roll-up policy, partial data and
# what is below a higher unit; a few hundred bytes, where the whole explanation lists every child.
_SUMMARY = ("jsonb_strip_nulls(jsonb_build_object('policy', explanation->'policy', 'partial', explanation->'partial',"
            " 'below', explanation->'below'))")


def read_current(
    conn: psycopg2.extensions.connection, scope_codes: Iterable[str] | None = None, *, explanations: bool = True,
    summary: bool = False,
) -> list[CurrentValue]:
    """The current vital signs, of every unit or of ``scope_codes``; without ``explanations`` those are
    ``{}``, or with ``summary`` only their policy, partial and below keys (where they have them)."""
    brief = _SUMMARY if summary else "'{}'::jsonb"
    columns = [name if name != "explanation" or explanations else brief for name in _CURRENT_COLUMNS]
    where, params = "", []
    if scope_codes is not None:
        where, params = "WHERE scope_code = ANY(%s)", [list(scope_codes)]
    with transaction(conn) as cur:
        cur.execute(f"SELECT {', '.join(columns)} FROM indicator_current {where} ORDER BY scope_code, domain",
                    params)
        return [CurrentValue(*row) for row in cur.fetchall()]


def children_of(conn: psycopg2.extensions.connection, code: str) -> list[str]:
    """Codes of the units whose parent is ``code`` (the city's id: the top level), sorted."""
    with transaction(conn) as cur:
        cur.execute("SELECT DISTINCT scope_code FROM indicator_current WHERE parent = %s ORDER BY scope_code",
                    (code,))
        return [row[0] for row in cur.fetchall()]


def open_alarms(conn: psycopg2.extensions.connection) -> list[tuple[str, str, int, datetime, str]]:
    """(sensor_id, metric, level, opened_at, event_id) of every open alarm, newest first."""
    with transaction(conn) as cur:
        cur.execute("SELECT sensor_id, metric, level, opened_at, event_id FROM sensor_alarms"
                    " WHERE cleared_at IS NULL ORDER BY opened_at DESC, id DESC")
        return cur.fetchall()


def delete_indicator_history(conn: psycopg2.extensions.connection, before: datetime) -> int:
    """Delete history older than ``before`` (its hourly rollup and alarms cleared before it too); the
    number of history rows deleted."""
    with transaction(conn) as cur:
        cur.execute("DELETE FROM indicator_values WHERE time < %s", (before,))
        deleted = cur.rowcount
        delete_hourly(cur, before)
        cur.execute("DELETE FROM sensor_alarms WHERE cleared_at < %s", (before,))
    return deleted
