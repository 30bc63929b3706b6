"""TimescaleDB beside plain PostgreSQL: ``python -m benchmarks timescale [--days N] [--sensors N] [--rows N]``.

Starts the tests' throw-away TimescaleDB cluster (tests/integration/servers.py; TimescaleDB from
scripts/ensure-timescaledb.sh) and prints, in one run:

- the ingest rate (``write_ingest_batch``, store_bench's scenarios) on TimescaleDB and on a twin
  cluster without it (same programs and settings), and on the machine's server (``CITYOPS_TEST_PG``);
- the compression ratio of ``--days`` of the demo's simulated readings (the demo's own
  backfill: New York, its sensors at the backfill step), every chunk compressed as the
  compression job does once the data is older than ``compress_after_days``;
- the continuous aggregates' lag: how long the refresh job takes to materialize one more
  minute of the demo's readings after that history, and so the worst lag, schedule interval
  plus that time (queries see new readings at once anyway: the aggregates are real-time).

Prints numbers; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import logging
import time
from datetime import UTC, datetime, timedelta

import psycopg2.extensions

import store
from benchmarks.store_bench import DEFAULT_SERVER, measure_write_rates
from store.scratch import scratch_database


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks timescale")
    parser.add_argument("--days", type=float, default=7.0, help="days of demo history to compress (default 7)")
    parser.add_argument("--sensors", type=int, default=None, help="demo sensors (default: all of New York's)")
    parser.add_argument("--rows", type=int, default=10_000, help="readings per ingest batch (default 10,000)")
    args = parser.parse_args(argv)

    from tests.integration.servers import ServerMissing, timescale_cluster

    # Twin clusters, the same programs and settings (no fsync: throw-away), TimescaleDB preloaded in
    # one only: the difference is TimescaleDB's, not the machine's server configuration.
    try:
        timescale, plain = timescale_cluster(), timescale_cluster(preload=False)
        timescale_url, plain_url = timescale.__enter__(), plain.__enter__()
    except ServerMissing as missing:
        raise SystemExit(f"no TimescaleDB: {missing}") from None
    logging.getLogger("store.schema").setLevel(logging.ERROR)  # "installed but not preloaded": on purpose
    try:
        print("ingest rate, readings/s (write_ingest_batch; median of 10 batches; twin throw-away clusters):",
              flush=True)
        for name, url in (("plain PostgreSQL", plain_url), ("TimescaleDB", timescale_url)):
            rates = measure_write_rates(url, args.rows)
            print(f"  {name:17} " + "  ".join(f"{k} {v:,.0f}" for k, v in rates.items()), flush=True)
        print(f"  (the machine's server, {DEFAULT_SERVER.rsplit('@', 1)[-1]}, durable settings:)", flush=True)
        rates = measure_write_rates(DEFAULT_SERVER, args.rows)
        print(f"  {'plain PostgreSQL':17} " + "  ".join(f"{k} {v:,.0f}" for k, v in rates.items()), flush=True)
        with scratch_database(timescale_url, "cityops_bench") as url:
            _history(url, timedelta(days=args.days), args.sensors)
    finally:
        plain.__exit__(None, None, None)
        timescale.__exit__(None, None, None)


def _history(url: str, period: timedelta, sensors: int | None) -> None:
    from cityops.backfill import backfill_readings
    from ingest.simulator_process import SimulatorOptions

    conn = store.connect(url, application_name="cityops-bench")
    try:
        report = store.init_schema(conn)
        assert report.timescale, "the cluster should have TimescaleDB"
        began = time.perf_counter()
        start, end, written = backfill_readings(SimulatorOptions(city="nyc", sensors=sensors), url, period,
                                                say=lambda line: None)
        print(f"{period.total_seconds() / 86400:g} days of demo readings: {written:,} written in"
              f" {time.perf_counter() - began:.0f} s (backfill, COPY)", flush=True)
        before, after, seconds = _compress_all(conn)
        print(f"compression: {before / 2**20:,.1f} MiB → {after / 2**20:,.1f} MiB, {before / after:.1f}×"
              f" ({seconds:.0f} s to compress)", flush=True)
        _lag(conn, end)
    finally:
        conn.close()


def _compress_all(conn: psycopg2.extensions.connection) -> tuple[int, int, float]:
    """Compress every chunk of readings, as the compression job does once old enough: (bytes before, after, s)."""
    began = time.perf_counter()
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT show_chunks('readings')")
            for (chunk,) in cur.fetchall():
                cur.execute("SELECT compress_chunk(%s, if_not_compressed => true)", (chunk,))
            cur.execute("SELECT sum(before_compression_total_bytes), sum(after_compression_total_bytes)"
                        " FROM hypertable_compression_stats('readings')")
            before, after = cur.fetchone()
    finally:
        conn.autocommit = False
    return int(before), int(after), time.perf_counter() - began


def _lag(conn: psycopg2.extensions.connection, end: datetime) -> None:
    """One more minute of readings from every sensor after the history, then the minute refresh job."""
    with conn.cursor() as cur:
        cur.execute("SELECT DISTINCT sensor_id, metric FROM readings WHERE time >= %s", (end - timedelta(hours=1),))
        keys = cur.fetchall()
        cur.execute("SELECT job_id, schedule_interval FROM timescaledb_information.jobs"
                    " WHERE proc_name = 'policy_refresh_continuous_aggregate' ORDER BY hypertable_name")
        jobs = cur.fetchall()  # readings_1h, readings_1m
    conn.commit()
    minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=2)
    store.write_ingest_batch(conn, store.IngestBatch(readings=[
        store.ReadingRow(minute + timedelta(seconds=i % 60), sensor, metric, 1.0)
        for i, (sensor, metric) in enumerate(keys)]))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for (job_id, schedule), view in zip(jobs, ("readings_1h", "readings_1m"), strict=True):
                began = time.perf_counter()
                cur.execute("CALL run_job(%s)", (job_id,))
                took = time.perf_counter() - began
                print(f"{view} refresh after a minute of {len(keys):,} sensor-metrics: {took:.2f} s;"
                      f" worst lag of a late reading = schedule {schedule} + that", flush=True)
    finally:
        conn.autocommit = False
