"""What only TimescaleDB does, on a real TimescaleDB server: the background jobs that refresh the rollups,
compress and expire data (run with ``CALL run_job``, which returns when the job is done, as the scheduler
would run them), ``cityops db run-jobs`` running them each at its schedule, and a half-installed or
mismatched TimescaleDB refused with one clear line.

The plain-PostgreSQL counterparts (the rollup queue, apply_retention deleting rows) are in test_store.py.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import psycopg2
import pytest

import store
from store import IngestBatch, ReadingRow, RejectRow, SchemaOptions, UnitPositionRow
from tests.integration.conftest import PgServer, create_database, drop_database, with_database
from tests.integration.test_store import fetch

REPO = Path(__file__).resolve().parents[2]
HOUR, MINUTE, DAY = timedelta(hours=1), timedelta(minutes=1), timedelta(days=1)


def run_job(conn, proc: str, relation: str) -> None:
    """Run cityops's ``proc`` job on ``relation`` now; returns when it has finished."""
    (job,) = [job for job in store.timescale_jobs(conn) if (job.proc_name, job.relation) == (proc, relation)]
    store.run_timescale_job(conn, job)


def materialized(conn, view: str) -> str:
    """The hypertable a continuous aggregate stores its buckets in (what its refresh policy writes)."""
    ((schema, table),) = fetch(conn, "SELECT materialization_hypertable_schema, materialization_hypertable_name"
                                     " FROM timescaledb_information.continuous_aggregates WHERE view_name = %s",
                               (view,))
    return f'"{schema}"."{table}"'


def group_by(conn, unit: str) -> list[tuple]:
    return fetch(conn, f"SELECT date_trunc('{unit}', time, 'UTC'), sensor_id, metric, count(*), sum(value),"
                       " min(value), max(value) FROM readings GROUP BY 1, 2, 3 ORDER BY 2, 3, 1")


def rollup(conn, relation: str) -> list[tuple]:
    # relation: a view name or materialized(), never input.
    return fetch(conn, f"SELECT bucket, sensor_id, metric, readings_count, value_sum, value_min, value_max"
                       f" FROM {relation} ORDER BY sensor_id, metric, bucket")


def readings(sensor: str, start: datetime, count: int, step: timedelta = MINUTE) -> list[ReadingRow]:
    """Values multiples of 1/4: every sum is exact, so rollups compare exactly."""
    return [ReadingRow(start + i * step, sensor, "pm25", (i % 37) / 4) for i in range(count)]


# -- the background jobs ----------------------------------------------------------------------


@pytest.mark.servers("timescale")
def test_a_backfill_up_to_now_leaves_the_open_hour_to_the_live_feed(db) -> None:
    # The demo's first start: a backfill ending now, then the live feed in the same hour and minute.
    # Had the backfill materialized the open buckets, the feed's readings would be missing from them
    # until the policy's window passed them (an hour for readings_1h).
    now = datetime.now(UTC)
    history = pd.DataFrame(readings("R1", now - 2 * HOUR, 120), columns=["time", "sensor_id", "metric", "value"])
    store.backfill_readings(db, [history])
    store.write_ingest_batch(db, IngestBatch(readings=[ReadingRow(now, "R1", "pm25", 9.0),
                                                       ReadingRow(now, "R2", "pm25", 9.0)]))
    assert rollup(db, "readings_1h") == group_by(db, "hour")
    assert rollup(db, "readings_1m") == group_by(db, "minute")


@pytest.mark.servers("timescale")
def test_refresh_policies_materialize_what_the_ingest_wrote(db) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    store.write_ingest_batch(db, IngestBatch(readings=readings("R1", now - 3 * HOUR, 90)
                                             + readings("R2", now - 2 * HOUR, 30, timedelta(seconds=20))))
    assert rollup(db, "readings_1m") == group_by(db, "minute")  # in real time, whatever is materialized yet

    run_job(db, "policy_refresh_continuous_aggregate", "readings_1m")
    run_job(db, "policy_refresh_continuous_aggregate", "readings_1h")

    # Each policy leaves out the buckets that end within its end_offset of now (one bucket): still filling.
    assert rollup(db, materialized(db, "readings_1m")) == group_by(db, "minute")
    assert rollup(db, materialized(db, "readings_1h")) == [
        row for row in group_by(db, "hour") if row[0] + 2 * HOUR <= now]
    assert store.refresh_rollups(db) == 0  # the plain path's queue does not exist here


@pytest.mark.servers("timescale")
def test_compression_policy_compresses_old_chunks_and_late_readings_still_go_in(db) -> None:
    now = datetime.now(UTC)
    # Each day's readings within one daily chunk at any hour the test runs: they began at "now - 1 h" and
    # "now - 10 days" once, and crossed midnight (three chunks) for an hour of every day.
    yesterday = now.replace(hour=0, minute=0, second=0, microsecond=0) - DAY
    old_start = yesterday - 9 * DAY + 6 * HOUR
    old = readings("C1", old_start, 60)  # older than compress_after (7 days), within retention (90)
    store.write_ingest_batch(db, IngestBatch(readings=old + readings("C1", yesterday + 12 * HOUR, 5)))

    run_job(db, "policy_compression", "readings")

    chunks = fetch(db, "SELECT range_end <= %s, is_compressed FROM timescaledb_information.chunks"
                       " WHERE hypertable_name = 'readings' ORDER BY range_start", (now - 7 * DAY,))
    assert chunks == [(True, True), (False, False)]  # the old day compressed, yesterday's not
    # A late reading into the compressed chunk, and one redelivered: stored once, as on any chunk.
    late = store.write_ingest_batch(db, IngestBatch(readings=[
        ReadingRow(old_start + 30 * MINUTE + timedelta(seconds=30), "C1", "pm25", 99.0), old[3]]))
    assert (late.readings_inserted, late.readings_duplicate) == (1, 1)
    assert store.count_rows(db, "readings") == len(old) + 5 + 1
    assert rollup(db, "readings_1m") == group_by(db, "minute")


@pytest.mark.servers("timescale")
def test_retention_policies_drop_old_chunks_and_apply_retention_leaves_them_to_the_jobs(db) -> None:
    now = datetime.now(UTC)
    ages = [200 * DAY, 100 * DAY, 10 * DAY, HOUR]  # retention: 90 days
    store.write_ingest_batch(db, IngestBatch(
        readings=[ReadingRow(now - age, "T1", "pm25", 1.0) for age in ages],
        unit_positions=[UnitPositionRow(now - age, "FD-1", 1.0, 2.0, "busy", "fire", None, None) for age in ages],
        rejects=[RejectRow(now - age, "t", "r", "p") for age in ages],
    ))

    # apply_retention deletes only the plain tables; the hypertables are the jobs' (whole chunks, no DELETE).
    assert store.apply_retention(db, now) == {"rejects": 2, "login_attempts": 0}
    assert store.count_rows(db, "readings") == len(ages)
    run_job(db, "policy_retention", "readings")
    run_job(db, "policy_retention", "unit_positions")

    kept = [now - age for age in ages[2:]]
    assert [t for (t,) in fetch(db, "SELECT time FROM readings ORDER BY time")] == kept
    assert [t for (t,) in fetch(db, "SELECT time FROM unit_positions ORDER BY time")] == kept



@pytest.mark.servers("timescale")
def test_run_due_jobs_runs_each_job_at_its_own_schedule_and_only_then(db) -> None:
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)  # every schedule's slot starts
    store.write_ingest_batch(db, IngestBatch(readings=readings("R1", midnight - 3 * HOUR, 90)))
    jobs = store.timescale_jobs(db)

    def ran_at(moment: datetime) -> list[tuple[str, str]]:
        runs = store.run_due_timescale_jobs(db, moment)
        assert [run.error for run in runs] == [None] * len(runs)
        return [(run.job.kind, run.job.relation) for run in runs]

    # TimescaleDB's scheduler has them (these test servers run none), and none has run: all overdue.
    before = store.timescale_job_health(db)
    assert {(h.runner, h.last_success, h.error) for h in before} == {(store.jobs.SCHEDULER, None, None)}
    assert all(h.overdue(midnight) for h in before)
    # None has run yet: all of them, the most frequent first.
    assert ran_at(midnight) == [(job.kind, job.relation) for job in sorted(
        jobs, key=lambda job: (job.schedule_interval, job.job_id))]
    assert rollup(db, materialized(db, "readings_1m")) == group_by(db, "minute")  # they did run
    # Taken off TimescaleDB's scheduler: the command alone runs them now.
    assert fetch(db, "SELECT DISTINCT scheduled FROM timescaledb_information.jobs"
                     " WHERE hypertable_schema = 'public'") == [(False,)]
    refreshes = [("refresh", "readings_1m"), ("refresh", "readings_1h")]  # every minute
    assert ran_at(midnight + timedelta(seconds=59)) == []
    assert ran_at(midnight + MINUTE) == refreshes
    assert ran_at(midnight + MINUTE + timedelta(seconds=30)) == []
    assert ran_at(midnight + 3 * MINUTE) == refreshes  # a missed minute: once, not twice
    assert ran_at(midnight + 12 * HOUR) == [*refreshes, ("compression", "readings")]  # every 12 hours
    assert sorted(ran_at(midnight + DAY)) == sorted((job.kind, job.relation) for job in jobs)  # retention: daily

    health = store.timescale_job_health(db)
    assert {(h.runner, h.last_success, h.error) for h in health} == {(store.jobs.RUN_JOBS, midnight + DAY, None)}
    assert not any(h.overdue(midnight + DAY + MINUTE) for h in health)
    assert [h.job.kind for h in health if h.overdue(midnight + DAY + 3 * MINUTE)] == ["refresh", "refresh"]


@pytest.mark.servers("timescale")
def test_a_job_that_fails_is_recorded_and_the_others_still_run(db, database_url: str) -> None:
    now = datetime.now(UTC)
    store.write_ingest_batch(db, IngestBatch(readings=readings("R1", now - 2 * HOUR, 30)))
    locker = store.connect(database_url)
    try:
        with locker.cursor() as cur:  # held until the end: the refreshes must read readings
            cur.execute("LOCK TABLE readings IN ACCESS EXCLUSIVE MODE")
        with db.cursor() as cur:
            cur.execute("SET lock_timeout = '200ms'")
        db.commit()
        runs = store.run_due_timescale_jobs(db, now)
    finally:
        locker.close()
    errors = {(run.job.kind, run.job.relation): run.error for run in runs}
    assert len(runs) == len(store.timescale_jobs(db))  # a failure does not stop the others
    assert errors[("refresh", "readings_1m")] == "canceling statement due to lock timeout"
    assert errors[("compression", "readings")] is None
    health = {(h.job.kind, h.job.relation): h for h in store.timescale_job_health(db)}
    assert health[("refresh", "readings_1m")].error == "canceling statement due to lock timeout"
    assert health[("refresh", "readings_1m")].last_success is None
    assert health[("compression", "readings")].last_success == now


def test_run_due_jobs_has_nothing_to_do_on_plain_postgresql(db, database_url: str) -> None:
    assert store.run_due_timescale_jobs(db, datetime.now(UTC)) == []
    assert store.timescale_job_health(db) == []
    done = cityops("db", "run-jobs", database_url=database_url)
    assert done.returncode == 0 and "no TimescaleDB jobs: the database is plain PostgreSQL" in done.stdout, done.stderr


@pytest.mark.servers("timescale")
def test_cityops_db_run_jobs_runs_the_due_jobs_and_fails_in_one_line_when_one_fails(
        db, database_url: str) -> None:
    store.write_ingest_batch(db, IngestBatch(readings=readings("R1", datetime.now(UTC) - 2 * HOUR, 30)))
    done = cityops("db", "run-jobs", database_url=database_url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len([line for line in done.stdout.splitlines() if ": done in " in line]) == len(store.timescale_jobs(db))

    fetch(db, "UPDATE timescale_job_runs SET started_at = started_at - INTERVAL '1 day' RETURNING 1")  # a day later
    locker = store.connect(database_url)
    try:
        with locker.cursor() as cur:
            cur.execute("LOCK TABLE readings IN ACCESS EXCLUSIVE MODE")
        failed = cityops("db", "run-jobs", database_url=database_url, PGOPTIONS="-c lock_timeout=200ms")
    finally:
        locker.close()
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert re.search(r"^refresh of readings_1m \(job \d+\): failed: canceling statement due to lock timeout",
                     failed.stdout, re.MULTILINE), failed.stdout
    assert re.search(r"^compression of readings \(job \d+\): done in", failed.stdout, re.MULTILINE), failed.stdout
    errors = [line for line in failed.stderr.splitlines() if line.startswith("cityops: error:")]
    assert len(errors) == 1 and "refresh of readings_1m" in errors[0], failed.stderr

# -- a half-installed or mismatched TimescaleDB -------------------------------------------------


@pytest.fixture(scope="module")
def half_installed() -> Iterator[str]:
    """A server with TimescaleDB installed but not in shared_preload_libraries (the commonest mistake)."""
    from tests.integration.servers import timescale_cluster_or_skip

    yield from timescale_cluster_or_skip(preload=False)


@pytest.fixture
def new_half_installed(half_installed: str) -> Iterator[Callable[[], str]]:
    """Makes empty databases on the half-installed server, dropped after the test; returns their URLs."""
    server, names = PgServer("timescale", half_installed), []

    def make() -> str:
        names.append(create_database(server))
        return with_database(half_installed, names[-1])

    yield make
    for name in names:
        drop_database(server, name)


@pytest.mark.parametrize("asked", [True, None], ids=["required", "not-said"])
def test_half_installed_timescaledb_is_refused_in_one_line(new_half_installed: Callable[[], str],
                                                           asked: bool | None) -> None:
    """Required or not: plain tables there would fix the database's path for good, over a server
    meant for TimescaleDB. The connection stays alive; nothing was created."""
    conn = store.connect(new_half_installed())
    try:
        with pytest.raises(store.TimescaleUnusable) as refused:
            store.init_schema(conn, SchemaOptions(use_timescale=asked))
        assert conn.closed == 0 and fetch(conn, "SELECT 1") == [(1,)]  # not a dropped connection
        assert fetch(conn, "SELECT to_regclass('store_settings') IS NULL") == [(True,)]
    finally:
        conn.close()
    message = str(refused.value)
    assert "\n" not in message
    assert "not preloaded" in message and "shared_preload_libraries = 'timescaledb'" in message
    assert "restart PostgreSQL" in message and "--no-timescale" in message


def cityops(*args: str, database_url: str, **environment: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CITYOPS_DATABASE_URL": database_url, **environment}
    return subprocess.run([sys.executable, "-m", "cityops", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def test_cityops_db_init_on_a_half_installed_timescaledb(new_half_installed: Callable[[], str]) -> None:
    required = cityops("db", "init", "--timescale", database_url=new_half_installed())
    assert required.returncode == 1, required.stderr
    errors = [line for line in required.stderr.splitlines() if line.startswith("cityops: error:")]
    assert len(errors) == 1 and "shared_preload_libraries = 'timescaledb'" in errors[0], required.stderr
    assert "connection" not in required.stderr  # never "lost the connection … cursor already closed"

    detected = cityops("db", "init", database_url=new_half_installed())
    assert detected.returncode == 1, detected.stderr
    errors = [line for line in detected.stderr.splitlines() if line.startswith("cityops: error:")]
    assert len(errors) == 1 and "--no-timescale" in errors[0], detected.stderr

    plain = cityops("db", "init", "--no-timescale", database_url=new_half_installed())
    assert plain.returncode == 0 and "not preloaded" not in plain.stderr, plain.stderr


def test_a_timescaledb_database_on_a_server_that_stopped_preloading_it_is_refused(
    new_half_installed: Callable[[], str],
) -> None:
    conn = store.connect(new_half_installed())
    try:
        store.init_schema(conn, SchemaOptions(use_timescale=False))
        # As if set up with TimescaleDB while the server still preloaded it.
        with conn.cursor() as cur:
            cur.execute("UPDATE store_settings SET value = 'true' WHERE key = 'timescale'")
        conn.commit()
        for check in (store.require_schema, store.init_schema):
            with pytest.raises(store.TimescaleUnusable, match="set up with TimescaleDB.*does not preload it"):
                check(conn)
    finally:
        conn.close()


@pytest.mark.servers("timescale")
def test_a_database_whose_timescaledb_library_is_gone_is_refused_at_connect(
    new_database: Callable[[], str], pg_server: PgServer,
) -> None:
    url = new_database()
    conn = store.connect(url)
    try:
        store.init_schema(conn, pg_server.schema_options)
        # As after an upgrade that removed the library of the version this database has. The session ends
        # (FATAL) as the loaded library notices the change: what matters is the next one.
        conn.autocommit = True
        with contextlib.suppress(psycopg2.OperationalError), conn.cursor() as cur:
            cur.execute("UPDATE pg_extension SET extversion = '2.0.0' WHERE extname = 'timescaledb'")
    finally:
        conn.close()
    with pytest.raises(store.TimescaleUnusable) as refused:
        store.connect(url)
    message = str(refused.value)
    assert "\n" not in message
    assert "no TimescaleDB library 2.0.0" in message and "ALTER EXTENSION timescaledb UPDATE" in message
