"""TimescaleDB beside plain PostgreSQL: ``python -m benchmarks timescale [--days N] [--sensors N] [--rows N]
[--lag-minutes N]``.

Starts the tests' throw-away TimescaleDB cluster (tests/integration/servers.py; TimescaleDB from
scripts/ensure-timescaledb.sh) and prints, in one run:

- the ingest rate (``write_ingest_batch``, store_bench's scenarios) on TimescaleDB and on a twin
  cluster without it (same programs and settings), and on the machine's server (``CITYOPS_TEST_PG``);
- the compression ratio of ``--days`` of the demo's simulated readings (the demo's own
  backfill: New York, its sensors at the backfill step), every chunk compressed as the
  compression job does once the data is older than ``compress_after_days``;
- the continuous aggregates' lag under the demo's load (``--lag-minutes``): readings streaming in
  at the demo's rate on top of that history, the refresh jobs run every schedule interval as
  cron runs them where the scheduler fails (docs/operations.md), and how far behind now each
  aggregate's materialized part is, sampled every 10 s (queries see new readings at once anyway:
  the aggregates are real-time).

``python -m benchmarks command-view --twins`` measures the command view on the same twin clusters.

Prints numbers; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
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
    parser.add_argument("--lag-minutes", type=float, default=10.0,
                        help="minutes of the demo's load to watch the continuous aggregates' lag under (default 10)")
    parser.add_argument("--no-ingest", action="store_true", help="skip the ingest rates")
    args = parser.parse_args(argv)

    with twin_clusters() as twins:
        if not args.no_ingest:
            _ingest_rates(twins, args.rows)
        with scratch_database(twins[TIMESCALE], "cityops_bench") as url:
            _history(url, timedelta(days=args.days), args.sensors)
            if args.lag_minutes > 0:
                _lag(url, args.lag_minutes, args.sensors)


def _ingest_rates(twins: dict[str, str], rows: int) -> None:
    print("ingest rate, readings/s (write_ingest_batch; median of 10 batches; twin throw-away clusters):",
          flush=True)
    for name, url in twins.items():
        rates = measure_write_rates(url, rows)
        print(f"  {name:17} " + "  ".join(f"{k} {v:,.0f}" for k, v in rates.items()), flush=True)
    print(f"  (the machine's server, {DEFAULT_SERVER.rsplit('@', 1)[-1]}, durable settings:)", flush=True)
    rates = measure_write_rates(DEFAULT_SERVER, rows)
    print(f"  {'plain PostgreSQL':17} " + "  ".join(f"{k} {v:,.0f}" for k, v in rates.items()), flush=True)


PLAIN, TIMESCALE = "plain PostgreSQL", "TimescaleDB"


@contextmanager
def twin_clusters() -> Iterator[dict[str, str]]:
    """Twin throw-away clusters (tests/integration/servers.py), the same programs and settings (no
    fsync), TimescaleDB preloaded in one only, so a difference is TimescaleDB's and not the machine's
    server configuration: the URLs of their ``postgres`` databases by :data:`PLAIN` and :data:`TIMESCALE`."""
    from tests.integration.servers import ServerMissing, timescale_cluster

    logging.getLogger("store.schema").setLevel(logging.ERROR)  # "installed but not preloaded": on purpose
    with ExitStack() as stack:
        try:
            urls = {PLAIN: stack.enter_context(timescale_cluster(preload=False)),
                    TIMESCALE: stack.enter_context(timescale_cluster())}
        except ServerMissing as missing:
            raise SystemExit(f"no TimescaleDB: {missing}") from None
        yield urls


def _history(url: str, period: timedelta, sensors: int | None) -> None:
    from cityops.backfill import backfill_readings
    from ingest.simulator_process import SimulatorOptions

    conn = store.connect(url, application_name="cityops-bench")
    try:
        report = store.init_schema(conn)
        assert report.timescale, "the cluster should have TimescaleDB"
        began = time.perf_counter()
        _, _, written = backfill_readings(SimulatorOptions(city="nyc", sensors=sensors), url, period,
                                                say=lambda line: None)
        print(f"{period.total_seconds() / 86400:g} days of demo readings: {written:,} written in"
              f" {time.perf_counter() - began:.0f} s (backfill, COPY)", flush=True)
        before, after, seconds = _compress_all(conn)
        print(f"compression: {before / 2**20:,.1f} MiB → {after / 2**20:,.1f} MiB, {before / after:.1f}×"
              f" ({seconds:.0f} s to compress)", flush=True)
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


_WATERMARK = ("SELECT _timescaledb_functions.to_timestamp(_timescaledb_functions.cagg_watermark(mat_hypertable_id))"
              " FROM _timescaledb_catalog.continuous_agg WHERE user_view_name = %s")


def _lag(url: str, minutes: float, sensors: int | None) -> None:
    """The continuous aggregates' lag under the demo's load, for ``minutes``: readings stream in at the
    demo's rate (the simulator's sensors, each at its own interval, written once a second with the
    ingest's batch write) while the refresh jobs run as cron runs them where TimescaleDB's scheduler
    fails (docs/operations.md): each every schedule interval, with ``CALL run_job``. Every 10 s:
    how far behind now each aggregate's materialized part ends (its watermark), and whether a query
    of ``readings_1m`` answers the minute being written (real-time: materialized part + raw readings)."""
    from city import city_folder, load_city
    from ingest.simulator_process import SimulatorOptions, build_simulation

    simulation = build_simulation(load_city(city_folder("nyc")), SimulatorOptions(city="nyc", sensors=sensors))
    conn = store.connect(url, application_name="cityops-bench-lag")
    refreshes = [job for job in store.timescale_jobs(conn) if job.proc_name == "policy_refresh_continuous_aggregate"]
    stop = threading.Event()
    written = {"readings": 0, "newest": None}
    took: dict[str, list[float]] = {job.relation: [] for job in refreshes}

    def stream() -> None:  # the ingest's writes, a batch a second
        writer = store.connect(url, application_name="cityops-bench-stream")
        try:
            while not stop.is_set():
                now = datetime.now(UTC)
                rows = [store.ReadingRow(now, sensor, metric, value)
                        for sensor, values in simulation.readings_at(now, simulation.due_sensors(now))
                        for metric, value in values.items()]
                if rows:
                    store.write_ingest_batch(writer, store.IngestBatch(readings=rows))
                    written["readings"] += len(rows)
                    written["newest"] = now
                stop.wait(max(0.0, 1.0 - (datetime.now(UTC) - now).total_seconds()))
        finally:
            writer.close()

    def cron(job: store.TimescaleJob) -> None:  # one line of crontab: the job every schedule interval
        runner = store.connect(url, application_name=f"cityops-bench-cron-{job.job_id}")
        try:
            while not stop.wait(job.schedule_interval.total_seconds()):
                took[job.relation].append(store.run_timescale_job(runner, job))
        finally:
            runner.close()

    # The steady state: the newest chunks uncompressed (the policy compresses only older ones; the
    # compression figure above compressed all), the history materialized (cron has been running).
    compress_after = timedelta(days=store.read_settings(conn).compress_after_days)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT count(decompress_chunk(c, if_compressed => true)) FROM show_chunks('readings',"
                    " newer_than => now() - %s) AS c", (compress_after,))
    conn.autocommit = False
    print(f"continuous-aggregate lag under the demo's load ({len(simulation.sensor_ids):,} sensors), the refresh"
          " jobs run by a cron-like loop at their schedule (CALL run_job):", flush=True)
    for job in refreshes:
        seconds = store.run_timescale_job(conn, job)
        print(f"  a refresh of {job.relation} before the stream (the backfill refreshed its own period):"
              f" {seconds:.1f} s", flush=True)

    threads = [threading.Thread(target=stream, daemon=True)]
    threads += [threading.Thread(target=cron, args=(job,), daemon=True) for job in refreshes]
    lags: dict[str, list[float]] = {job.relation: [] for job in refreshes}
    answered, samples = 0, 0
    began = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        while not stop.wait(10.0) and time.monotonic() - began < minutes * 60:
            with conn.cursor() as cur:
                now = datetime.now(UTC)
                for view in lags:
                    cur.execute(_WATERMARK, (view,))
                    lags[view].append((now - cur.fetchone()[0]).total_seconds())
                newest = written["newest"]
                cur.execute("SELECT max(bucket) FROM readings_1m WHERE bucket >= %s", (now - timedelta(minutes=5),))
                shown = cur.fetchone()[0]
            conn.commit()
            samples += 1
            answered += newest is not None and shown is not None and shown >= newest.replace(second=0, microsecond=0)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        conn.close()
    elapsed = time.monotonic() - began
    print(f"  {elapsed / 60:.0f} min streamed, {written['readings'] / elapsed:,.0f} readings/s", flush=True)
    for job in refreshes:
        seconds, runs = lags[job.relation], took[job.relation]
        ran = (f"{len(runs)} refreshes of median {statistics.median(runs):.2f} s, longest {max(runs):.2f} s" if runs
               else "no refresh in the window")
        print(f"  {job.relation}: materialized up to now − {_span(min(seconds))} … {_span(max(seconds))}"
              f" (median {_span(statistics.median(seconds))}); schedule {job.schedule_interval}, {ran}", flush=True)
    print(f"  a query of readings_1m answered the minute being written in {answered} of {samples} samples"
          " (real-time aggregation: the part not yet materialized is read from readings)", flush=True)


def _span(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds < 3600 else f"{seconds / 3600:.2f} h"
