"""The simulator's feeds pass the ingest untouched, and its history lands in the store."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

import store
from city import city_folder, load_city
from ingest.parse import IngestContext, parse_message
from ingest.service import locate_function
from ingest.simulator_process import SimulatorOptions, backfill, build_simulation, parse_duration, publish_live
from tests.integration.test_ingest import count, query, running_worker, wait_for


def test_every_simulated_payload_is_valid_for_the_ingest(nyc) -> None:
    simulation = build_simulation(nyc, SimulatorOptions(city="nyc", seed=5, sensors=300))
    context = IngestContext(city_id="nyc", sensors={s: (x, y) for s, x, y in nyc.sensors[["sensor_id", "lon", "lat"]]
                                                    .itertuples(index=False)},
                            categories=frozenset(nyc.categories), locate=locate_function(nyc),
                            retention=timedelta(days=90))
    start = datetime.now(UTC).replace(microsecond=0)
    simulation.start_scenario("rainstorm", start)
    readings = rejects = events = positions = 0
    previous = start
    for second in range(0, 900, 15):
        now = start + timedelta(seconds=second)
        for sensor_id, values in simulation.readings_at(now, simulation.due_sensors(now)):
            parsed = parse_message(f"cityops/nyc/readings/{sensor_id}",
                                   json.dumps(simulation.payload_for(sensor_id, values, now)).encode(), now, context)
            readings += len(parsed.readings)
            rejects += len(parsed.rejects)
        for event in simulation.events_between(previous, now):
            parsed = parse_message("cityops/nyc/events", json.dumps(event).encode(), now, context)
            events += len(parsed.events)
            rejects += len(parsed.rejects)
        for unit_id, payload in simulation.unit_updates_at(now):
            parsed = parse_message(f"cityops/nyc/units/{unit_id}", json.dumps(payload).encode(), now, context)
            positions += len(parsed.unit_positions)
            rejects += len(parsed.rejects)
        previous = now
    assert rejects == 0
    assert readings > 300 and events > 0 and positions > 300


def test_the_simulator_publishes_and_the_ingest_stores_it(ingest_db, broker) -> None:
    stop = threading.Event()
    options = SimulatorOptions(city="nyc", seed=3, sensors=200, rate=20, duration_s=6)
    with running_worker(ingest_db, broker.url):
        counts = publish_live(options, broker.url, stop)
        wait_for(lambda: count(ingest_db, "readings") >= counts["readings"] * 0.99, what="the simulated readings")
    assert counts["readings"] > 200
    assert count(ingest_db, "rejects") == 0
    assert count(ingest_db, "unit_positions") == counts["unit_positions"]


def test_backfill_writes_history_and_exact_rollups(db, database_url) -> None:
    end = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    options = SimulatorOptions(city="nyc", seed=9, sensors=40)
    written = backfill(options, database_url, timedelta(hours=3), end=end)
    assert written == count(database_url, "readings") > 40 * 30
    again = backfill(options, database_url, timedelta(hours=3), end=end)
    assert again == 0  # a second run adds nothing
    mismatches = query(database_url, """
        SELECT count(*) FROM (
            SELECT date_trunc('hour', time, 'UTC') AS bucket, sensor_id, metric, count(*) AS n, sum(value) AS s
            FROM readings GROUP BY 1, 2, 3) truth
        FULL JOIN readings_1h r USING (bucket, sensor_id, metric)
        WHERE r.readings_count IS DISTINCT FROM truth.n OR abs(r.value_sum - truth.s) > 1e-6""")
    assert mismatches == [(0,)]
    first, last = query(database_url, "SELECT min(time), max(time) FROM readings")[0]
    assert end - timedelta(hours=3) <= first and last < end
    assert store.server_info(store.connect(database_url))["schema_version"] >= 3


@pytest.mark.parametrize(("text", "seconds"), [("30d", 2_592_000), ("12h", 43_200), ("45m", 2_700), ("90s", 90),
                                               ("120", 120), ("1.5h", 5_400)])
def test_durations_are_read_with_units(text: str, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("bad", ["", "soon", "-5m", "0s", "nanh", "infd"])
def test_bad_durations_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_a_backfill_computes_the_vital_signs_of_its_period_too(db, database_url, monkeypatch) -> None:
    # docs/vital-signs.md §4.8: a first run of the demo has its 24 h charts, replay and reports.
    from cityops.backfill import backfill_history
    from ingest.service import sync_registry

    sync_registry(db, load_city(city_folder("nyc")))
    said: list[str] = []
    live_rollups: list[int] = []

    def say(line: str) -> None:  # the live process rolls up after each of its runs, beside the backfill
        said.append(line)
        if line.startswith("vital signs:"):
            live_rollups.append(store.rollup_hours(db, datetime.now(UTC), 300))

    options = SimulatorOptions(city="nyc", seed=9, sensors=60)
    readings, runs = backfill_history(options, database_url, timedelta(hours=2), say=say)
    assert readings > 0 and runs == 24  # one run every 5 minutes of the 2 hours
    times = query(database_url, "SELECT count(DISTINCT time), min(time), max(time) FROM indicator_values")[0]
    assert times[0] >= 24 and times[2] - times[1] >= timedelta(minutes=110)
    # Every run saw fresh readings: the city's index was measured at each one, never grey.
    grey = query(database_url, "SELECT time, explanation FROM indicator_values WHERE scope_code = 'nyc'"
                               " AND domain = 'index' AND level IS NULL")
    assert not grey, [row[0] for row in grey]  # the run times that saw nothing fresh
    # Closed hours, for reports: rolled up once the backfill had written them, never half-written.
    assert live_rollups and set(live_rollups) == {0}
    assert query(database_url, "SELECT count(*) FROM indicator_hourly")[0][0] > 0
    rolled_up = "SELECT hour, sum(samples) FROM indicator_hourly GROUP BY 1 ORDER BY 1"
    written = ("SELECT date_trunc('hour', time), count(*) FROM indicator_values"
               " WHERE time < (SELECT max(hour) + interval '1 hour' FROM indicator_hourly) GROUP BY 1 ORDER BY 1")
    assert query(database_url, rolled_up) == query(database_url, written)
    assert query(database_url, "SELECT count(*) FROM sensor_alarms")[0][0] == 0  # the past files no incidents now
    assert query(database_url, "SELECT count(*) FROM incidents")[0][0] == 0
    assert any("vital signs: 24 of 24 runs" in line for line in said)
    _, again = backfill_history(options, database_url, timedelta(hours=2), say=said.append)
    assert again == 0 and "not recomputed" in said[-1]  # computed already: left as it is
