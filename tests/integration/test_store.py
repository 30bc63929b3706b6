"""The database layer against real PostgreSQL servers: every test runs on plain PostgreSQL and on TimescaleDB,
except those marked for one (they check that server's own internals)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

import store
from store import (
    EventRow,
    IngestBatch,
    ProcessStatus,
    ReadingRow,
    RejectRow,
    SchemaOptions,
    SensorRow,
    SensorSightingRow,
    UnitPositionRow,
    UnitRow,
)
from store.migrations import MIGRATIONS

pytestmark = pytest.mark.servers("plain", "timescale")

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SCOPES = {"borough": "MN", "nta": "MN0101"}

# The public tables and their columns, in order (docs/contract.md "Database" and the store brief).
TABLES = {
    "readings": ["time", "sensor_id", "metric", "value"],
    "readings_1m": ["bucket", "sensor_id", "metric", "readings_count", "value_sum", "value_min", "value_max",
                    "value_avg"],
    "readings_1h": ["bucket", "sensor_id", "metric", "readings_count", "value_sum", "value_min", "value_max",
                    "value_avg"],
    "rejects": ["time", "topic", "reason", "payload"],
    "sensors": ["sensor_id", "kind", "metrics", "lon", "lat", "expected_interval_s", "noise_zone", "scope_code",
                "scopes", "registered_by", "in_maintenance", "first_seen", "last_seen", "verified"],
    "units": ["unit_id", "kind", "name", "home_lon", "home_lat", "lon", "lat", "status", "position_time",
              "scope_code", "scopes"],
    "unit_positions": ["time", "unit_id", "lon", "lat", "status", "kind"],
    "events": ["source", "id", "time", "received_at", "category", "severity", "lon", "lat", "title", "detail",
               "reporter_phone", "scope_code", "scopes", "title_zh"],
    "process_status": ["process_id", "kind", "host", "pid", "started_at", "heartbeat_at", "state", "messages_total",
                       "readings_total", "rejects_total", "rate_per_s", "lag_s", "last_message_at", "detail"],
    "rollup_queue": ["minute", "writer"],
    "users": ["name", "role", "password_hash", "disabled", "created_at", "password_changed_at"],
    "audit_log": ["id", "time", "user", "action", "target", "before", "after", "address"],
    "login_attempts": ["time", "name", "address", "success", "outcome"],
    "web_sessions": ["id_hash", "user_name", "created_at", "last_seen_at", "ended_at", "end_reason", "address"],
    "display_links": ["id", "name", "token_hash", "path", "survives_key_change", "key_fingerprint", "created_by",
                      "created_at", "revoked_at", "revoked_by", "last_used_at", "last_address"],
    "notify_channels": ["id", "kind", "settings", "updated_at"],
    "notify_people": ["name", "email", "phone", "language", "updated_at", "app_user"],
    "notify_rules": ["id", "name", "trigger_kind", "trigger", "roles", "people", "channels", "escalation",
                     "quiet_start", "quiet_end", "rate_limit", "rate_window_min", "enabled", "updated_at",
                     "departments", "users"],
    "notify_departments": ["id", "name", "name_zh", "people", "updated_at"],
    "duty_shifts": ["id", "role", "person", "starts_at", "ends_at"],
    "notify_checkpoints": ["name", "at"],
    "notifications": ["id", "rule_id", "cause", "severity", "notice", "created_at", "acknowledged_at",
                      "acknowledged_by", "acknowledged_address", "steps_sent"],
    "notification_sources": ["rule_id", "source", "notification_id"],
    "notification_deliveries": ["id", "notification_id", "step", "person", "channel_id", "language", "token_hash",
                                "token_expires_at", "token_used_at", "status", "attempts", "next_attempt_at",
                                "sent_at", "last_status", "last_answer", "created_at"],
    "notification_attempts": ["delivery_id", "attempt", "at", "ok", "status", "answer"],
    "schema_migrations": ["version", "name", "applied_at"],
    "store_settings": ["key", "value"],
    "request_latency": ["route", "method", "status_class", "le", "requests"],
    "request_latency_totals": ["route", "method", "status_class", "requests", "seconds"],
    "timescale_job_runs": ["job_id", "started_at", "succeeded_at", "error"],
    "indicator_current": ["scope_code", "domain", "level_name", "parent", "score", "level", "level_since",
                          "computed_at", "newest_input", "oldest_input", "forecast", "explanation"],
    "indicator_values": ["time", "scope_code", "level_name", "domain", "score", "level", "level_changed",
                         "explanation"],
    "indicator_hourly": ["hour", "scope_code", "level_name", "domain", "samples", "scored", "score_mean", "score_min",
                         "score_max", "worst_level", "minutes_green", "minutes_amber", "minutes_red", "minutes_grey"],
    "hysteresis_state": ["sensor_id", "metric", "state"],
    "sensor_alarms": ["id", "sensor_id", "metric", "level", "opened_at", "cleared_at", "value", "event_id"],
    "incident_categories": ["key", "name", "name_zh", "domain", "sla_minor_min", "sla_major_min", "sla_critical_min"],
    "incidents": ["id", "category", "severity", "status", "title", "detail", "reporter_phone", "lon", "lat",
                  "scope_code", "scopes", "received_at", "last_event_at", "events_count", "acknowledged_at",
                  "dispatched_at", "arrived_at", "resolved_at", "due_at", "reopened_count", "resolution_note",
                  "created_by", "title_zh"],
    "incident_events": ["source", "event_id", "incident_id"],
    "incident_transitions": ["id", "incident_id", "time", "user", "action", "from_status", "to_status", "unit_id",
                             "note"],
    "dispatches": ["id", "incident_id", "unit_id", "dispatched_at", "dispatched_by", "released_at"],
}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def reading(sensor: str, metric: str, seconds: float, value: float) -> ReadingRow:
    return ReadingRow(at(seconds), sensor, metric, value)


def event(source: str, event_id: str, title: str | None = "Water on the road") -> EventRow:
    return EventRow(source, event_id, T0, "waterlogging", "major", -73.99, 40.75, title, None, "+1 212 555 0100",
                    "MN0101", SCOPES)


def position(unit: str, seconds: float, lon: float, status: str = "busy") -> UnitPositionRow:
    return UnitPositionRow(at(seconds), unit, lon, 40.75, status, "fire", "MN0101", SCOPES)


def sensor_row(sensor_id: str, lon: float = -73.99) -> SensorRow:
    return SensorRow(sensor_id, "air_quality", ("pm25", "pm10"), lon, 40.75, 60, None, "MN0101", SCOPES)


def fetch(conn, query: str, params: tuple = ()) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(query, params)
        rows = cur.fetchall()
    conn.commit()
    return rows


def rollups_and_group_by(conn, width: str, unit: str) -> tuple[list[tuple], list[tuple]]:
    stored = fetch(conn, f"SELECT bucket, sensor_id, metric, readings_count, value_sum, value_min, value_max,"
                         f" value_avg FROM readings_{width} ORDER BY sensor_id, metric, bucket")
    expected = fetch(conn, f"SELECT date_trunc('{unit}', time, 'UTC'), sensor_id, metric, count(*), sum(value),"
                           " min(value), max(value), avg(value) FROM readings GROUP BY 1, 2, 3 ORDER BY 2, 3, 1")
    return stored, expected


def counts(conn) -> dict[str, int]:
    return {table: store.count_rows(conn, table) for table in
            ("readings", "readings_1m", "readings_1h", "rejects", "events", "unit_positions", "units", "sensors")}


# -- schema ---------------------------------------------------------------------------------


def test_init_schema_is_idempotent_and_records_migrations(new_database: Callable[[], str], pg_server) -> None:
    conn = store.connect(new_database())
    try:
        first = store.init_schema(conn)
        second = store.init_schema(conn)
        recorded = fetch(conn, "SELECT version, name FROM schema_migrations ORDER BY version")
    finally:
        conn.close()
    assert first.timescale is pg_server.timescale  # detected: each server's path
    assert first.applied == [m.name for m in MIGRATIONS]
    assert second.applied == []
    assert first.version == second.version == MIGRATIONS[-1].version
    assert recorded == [(m.version, m.name) for m in MIGRATIONS]


def test_concurrent_init_schema_from_two_threads_applies_each_migration_once(
    new_database: Callable[[], str],
) -> None:
    url = new_database()
    start = threading.Barrier(2)

    def init() -> store.SchemaReport:
        conn = store.connect(url)
        try:
            start.wait()
            return store.init_schema(conn)
        finally:
            conn.close()

    with ThreadPoolExecutor(2) as pool:
        reports = [future.result() for future in [pool.submit(init), pool.submit(init)]]

    assert sorted(reports[0].applied + reports[1].applied) == sorted(m.name for m in MIGRATIONS)
    assert {report.version for report in reports} == {MIGRATIONS[-1].version}
    conn = store.connect(url)
    try:
        assert store.count_rows(conn, "schema_migrations") == len(MIGRATIONS)
        assert store.count_rows(conn, "readings") == 0
    finally:
        conn.close()


def test_init_schema_stores_its_options_for_later_calls(db, pg_server) -> None:
    store.init_schema(db, SchemaOptions(retention_days=30, compress_after_days=3))
    assert store.read_settings(db) == store.StoreSettings(timescale=pg_server.timescale, retention_days=30,
                                                          compress_after_days=3)
    assert store.retention_days(db) == 30


@pytest.mark.servers("plain")
def test_timescale_cannot_be_required_on_a_server_without_it(db) -> None:
    with pytest.raises(ValueError, match="TimescaleDB"):
        store.init_schema(db, SchemaOptions(use_timescale=True))


def test_every_table_and_column_exists_with_a_comment(db, pg_server) -> None:
    rows = fetch(db, """
        SELECT c.relname, a.attname, col_description(c.oid, a.attnum), obj_description(c.oid, 'pg_class')
        FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p')
          AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY c.relname, a.attnum""")
    columns: dict[str, list[str]] = {}
    for table, column, column_comment, table_comment in rows:
        columns.setdefault(table, []).append(column)
        assert table_comment, f"table {table} has no comment"
        assert column_comment, f"column {table}.{column} has no comment"
    # The plain path's queue of minutes to roll up: TimescaleDB's continuous aggregates track that themselves.
    assert columns == {t: c for t, c in TABLES.items() if not (pg_server.timescale and t == "rollup_queue")}


# -- readings and rollups -------------------------------------------------------------------


def test_readings_are_inserted_and_duplicates_across_and_within_batches_ignored(db) -> None:
    first = store.write_ingest_batch(db, IngestBatch(readings=[
        reading("S1", "pm25", 0, 10.0),
        reading("S1", "pm25", 60, 11.0),
        reading("S1", "pm25", 60, 99.0),  # the same key again in the batch
        reading("S1", "pm10", 0, 20.0),
    ]))
    second = store.write_ingest_batch(db, IngestBatch(readings=[
        reading("S1", "pm25", 0, 10.0),  # redelivered
        reading("S2", "pm25", 0, 5.0),
        reading('S,"3"', "pm25", 0, 6.0),  # an id that needs CSV quoting
    ]))

    assert (first.readings_inserted, first.readings_duplicate) == (3, 1)
    assert (second.readings_inserted, second.readings_duplicate) == (2, 1)
    assert fetch(db, "SELECT sensor_id, metric, time, value FROM readings ORDER BY 1, 2, 3") == [
        ("S,\"3\"", "pm25", at(0), 6.0),
        ("S1", "pm10", at(0), 20.0),
        ("S1", "pm25", at(0), 10.0),
        ("S1", "pm25", at(60), 11.0),
        ("S2", "pm25", at(0), 5.0),
    ]


def test_rollups_exactly_match_a_group_by_over_readings(db, pg_server) -> None:
    # Values are multiples of 1/4, so every sum is exact and the comparison can be exact too.
    batches = [
        [reading("S1", "pm25", s, s / 4) for s in range(0, 7200, 45)],
        [reading("S1", "pm25", s, -s / 8) for s in range(3590, 3650, 5)],  # straddles the hour, some repeated
        [reading("S2", "no2", s, 1.25) for s in range(7100, -100, -300)],  # out of order, before earlier batches
        [reading("S1", "pm25", s, s / 4) for s in range(0, 7200, 90)],  # all redelivered
        [reading("S2", "no2", 30, 2.5), reading("S2", "no2", 30, 3.75), reading("S1", "pm25", 7199, 0.5)],
    ]
    for batch in batches:
        store.write_ingest_batch(db, IngestBatch(readings=batch))
    # Plain: recomputes the queued minutes, taking the queue whole. TimescaleDB: a no-op, the
    # continuous aggregates answer in real time (their refresh policy: test_timescale_refresh_policy...).
    if pg_server.timescale:
        assert store.refresh_rollups(db) == 0
    else:
        assert store.refresh_rollups(db) > 0
        assert store.refresh_rollups(db) == 0  # the queue was taken whole

    for width, unit in (("1m", "minute"), ("1h", "hour")):
        stored, expected = rollups_and_group_by(db, width, unit)
        assert stored == expected, width
    assert store.count_rows(db, "readings_1h") == 4  # two hours for S1, two for S2


def test_live_batches_on_top_of_a_backfill_keep_rollups_exact(db, pg_server) -> None:
    # A backfill (bulk COPY, rollups rebuilt for its period) and then the live feed in the same
    # minutes: some sensors gain readings there, others do not (they must be left as they are).
    history = [reading(f"S{i}", "pm25", s, (i + s) / 4) for i in range(4) for s in range(0, 600, 60)]
    frame = pd.DataFrame(history, columns=["time", "sensor_id", "metric", "value"])
    store.backfill_readings(db, [frame])
    store.write_ingest_batch(db, IngestBatch(readings=[reading("S0", "pm25", 570 + k, 1.5) for k in range(5)]
                                             + [reading("S9", "pm25", 599, 2.0)]))
    if pg_server.timescale:
        # Readings that land below the continuous aggregates' watermark (what the backfill's refresh
        # materialized) show once refreshed again: the refresh policy does that every minute for the
        # last retention_days; these readings are older, so refresh their window as the policy would.
        store.rebuild_rollups(db, at(0), at(600))
    else:
        assert store.refresh_rollups(db) == 1  # the one minute the live feed touched
    for width, unit in (("1m", "minute"), ("1h", "hour")):
        stored, expected = rollups_and_group_by(db, width, unit)
        assert stored == expected, width


def test_two_writers_with_overlapping_batches_keep_rollups_exact(database_url: str, db) -> None:
    rows = [reading(f"S{i % 7}", "pm25", i, i % 13) for i in range(6000)]

    def write(offset: int) -> None:
        conn = store.connect(database_url)
        try:
            for start in range(0, len(rows), 1000):
                # Each writer sends every row, in a different order: every key is written twice at once.
                chunk = rows[start:start + 1000]
                store.write_ingest_batch(conn, IngestBatch(readings=chunk[::-1] if offset else chunk))
        finally:
            conn.close()

    with ThreadPoolExecutor(2) as pool:
        for future in [pool.submit(write, 0), pool.submit(write, 1)]:
            future.result()

    assert store.count_rows(db, "readings") == len(rows)
    store.refresh_rollups(db)
    for width, unit in (("1m", "minute"), ("1h", "hour")):
        stored, expected = rollups_and_group_by(db, width, unit)
        assert stored == expected, width


@pytest.mark.parametrize("failure", ["null reading value", "null event title"])
def test_a_failing_batch_leaves_nothing_written(db, failure: str) -> None:
    store.sync_sensors(db, [sensor_row("S1")])
    store.write_ingest_batch(db, IngestBatch(readings=[reading("S1", "pm25", 0, 1.0)]))
    before = counts(db)
    rollups_before = fetch(db, "SELECT * FROM readings_1m ORDER BY sensor_id, metric, bucket")
    last_seen_before = fetch(db, "SELECT last_seen FROM sensors")

    readings = [reading("S1", "pm25", 60, 2.0), reading("S1", "pm25", 120, 3.0)]
    events = [event("hotline", "E1")]
    if failure == "null reading value":
        readings.append(ReadingRow(at(180), "S1", "pm25", None))  # type: ignore[arg-type]
    else:
        events.append(event("hotline", "E2", title=None))  # written after readings, rollups and sightings
    bad = IngestBatch(
        readings=readings,
        rejects=[RejectRow(T0, "cityops/nyc/readings/X", "not JSON", "{")],
        events=events,
        unit_positions=[position("FD-1", 0, -73.9)],
        sightings=[SensorSightingRow("NEW-1", T0, -73.9, 40.7, ("pm25",), "MN0101", SCOPES)],
    )
    with pytest.raises(store.DatabaseError):
        store.write_ingest_batch(db, bad)

    assert counts(db) == before
    assert fetch(db, "SELECT * FROM readings_1m ORDER BY sensor_id, metric, bucket") == rollups_before
    assert fetch(db, "SELECT last_seen FROM sensors") == last_seen_before
    # The connection is usable again: the same batch without the bad row goes in.
    good = IngestBatch(readings=readings[:2], events=events[:1])
    assert store.write_ingest_batch(db, good).readings_inserted == 2


# -- events, units, sensors, rejects ----------------------------------------------------


def test_events_are_stored_once_per_source_and_id(db) -> None:
    first = store.write_ingest_batch(db, IngestBatch(events=[event("hotline", "E1"), event("hotline", "E1")]))
    second = store.write_ingest_batch(db, IngestBatch(events=[event("hotline", "E1"), event("patrol", "E1")]))

    assert (first.events_inserted, second.events_inserted) == (1, 1)
    assert fetch(db, "SELECT source, id, scopes FROM events ORDER BY 1") == [
        ("hotline", "E1", SCOPES),
        ("patrol", "E1", SCOPES),
    ]


def test_unit_positions_move_the_unit_only_when_newer(db) -> None:
    store.sync_units(db, [UnitRow("FD-1", "fire", "Engine 1", -74.0, 40.7, "MN0101", SCOPES)])
    result = store.write_ingest_batch(db, IngestBatch(unit_positions=[
        position("FD-1", 60, -73.90, "busy"),
        position("FD-1", 30, -73.95, "available"),  # older, same batch
        position("NEW-1", 10, -73.80, "available"),  # not in the registry
    ]))
    late = store.write_ingest_batch(db, IngestBatch(unit_positions=[position("FD-1", 45, -73.99, "offline")]))
    again = store.write_ingest_batch(db, IngestBatch(unit_positions=[position("FD-1", 60, -73.90, "busy")]))

    assert (result.unit_positions, late.unit_positions, again.unit_positions) == (3, 1, 0)
    assert fetch(db, "SELECT unit_id, kind, name, lon, status, position_time, home_lon FROM units ORDER BY 1") == [
        ("FD-1", "fire", "Engine 1", -73.90, "busy", at(60), -74.0),
        ("NEW-1", "fire", None, -73.80, "available", at(10), None),
    ]
    assert store.count_rows(db, "unit_positions") == 4


def test_sensor_sightings_register_unknown_sensors_and_readings_set_last_seen(db) -> None:
    store.sync_sensors(db, [sensor_row("KNOWN")])
    sightings = [
        SensorSightingRow("NEW-1", at(5), -73.9, 40.7, ("pm25",), "MN0102", SCOPES),
        SensorSightingRow("KNOWN", at(5), 0.0, 0.0, ("noise_dba",), None, {}),  # known: changes nothing
    ]
    store.write_ingest_batch(db, IngestBatch(sightings=sightings, readings=[
        reading("NEW-1", "pm25", 5, 1.0),
        reading("NEW-1", "pm25", 65, 2.0),
        reading("KNOWN", "pm25", 30, 3.0),
        reading("KNOWN", "pm10", 20, 3.0),
    ]))
    store.write_ingest_batch(db, IngestBatch(readings=[reading("KNOWN", "pm25", 10, 4.0)]))  # older: no change

    assert fetch(db, "SELECT sensor_id, kind, metrics, lon, scope_code, registered_by, first_seen, last_seen"
                     " FROM sensors ORDER BY 1") == [
        ("KNOWN", "air_quality", ["pm25", "pm10"], -73.99, "MN0101", "registry", at(20), at(30)),
        ("NEW-1", "unknown", ["pm25"], -73.9, "MN0102", "ingest", at(5), at(65)),
    ]
    assert store.known_sensors(db) == {"KNOWN": (-73.99, 40.75), "NEW-1": (-73.9, 40.7)}


def test_registry_sync_upserts_without_clobbering_live_state(db) -> None:
    store.sync_sensors(db, [sensor_row("S1"), sensor_row("S2")])
    store.sync_units(db, [UnitRow("FD-1", "fire", "Engine 1", -74.0, 40.7, "MN0101", SCOPES),
                          UnitRow("FD-2", "fire", "Engine 2", -74.1, 40.7, "MN0101", SCOPES)])
    store.write_ingest_batch(db, IngestBatch(readings=[reading("S1", "pm25", 0, 1.0)],
                                             unit_positions=[position("FD-1", 0, -73.9, "busy")]))
    with db.cursor() as cur:
        cur.execute("UPDATE sensors SET in_maintenance = true WHERE sensor_id = 'S1'")
    db.commit()

    assert store.sync_sensors(db, [sensor_row("S1", lon=-73.5), sensor_row("S3")]) == 2
    assert store.sync_units(db, [UnitRow("FD-1", "fire", "Engine One", -74.2, 40.7, "BK01", {"borough": "BK"}),
                                 UnitRow("FD-2", "fire", "Engine Two", -74.3, 40.7, "BK01", {"borough": "BK"})]) == 2

    assert fetch(db, "SELECT sensor_id, lon, in_maintenance, first_seen, last_seen FROM sensors ORDER BY 1") == [
        ("S1", -73.5, True, at(0), at(0)),
        ("S2", -73.99, False, None, None),  # not in the new registry: kept
        ("S3", -73.99, False, None, None),
    ]
    assert fetch(db, "SELECT unit_id, name, home_lon, lon, status, position_time, scope_code FROM units"
                     " ORDER BY 1") == [
        ("FD-1", "Engine One", -74.2, -73.9, "busy", at(0), "MN0101"),  # live position kept
        ("FD-2", "Engine Two", -74.3, -74.3, "available", None, "BK01"),  # never reported: follows its home
    ]
    with pytest.raises(ValueError, match="S1"):
        store.sync_sensors(db, [sensor_row("S1"), sensor_row("S1")])


def test_rejects_are_stored_without_nul_characters(db) -> None:
    result = store.write_ingest_batch(db, IngestBatch(rejects=[
        RejectRow(T0, "cityops/nyc/readings/S1", "not JSON", "ab\x00cd\x00"),
        RejectRow(T0, "cityops/nyc/events", "not UTF-8", "bad \udcff byte"),
    ]))
    assert result.rejects == 2
    assert fetch(db, "SELECT reason, payload FROM rejects ORDER BY 1") == [("not JSON", "abcd"),
                                                                          ("not UTF-8", "bad ? byte")]


# -- status, retention, reads -----------------------------------------------------------


def test_report_and_read_status_round_trip(db) -> None:
    status = ProcessStatus(process_id="ingest-nyc-0", kind="ingest", host="box", pid=42, started_at=T0,
                           heartbeat_at=at(5), state="running", messages_total=10, readings_total=30,
                           rejects_total=1, rate_per_s=6.5, lag_s=0.2, last_message_at=at(4),
                           detail={"feeds": {"readings": 10}})
    store.report_status(db, status)
    later = ProcessStatus(process_id="ingest-nyc-0", kind="ingest", heartbeat_at=at(10), state="stopped")
    store.report_status(db, ProcessStatus(process_id="indicators", kind="indicators", heartbeat_at=at(1),
                                          state="running"))
    assert store.read_status(db)[1] == status
    store.report_status(db, later)
    assert store.read_status(db)[1] == later
    assert [s.process_id for s in store.read_status(db)] == ["indicators", "ingest-nyc-0"]


@pytest.mark.servers("plain")  # TimescaleDB: its retention jobs (test_timescale_retention_...)
def test_apply_retention_deletes_only_old_rows(db) -> None:
    store.init_schema(db, SchemaOptions(retention_days=10))
    now = T0 + timedelta(days=100)
    ages_days = [200, 40, 10.5, 9.5, 0]  # 40 days: too old for the minutes, young enough for the hours
    store.write_ingest_batch(db, IngestBatch(
        readings=[ReadingRow(now - timedelta(days=age), "S1", "pm25", 1.0) for age in ages_days],
        rejects=[RejectRow(now - timedelta(days=age), "t", "r", "p") for age in ages_days],
        unit_positions=[UnitPositionRow(now - timedelta(days=age), "FD-1", 1.0, 2.0, "busy", "fire", None, None)
                        for age in ages_days],
    ))

    for age in ages_days:
        store.record_login(db, "someone", "127.0.0.1", "failure", time=now - timedelta(days=age))
    store.refresh_rollups(db)

    deleted = store.apply_retention(db, now)

    assert deleted == {"readings": 3, "unit_positions": 3, "rejects": 3, "login_attempts": 3, "readings_1m": 3,
                       "readings_1h": 1}
    assert fetch(db, "SELECT time FROM readings ORDER BY 1") == [(now - timedelta(days=9.5),), (now,)]
    assert store.count_rows(db, "readings_1h") == 4
    assert store.apply_retention(db, now) == dict.fromkeys(deleted, 0)
    with pytest.raises(ValueError, match="timezone"):
        store.apply_retention(db, now.replace(tzinfo=None))


def test_latest_readings_returns_the_newest_per_sensor_and_metric(db) -> None:
    store.write_ingest_batch(db, IngestBatch(readings=[
        reading("S1", "pm25", 60, 2.0),
        reading("S1", "pm25", 120, 3.0),
        reading("S1", "pm25", 0, 1.0),
        reading("S1", "pm10", 0, 7.0),
        reading("S2", "pm25", 30, 9.0),
    ]))
    assert store.latest_readings(db) == [
        reading("S1", "pm10", 0, 7.0),
        reading("S1", "pm25", 120, 3.0),
        reading("S2", "pm25", 30, 9.0),
    ]
    assert store.latest_readings(db, ["S2", "S9"]) == [reading("S2", "pm25", 30, 9.0)]
    assert store.latest_readings(db, since=at(30)) == [reading("S1", "pm25", 120, 3.0),
                                                      reading("S2", "pm25", 30, 9.0)]


def test_count_rows_accepts_only_known_tables(db) -> None:
    assert store.count_rows(db, "readings") == 0
    with pytest.raises(ValueError, match="unknown table"):
        store.count_rows(db, "readings; DROP TABLE readings")


def test_server_info_reports_version_and_timescale(db, pg_server) -> None:
    info = store.server_info(db)
    assert int(info["server_version"].split(".")[0]) >= 14
    assert info["timescale"] is pg_server.timescale
    assert info["schema_version"] == MIGRATIONS[-1].version



# -- the vital-sign history and the units' past positions, as the screens read them ---------------

def test_the_history_and_the_past_positions_the_screens_and_the_history_backfill_read(db) -> None:
    """store.screens and store.versions (the wall, the drill-down, a replay) and what the vital signs' history
    backfill writes, on indicator_values and unit_positions (hypertables on TimescaleDB)."""
    from store.screens import PastUnit, PastValue, units_at, values_as_of
    from store.versions import wall_version

    five, hour = timedelta(minutes=5), timedelta(hours=1)

    def row(moment: datetime, score: float, level: int, changed: bool) -> store.HistoryRow:
        return store.HistoryRow(moment, "MN01", "cdta", "gas", score, level, changed,
                                {"why": level} if changed else None)

    assert not store.has_indicator_history(db, T0 - hour, T0)
    wall = wall_version(db)
    with store.rollups_held(db):  # as the backfill writes it
        store.write_history(db, [row(T0 - 2 * five, 95.0, 0, False), row(T0 - five, 40.0, 1, True),
                                 row(T0 + five, 20.0, 2, True)])
    assert store.has_indicator_history(db, T0 - hour, T0)
    assert wall_version(db) != wall  # a new warning
    assert values_as_of(db, ["MN01", "MN02"], ["gas"], T0, cadence=five) == [
        PastValue("MN01", "gas", T0 - five, 40.0, 1)]
    assert [(domain, moment) for domain, moment, _, _ in store.score_history(db, "MN01", T0 - five)] == [
        ("gas", T0 - five), ("gas", T0 + five)]
    assert [(change.time, change.level) for change in store.level_changes(db, since=T0 - hour, until=T0)] == [
        (T0 - five, 1)]
    assert store.rollup_period(db, T0 - hour, T0 + hour, T0 + 3 * hour, five.total_seconds()) == 2
    assert store.delete_indicator_history(db, T0) == 2

    store.sync_units(db, [UnitRow("FD-1", "fire", "Engine 1", -74.0, 40.7, "MN0101", SCOPES)])
    store.write_ingest_batch(db, IngestBatch(unit_positions=[position("FD-1", -600, -73.90, "busy"),
                                                             position("FD-1", 60, -73.95, "available")]))
    assert units_at(db, T0) == [PastUnit("FD-1", "fire", "busy", -73.90, 40.75)]
    assert units_at(db, T0 + hour) == []  # its newest position is older than 15 minutes then: not known


# -- connections ----------------------------------------------------------------------------


def test_connect_to_a_closed_port_raises_store_unavailable_without_the_password() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(store.StoreUnavailable) as caught:
        store.connect(f"postgresql://cityops:s3cret-pa55@127.0.0.1:{port}/cityops")
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message
    assert "s3cret-pa55" not in message


def test_connections_use_utc_and_a_lost_connection_is_store_unavailable(database_url: str, db) -> None:
    assert fetch(db, "SHOW timezone") == [("UTC",)]
    other = store.connect(database_url)
    try:
        fetch(other, "SELECT pg_terminate_backend(%s)", (db.get_backend_pid(),))  # as a server restart would
    finally:
        other.close()
    with pytest.raises(store.StoreUnavailable, match="lost the connection"):
        store.write_ingest_batch(db, IngestBatch(readings=[reading("S1", "pm25", 0, 1.0)]))
