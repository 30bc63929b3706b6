"""``cityops simulate``: publish the city's simulated feeds over MQTT, or backfill history.

The models live in :mod:`ingest.synthetic_city` (pure); this module runs them against the
clock, publishes each reading, event and unit position as docs/contract.md describes, and for
``--backfill`` writes history straight into the store.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from city import City, city_folder, load_city, report_categories
from ingest.mqtt import BrokerAddress, MqttClient
from ingest.synthetic_city import CitySimulation
from store import backfill_readings, connect

log = logging.getLogger(__name__)

# History is written at this step: finer than the indicator windows need, coarse enough that
# 30 days for a city of 2,500 sensors stays in the tens of millions of rows.
BACKFILL_STEP = timedelta(minutes=5)


@dataclass(frozen=True)
class SimulatorOptions:
    city: str
    seed: int = 1
    sensors: int | None = None  # publish for this many sensors of the registry (default: all)
    rate: float = 1.0  # report this many times as often as the registry's expected intervals
    scenario: str | None = None
    duration_s: float | None = None  # stop after this long (default: run until stopped)
    protocol: str = "auto"
    # A scenario's hours pass in minutes: with a duration the scenario fills the run, and its
    # rain falls this many times as fast (a 2-hour storm's 100 mm in 10 minutes at 12).
    speed: float = 1.0


def parse_duration(text: str) -> timedelta:
    """``30d``, ``12h``, ``45m``, ``90s`` (or plain seconds) → timedelta."""
    text = text.strip().lower()
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    try:
        seconds = float(text[:-1]) * units[text[-1]] if text and text[-1] in units else float(text)
    except ValueError:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30d, 12h, 45m, 90s)") from None
    if not np.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"a duration must be positive: {text!r}")
    return timedelta(seconds=seconds)


def build_simulation(city: City, options: SimulatorOptions) -> CitySimulation:
    sensors = city.sensors
    if options.sensors is not None and options.sensors < len(sensors):
        sensors = sensors.sample(n=options.sensors, random_state=options.seed).sort_values("sensor_id")
    if options.rate <= 0:
        raise ValueError("--rate must be positive")
    sensors = sensors.assign(expected_interval_s=np.maximum(1, sensors["expected_interval_s"] / options.rate))

    def contains(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        return city.locator.locate_rows(lon, lat)[:, 0] >= 0

    return CitySimulation(
        sensors,
        city.units,
        # Simulated people report; the alarms come from the indicators, in their own categories.
        {key: category.domain for key, category in report_categories(city.categories).items()},
        city.config.timezone,
        options.seed,
        contains=contains,
    )


def publish_live(
    options: SimulatorOptions,
    mqtt_url: str,
    stop: threading.Event,
    *,
    say: Callable[[str], None] = log.info,
) -> dict[str, int]:
    """Publish readings, events and unit positions in real time until ``stop`` or the duration."""
    city = load_city(city_folder(options.city))
    simulation = build_simulation(city, options)
    # One client id per process: a scenario run beside the demo's simulator must not push it off the broker.
    client = MqttClient(BrokerAddress.from_url(mqtt_url), f"cityops-simulator-{city.id}-{os.getpid()}",
                        persistent=False, protocol=options.protocol)
    client.connect()
    prefix = f"cityops/{city.id}"
    counts = {"readings": 0, "events": 0, "unit_positions": 0}
    started = datetime.now(UTC)
    if options.scenario:
        length = timedelta(seconds=options.duration_s) if options.duration_s else None
        run = simulation.start_scenario(options.scenario, started, duration=length, speed=options.speed)
        say(f"scenario {options.scenario} started at {run.area[1]:.4f}, {run.area[0]:.4f} (lat, lon), "
            f"until {run.end:%H:%M:%S} UTC" + (f", {options.speed:g}× as fast" if options.speed != 1 else ""))
    last = started
    last_said = time.monotonic()
    try:
        while not stop.is_set():
            now = datetime.now(UTC)
            if options.duration_s is not None and (now - started).total_seconds() >= options.duration_s:
                break
            for sensor_id, values in simulation.readings_at(now, simulation.due_sensors(now)):
                client.publish(f"{prefix}/readings/{sensor_id}",
                               json.dumps(simulation.payload_for(sensor_id, values, now)))
                counts["readings"] += len(values)
            for event in simulation.events_between(last, now):
                client.publish(f"{prefix}/events", json.dumps(event))
                counts["events"] += 1
            for unit_id, payload in simulation.unit_updates_at(now):
                client.publish(f"{prefix}/units/{unit_id}", json.dumps(payload))
                counts["unit_positions"] += 1
            last = now
            if time.monotonic() - last_said >= 10:
                last_said = time.monotonic()
                say(f"simulate: published {counts['readings']:,} readings, {counts['events']:,} events, "
                    f"{counts['unit_positions']:,} unit positions")
            stop.wait(max(0.0, 1.0 - (datetime.now(UTC) - now).total_seconds()))
        client.wait_published(30)
    finally:
        client.close()
    return counts


def backfill(
    options: SimulatorOptions,
    database_url: str,
    period: timedelta,
    *,
    say: Callable[[str], None] = log.info,
    end: datetime | None = None,
) -> int:
    """Write ``period`` of simulated history ending now straight into the store; returns new readings."""
    city = load_city(city_folder(options.city))
    simulation = build_simulation(city, options)
    end = end or datetime.now(UTC).replace(second=0, microsecond=0)
    start = end - period
    total_steps = period / BACKFILL_STEP
    started = time.monotonic()

    def progress(rows: int, last_time: datetime) -> None:
        done = (last_time - start) / period
        say(f"backfill: {done:6.1%} of {total_steps:,.0f} steps, {rows:,} readings, "
            f"{rows / max(time.monotonic() - started, 1e-9):,.0f}/s")

    chunks = (frame.assign(sensor_id=frame["sensor_id"].astype(str), metric=frame["metric"].astype(str))
              for frame in simulation.readings_chunks(start, end, BACKFILL_STEP))
    conn = connect(database_url, application_name="cityops-backfill")
    try:
        written = backfill_readings(conn, chunks, progress=progress)
    finally:
        conn.close()
    say(f"backfill: {written:,} readings from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC "
        f"in {time.monotonic() - started:.0f} s")
    return written
