"""How fast ``write_ingest_batch`` commits readings: ``python -m benchmarks store [SERVER_URL] [--rows N]``.

Creates a scratch database on the server, writes synthetic batches through the real code
path (COPY, dedupe, rollups, last_seen, commit), prints readings per second and drops the
database again. Scenarios:

- fresh: batches of new readings (N/10 sensors × 2 metrics × 5 minutes), the median of 10;
- duplicate: each of those batches again (all already stored: a redelivery);
- steady: N/2 sensors × 2 metrics all reporting once a minute, so every batch also updates
  every sensor's last_seen and every hourly rollup row it touches.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg2.extensions

from ingest.rows import ReadingRow
from store.connection import connect
from store.ingest import IngestBatch, write_ingest_batch
from store.registry import SensorRow, sync_sensors
from store.schema import init_schema
from store.scratch import scratch_database

DEFAULT_SERVER = os.environ.get("CITYOPS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def measure_write_rates(server_url: str, rows: int = 10_000, batches: int = 10) -> dict[str, float]:
    """Median readings/s per scenario, measured in a scratch database on ``server_url``."""
    with scratch_database(server_url, "cityops_bench") as url:
        conn = connect(url, application_name="cityops-bench")
        try:
            return _scenarios(conn, rows, batches)
        finally:
            conn.close()


def _scenarios(conn: psycopg2.extensions.connection, rows: int, batches: int) -> dict[str, float]:
    init_schema(conn)
    sensors = max(rows // 10, 1)
    steady_sensors = max(rows // 2, 1)
    sync_sensors(conn, [
        SensorRow(f"S{i:06d}", "air_quality", ("pm25", "pm10"), 0.0, 0.0, 60, None, None, {})
        for i in range(max(sensors, steady_sensors))
    ])
    fresh, duplicate, steady = [], [], []
    for k in range(batches):
        start = T0 + timedelta(minutes=5 * k)
        batch = IngestBatch(readings=[
            ReadingRow(start + timedelta(minutes=j, milliseconds=7 * i), f"S{i:06d}", metric, float(i % 100))
            for j in range(5) for i in range(sensors) for metric in ("pm25", "pm10")
        ])
        fresh.append(_rate(lambda b=batch: write_ingest_batch(conn, b).readings_inserted, len(batch.readings)))
        duplicate.append(_rate(lambda b=batch: write_ingest_batch(conn, b).readings_duplicate, len(batch.readings)))
    for k in range(batches):
        minute = T0 + timedelta(days=1, minutes=k)
        batch = IngestBatch(readings=[
            ReadingRow(minute + timedelta(milliseconds=7 * i), f"S{i:06d}", metric, float(i % 100))
            for i in range(steady_sensors) for metric in ("pm25", "pm10")
        ])
        steady.append(_rate(lambda b=batch: write_ingest_batch(conn, b).readings_inserted, len(batch.readings)))
    return {"fresh": statistics.median(fresh), "duplicate": statistics.median(duplicate),
            "steady": statistics.median(steady)}


def _rate(write: Callable[[], int], expected: int) -> float:
    began = time.perf_counter()
    counted = write()
    elapsed = time.perf_counter() - began
    if counted != expected:
        raise RuntimeError(f"benchmark batch counted {counted} of {expected} rows")
    return expected / elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks store", description=__doc__.splitlines()[0])
    parser.add_argument("server_url", nargs="?", default=DEFAULT_SERVER)
    parser.add_argument("--rows", type=int, default=10_000, help="readings per batch")
    parser.add_argument("--batches", type=int, default=10)
    args = parser.parse_args(argv)
    rates = measure_write_rates(args.server_url, args.rows, args.batches)
    for scenario, rate in rates.items():
        print(f"{scenario:>9}: {rate:>9,.0f} readings/s  ({args.rows:,}-reading batches, median of {args.batches})")

