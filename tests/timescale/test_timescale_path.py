"""The store's Timescale path (hypertables, continuous aggregates, policies) on a real TimescaleDB.

The session's TimescaleDB cluster (conftest.py). Most readings are written with plain INSERTs
(what these tests check is the schema, not the ingest's COPY, which test_store.py runs on both
servers). The tests share one database: each writes its own sensors and times and checks only
what it wrote. All of them carry the ``timescale`` marker (conftest.py).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from psycopg2.extras import execute_values

import store
from ingest.rows import EventRow, RejectRow, SensorSightingRow, UnitPositionRow
from store import IngestBatch, ReadingRow, SchemaOptions
from store.migrations import MIGRATIONS

# The rollups' columns and types on the plain path (store/migrations.py _PLAIN_ROLLUP): the same on both paths.
ROLLUP_COLUMNS = [
    ("bucket", "timestamp with time zone"),
    ("sensor_id", "text"),
    ("metric", "text"),
    ("readings_count", "bigint"),
    ("value_sum", "double precision"),
    ("value_min", "double precision"),
    ("value_max", "double precision"),
    ("value_avg", "double precision"),
]
HOUR, MINUTE, DAY = timedelta(hours=1), timedelta(minutes=1), timedelta(days=1)
SCOPES = {"borough": "MN", "nta": "MN0101"}


def fetch(conn, query: str, params: Any = ()) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(query, params)
        rows = cur.fetchall()
    conn.commit()
    return rows


def insert_readings(conn, rows: list[ReadingRow]) -> None:
    """Plain multi-row INSERTs, straight into readings."""
    with conn.cursor() as cur:
        execute_values(cur, "INSERT INTO readings (time, sensor_id, metric, value) VALUES %s", rows, page_size=1000)
    conn.commit()


def make_readings(sensors: list[str], start: datetime, end: datetime, step: timedelta) -> list[ReadingRow]:
    """Readings of pm25 and no2 for each sensor every ``step`` in ``[start, end]``; values multiples of 1/4."""
    rows = []
    for s, sensor in enumerate(sensors):
        t, i = start, 0
        while t <= end:
            rows.append(ReadingRow(t, sensor, "pm25", (i % 37) / 4 + s))
            rows.append(ReadingRow(t, sensor, "no2", -((i * 7) % 23) / 4))
            t, i = t + step, i + 1
    return rows


def expected_rollup(rows: list[ReadingRow], width: timedelta) -> list[tuple]:
    """(bucket, sensor_id, metric, count, sum, min, max, avg) per UTC bucket, as a plain rollup holds them."""
    groups: dict[tuple, list[float]] = defaultdict(list)
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    for t, sensor, metric, value in rows:
        groups[(epoch + (t - epoch) // width * width, sensor, metric)].append(value)
    return sorted(
        (bucket, sensor, metric, len(v), sum(v), min(v), max(v), sum(v) / len(v))
        for (bucket, sensor, metric), v in groups.items()
    )


def rollup_rows(conn, relation: str, sensors: list[str]) -> list[tuple]:
    # relation is one of this file's constants, never input.
    return fetch(conn, f"SELECT bucket, sensor_id, metric, readings_count, value_sum, value_min, value_max, value_avg"
                       f" FROM {relation} WHERE sensor_id = ANY(%s) ORDER BY bucket, sensor_id, metric", (sensors,))


def materialized(conn, view: str) -> str:
    """The hypertable a continuous aggregate stores its buckets in (what a refresh writes)."""
    ((schema, table),) = fetch(conn, "SELECT materialization_hypertable_schema, materialization_hypertable_name"
                                     " FROM timescaledb_information.continuous_aggregates WHERE view_name = %s",
                               (view,))
    return f'"{schema}"."{table}"'


def assert_rollups_match(actual: list[tuple], expected: list[tuple]) -> None:
    assert [row[:4] for row in actual] == [row[:4] for row in expected]  # buckets, keys and counts exactly
    for got, want in zip(actual, expected, strict=True):
        assert got[4:] == pytest.approx(want[4:]), got[:3]


def policies(conn) -> dict[tuple[str, str], dict[str, Any]]:
    """cityops's background jobs, keyed by (procedure, table or view), with their settings as Python values."""
    rows = fetch(conn, """
        SELECT proc_name, hypertable_name, schedule_interval,
               (config->>'compress_after')::interval, (config->>'drop_after')::interval,
               (config->>'start_offset')::interval, (config->>'end_offset')::interval
        FROM timescaledb_information.jobs
        WHERE hypertable_schema = 'public' ORDER BY job_id""")
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for proc, table, schedule, compress_after, drop_after, start_offset, end_offset in rows:
        assert (proc, table) not in found, f"two {proc} jobs on {table}"
        settings = {"compress_after": compress_after, "drop_after": drop_after, "start_offset": start_offset,
                    "end_offset": end_offset}
        found[(proc, table)] = {key: value for key, value in settings.items() if value is not None}
        if proc == "policy_refresh_continuous_aggregate":
            found[(proc, table)]["schedule"] = schedule
    return found


def expected_policies(retention_days: int, compress_after_days: int) -> dict[tuple[str, str], dict[str, Any]]:
    # The refresh looks back as far as late readings are accepted: the whole retention period.
    keep, refresh_from = timedelta(days=retention_days), timedelta(days=retention_days)
    return {
        ("policy_compression", "readings"): {"compress_after": timedelta(days=compress_after_days)},
        ("policy_retention", "readings"): {"drop_after": keep},
        ("policy_retention", "unit_positions"): {"drop_after": keep},
        ("policy_retention", "readings_1m"): {"drop_after": keep},
        ("policy_retention", "readings_1h"): {"drop_after": keep * 5},
        ("policy_refresh_continuous_aggregate", "readings_1m"): {
            "start_offset": refresh_from, "end_offset": MINUTE, "schedule": MINUTE},
        ("policy_refresh_continuous_aggregate", "readings_1h"): {
            "start_offset": refresh_from, "end_offset": HOUR, "schedule": MINUTE},
    }


def schema_snapshot(conn) -> dict[str, Any]:
    """What init_schema creates, without ids that a re-init may renumber."""
    return {
        "migrations": fetch(conn, "SELECT version, name, applied_at FROM schema_migrations ORDER BY version"),
        "settings": fetch(conn, "SELECT key, value FROM store_settings ORDER BY key"),
        "hypertables": fetch(conn, "SELECT hypertable_name, compression_enabled"
                                   " FROM timescaledb_information.hypertables WHERE hypertable_schema = 'public'"
                                   " ORDER BY 1"),
        "aggregates": fetch(conn, "SELECT view_name, materialized_only"
                                  " FROM timescaledb_information.continuous_aggregates ORDER BY 1"),
        "relations": fetch(conn, "SELECT relname, relkind FROM pg_class WHERE relnamespace = 'public'::regnamespace"
                                 " ORDER BY 1"),
        "policies": policies(conn),
    }


# -- schema ---------------------------------------------------------------------------------


def test_first_init_detects_and_uses_timescaledb(first_init: store.SchemaReport, conn) -> None:
    assert first_init.timescale is True
    assert first_init.applied == [m.name for m in MIGRATIONS]
    assert first_init.version == MIGRATIONS[-1].version
    assert store.read_settings(conn) == store.StoreSettings(timescale=True, retention_days=90, compress_after_days=7)
    assert fetch(conn, "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'") != []


def test_readings_and_unit_positions_are_hypertables_with_their_chunks_and_compression(conn) -> None:
    hypertables = dict(fetch(conn, "SELECT hypertable_name, compression_enabled"
                                   " FROM timescaledb_information.hypertables WHERE hypertable_schema = 'public'"))
    assert hypertables == {"readings": True, "unit_positions": False, "indicator_values": False}
    dimensions = fetch(conn, "SELECT hypertable_name, column_name, time_interval"
                             " FROM timescaledb_information.dimensions WHERE hypertable_schema = 'public' ORDER BY 1")
    assert dimensions == [("indicator_values", "time", 7 * DAY), ("readings", "time", DAY),
                          ("unit_positions", "time", 7 * DAY)]
    compression = fetch(conn, "SELECT attname, segmentby_column_index, orderby_column_index"
                              " FROM timescaledb_information.compression_settings"
                              " WHERE hypertable_name = 'readings' ORDER BY 2 NULLS LAST, 3")
    assert compression == [("sensor_id", 1, None), ("metric", 2, None), ("time", None, 1)]


def test_rollups_are_real_time_continuous_aggregates_with_the_plain_paths_columns(conn) -> None:
    aggregates = fetch(conn, "SELECT view_name, hypertable_name, materialized_only"
                             " FROM timescaledb_information.continuous_aggregates ORDER BY 1")
    assert aggregates == [("readings_1h", "readings", False), ("readings_1m", "readings", False)]
    for view in ("readings_1m", "readings_1h"):
        columns = fetch(conn, "SELECT column_name, data_type FROM information_schema.columns"
                              " WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position", (view,))
        assert columns == ROLLUP_COLUMNS, view


def test_every_public_table_view_and_column_has_a_comment(conn) -> None:
    missing = fetch(conn, """
        SELECT c.relname, a.attname, obj_description(c.oid, 'pg_class') IS NULL, col_description(c.oid, a.attnum)
        FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p')
          AND a.attnum > 0 AND NOT a.attisdropped
          AND (obj_description(c.oid, 'pg_class') IS NULL OR col_description(c.oid, a.attnum) IS NULL)""")
    assert missing == []


def test_policies_exist_and_follow_the_options_of_a_later_init(connect, first_init: store.SchemaReport) -> None:
    with connect() as conn:
        assert policies(conn) == expected_policies(90, 7)
        try:
            report = store.init_schema(conn, SchemaOptions(retention_days=30, compress_after_days=3))
            assert (report.timescale, report.applied) == (True, [])
            assert policies(conn) == expected_policies(30, 3)
            # Retention shorter than compression: the rollups are refreshed no further back than raw data exists.
            store.init_schema(conn, SchemaOptions(retention_days=2, compress_after_days=7))
            assert policies(conn) == expected_policies(2, 7)
            assert store.read_settings(conn) == store.StoreSettings(True, 2, 7)
        finally:
            store.init_schema(conn, SchemaOptions())  # back to the defaults the other tests expect
        assert policies(conn) == expected_policies(90, 7)


def test_init_schema_is_idempotent(conn) -> None:
    before = schema_snapshot(conn)
    again = [store.init_schema(conn), store.init_schema(conn, SchemaOptions(use_timescale=None))]
    assert [(r.timescale, r.version, r.applied) for r in again] == [(True, MIGRATIONS[-1].version, [])] * 2
    assert schema_snapshot(conn) == before


def test_the_path_cannot_be_switched_off_later(conn) -> None:
    with pytest.raises(ValueError, match="set up with TimescaleDB"):
        store.init_schema(conn, SchemaOptions(use_timescale=False))
    assert store.init_schema(conn, SchemaOptions(use_timescale=True)).timescale is True
    assert store.read_settings(conn).timescale is True


def test_the_policies_jobs_run_by_hand(conn) -> None:
    """The test cluster runs no job scheduler: run each of cityops's jobs once, as the scheduler would."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    old = make_readings(["JOB-1"], now - 200 * DAY, now - 200 * DAY + 10 * MINUTE, MINUTE)  # past retention (90 d)
    # Past compression (7 d) but within retention: a late arrival the refresh must still pick up.
    cold = make_readings(["JOB-1"], now - 30 * DAY, now - 30 * DAY + 10 * MINUTE, MINUTE)
    recent = make_readings(["JOB-1"], now - 3 * HOUR, now - 2 * HOUR - MINUTE, MINUTE)  # within the refresh window
    insert_readings(conn, old + cold + recent)
    jobs = fetch(conn, "SELECT job_id, proc_name, hypertable_name FROM timescaledb_information.jobs"
                       " WHERE hypertable_schema = 'public' ORDER BY proc_name = 'policy_retention', job_id")
    assert len(jobs) == 7
    conn.autocommit = True  # procedures that commit (refresh) cannot run inside a transaction block
    try:
        with conn.cursor() as cur:
            for job_id, _, _ in jobs:
                cur.execute("CALL run_job(%s)", (job_id,))
    finally:
        conn.autocommit = False

    times = fetch(conn, "SELECT DISTINCT time FROM readings WHERE sensor_id = 'JOB-1' ORDER BY time")
    assert [t for (t,) in times] == sorted({r.time for r in cold + recent})  # the old chunk was dropped
    compressed = fetch(conn, "SELECT DISTINCT c.is_compressed FROM timescaledb_information.chunks c"
                             " WHERE c.hypertable_name = 'readings' AND c.range_end <= %s", (now - 7 * DAY,))
    assert compressed == [(True,)]
    # Everything within retention was materialized by the refresh jobs (not only computed in real time).
    assert_rollups_match(rollup_rows(conn, materialized(conn, "readings_1h"), ["JOB-1"]),
                         expected_rollup(cold + recent, HOUR))
    assert_rollups_match(rollup_rows(conn, materialized(conn, "readings_1m"), ["JOB-1"]),
                         expected_rollup(cold + recent, MINUTE))
    assert store.latest_readings(conn, ["JOB-1"]) == sorted(
        [r for r in recent if r.time == recent[-1].time], key=lambda r: (r.sensor_id, r.metric))


# -- readings and rollups -------------------------------------------------------------------


def test_rebuild_rollups_refreshes_the_continuous_aggregates(conn) -> None:
    start = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    sensors = ["RB-1", "RB-2"]
    rows = make_readings(sensors, start, start + 2 * HOUR - timedelta(seconds=20), timedelta(seconds=20))
    insert_readings(conn, rows)

    # Left in an open transaction: the refresh must run outside one, and rebuild_rollups ends it first.
    with conn.cursor() as cur:
        cur.execute("SELECT 1")
    store.rebuild_rollups(conn, start, start + 2 * HOUR)  # a window on whole hours
    assert conn.autocommit is False

    for view, width in (("readings_1h", HOUR), ("readings_1m", MINUTE)):
        expected = expected_rollup(rows, width)
        assert_rollups_match(rollup_rows(conn, view, sensors), expected)
        # Materialized by the refresh, not only computed in real time from readings.
        assert_rollups_match(rollup_rows(conn, materialized(conn, view), sensors), expected)
    hours = rollup_rows(conn, "readings_1h", sensors)
    assert len(hours) == 2 * len(sensors) * 2 and {row[3] for row in hours} == {180}


@pytest.mark.parametrize(("day", "span"), [(2, 3 * HOUR + 30 * MINUTE), (3, 80 * MINUTE)], ids=["3.5h", "80min"])
def test_rebuild_rollups_covers_the_buckets_at_both_ends(conn, day: int, span: timedelta) -> None:
    # As backfill_readings calls it: from the first to the last reading's time, not on bucket boundaries.
    first = datetime(2024, 4, day, 6, 30, 30, tzinfo=UTC)
    sensors = [f"EDGE-{day}"]
    rows = make_readings(sensors, first, first + span, timedelta(seconds=30))
    insert_readings(conn, rows)
    store.rebuild_rollups(conn, rows[0].time, max(r.time for r in rows))
    for view, width in (("readings_1h", HOUR), ("readings_1m", MINUTE)):
        assert_rollups_match(rollup_rows(conn, view, sensors), expected_rollup(rows, width))


def test_latest_readings_and_count_rows(conn) -> None:
    before = {table: store.count_rows(conn, table) for table in sorted(store.COUNTABLE_TABLES)}
    t0 = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
    rows = [
        ReadingRow(t0, "LR-1", "pm25", 1.0),
        ReadingRow(t0 + 2 * DAY, "LR-1", "pm25", 2.0),  # another chunk (daily chunks)
        ReadingRow(t0 + MINUTE, "LR-1", "pm10", 3.0),
        ReadingRow(t0 + HOUR, "LR-2", "pm25", 4.0),
        ReadingRow(t0 - DAY, "LR-2", "pm25", 5.0),
    ]
    insert_readings(conn, rows)

    assert store.latest_readings(conn, ["LR-1", "LR-2"]) == [
        ReadingRow(t0 + MINUTE, "LR-1", "pm10", 3.0),
        ReadingRow(t0 + 2 * DAY, "LR-1", "pm25", 2.0),
        ReadingRow(t0 + HOUR, "LR-2", "pm25", 4.0),
    ]
    assert store.latest_readings(conn, ["LR-2"], since=t0 + 2 * HOUR) == []
    assert store.latest_readings(conn, ["LR-1"], since=t0 + DAY) == [ReadingRow(t0 + 2 * DAY, "LR-1", "pm25", 2.0)]
    after = {table: store.count_rows(conn, table) for table in sorted(store.COUNTABLE_TABLES)}
    assert after["readings"] == before["readings"] + len(rows)
    # The rollups are views here, counted all the same (what they show of old data depends on earlier refreshes).
    rollups = ("readings", "readings_1m", "readings_1h")
    assert {t: n for t, n in after.items() if t not in rollups} == {t: n for t, n in before.items() if t not in rollups}


def test_write_ingest_batch_without_readings_writes_the_other_tables(conn) -> None:
    """Positions (a hypertable), events, rejects and sightings: the ingest write of everything but readings."""
    t0 = datetime(2024, 7, 1, 9, 0, tzinfo=UTC)
    batch = IngestBatch(
        unit_positions=[
            UnitPositionRow(t0, "WB-FD-1", -73.99, 40.75, "busy", "fire", "MN0101", SCOPES),
            UnitPositionRow(t0 + MINUTE, "WB-FD-1", -73.98, 40.76, "available", "fire", "MN0101", SCOPES),
            UnitPositionRow(t0 + 8 * DAY, "WB-PD-1", -73.97, 40.77, "busy", "police", None, None),  # another chunk
        ],
        events=[EventRow("hotline", "WB-1", t0, "waterlogging", "major", -73.99, 40.75, "Water on the road", None,
                         None, "MN0101", SCOPES)],
        rejects=[RejectRow(t0, "cityops/nyc/readings/x", "not JSON", "{")],
        sightings=[SensorSightingRow("WB-S-1", t0, -73.99, 40.75, ("pm25",), "MN0101", SCOPES)],
    )
    before = {table: store.count_rows(conn, table) for table in ("unit_positions", "events", "rejects", "sensors")}
    first = store.write_ingest_batch(conn, batch)
    again = store.write_ingest_batch(conn, batch)  # redelivered: positions and events are stored once

    assert (first.unit_positions, first.events_inserted, first.rejects) == (3, 1, 1)
    assert (again.unit_positions, again.events_inserted) == (0, 0)
    after = {table: store.count_rows(conn, table) for table in before}
    assert {t: after[t] - before[t] for t in before} == {"unit_positions": 3, "events": 1, "rejects": 2, "sensors": 1}
    units = fetch(conn, "SELECT unit_id, status, position_time FROM units WHERE unit_id LIKE %s ORDER BY 1",
                  ("WB-%",))
    assert units == [("WB-FD-1", "available", t0 + MINUTE), ("WB-PD-1", "busy", t0 + 8 * DAY)]


def test_apply_retention_leaves_hypertables_to_the_policies_and_expires_rejects(conn) -> None:
    insert_readings(conn, [ReadingRow(datetime(2020, 1, 1, tzinfo=UTC), "RET-1", "pm25", 1.0)])
    assert set(store.apply_retention(conn, datetime.now(UTC))) == {"rejects", "login_attempts"}
    assert fetch(conn, "SELECT count(*) FROM readings WHERE sensor_id = 'RET-1'") == [(1,)]
    with pytest.raises(ValueError, match="timezone-aware"):
        store.apply_retention(conn, datetime(2024, 1, 1))  # noqa: DTZ001 - the naive time is the point


def test_server_info_reports_timescaledb(conn) -> None:
    info = store.server_info(conn)
    assert int(info["server_version"].split(".")[0]) >= 14
    assert info["timescale"] is True
    assert info["schema_version"] == MIGRATIONS[-1].version
    store.require_schema(conn)  # no SchemaMissing
