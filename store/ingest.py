"""The ingest write: one batch of parsed MQTT messages, one transaction.

Readings go in with COPY into a session-local staging table, then one statement moves the
new ones into ``readings`` (a repeated reading is skipped by the unique key) and, on plain
PostgreSQL, queues the minutes they fall in for :func:`store.rollups.refresh_rollups`, which
recomputes ``readings_1m`` / ``readings_1h`` from them a few seconds later. (Folding every
batch into the rollups here halved the write rate, and made parallel workers queue on the
same rollup rows.)
The small tables (events, unit positions, rejects, sightings) use multi-row INSERTs.
Rows are written in key order so that two workers writing overlapping batches lock rows
in the same order and cannot deadlock each other.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import psycopg2
import psycopg2.extensions
from psycopg2.extras import Json, execute_values

from ingest.rows import EventRow, ReadingRow, RejectRow, SensorSightingRow, UnitPositionRow
from store.connection import transaction
from store.incidents import incidents_for_events

log = logging.getLogger(__name__)

# Rows per INSERT statement for the small tables: a batch is normally one statement.
_PAGE_SIZE = 10_000
# A deadlock or serialization failure is transient: the batch is retried as a whole.
_ATTEMPTS = 3


@dataclass(frozen=True)
class IngestBatch:
    """Everything one batch of messages produced."""

    readings: Sequence[ReadingRow] = ()
    rejects: Sequence[RejectRow] = ()
    events: Sequence[EventRow] = ()
    unit_positions: Sequence[UnitPositionRow] = ()
    sightings: Sequence[SensorSightingRow] = ()


class BatchResult(NamedTuple):
    """What a batch changed. ``readings_duplicate`` counts readings already stored (or repeated in the batch)."""

    readings_inserted: int
    readings_duplicate: int
    events_inserted: int
    rejects: int
    unit_positions: int


# Created once per session; emptied by every commit, and gone with a rollback of the
# transaction that created it (then the next batch creates it again).
_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS ingest_readings (
    time timestamptz,
    sensor_id text COLLATE "C",
    metric text COLLATE "C",
    value double precision
) ON COMMIT DELETE ROWS
"""

_INSERTED = """
WITH inserted AS (
    INSERT INTO readings (time, sensor_id, metric, value)
    SELECT time, sensor_id, metric, value FROM ingest_readings
    ORDER BY sensor_id, metric, time
    ON CONFLICT (sensor_id, metric, time) DO NOTHING
    RETURNING time, sensor_id, metric, value
)
"""

# Plain PostgreSQL: the same statement queues the minutes that got new readings.
_MOVE_READINGS_AND_QUEUE = _INSERTED + """
, queued AS (
    INSERT INTO rollup_queue (minute, writer)
    SELECT DISTINCT date_trunc('minute', time, 'UTC'), pg_backend_pid() FROM inserted
    ON CONFLICT DO NOTHING
)
SELECT count(*) FROM inserted
"""
_MOVE_READINGS = _INSERTED + "SELECT count(*) FROM inserted"

# Lock the sensors' rows in id order before updating them (see the module docstring).
# last_seen is kept to within 30 s, and a row another worker is updating right now is left
# to it: parallel workers receive readings of the same sensors and would otherwise queue
# on these rows batch after batch.
_LAST_SEEN = """
WITH seen AS (
    SELECT sensor_id, min(time) AS first_time, max(time) AS last_time FROM ingest_readings GROUP BY sensor_id
), locked AS (
    SELECT s.sensor_id, seen.first_time, seen.last_time
    FROM sensors s JOIN seen ON seen.sensor_id = s.sensor_id
    WHERE s.last_seen IS NULL OR s.last_seen < seen.last_time - interval '30 seconds'
    ORDER BY s.sensor_id
    FOR UPDATE OF s SKIP LOCKED
)
UPDATE sensors s
SET last_seen = greatest(s.last_seen, locked.last_time),
    first_seen = coalesce(s.first_seen, locked.first_time)
FROM locked
WHERE s.sensor_id = locked.sensor_id
"""

# A sighting of an unknown sensor reaches the store only when the city allows self-registration
# (ingest.parse rejects it otherwise); the sensor is then unverified: left out of the vital signs
# until an admin accepts it.
_REGISTER_SENSORS = """
INSERT INTO sensors (sensor_id, kind, metrics, lon, lat, scope_code, scopes, registered_by, verified, first_seen,
                     last_seen)
VALUES %s
ON CONFLICT (sensor_id) DO NOTHING
"""
_REGISTER_SENSORS_ROW = "(%s, 'unknown', %s::text[], %s, %s, %s, %s, 'ingest', false, %s, %s)"

_INSERT_EVENTS = """
INSERT INTO events (source, id, time, category, severity, lon, lat, title, detail, reporter_phone, scope_code, scopes)
VALUES %s
ON CONFLICT (source, id) DO NOTHING
RETURNING source, id
"""

_INSERT_POSITIONS = """
INSERT INTO unit_positions (time, unit_id, lon, lat, status, kind)
VALUES %s
ON CONFLICT (unit_id, time) DO NOTHING
RETURNING 1
"""

# A unit's current state moves only forward in time: an older position arriving late is
# kept in unit_positions but does not move the unit. An unknown unit is created.
_UPSERT_UNITS = """
INSERT INTO units AS u (unit_id, kind, lon, lat, status, position_time, scope_code, scopes)
VALUES %s
ON CONFLICT (unit_id) DO UPDATE SET
    lon = excluded.lon,
    lat = excluded.lat,
    status = excluded.status,
    position_time = excluded.position_time,
    scope_code = excluded.scope_code,
    scopes = excluded.scopes
WHERE u.position_time IS NULL OR u.position_time < excluded.position_time
"""

_INSERT_REJECTS = "INSERT INTO rejects (time, topic, reason, payload) VALUES %s"


def write_ingest_batch(conn: psycopg2.extensions.connection, batch: IngestBatch) -> BatchResult:
    """Write ``batch`` in one transaction, committed before returning.

    On any error nothing of the batch is written and the error is raised (a lost connection as
    :class:`~store.connection.StoreUnavailable`); deadlocks with another worker are retried.
    """
    readings_csv = _readings_csv(batch.readings) if batch.readings else ""
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            with transaction(conn) as cur:
                return _write(cur, batch, readings_csv)
        except psycopg2.extensions.TransactionRollbackError as error:
            if attempt == _ATTEMPTS:
                raise
            log.info("batch write collided with another writer (%s); retrying", error.pgcode)
    raise AssertionError("unreachable")


def _write(cur: psycopg2.extensions.cursor, batch: IngestBatch, readings_csv: str) -> BatchResult:
    # Sightings first, so that sensors registered now get last_seen from their readings.
    if batch.sightings:
        rows = sorted(batch.sightings, key=lambda s: s.sensor_id)
        execute_values(cur, _REGISTER_SENSORS, [
            (s.sensor_id, list(s.metrics), s.lon, s.lat, s.scope_code, _json(s.scopes), s.time, s.time) for s in rows
        ], template=_REGISTER_SENSORS_ROW, page_size=_PAGE_SIZE)

    inserted = 0
    if batch.readings:
        cur.execute(_STAGING + ";\nSELECT value FROM store_settings WHERE key = 'timescale'")
        row = cur.fetchone()
        timescale = row is not None and row[0] == "true"
        cur.copy_expert("COPY ingest_readings (time, sensor_id, metric, value) FROM STDIN (FORMAT csv)",
                        io.StringIO(readings_csv))
        cur.execute(_MOVE_READINGS if timescale else _MOVE_READINGS_AND_QUEUE)
        inserted = cur.fetchone()[0]
        cur.execute(_LAST_SEEN)

    events = 0
    if batch.events:
        stored = execute_values(cur, _INSERT_EVENTS, [
            (e.source, e.id, e.time, e.category, e.severity, e.lon, e.lat, e.title, e.detail, e.reporter_phone,
             e.scope_code, _json(e.scopes)) for e in batch.events
        ], page_size=_PAGE_SIZE, fetch=True)
        events = len(stored)
        # Each new event becomes (or joins) an incident in this same transaction: exactly once.
        incidents_for_events(cur, [(source, event_id) for source, event_id in stored])

    positions = 0
    if batch.unit_positions:
        ordered = sorted(batch.unit_positions, key=lambda p: (p.unit_id, p.time))
        positions = len(execute_values(cur, _INSERT_POSITIONS, [
            (p.time, p.unit_id, p.lon, p.lat, p.status, p.kind) for p in ordered
        ], page_size=_PAGE_SIZE, fetch=True))
        # One row per unit (its newest position): a statement may not update a row twice.
        newest = {p.unit_id: p for p in ordered}
        execute_values(cur, _UPSERT_UNITS, [
            (p.unit_id, p.kind, p.lon, p.lat, p.status, p.time, p.scope_code, _json(p.scopes))
            for p in newest.values()
        ], page_size=_PAGE_SIZE)

    if batch.rejects:
        execute_values(cur, _INSERT_REJECTS, [
            (r.time, _clean_text(r.topic), _clean_text(r.reason), _clean_text(r.payload)) for r in batch.rejects
        ], page_size=_PAGE_SIZE)

    return BatchResult(
        readings_inserted=inserted,
        readings_duplicate=len(batch.readings) - inserted,
        events_inserted=events,
        rejects=len(batch.rejects),
        unit_positions=positions,
    )


def _readings_csv(readings: Sequence[ReadingRow]) -> str:
    """The readings as CSV for COPY: times in ISO 8601 with their offset.

    Formatting is most of the client's cost, so the plain case is one f-string per row with
    each distinct time formatted once (a message's readings share its time). Ids that need
    CSV quoting (a comma, a quote, a line break) make the counts differ: then the csv module
    writes it properly.
    """
    stamps = {t: t.isoformat() for t in {r[0] for r in readings}}
    text = "".join([f"{stamps[t]},{sensor_id},{metric},{value}\n" for t, sensor_id, metric, value in readings])
    plain = text.count(",") == 3 * len(readings) and text.count("\n") == len(readings)
    if plain and '"' not in text and "\r" not in text:
        return text
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows((stamps[t], s, m, v) for t, s, m, v in readings)
    return buffer.getvalue()


def _json(value: dict | None) -> Json | None:
    return None if value is None else Json(value)


def _clean_text(text: str) -> str:
    """Text PostgreSQL can store: no NUL characters, no lone surrogates (from undecodable bytes)."""
    text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text
