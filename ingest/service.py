"""Wiring the ingest: city → context, registry sync, N supervised worker processes.

``run_workers`` is what ``cityops ingest --workers N`` runs. With N > 1 the workers share
one MQTT 5 shared subscription (``$share/…``), so the broker splits the messages between
them; with one worker a plain subscription is used (brokers without MQTT 5 support only
that). Ingest processes on several hosts join one share group (``IngestOptions.share_group``,
CITYOPS_MQTT_SHARE_GROUP), each under a name of its own (``IngestOptions.name``). Each worker
keeps a persistent session under a stable client id, so a worker that dies and comes back
receives everything it had not acknowledged: the broker keeps a dead member's unacknowledged
messages for it (Mosquitto also queues its share of new ones) rather than handing them to another.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from city import City, city_folder, load_city
from ingest.mqtt import BrokerAddress, MqttClient, MqttUnavailable
from ingest.parse import IngestContext
from ingest.worker import BatchLimits, Chore, IngestWorker
from store import (
    CategoryRow,
    Connection,
    SensorRow,
    UnitRow,
    apply_retention,
    connect,
    known_sensors,
    refresh_rollups,
    require_schema,
    retention_days,
    sync_categories,
    sync_sensors,
    sync_units,
)

log = logging.getLogger(__name__)

SHARE_GROUP = "cityops-ingest"
# How often the rollups catch up with the readings (their delay at most).
ROLLUP_REFRESH_S = 5.0


@dataclass(frozen=True)
class IngestOptions:
    """Everything a worker process needs to start on its own."""

    city: str
    database_url: str
    mqtt_url: str
    workers: int = 1
    protocol: str = "auto"
    limits: BatchLimits = BatchLimits()
    status_every_s: float = 5.0
    # The MQTT 5 share group the workers of every ingest host join (None: one host).
    share_group: str | None = None
    # This ingest's name among the hosts sharing the feed; part of its client ids (None: none).
    name: str | None = None

    def worker_id(self, city_id: str, index: int) -> str:
        """``<city>[-<name>]-<index>``: stable across restarts, so a worker finds its session again;
        its MQTT client id is ``cityops-ingest-`` and its process id ``ingest-`` followed by this."""
        return "-".join(part for part in (city_id, self.name, str(index)) if part)


def topic_filter(city_id: str, workers: int, share_group: str | None = None) -> str:
    """The subscription: shared when a share group is set or N > 1 workers split the feed."""
    base = f"cityops/{city_id}/#"
    group = share_group or (SHARE_GROUP if workers > 1 else None)
    return f"$share/{group}/{base}" if group else base


def stale_filters(city_id: str, current: str) -> list[str]:
    """The other modes' subscriptions, which a persistent session may hold from an earlier run
    (a session keeps every subscription it made: one left over would deliver everything twice).
    A share group renamed by hand leaves its old subscription: start once with the old name's
    filter dropped, or let the session expire."""
    base = f"cityops/{city_id}/#"
    return [other for other in (base, f"$share/{SHARE_GROUP}/{base}") if other != current]


def locate_function(city: City) -> Callable[[np.ndarray, np.ndarray], list[dict[str, str] | None]]:
    """Point → {level: code} at every level (None outside the city), for the parser."""
    levels = city.levels

    def locate(lon: np.ndarray, lat: np.ndarray) -> list[dict[str, str] | None]:
        frame = city.locator.locate(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        rows = frame.to_dict("records")
        return [
            None
            if row[levels[-1]] is None and row[levels[0]] is None
            else {level: row[level] for level in levels if row[level] is not None}
            for row in rows
        ]

    return locate


def registry_rows(city: City) -> tuple[list[SensorRow], list[UnitRow]]:
    """The city's sensors.csv and units.csv as store rows, located at every level."""
    locate = locate_function(city)
    sensor_scopes = locate(city.sensors["lon"].to_numpy(), city.sensors["lat"].to_numpy())
    sensors = [
        SensorRow(
            row.sensor_id,
            row.kind,
            tuple(row.metrics.split(";")),
            row.lon,
            row.lat,
            int(row.expected_interval_s),
            row.noise_zone or None,
            (scopes or {}).get(city.lowest_level),
            scopes or {},
        )
        for row, scopes in zip(city.sensors.itertuples(index=False), sensor_scopes, strict=True)
    ]
    unit_scopes = locate(city.units["lon"].to_numpy(), city.units["lat"].to_numpy())
    units = [
        UnitRow(row.unit_id, row.kind, row.name, row.lon, row.lat, (scopes or {}).get(city.lowest_level), scopes or {})
        for row, scopes in zip(city.units.itertuples(index=False), unit_scopes, strict=True)
    ]
    return sensors, units


def sync_registry(conn: Connection, city: City) -> None:
    """Make the database's sensors, units and incident categories those of ``city``'s folder."""
    sensors, units = registry_rows(city)
    sync_sensors(conn, sensors)
    sync_units(conn, units)
    sync_categories(conn, CategoryRow.from_categories(city.categories))


def prepare(options: IngestOptions) -> tuple[City, IngestContext]:
    """Load the city, sync its registry into the database and build the parser's context."""
    city = load_city(city_folder(options.city))
    conn = connect(options.database_url, application_name="cityops-ingest")
    try:
        require_schema(conn)
        sync_registry(conn, city)
        registered = known_sensors(conn)
        keep_days = retention_days(conn)
    finally:
        conn.close()
    context = IngestContext(
        city_id=city.id,
        sensors=dict(registered),
        categories=frozenset(city.categories),
        locate=locate_function(city),
        retention=timedelta(days=keep_days),
        self_registration=city.config.self_registration,
    )
    return city, context


def run_worker(options: IngestOptions, index: int, stop: threading.Event | None = None) -> None:
    """One worker until ``stop`` is set (or SIGTERM/SIGINT in a worker process)."""
    stop = stop or threading.Event()
    city, context = prepare(options)
    worker_id = options.worker_id(city.id, index)
    client = MqttClient(
        BrokerAddress.from_url(options.mqtt_url),
        f"cityops-ingest-{worker_id}",
        protocol=options.protocol,
        consumer=True,
    )
    subscription = topic_filter(city.id, options.workers, options.share_group)
    client.subscribe(subscription)
    for stale in stale_filters(city.id, subscription):
        client.drop_subscription(stale)
    client.connect()
    if subscription.startswith("$share/") and client.version != "5":
        client.close()
        # Some 3.1.1-only brokers (amqtt) acknowledge a $share subscription and deliver nothing.
        raise MqttUnavailable(f"a shared subscription ({options.workers} workers or a share group) needs MQTT 5; "
                              f"{client.address} speaks MQTT {client.version}: use --workers 1 without "
                              "CITYOPS_MQTT_SHARE_GROUP")
    worker = IngestWorker(
        client,
        lambda: connect(options.database_url, application_name=f"cityops-ingest-{index}"),
        context,
        process_id=f"ingest-{worker_id}",
        limits=options.limits,
        status_every_s=options.status_every_s,
        chores=worker_chores(index),
    )
    try:
        worker.run(stop)
    finally:
        client.close()


def retire(options: IngestOptions, stop: threading.Event | None = None) -> int:
    """Take this ingest's workers out of the feed for good (a host retired, or renamed): each one's
    session leaves its subscriptions, the messages the broker had kept for it are stored, and then the
    session is ended. Until that is done, a broker may keep giving an absent member its turn of new
    messages (Mosquitto does), which then wait for a process that never comes. Returns the messages
    stored; a session is ended only once all it held is stored."""
    stop = stop or threading.Event()
    city, context = prepare(options)
    stored = 0
    for index in range(options.workers):
        worker_id = options.worker_id(city.id, index)
        client = MqttClient(BrokerAddress.from_url(options.mqtt_url), f"cityops-ingest-{worker_id}",
                            protocol=options.protocol, consumer=True)
        current = topic_filter(city.id, options.workers, options.share_group)
        for subscription in (current, *stale_filters(city.id, current)):
            client.drop_subscription(subscription)  # on connecting: before anything else it asks
        client.connect()
        worker = IngestWorker(
            client,
            lambda: connect(options.database_url, application_name="cityops-ingest-retire"),
            context,
            process_id=f"ingest-{worker_id}",
            limits=options.limits,
        )
        try:
            stored += worker.drain(stop)
        except BaseException:
            client.close()  # the session keeps what was not stored
            raise
        if stop.is_set():
            client.close()
            break
        client.close(end_session=True)
        log.info("ingest %s retired", worker_id)
    return stored


def worker_chores(index: int) -> list[Chore]:
    """The first worker keeps the plain-PostgreSQL rollups current and deletes what is past
    retention (TimescaleDB's own jobs do both there, and the calls are cheap no-ops)."""
    if index != 0:
        return []
    return [Chore("rollup refresh", ROLLUP_REFRESH_S, refresh_rollups), Chore("retention", 3600, _retention)]


def _retention(conn: object) -> None:
    deleted = apply_retention(conn, datetime.now(UTC))
    if any(deleted.values()):
        log.info("retention: deleted %s", ", ".join(f"{n:,} from {table}" for table, n in deleted.items() if n))


def _worker_process(options: IngestOptions, index: int) -> None:
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s ingest-{index} %(levelname)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    run_worker(options, index, stop)


def run_workers(options: IngestOptions, stop: threading.Event) -> None:
    """Run ``options.workers`` worker processes, restarting any that dies, until ``stop``."""
    context = multiprocessing.get_context("spawn")
    processes: dict[int, multiprocessing.process.BaseProcess] = {}
    restarts: dict[int, float] = {}
    try:
        while not stop.is_set():
            for index in range(options.workers):
                process = processes.get(index)
                if process is not None and process.is_alive():
                    continue
                if process is not None:
                    log.warning("ingest worker %d exited with %s; restarting", index, process.exitcode)
                if time.monotonic() < restarts.get(index, 0):
                    continue
                restarts[index] = time.monotonic() + 5  # at most one restart per 5 s per worker
                processes[index] = context.Process(target=_worker_process, args=(options, index), daemon=False)
                processes[index].start()
            stop.wait(0.5)
    finally:
        for process in processes.values():
            if process.is_alive():
                process.terminate()
        for process in processes.values():
            process.join(timeout=15)
            if process.is_alive():
                process.kill()
