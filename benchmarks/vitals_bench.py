"""The indicators process: one full run for the bundled city (``python -m benchmarks vitals``).

In a scratch database: the city's registry cut to ``--sensors`` sensors, ``--history`` of
simulated readings written through the backfill, then ``--runs`` runs of
``cityops.vitals.run_once`` each 30 s after the last. Prints the median and the worst of
every stage — reading the window statistics from the rollups, scoring the sensors,
hysteresis, the roll-up to every level (the "full recompute of all levels"), the trend, and
the write — and of the whole run. Nothing is asserted: these machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import statistics
from datetime import datetime, timedelta

import store
from benchmarks.store_bench import DEFAULT_SERVER
from city import city_folder, load_city
from cityops.vitals import VitalsContext, run_once
from ingest.service import registry_rows
from ingest.simulator_process import SimulatorOptions, backfill, parse_duration
from store.scratch import scratch_database


def seed_city(conn, url: str, city_id: str, sensors: int, history: timedelta) -> datetime:
    """The city's registry cut to ``sensors`` sensors (the ones the simulator picks) and
    ``history`` of their simulated readings, analysed; returns the time of the last reading."""
    city = load_city(city_folder(city_id))
    options = SimulatorOptions(city=city_id, seed=1, sensors=sensors)
    rows, units = registry_rows(city)
    # The same sensors the simulator picks (ingest.simulator_process samples them this way).
    chosen = set(city.sensors.sample(n=min(sensors, len(city.sensors)), random_state=options.seed)["sensor_id"])
    store.sync_sensors(conn, [row for row in rows if row.sensor_id in chosen])
    store.sync_units(conn, units)
    backfill(options, url, history, say=lambda line: None)
    store.refresh_rollups(conn)
    with conn.cursor() as cur:
        cur.execute("ANALYZE")  # what autovacuum does soon after a bulk load: the steady state
        cur.execute("SELECT max(time), count(*) FROM readings")
        last, readings = cur.fetchone()
    conn.commit()
    print(f"{len(chosen):,} sensors, {readings:,} readings over {history}", flush=True)
    return last


def measure(server_url: str, city_id: str, sensors: int, history: timedelta, runs: int) -> dict[str, list[float]]:
    with scratch_database(server_url, "cityops_bench") as url:
        conn = store.connect(url, application_name="cityops-bench")
        try:
            store.init_schema(conn)
            last = seed_city(conn, url, city_id, sensors, history)
            ctx = VitalsContext.for_city(load_city(city_folder(city_id)))
            timings: dict[str, list[float]] = {}
            for number in range(runs + 1):
                result = run_once(conn, ctx, last + timedelta(seconds=30 * (number + 1)))
                if number == 0:
                    continue  # the first run writes every history row and fills the caches
                for stage, seconds in {**result.stages, "total": result.seconds}.items():
                    timings.setdefault(stage, []).append(seconds)
            return timings
        finally:
            conn.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks vitals", description=__doc__.splitlines()[0])
    parser.add_argument("server_url", nargs="?", default=DEFAULT_SERVER)
    parser.add_argument("--city", default="nyc")
    parser.add_argument("--sensors", type=int, default=2000)
    parser.add_argument("--history", default="1d", help="simulated history before the runs, e.g. 1d")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args(argv)
    timings = measure(args.server_url, args.city, args.sensors, parse_duration(args.history), args.runs)
    for stage, values in timings.items():
        print(f"{stage:>10}: median {statistics.median(values) * 1000:7.1f} ms, worst {max(values) * 1000:7.1f} ms"
              f"  ({len(values)} runs)")
