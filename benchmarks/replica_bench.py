"""Past one machine, measured: ``python -m benchmarks replica [--seconds N] [--rows N]``.

Starts the tests' primary and streaming replica (tests/integration/servers.py ``replicated_cluster``:
two throw-away PostgreSQL clusters on loopback, ``pg_basebackup -R``) and prints:

- the replica's lag while the primary takes batches of readings as fast as one writer can
  (``write_ingest_batch``, ``--rows`` per batch, for ``--seconds``), sampled every 0.1 s: seconds
  (``now() - pg_last_xact_replay_timestamp()`` while WAL is left to replay) and bytes behind;
- the indicators' handover: two ``cityops indicators run`` (default schedule: a standby asks every
  5 s) on New York, the leader killed with SIGKILL: how long until the standby holds the lock, and
  until its first run is written.

Prints numbers; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import store
from ingest.rows import ReadingRow
from store.ingest import IngestBatch, write_ingest_batch
from store.registry import SensorRow, sync_sensors

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks replica")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of write load (default 20)")
    parser.add_argument("--rows", type=int, default=10_000, help="readings per batch (default 10,000)")
    args = parser.parse_args(argv)

    from tests.integration.servers import ServerMissing, replicated_cluster

    try:
        cluster = replicated_cluster()
        replication = cluster.__enter__()
    except ServerMissing as missing:
        print(f"replica: skipped: {missing}")
        return
    try:
        admin = store.connect(replication.primary.url, application_name="cityops-bench")
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute("CREATE DATABASE cityops")
        admin.close()
        primary_url = replication.primary.url.rsplit("/", 1)[0] + "/cityops"
        replica_url = replication.replica.url.rsplit("/", 1)[0] + "/cityops"
        _lag_under_load(primary_url, replica_url, replication, args.seconds, args.rows)
        _handover(primary_url)
    finally:
        cluster.__exit__(None, None, None)


def _lag_under_load(primary_url: str, replica_url: str, replication, seconds: float, rows: int) -> None:
    conn = store.connect(primary_url, application_name="cityops-bench")
    store.init_schema(conn, store.SchemaOptions(use_timescale=False))
    sensors = max(rows // 10, 1)
    sync_sensors(conn, [SensorRow(f"S{i:06d}", "air_quality", ("pm25", "pm10"), 0.0, 0.0, 60, None, None, {})
                        for i in range(sensors)])
    replication.caught_up()
    stop = threading.Event()
    written = [0]

    def load() -> None:
        k = 0
        while not stop.is_set():
            start = T0 + timedelta(minutes=5 * k)
            batch = IngestBatch(readings=[
                ReadingRow(start + timedelta(minutes=j, milliseconds=7 * i), f"S{i:06d}", metric, float(i % 100))
                for j in range(5) for i in range(sensors) for metric in ("pm25", "pm10")])
            written[0] += write_ingest_batch(conn, batch).readings_inserted
            k += 1

    primary = store.connect(primary_url, application_name="cityops-bench")
    replica = store.connect(replica_url, application_name="cityops-bench")
    writer = threading.Thread(target=load)
    started = time.monotonic()
    writer.start()
    lags, behinds = [], []
    while time.monotonic() - started < seconds:
        lag = store.replica_lag(primary, replica)
        lags.append(lag.seconds or 0.0)
        behinds.append(lag.bytes or 0)
        time.sleep(0.1)
    stop.set()
    writer.join()
    elapsed = time.monotonic() - started
    caught = time.monotonic()
    replication.caught_up()
    print(f"replica lag while the primary stored {written[0] / elapsed:,.0f} readings/s ({written[0]:,} in "
          f"{elapsed:.0f} s, batches of {rows:,}; {len(lags)} samples): seconds p50 {_q(lags, 50):.2f}, "
          f"p95 {_q(lags, 95):.2f}, max {max(lags):.2f}; bytes behind p50 {_q(behinds, 50) / 1024:,.0f} KiB, "
          f"p95 {_q(behinds, 95) / 1024:,.0f} KiB, max {max(behinds) / 1024:,.0f} KiB; caught up "
          f"{time.monotonic() - caught:.2f} s after the load stopped")
    for one in (conn, primary, replica):
        one.close()


def _q(values: list[float], percent: int) -> float:
    return statistics.quantiles(values, n=100)[percent - 1] if len(values) > 1 else values[0]


def _handover(url: str) -> None:
    from city import city_folder, load_city
    from cityops.vitals import LEADER_LOCK
    from ingest.service import sync_registry

    conn = store.connect(url, application_name="cityops-bench")
    sync_registry(conn, load_city(city_folder("nyc")))
    conn.autocommit = True
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CITYOPS_")},
           "CITYOPS_DATABASE_URL": url, "CITYOPS_CITY": "nyc"}
    command = [sys.executable, "-m", "cityops", "indicators", "run"]
    processes = [subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for _ in range(2)]
    try:
        deadline = time.monotonic() + 300
        while store.last_run_time(conn) is None or len(_roles(conn)) < 2:
            if time.monotonic() > deadline:
                print("indicators handover: the processes did not start")
                return
            time.sleep(0.1)
        holder = store.leader_of(conn, LEADER_LOCK)
        leader = next(p for p in processes if _holds(conn, p.pid))
        killed_at, killed = time.monotonic(), datetime.now(UTC)
        leader.send_signal(signal.SIGKILL)
        leader.wait()
        while store.leader_of(conn, LEADER_LOCK) in (None, holder):
            time.sleep(0.02)
        taken = time.monotonic() - killed_at
        while (store.last_run_time(conn) or killed) <= killed:
            time.sleep(0.05)
        first_run = time.monotonic() - killed_at
        print(f"indicators handover (default schedule, a standby asks every 5 s): the leader killed with SIGKILL; "
              f"the standby held the lock {taken:.1f} s later and had written its first run {first_run:.1f} s later "
              "(a run of New York's vital signs takes seconds)")
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=60)
        conn.close()


def _roles(conn: store.Connection) -> list[str]:
    return [s.detail["role"] for s in store.read_status(conn) if s.kind == "indicators" and s.detail
            and s.detail.get("role") and s.state != "stopped"]


def _holds(conn: store.Connection, pid: int) -> bool:
    """Whether OS process ``pid`` is the leader (its heartbeat says so)."""
    return any(s.pid == pid and s.detail and s.detail.get("role") == "leader" for s in store.read_status(conn))
