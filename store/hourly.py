"""The hourly rollup of the vital-sign history (``indicator_hourly``), and reads that combine it
with the raw rows not yet rolled up.

A report over a year reads about 8,800 hours per unit and domain instead of 105,000 five-minute
rows. The indicators process calls :func:`rollup_hours` after each run: it rolls up, once, the
hours that are *closed* — ended at least one history cadence ago, so the row after an hour's
last row is known — and are not rolled up yet. Live rows are written at the time they are
computed, so a closed hour never changes; a backfill, which writes hours closed long ago, holds
the rollups while it writes (:func:`rollups_held`) and rolls its period up when done
(:func:`rollup_period`). ``ON CONFLICT DO UPDATE`` makes a repeated rollup harmless.
:func:`hourly_rows` reads ``indicator_hourly`` below the rollup mark and computes the hours from
it on from ``indicator_values`` with the very same statement, so a report of "the last two hours"
is as correct as one of last year.

Time in each level (the approximation): each ``indicator_values`` row stands for the time
until the next row of its unit and domain, at most the history cadence (the process writes a
row at least that often while it runs; a longer gap means it was not running, and that time
is counted nowhere). The duration belongs to the hour the row lies in, even when it reaches
into the next hour: per hour the minutes are exact to within one cadence.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
import psycopg2.extensions

from store.connection import transaction
from store.schema import read_settings

HOURLY_COLUMNS: tuple[str, ...] = (
    "hour", "scope_code", "level_name", "domain", "samples", "scored", "score_mean", "score_min", "score_max",
    "worst_level", "minutes_green", "minutes_amber", "minutes_red", "minutes_grey",
)
# At most this many hours per call of rollup_hours: a database upgraded with a year of history
# catches up over many runs instead of holding one run for minutes.
MAX_HOURS_PER_ROLLUP = 24
# Any fixed number: one rollup at a time, whichever process runs it.
_ROLLUP_LOCK = 0x68_6F_75_72  # "hour"
_HOUR = timedelta(hours=1)


def _raw_hours(lo: str, hi: str, where: str) -> str:
    """The hours of ``indicator_values`` rows in ``[lo, hi)`` (SQL expressions), in the columns of
    ``indicator_hourly``; ``where``: further conditions on the rows (``AND …``).

    Rows up to one cadence past ``hi`` are read too: only as the "next row" that ends a row's
    duration. ``least`` ignores a NULL, so the newest row of a unit and domain counts a cadence.
    """
    return f"""
SELECT date_trunc('hour', time) AS hour, scope_code, level_name, domain,
       count(*)::integer AS samples, count(score)::integer AS scored, avg(score) AS score_mean,
       min(score) AS score_min, max(score) AS score_max, max(level) AS worst_level,
       coalesce(sum(minutes) FILTER (WHERE level = 0), 0) AS minutes_green,
       coalesce(sum(minutes) FILTER (WHERE level = 1), 0) AS minutes_amber,
       coalesce(sum(minutes) FILTER (WHERE level = 2), 0) AS minutes_red,
       coalesce(sum(minutes) FILTER (WHERE level IS NULL), 0) AS minutes_grey
FROM (
    SELECT time, scope_code, level_name, domain, score, level,
           least(extract(epoch FROM lead(time) OVER (PARTITION BY scope_code, domain ORDER BY time) - time)::float8,
                 %(cadence_s)s::float8) / 60.0 AS minutes
    FROM indicator_values
    WHERE time >= {lo} AND time < {hi} + make_interval(secs => %(cadence_s)s::float8) {where}
) AS timed
WHERE time < {hi}
GROUP BY 1, scope_code, level_name, domain
"""


def _floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def rollup_hours(conn: psycopg2.extensions.connection, now: datetime, cadence_s: float,
                 *, max_hours: int = MAX_HOURS_PER_ROLLUP) -> int:
    """Roll up the closed hours after the newest one in ``indicator_hourly`` (at most ``max_hours``
    of them, skipping hours without history); the number of hours rolled up.

    An hour is closed once ``cadence_s`` seconds have passed since its end. Cheap when there is
    nothing to do (one index lookup), so it may run after every indicators run. Does nothing while
    a backfill holds the rollups (:func:`rollups_held`).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    closed_end = _floor_hour(now - timedelta(seconds=cadence_s))
    with transaction(conn) as cur:
        cur.execute("SELECT pg_try_advisory_xact_lock(%s)", (_ROLLUP_LOCK,))
        if not cur.fetchone()[0]:
            return 0  # another process is rolling up right now, or a backfill is writing past hours
        cur.execute("SELECT max(hour) FROM indicator_hourly")
        newest = cur.fetchone()[0]
        start = None if newest is None else newest + _HOUR
        if start is not None and start >= closed_end:
            return 0
        # The first history row from there on: hours without any (the process was stopped) are skipped.
        cur.execute("SELECT min(time) FROM indicator_values WHERE time >= %s",
                    (start if start is not None else datetime.min.replace(tzinfo=now.tzinfo),))
        first = cur.fetchone()[0]
        if first is None:
            return 0
        lo = _floor_hour(first) if start is None else max(start, _floor_hour(first))
        hi = min(lo + max_hours * _HOUR, closed_end)
        if hi <= lo:
            return 0
        _roll_up(cur, lo, hi, cadence_s)
    return int((hi - lo) / _HOUR)


def _roll_up(cur: psycopg2.extensions.cursor, lo: datetime, hi: datetime, cadence_s: float) -> None:
    """Write the hours ``[lo, hi)`` into ``indicator_hourly``, replacing any rolled up before."""
    columns = ", ".join(HOURLY_COLUMNS)
    updates = ", ".join(f"{name} = excluded.{name}" for name in HOURLY_COLUMNS[4:])
    cur.execute(f"INSERT INTO indicator_hourly ({columns}) SELECT {columns} FROM ("
                + _raw_hours("%(lo)s", "%(hi)s", "") +
                f") AS hours ON CONFLICT (scope_code, domain, hour) DO UPDATE SET {updates}",
                {"lo": lo, "hi": hi, "cadence_s": float(cadence_s)})


@contextmanager
def rollups_held(conn: psycopg2.extensions.connection) -> Iterator[None]:
    """No process rolls up hours while this holds (a session lock on ``conn``, released on exit).

    A backfill writes the history of hours that closed long ago; the live process would roll
    them up half-written (a rolled-up hour is never read from the raw rows again), so the
    backfill holds the rollups and rolls its hours up itself when done
    (:func:`rollup_period`). Reports read the hours not yet rolled up from the raw rows meanwhile."""
    with transaction(conn) as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (_ROLLUP_LOCK,))
    try:
        yield
    finally:
        if not conn.closed:
            with transaction(conn) as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", (_ROLLUP_LOCK,))


def rollup_period(conn: psycopg2.extensions.connection, start: datetime, end: datetime, now: datetime,
                  cadence_s: float) -> int:
    """Roll up (again) every closed hour that overlaps ``[start, end)``, a day per transaction: what a
    backfill of that period calls when its rows are written. The number of hours."""
    closed_end = _floor_hour(now - timedelta(seconds=cadence_s))
    lo, hi = _floor_hour(start), min(_floor_hour(end - timedelta(microseconds=1)) + _HOUR, closed_end)
    hours = 0
    while lo < hi:
        chunk_end = min(lo + MAX_HOURS_PER_ROLLUP * _HOUR, hi)
        with transaction(conn) as cur:
            _roll_up(cur, lo, chunk_end, cadence_s)
        hours += int((chunk_end - lo) / _HOUR)
        lo = chunk_end
    return hours


def has_indicator_history(conn: psycopg2.extensions.connection, start: datetime, end: datetime) -> bool:
    """True if ``indicator_values`` holds a row between ``start`` and ``end`` (one index probe)."""
    with transaction(conn) as cur:
        cur.execute("SELECT EXISTS (SELECT 1 FROM indicator_values WHERE time >= %s AND time <= %s)", (start, end))
        return bool(cur.fetchone()[0])


def rolled_up_to(conn: psycopg2.extensions.connection) -> datetime | None:
    """The end of the newest hour in ``indicator_hourly`` (None when empty): hours before it are read from there."""
    with transaction(conn) as cur:
        cur.execute("SELECT max(hour) + interval '1 hour' FROM indicator_hourly")
        return cur.fetchone()[0]


def bucket_sql(bucket: str, timescale: bool, column: str = "hour") -> str:
    """SQL: the start of the report bucket (hour, day, week or month: ``reports.spec.BUCKETS``) that holds
    the UTC hour ``column``, whole buckets in the time zone ``%(zone)s``. The one place that says how.

    An hour's bucket is the hour itself (rows are whole UTC hours; a zone 30 or 45 minutes off UTC
    has no local hour of them). TimescaleDB buckets with ``time_bucket`` (default origin Monday
    2000-01-03, months from 2000-01-01), plain PostgreSQL with ``date_trunc`` (ISO weeks: Monday);
    both on the local time, which is then read back in the zone the way PostgreSQL reads every local
    time: a midnight the clocks skip is the first instant after the gap, a repeated one the later
    instant — what ``reports.tables.bucket_starts`` does, the reports' definition. (Not
    ``time_bucket(width, ts, zone)``: where the clocks fall back at midnight — Havana, Asunción —
    it puts the day's first hour in the day before.)"""
    if bucket not in ("hour", "day", "week", "month"):
        raise ValueError(f"unknown bucket {bucket!r}")
    if bucket == "hour":
        return column
    local = f"({column} AT TIME ZONE %(zone)s)"
    truncated = f"time_bucket(INTERVAL '1 {bucket}', {local})" if timescale else f"date_trunc('{bucket}', {local})"
    return f"({truncated} AT TIME ZONE %(zone)s)"


@dataclass(frozen=True)
class HourlyQuery:
    """Which hourly rows to read: ``[start, end)`` (whole UTC hours), units by code or by level
    (``units`` empty: every unit of ``level``; ``level`` None too: every unit), domains (empty: all);
    ``bucket`` in the time zone ``zone``: the report bucket each row is given (:func:`bucket_sql`)."""

    start: datetime
    end: datetime
    cadence_s: float
    units: Sequence[str] = ()
    level: str | None = None
    domains: Sequence[str] = ()
    bucket: str = "hour"
    zone: str = "UTC"

    def conditions(self) -> tuple[str, dict[str, object]]:
        """``AND …`` conditions on rows of either table, and their parameters."""
        where, params = "", {"start": self.start, "end": self.end, "cadence_s": float(self.cadence_s),
                             "zone": self.zone}
        if self.units:
            where += " AND scope_code = ANY(%(units)s)"
            params["units"] = list(self.units)
        elif self.level is not None:
            where += " AND level_name = %(level)s"
            params["level"] = self.level
        if self.domains:
            where += " AND domain = ANY(%(domains)s)"
            params["domains"] = list(self.domains)
        return where, params


def _combined(query: HourlyQuery) -> tuple[str, dict[str, object]]:
    """One statement (one snapshot) of every hour of ``query``: rolled-up hours from ``indicator_hourly``,
    the rest computed from ``indicator_values``."""
    where, params = query.conditions()
    mark = "(SELECT coalesce(max(hour) + interval '1 hour', '-infinity') FROM indicator_hourly)"
    columns = ", ".join(HOURLY_COLUMNS)
    text = (f"SELECT {columns} FROM indicator_hourly WHERE hour >= %(start)s AND hour < least(%(end)s, {mark}) {where}"
            " UNION ALL "
            f"SELECT {columns} FROM (" + _raw_hours(f"greatest(%(start)s, {mark})", "%(end)s", where) + ") AS recent")
    return text, params


def hourly_rows(conn: psycopg2.extensions.connection, query: HourlyQuery, *,
                chunk_rows: int = 50_000) -> Iterator[pd.DataFrame]:
    """The hours of ``query`` ordered by unit, domain and hour, as frames of at most ``chunk_rows``
    rows (columns :data:`HOURLY_COLUMNS` and ``bucket``, the start of the query's bucket holding the
    hour, UTC), read through a server-side cursor: memory stays bounded whatever the period. The
    transaction ends when the iterator is exhausted or closed."""
    text, params = _combined(query)
    bucket = bucket_sql(query.bucket, read_settings(conn).timescale)
    try:
        with conn.cursor(name="cityops_hourly_rows") as cur:
            cur.itersize = chunk_rows
            # Times as epoch seconds: psycopg2 reads a number several times faster than a timestamptz.
            cur.execute(f"SELECT extract(epoch FROM hour)::float8, {', '.join(HOURLY_COLUMNS[1:])},"
                        f" extract(epoch FROM {bucket})::float8 FROM ({text}) AS hours"
                        " ORDER BY scope_code, domain, hour", params)
            while rows := cur.fetchmany(chunk_rows):
                yield _frame(rows)
        conn.commit()
    except BaseException:
        if not conn.closed:
            conn.rollback()
        raise


def count_buckets(conn: psycopg2.extensions.connection, query: HourlyQuery) -> int:
    """How many (unit, domain, bucket) rows the hours of ``query`` make, in its buckets."""
    bucket = bucket_sql(query.bucket, read_settings(conn).timescale)
    text, params = _combined(query)
    with transaction(conn) as cur:
        if query.bucket == "hour":  # one row per hour already: no DISTINCT over a year of hours
            cur.execute(f"SELECT count(*) FROM ({text}) AS hours", params)
        else:
            cur.execute(f"SELECT count(*) FROM (SELECT DISTINCT scope_code, domain, {bucket} FROM ({text}) AS hours)"
                        " AS buckets", params)
        return int(cur.fetchone()[0])


def _frame(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows, columns=[*HOURLY_COLUMNS, "bucket"])
    for column in ("hour", "bucket"):
        frame[column] = pd.to_datetime(frame[column], unit="s", utc=True)
    for column in ("samples", "scored"):
        frame[column] = frame[column].astype("int64")
    for column in ("score_mean", "score_min", "score_max", *HOURLY_COLUMNS[10:]):
        frame[column] = pd.to_numeric(frame[column]).astype("float64")
    frame["worst_level"] = pd.array(frame["worst_level"], dtype="Int64")
    return frame


def delete_hourly(cur: psycopg2.extensions.cursor, before: datetime) -> int:
    """Delete rolled-up hours that start before ``before`` (in the caller's transaction)."""
    cur.execute("DELETE FROM indicator_hourly WHERE hour < %s", (before,))
    return cur.rowcount
