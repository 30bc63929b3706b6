"""The ingest against its limits: ``python -m benchmarks ingest`` (``make bench-ingest``).

One run on this machine, all on loopback, a Mosquitto with deploy/mosquitto/cityops.conf and
a scratch database on the PostgreSQL server of ``CITYOPS_TEST_PG``:

- the message-rate limit: a plain paho subscriber draining a backlog of QoS 1 messages;
- the storage limit: the same readings COPYed into a table shaped like ``readings``;
- cityops: ingest workers draining the same backlog into the database, committed
  readings/s, for (a) one reading per message and (b) 50 readings per message (a sensor's
  batch of 10 samples × 5 pollutants).

Messages are published first, into the consumer's persistent session, so that the
publisher's speed does not limit the measurement. Targets: (a) ≥ 80 % of the raw
subscriber rate; (b) ≥ 100,000 readings/s.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cityops.embedded import EmbeddedBroker
from ingest.mqtt import BrokerAddress, MqttClient
from ingest.service import IngestOptions, prepare, topic_filter, worker_chores
from ingest.worker import BatchLimits, IngestWorker
from store import connect, init_schema
from store.scratch import scratch_database

SERVER = os.environ.get("CITYOPS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
CITY = "nyc"
POLLUTANTS = ("pm25", "pm10", "no2", "so2", "o3")


def _messages(sensors: list[str], messages: int, per_message: int) -> list[tuple[str, bytes]]:
    """Distinct readings: one per message, or a gateway-style batch of ``per_message`` readings
    (records 10 s apart, each with five pollutants: an air station's buffered samples)."""
    start = datetime.now(UTC) - timedelta(days=1)
    out = []
    for i in range(messages):
        sensor = sensors[i % len(sensors)]
        cycle = i // len(sensors)
        if per_message == 1:
            body: object = {"ts": (start + timedelta(seconds=cycle)).isoformat(), "values": {"pm25": float(i % 97)}}
        else:
            records = per_message // len(POLLUTANTS)
            base = start + timedelta(seconds=cycle * records * 10)
            body = [{"ts": (base + timedelta(seconds=10 * k)).isoformat(),
                     "values": {metric: float((i + k + n) % 97) for n, metric in enumerate(POLLUTANTS)}}
                    for k in range(records)]
        out.append((f"cityops/{CITY}/readings/{sensor}", json.dumps(body).encode()))
    return out


def _create_session(url: str, client_id: str, subscription: str) -> None:
    """A persistent session subscribed to ``subscription``, so the broker queues for it while it is away."""
    session = MqttClient(BrokerAddress.from_url(url), client_id)
    session.subscribe(subscription)
    session.connect()
    time.sleep(0.3)
    session.close()


def _publish_all(url: str, messages: list[tuple[str, bytes]]) -> None:
    publisher = MqttClient(BrokerAddress.from_url(url), "bench-publisher", persistent=False)
    publisher.connect()
    for topic, payload in messages:
        publisher.publish(topic, payload)
    if not publisher.wait_published(600):
        raise RuntimeError("publishing the backlog timed out")
    publisher.close()


def raw_subscriber_rate(url: str, messages: list[tuple[str, bytes]]) -> float:
    """Messages/s a bare paho client (auto-acknowledging, doing nothing else) drains."""
    import paho.mqtt.client as paho
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    _create_session(url, "bench-raw", f"cityops/{CITY}/#")
    _publish_all(url, messages)
    address = BrokerAddress.from_url(url)
    done = threading.Event()
    received = 0
    first: list[float] = []

    def on_message(client, userdata, message) -> None:
        nonlocal received
        if not first:
            first.append(time.perf_counter())
        received += 1
        if received == len(messages):
            done.set()

    client = paho.Client(callback_api_version=paho.CallbackAPIVersion.VERSION2, client_id="bench-raw",
                         protocol=paho.MQTTv5)
    client.on_message = on_message
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 3600
    properties.ReceiveMaximum = 2000
    started = time.perf_counter()
    client.connect(address.host, address.port, clean_start=False, properties=properties)
    client.loop_start()
    if not done.wait(600):
        raise RuntimeError(f"raw subscriber received only {received} of {len(messages)}")
    elapsed = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    return len(messages) / elapsed


def raw_copy_rate(database_url: str, readings: int) -> float:
    """Readings/s COPY puts into a table shaped like ``readings`` (same unique index)."""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    text = "".join(f"{(start + timedelta(seconds=i // 500)).isoformat()},S{i % 500:05d},pm25,{i % 97}\n"
                   for i in range(readings))
    conn = connect(database_url, application_name="cityops-bench")
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE bench_copy (LIKE readings INCLUDING ALL)")
            conn.commit()
            began = time.perf_counter()
            cur.copy_expert("COPY bench_copy (time, sensor_id, metric, value) FROM STDIN (FORMAT csv)",
                            io.StringIO(text))
            conn.commit()
            elapsed = time.perf_counter() - began
            cur.execute("DROP TABLE bench_copy")
            conn.commit()
    finally:
        conn.close()
    return readings / elapsed


def cityops_rate(database_url: str, broker_url: str, messages: list[tuple[str, bytes]], expected: int,
                 workers: int) -> float:
    """Committed readings/s of ``workers`` ingest worker processes draining the backlog."""
    conn = connect(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute("TRUNCATE readings, readings_1m, readings_1h, rejects")
        conn.commit()
    finally:
        conn.close()
    options = IngestOptions(city=CITY, database_url=database_url, mqtt_url=broker_url, workers=workers)
    subscription = topic_filter(CITY, workers)
    for index in range(workers):
        _create_session(broker_url, f"bench-ingest-{workers}-{index}", subscription)
    _publish_all(broker_url, messages)

    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    ready = context.Barrier(workers + 1)
    committed = [context.Value("q", 0) for _ in range(workers)]
    rejected = [context.Value("q", 0) for _ in range(workers)]
    processes = [
        context.Process(target=_worker_process, args=(options, index, ready, stop, committed[index], rejected[index]))
        for index in range(workers)
    ]
    for process in processes:
        process.start()
    ready.wait(timeout=120)  # every worker has loaded the city and synced the registry
    started = time.perf_counter()
    try:
        while sum(value.value for value in committed) < expected:
            if time.perf_counter() - started > 900:
                raise RuntimeError("the ingest did not finish in 15 minutes")
            if not all(process.is_alive() for process in processes):
                raise RuntimeError("an ingest worker died")
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
        rejects = sum(value.value for value in rejected)
    finally:
        stop.set()
        for process in processes:
            process.join(timeout=30)
    if rejects:
        raise RuntimeError(f"{rejects} messages were rejected: the benchmark's payloads are wrong")
    return expected / elapsed


def _worker_process(options: IngestOptions, index: int, ready, stop, committed, rejected) -> None:
    """One ingest worker in its own process (its own GIL), reporting committed rows through shared values."""
    _, context = prepare(options)
    client = MqttClient(BrokerAddress.from_url(options.mqtt_url), f"bench-ingest-{options.workers}-{index}",
                        consumer=True)
    client.subscribe(topic_filter(CITY, options.workers))
    worker = IngestWorker(client, lambda: connect(options.database_url), context, process_id=f"bench-{index}",
                          limits=BatchLimits(), status_every_s=60, chores=worker_chores(index))
    ready.wait(timeout=120)
    client.connect()
    done = threading.Event()

    def publish_counters() -> None:
        while not done.wait(0.005):
            committed.value, rejected.value = worker.counters.readings, worker.counters.rejects

    reporter = threading.Thread(target=publish_counters, daemon=True)
    reporter.start()
    watcher = threading.Thread(target=lambda: (stop.wait(), done.set()), daemon=True)
    watcher.start()
    try:
        worker.run(done)
    finally:
        committed.value, rejected.value = worker.counters.readings, worker.counters.rejects
        done.set()
        client.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks ingest", description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000, help="messages for (a), one reading each")
    parser.add_argument("--batched", type=int, default=6_000, help="messages for (b), 50 readings each")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts to measure (processes)")
    args = parser.parse_args(argv)
    from city import city_folder, load_city

    sensors = load_city(city_folder(CITY)).sensors
    sensor_ids = sensors.loc[sensors["kind"] == "air_quality", "sensor_id"].tolist()
    single = _messages(sensor_ids, args.messages, 1)
    batched = _messages(sensor_ids, args.batched, 50)
    with tempfile.TemporaryDirectory() as folder, scratch_database(SERVER, "cityops_bench") as database_url:
        conn = connect(database_url)
        init_schema(conn)
        conn.close()
        broker = EmbeddedBroker(Path(folder), preferred_port=None)
        if broker.kind != "mosquitto":
            raise SystemExit("bench-ingest needs Mosquitto (make test installs it)")
        broker_url = broker.start()
        try:
            print(f"broker Mosquitto with deploy/mosquitto/cityops.conf; PostgreSQL {SERVER.split('@')[-1]}; "
                  f"{os.cpu_count()} cores; workers are processes on one MQTT 5 shared subscription")
            raw_messages = raw_subscriber_rate(broker_url, single)
            print(f"raw paho subscriber: {raw_messages:,.0f} messages/s ({len(single):,} QoS 1 messages)")
            raw_rows = raw_copy_rate(database_url, len(batched) * 50)
            print(f"raw COPY into a readings-shaped table: {raw_rows:,.0f} readings/s ({len(batched) * 50:,} rows)")
            for workers in [int(n) for n in args.workers.split(",")]:
                a = cityops_rate(database_url, broker_url, single, len(single), workers)
                print(f"(a) cityops, {workers} worker(s), 1 reading/message: {a:,.0f} readings/s = "
                      f"{a / raw_messages:.0%} of the raw subscriber rate (target ≥ 80 %)")
                b = cityops_rate(database_url, broker_url, batched, len(batched) * 50, workers)
                print(f"(b) cityops, {workers} worker(s), 50 readings/message: {b:,.0f} readings/s = "
                      f"{b / raw_rows:.0%} of raw COPY (target ≥ 100,000 readings/s)")
        finally:
            broker.stop()
