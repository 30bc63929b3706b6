"""What the operator's feed page and ``/metrics`` read: feed rates, stale sensors, rejects.

Every figure comes from small tables or indexed time ranges (the minute rollup, the sensor
registry, the newest rejects), so the page costs the same with a day or a year of history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg2.extensions

from store.connection import transaction

# Readings per second are averaged over this window of the minute rollup; the newest minute
# is still filling, so the window ends one minute back.
RATE_WINDOW = timedelta(minutes=5)


@dataclass(frozen=True)
class FeedRate:
    """One feed (``readings``, ``events`` or ``units``): rate, newest message and the last hour's count."""

    feed: str
    per_second: float
    last_message_at: datetime | None
    last_hour: int


@dataclass(frozen=True)
class StaleSensor:
    sensor_id: str
    kind: str | None
    scope_code: str | None
    last_seen: datetime | None
    expected_interval_s: int | None


@dataclass(frozen=True)
class SensorCounts:
    total: int
    fresh: int
    stale: int
    silent: int  # never sent a reading
    maintenance: int


@dataclass(frozen=True)
class RejectSample:
    time: datetime
    topic: str
    reason: str
    payload: str


def feed_rates(conn: psycopg2.extensions.connection, now: datetime) -> list[FeedRate]:
    """Readings, events and unit positions: per second over :data:`RATE_WINDOW`, newest, last hour."""
    window_start = now - RATE_WINDOW - timedelta(minutes=1)
    window_end = now - timedelta(minutes=1)
    hour_ago = now - timedelta(hours=1)
    with transaction(conn) as cur:
        cur.execute(
            "SELECT coalesce(sum(readings_count) FILTER (WHERE bucket >= %(start)s AND bucket < %(end)s), 0),"
            " coalesce(sum(readings_count), 0) FROM readings_1m WHERE bucket >= %(hour)s",
            {"start": window_start, "end": window_end, "hour": hour_ago},
        )
        readings_window, readings_hour = cur.fetchone()
        cur.execute("SELECT max(last_seen) FROM sensors")
        readings_last = cur.fetchone()[0]
        cur.execute(
            "SELECT count(*) FILTER (WHERE time >= %(start)s), count(*), max(time) FROM events WHERE time >= %(hour)s",
            {"start": now - RATE_WINDOW, "hour": hour_ago},
        )
        events_window, events_hour, _ = cur.fetchone()
        cur.execute("SELECT max(time) FROM events")
        events_last = cur.fetchone()[0]
        cur.execute(
            "SELECT count(*) FILTER (WHERE time >= %(start)s), count(*) FROM unit_positions WHERE time >= %(hour)s",
            {"start": now - RATE_WINDOW, "hour": hour_ago},
        )
        units_window, units_hour = cur.fetchone()
        cur.execute("SELECT max(position_time) FROM units")
        units_last = cur.fetchone()[0]
    seconds = RATE_WINDOW.total_seconds()
    return [
        FeedRate("readings", int(readings_window) / seconds, readings_last, int(readings_hour)),
        FeedRate("events", events_window / seconds, events_last, events_hour),
        FeedRate("units", units_window / seconds, units_last, units_hour),
    ]


# A sensor is stale when its newest reading is older than this many expected intervals
# (docs/vital-signs.md §4.1 freshness window); sensors without an interval use the default.
STALE_INTERVALS = 3
DEFAULT_INTERVAL_S = 300
_STALE = (
    "NOT in_maintenance AND (last_seen IS NULL OR last_seen < %(now)s"
    f" - make_interval(secs => {STALE_INTERVALS} * coalesce(expected_interval_s, {DEFAULT_INTERVAL_S})))"
)


def sensor_counts(conn: psycopg2.extensions.connection, now: datetime) -> SensorCounts:
    """How many sensors are fresh, stale, never heard from, in maintenance."""
    with transaction(conn) as cur:
        cur.execute(
            f"SELECT count(*), count(*) FILTER (WHERE in_maintenance), count(*) FILTER (WHERE {_STALE}),"
            f" count(*) FILTER (WHERE last_seen IS NULL AND NOT in_maintenance) FROM sensors",
            {"now": now},
        )
        total, maintenance, stale_or_silent, silent = cur.fetchone()
    return SensorCounts(total=total, fresh=total - maintenance - stale_or_silent, stale=stale_or_silent - silent,
                        silent=silent, maintenance=maintenance)


def stale_sensors(conn: psycopg2.extensions.connection, now: datetime, limit: int = 100) -> list[StaleSensor]:
    """Stale sensors, longest silent first (heard once, oldest first; then never heard), at most ``limit``."""
    with transaction(conn) as cur:
        cur.execute(
            f"SELECT sensor_id, kind, scope_code, last_seen, expected_interval_s FROM sensors WHERE {_STALE}"
            " ORDER BY last_seen ASC NULLS LAST, sensor_id LIMIT %(limit)s",
            {"now": now, "limit": limit},
        )
        return [StaleSensor(*row) for row in cur.fetchall()]


def newest_rejects(conn: psycopg2.extensions.connection, limit: int = 50) -> list[RejectSample]:
    """The newest rejected messages with their reasons, newest first."""
    with transaction(conn) as cur:
        cur.execute("SELECT time, topic, reason, payload FROM rejects ORDER BY time DESC LIMIT %s", (limit,))
        return [RejectSample(*row) for row in cur.fetchall()]


def rejects_by_reason(conn: psycopg2.extensions.connection, since: datetime) -> dict[str, int]:
    """Rejects since ``since`` per reason (the reason's words before any ``: detail``), most first."""
    with transaction(conn) as cur:
        cur.execute(
            "SELECT split_part(reason, ':', 1) AS why, count(*) FROM rejects WHERE time >= %s"
            " GROUP BY why ORDER BY count(*) DESC, why",
            (since,),
        )
        return dict(cur.fetchall())
