"""Keeping ``readings_1m`` / ``readings_1h`` exact on plain PostgreSQL (TimescaleDB: continuous aggregates).

The ingest queues every minute that received new readings (``rollup_queue``, in the same
transaction as the readings). :func:`refresh_rollups`, run every few seconds by the first
ingest worker, recomputes those minutes from ``readings`` and adds what they gained to
their hours. Recomputing from the readings themselves keeps the rollups exact whatever the
order, lateness or repetition of the input; the rollups trail the readings by at most the
refresh interval. :func:`rebuild_rollups` does the same for a whole period (a backfill).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import psycopg2.extensions

from store.connection import transaction
from store.schema import read_settings

log = logging.getLogger(__name__)

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
# Serialises refreshes (the queue is taken whole by one refresher at a time).
_LOCK_KEY = 0x726F6C6C  # "roll"

_TAKE_QUEUE = """
WITH taken AS (DELETE FROM rollup_queue RETURNING minute)
SELECT DISTINCT minute FROM taken ORDER BY minute
"""

# The queued minutes of one run [start, end): recompute their minute rows from the readings,
# then add to each hour what its minutes gained (readings are only ever added, so a minute
# only grows: counts and sums add, minima and maxima widen). The hour rows never need
# minutes outside the queue, so an hour at the retention edge stays whole.
_STASH = """
CREATE TEMP TABLE IF NOT EXISTS rollup_old (
    bucket timestamptz, sensor_id text COLLATE "C", metric text COLLATE "C", readings_count bigint,
    value_sum double precision
) ON COMMIT DELETE ROWS;
TRUNCATE rollup_old;
WITH old AS (
    DELETE FROM readings_1m WHERE bucket >= %(start)s AND bucket < %(end)s
    RETURNING bucket, sensor_id, metric, readings_count, value_sum
)
INSERT INTO rollup_old SELECT * FROM old;
"""
_GROW = """
WITH new AS (
    INSERT INTO readings_1m (bucket, sensor_id, metric, readings_count, value_sum, value_min, value_max)
    SELECT date_trunc('minute', time, 'UTC'), sensor_id, metric, count(*), sum(value), min(value), max(value)
    FROM readings
    WHERE time >= %(start)s AND time < %(end)s
    GROUP BY 1, 2, 3
    RETURNING bucket, sensor_id, metric, readings_count, value_sum, value_min, value_max
)
INSERT INTO readings_1h AS h (bucket, sensor_id, metric, readings_count, value_sum, value_min, value_max)
SELECT date_trunc('hour', n.bucket, 'UTC'), n.sensor_id, n.metric,
       sum(n.readings_count - coalesce(o.readings_count, 0)), sum(n.value_sum - coalesce(o.value_sum, 0)),
       min(n.value_min), max(n.value_max)
FROM new n LEFT JOIN rollup_old o USING (bucket, sensor_id, metric)
GROUP BY 1, 2, 3
HAVING sum(n.readings_count - coalesce(o.readings_count, 0)) > 0  -- the sensors that gained readings
ORDER BY 2, 3, 1
ON CONFLICT (sensor_id, metric, bucket) DO UPDATE SET
    readings_count = h.readings_count + excluded.readings_count,
    value_sum = h.value_sum + excluded.value_sum,
    value_min = least(h.value_min, excluded.value_min),
    value_max = greatest(h.value_max, excluded.value_max);
"""

# A whole period [start, end) (a backfill): replace the minute rows from the readings ...
_MINUTES = """
DELETE FROM readings_1m WHERE bucket >= %(start)s AND bucket < %(end)s;
INSERT INTO readings_1m (bucket, sensor_id, metric, readings_count, value_sum, value_min, value_max)
SELECT date_trunc('minute', time, 'UTC'), sensor_id, metric, count(*), sum(value), min(value), max(value)
FROM readings
WHERE time >= %(start)s AND time < %(end)s
GROUP BY 1, 2, 3;
"""

# ... and the hour rows from the minute rows.
_HOURS = """
DELETE FROM readings_1h WHERE bucket >= %(start)s AND bucket < %(end)s;
INSERT INTO readings_1h (bucket, sensor_id, metric, readings_count, value_sum, value_min, value_max)
SELECT date_trunc('hour', bucket, 'UTC'), sensor_id, metric,
       sum(readings_count), sum(value_sum), min(value_min), max(value_max)
FROM readings_1m
WHERE bucket >= %(start)s AND bucket < %(end)s
GROUP BY 1, 2, 3;
"""


def refresh_rollups(conn: psycopg2.extensions.connection) -> int:
    """Recompute the rollups of every queued minute (and its hour); returns the minutes done.

    A no-op returning 0 on TimescaleDB, whose continuous aggregates refresh themselves.
    """
    if read_settings(conn).timescale:
        return 0
    with transaction(conn) as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        cur.execute(_TAKE_QUEUE)
        minutes = [minute for (minute,) in cur.fetchall()]
        for run_start, run_end in _runs(minutes, MINUTE):
            cur.execute(_STASH, {"start": run_start, "end": run_end})
            cur.execute(_GROW, {"start": run_start, "end": run_end})
    if minutes:
        log.debug("recomputed the rollups of %d minutes", len(minutes))
    return len(minutes)


def rebuild_rollups(conn: psycopg2.extensions.connection, start: datetime, end: datetime) -> None:
    """Recompute the minute and hour rollups of every bucket touching ``[start, end]``."""
    if read_settings(conn).timescale:
        _refresh_continuous_aggregates(conn, start, end)
        return
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    minutes = {"start": start.replace(second=0, microsecond=0), "end": end.replace(second=0, microsecond=0) + MINUTE}
    hours = {"start": start.replace(minute=0, second=0, microsecond=0),
             "end": end.replace(minute=0, second=0, microsecond=0) + HOUR}
    with transaction(conn) as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        cur.execute(_MINUTES, minutes)
        cur.execute(_HOURS, hours)
    log.info("rebuilt rollups from %s to %s", start, end)


def _runs(starts: list[datetime], width: timedelta) -> list[tuple[datetime, datetime]]:
    """Sorted bucket starts → ``[start, end)`` runs of consecutive buckets (one range scan each)."""
    runs: list[tuple[datetime, datetime]] = []
    for start in starts:
        if runs and start <= runs[-1][1]:
            runs[-1] = (runs[-1][0], max(runs[-1][1], start + width))
        else:
            runs.append((start, start + width))
    return runs


def _floor(moment: datetime, width: timedelta) -> datetime:
    step = width.total_seconds()
    return datetime.fromtimestamp(moment.timestamp() // step * step, UTC)


def _refresh_continuous_aggregates(conn: psycopg2.extensions.connection, start: datetime, end: datetime) -> None:
    """Materialize the buckets touching ``[start, end]``, but never one still filling: what a refresh
    materializes, later readings reach only through the refresh policy, whose window ends a bucket
    before now (an hour for ``readings_1h``), so a backfill up to now that materialized the open hour
    left it short of every reading of the rest of that hour for an hour and more. Left open, the
    bucket is read from ``readings`` (real-time aggregation) until the policy materializes it."""
    now = datetime.now(UTC)
    conn.commit()
    old, conn.autocommit = conn.autocommit, True  # continuous aggregates refresh outside a transaction block
    try:
        with conn.cursor() as cur:
            for view, width in (("readings_1m", MINUTE), ("readings_1h", HOUR)):
                # TimescaleDB refreshes only buckets wholly inside the window: widen it to whole buckets.
                lo, hi = _floor(start, width), min(_floor(end, width) + width, _floor(now, width))
                if lo < hi:
                    cur.execute("CALL refresh_continuous_aggregate(%s, %s::timestamptz, %s::timestamptz)",
                                (view, lo, hi))
    finally:
        conn.autocommit = old
