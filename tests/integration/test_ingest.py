"""The spine end to end: MQTT (a real Mosquitto) → ingest worker → PostgreSQL (a real server), on plain
PostgreSQL and on TimescaleDB (the ingest writes differently to each: a rollup queue, or hypertables)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import store
from ingest.mqtt import BrokerAddress, MqttClient
from ingest.service import IngestOptions, run_worker
from ingest.worker import BatchLimits

CITY = "nyc"

pytestmark = pytest.mark.servers("plain", "timescale")
LOG_DIR = Path(tempfile.gettempdir()) / "cityops-test-logs"
LOG_DIR.mkdir(exist_ok=True)


def publisher(url: str, name: str = "test-publisher") -> MqttClient:
    client = MqttClient(BrokerAddress.from_url(url), name, persistent=False)
    client.connect()
    return client


@contextmanager
def running_worker(database_url: str, mqtt_url: str, *, index: int = 0, workers: int = 1,
                   city: str = CITY) -> Iterator[None]:
    options = IngestOptions(
        city=city,
        database_url=database_url,
        mqtt_url=mqtt_url,
        workers=workers,
        limits=BatchLimits(age_s=0.05),
        status_every_s=0.5,
    )
    stop = threading.Event()
    errors: list[BaseException] = []

    def target() -> None:
        try:
            run_worker(options, index, stop)
        except BaseException as error:  # surfaced by the test below
            errors.append(error)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    # Ready once it reports: the city is loaded, the registry synced, the subscription made
    # (messages published before that would not reach a session that does not exist yet).
    process_id = f"ingest-{CITY}-{index}"
    wait_for(lambda: errors or any(status.process_id == process_id and status.state == "running"
                                   for status in _statuses(database_url)), what="the worker to subscribe")
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)
        assert not errors, errors


def wait_for(predicate, timeout_s: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _statuses(url: str) -> list[store.ProcessStatus]:
    conn = store.connect(url)
    try:
        return store.read_status(conn)
    finally:
        conn.close()


def count(url: str, table: str) -> int:
    conn = store.connect(url)
    try:
        return store.count_rows(conn, table)
    finally:
        conn.close()


def query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    conn = store.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            rows = cur.fetchall()
        conn.rollback()
        return rows
    finally:
        conn.close()


def reading(sensor_id: str, metric: str, value: float, at: datetime) -> tuple[str, bytes]:
    body = {"ts": at.isoformat(), "values": {metric: value}}
    return f"cityops/{CITY}/readings/{sensor_id}", json.dumps(body).encode()


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def some_sensors(nyc, kind: str, n: int) -> list[str]:
    return nyc.sensors.loc[nyc.sensors["kind"] == kind, "sensor_id"].head(n).tolist()


def test_published_readings_events_and_unit_positions_become_rows(ingest_db, broker, nyc) -> None:
    pub = publisher(broker.url)
    sensor = some_sensors(nyc, "gas", 1)[0]
    unit = nyc.units.iloc[0]
    t = now()
    with running_worker(ingest_db, broker.url):
        pub.publish(*reading(sensor, "methane_lel", 2.5, t))
        pub.publish(
            f"cityops/{CITY}/events",
            json.dumps(
                {
                    "id": "h-1",
                    "ts": t.isoformat(),
                    "source": "hotline",
                    "category": "gas_leak",
                    "severity": "major",
                    "lon": float(unit["lon"]),
                    "lat": float(unit["lat"]),
                    "title": "Smell of gas",
                    "reporter_phone": "+1 212 555 0101",
                }
            ),
        )
        pub.publish(
            f"cityops/{CITY}/units/{unit['unit_id']}",
            json.dumps(
                {
                    "ts": t.isoformat(),
                    "lon": float(unit["lon"]) + 0.001,
                    "lat": float(unit["lat"]),
                    "status": "busy",
                    "kind": unit["kind"],
                }
            ),
        )
        wait_for(
            lambda: (
                count(ingest_db, "readings") == 1
                and count(ingest_db, "events") == 1
                and count(ingest_db, "unit_positions") == 1
            ),
            what="rows",
        )
        # The first worker brings the rollups up to date within its refresh interval.
        wait_for(
            lambda: count(ingest_db, "readings_1h") == 1 and count(ingest_db, "readings_1m") == 1,
            what="the rollups",
            timeout_s=15,
        )
    assert query(ingest_db, "SELECT sensor_id, metric, value, time FROM readings") == [(sensor, "methane_lel", 2.5, t)]
    (scope,) = query(ingest_db, "SELECT scope_code, scopes->>'borough' FROM events")
    assert scope[0] in nyc.boundaries["nta"].index and scope[1] in nyc.boundaries["borough"].index
    assert query(ingest_db, "SELECT status FROM units WHERE unit_id = %s", (unit["unit_id"],)) == [("busy",)]
    statuses = store.read_status(store.connect(ingest_db))
    assert statuses and statuses[0].kind == "ingest" and statuses[0].readings_total == 1
    pub.close()


def test_the_same_message_twice_is_stored_once(ingest_db, broker, nyc) -> None:
    pub = publisher(broker.url)
    sensor = some_sensors(nyc, "noise", 1)[0]
    message = reading(sensor, "noise_dba", 55.0, now())
    with running_worker(ingest_db, broker.url):
        pub.publish(*message)
        pub.publish(*message)
        pub.publish(f"cityops/{CITY}/readings/{sensor}", b"not json")  # a marker that both were processed
        wait_for(lambda: count(ingest_db, "rejects") == 1, what="the marker reject")
    assert count(ingest_db, "readings") == 1
    pub.close()


def test_bad_records_in_a_batch_are_rejected_and_the_good_ones_kept(ingest_db, broker, nyc) -> None:
    pub = publisher(broker.url)
    sensor = some_sensors(nyc, "air_quality", 1)[0]
    t = now()
    batch = [
        {"ts": (t - timedelta(seconds=60)).isoformat(), "values": {"pm25": 12.0, "pm10": 20.0}},
        {"ts": (t + timedelta(hours=2)).isoformat(), "values": {"pm25": 13.0}},  # in the future
        {"ts": t.isoformat(), "values": {"pm25": 11.0, "made_up": 1.0}},  # one unknown metric
        {"ts": "yesterday", "values": {"pm25": 10.0}},  # bad time
    ]
    with running_worker(ingest_db, broker.url):
        pub.publish(f"cityops/{CITY}/readings/{sensor}", json.dumps(batch))
        pub.publish(f"cityops/{CITY}/readings/not-registered", json.dumps({"ts": t.isoformat(), "values": {"pm25": 1}}))
        pub.publish(f"cityops/{CITY}/readings/{sensor}", b"\xff\xfe\x00 binary")
        pub.publish(f"cityops/{CITY}/readings/{sensor}", b"[" * 70_000)
        wait_for(lambda: count(ingest_db, "rejects") >= 6, what="rejects")
    assert count(ingest_db, "readings") == 3
    reasons = sorted(reason.split(":")[0] for (reason,) in query(ingest_db, "SELECT reason FROM rejects"))
    assert reasons == sorted(
        [
            "time in the future",
            "unknown metric",
            "bad time",
            "unknown sensor without coordinates",
            "not utf-8",
            "oversize",
        ]
    )
    (longest,) = query(ingest_db, "SELECT max(length(payload)) FROM rejects")[0]
    assert longest <= 2048
    pub.close()


def test_an_unknown_sensor_with_coordinates_is_rejected_not_registered(ingest_db, broker, nyc) -> None:
    # The city allows no self-registration (the default); test_ingest_security covers a city that does.
    pub = publisher(broker.url)
    lon, lat = float(nyc.sensors["lon"].iloc[0]), float(nyc.sensors["lat"].iloc[0])
    body = {"ts": now().isoformat(), "values": {"temperature_c": 21.5}, "lon": lon, "lat": lat}
    with running_worker(ingest_db, broker.url):
        pub.publish(f"cityops/{CITY}/readings/NEW-SENSOR-1", json.dumps(body))
        wait_for(lambda: count(ingest_db, "rejects") == 1, what="the reject")
    assert query(ingest_db, "SELECT reason FROM rejects") == [("unknown sensor: self-registration is off",)]
    assert count(ingest_db, "readings") == 0
    assert query(ingest_db, "SELECT 1 FROM sensors WHERE sensor_id = 'NEW-SENSOR-1'") == []
    pub.close()


def publish_numbered(url: str, sensors: list[str], n: int, start: datetime) -> None:
    """n distinct readings (one per message) spread over the sensors, one second apart per sensor."""
    pub = publisher(url, "bulk-publisher")
    for i in range(n):
        sensor = sensors[i % len(sensors)]
        at = start + timedelta(seconds=i // len(sensors))
        pub.publish(*reading(sensor, "water_pressure_kpa", 300.0 + i % 50, at))
    assert pub.wait_published(120)
    pub.close()


def ingest_subprocess(database_url: str, mqtt_url: str, workers: int = 1, *options: str,
                      **settings: str) -> subprocess.Popen:
    """``cityops ingest --workers N [options]`` with ``settings`` as further CITYOPS_ variables."""
    env = {**os.environ, "CITYOPS_DATABASE_URL": database_url, "CITYOPS_MQTT_URL": mqtt_url, "CITYOPS_CITY": CITY,
           **{f"CITYOPS_{name.upper()}": value for name, value in settings.items()}}
    with open(LOG_DIR / f"ingest-{time.monotonic_ns()}.log", "wb") as log:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "cityops", "ingest", "--workers", str(workers), *options],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def test_a_worker_killed_mid_stream_loses_nothing_and_duplicates_nothing(ingest_db, broker, nyc) -> None:
    sensors = some_sensors(nyc, "water_pressure", 200)
    total = 20_000
    start = now() - timedelta(hours=1)
    worker = ingest_subprocess(ingest_db, broker.url)
    wait_for(lambda: bool(query(ingest_db, "SELECT 1 FROM process_status")), what="the worker to start")
    sender = threading.Thread(target=publish_numbered, args=(broker.url, sensors, total, start))
    sender.start()
    wait_for(lambda: count(ingest_db, "readings") > 2_000, what="some readings", timeout_s=60)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    killed_at = count(ingest_db, "readings")
    sender.join()
    worker = ingest_subprocess(ingest_db, broker.url)
    try:
        wait_for(lambda: count(ingest_db, "readings") == total, what=f"{total} readings", timeout_s=120)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert killed_at < total
    assert query(ingest_db, "SELECT count(DISTINCT (sensor_id, time)) FROM readings") == [(total,)]
    assert count(ingest_db, "rejects") == 0


def test_a_database_outage_under_load_loses_nothing(ingest_db, broker, nyc, pg_server) -> None:
    sensors = some_sensors(nyc, "power", 200)
    total = 10_000
    name = ingest_db.rsplit("/", 1)[1]
    admin = pg_server.url
    with running_worker(ingest_db, broker.url):
        sender = threading.Thread(
            target=publish_numbered, args=(broker.url, sensors, total, now() - timedelta(hours=2))
        )
        sender.start()
        wait_for(lambda: count(ingest_db, "readings") > 1_000, what="some readings", timeout_s=60)
        conn = store.connect(admin)
        conn.autocommit = True
        with conn.cursor() as cur:
            # The database goes away: new connections refused, existing ones cut.
            cur.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            time.sleep(3)
            cur.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        conn.close()
        sender.join()
        wait_for(lambda: count(ingest_db, "readings") == total, what=f"{total} readings", timeout_s=120)
    assert query(ingest_db, "SELECT count(DISTINCT (sensor_id, time)) FROM readings") == [(total,)]


def test_a_database_server_restarted_under_load_loses_nothing(tmp_path, broker, nyc) -> None:
    """A whole PostgreSQL server of the test's own (pgserver) stopped and started mid-stream."""
    from cityops.embedded import EmbeddedDatabase

    server = EmbeddedDatabase(tmp_path)
    url = server.start()
    conn = store.connect(url)
    store.init_schema(conn)
    conn.close()
    sensors = some_sensors(nyc, "water_level", 200)
    total = 10_000
    try:
        with running_worker(url, broker.url):
            sender = threading.Thread(
                target=publish_numbered, args=(broker.url, sensors, total, now() - timedelta(hours=4))
            )
            sender.start()
            wait_for(lambda: count(url, "readings") > 1_000, what="some readings", timeout_s=60)
            server.stop()
            time.sleep(3)
            server = EmbeddedDatabase(tmp_path)
            assert server.start() == url
            sender.join()
            wait_for(lambda: count(url, "readings") == total, what=f"{total} readings", timeout_s=120)
        assert query(url, "SELECT count(DISTINCT (sensor_id, time)) FROM readings") == [(total,)]
    finally:
        server.stop()


def test_workers_on_a_shared_subscription_store_each_message_once(ingest_db, broker, nyc) -> None:
    sensors = some_sensors(nyc, "crowd", 100)
    total = 6_000
    with (
        running_worker(ingest_db, broker.url, index=0, workers=2),
        running_worker(ingest_db, broker.url, index=1, workers=2),
    ):
        publish_numbered(broker.url, sensors, total, now() - timedelta(hours=3))
        wait_for(lambda: count(ingest_db, "readings") == total, what=f"{total} readings", timeout_s=60)

        def reported() -> list[tuple]:
            return query(ingest_db, "SELECT process_id, messages_total FROM process_status ORDER BY 1")

        # Workers report their totals on their heartbeat, after the rows are in: wait for both reports.
        wait_for(lambda: sum(messages for _, messages in reported()) == total, what="both workers' totals")
        per_worker = reported()
    assert count(ingest_db, "readings") == total
    assert len(per_worker) == 2 and all(messages > 0 for _, messages in per_worker), per_worker


def test_ingest_on_an_uninitialised_database_says_to_run_db_init(new_database, broker) -> None:
    env = {**os.environ, "CITYOPS_DATABASE_URL": new_database(), "CITYOPS_MQTT_URL": broker.url, "CITYOPS_CITY": CITY}
    result = subprocess.run([sys.executable, "-m", "cityops", "ingest"], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1
    assert "run `cityops db init`" in result.stderr.splitlines()[-1]


def test_db_init_creates_the_schema_and_is_idempotent(new_database) -> None:
    env = {**os.environ, "CITYOPS_DATABASE_URL": new_database()}
    first = subprocess.run([sys.executable, "-m", "cityops", "db", "init"], env=env, capture_output=True, text=True)
    again = subprocess.run([sys.executable, "-m", "cityops", "db", "init"], env=env, capture_output=True, text=True)
    assert first.returncode == again.returncode == 0, first.stderr
    assert "applied: core, readings, unit_positions" in first.stdout
    assert "nothing (already current)" in again.stdout


@pytest.mark.servers("plain")  # TimescaleDB: its retention job (test_store_timescale.py)
def test_the_first_worker_deletes_what_is_past_retention(ingest_db, broker, nyc) -> None:
    sensor = some_sensors(nyc, "gas", 1)[0]
    conn = store.connect(ingest_db)
    with conn.cursor() as cur:
        cur.execute("INSERT INTO readings VALUES (now() - interval '400 days', %s, 'methane_lel', 1),"
                    " (now() - interval '1 day', %s, 'methane_lel', 2)", (sensor, sensor))
    conn.commit()
    conn.close()
    with running_worker(ingest_db, broker.url):
        wait_for(lambda: count(ingest_db, "readings") == 1, what="the old reading to go")
    assert query(ingest_db, "SELECT value FROM readings") == [(2.0,)]


def test_a_message_the_database_refuses_becomes_a_reject_and_the_rest_is_stored(ingest_db, broker, nyc) -> None:
    conn = store.connect(ingest_db)
    with conn.cursor() as cur:  # a rule the parser does not know, so only the database refuses
        cur.execute("ALTER TABLE readings ADD CONSTRAINT test_no_666 CHECK (value <> 666)")
    conn.commit()
    pub = publisher(broker.url)
    sensors = some_sensors(nyc, "gas", 20)
    t = now()
    try:
        with running_worker(ingest_db, broker.url):
            for i, sensor in enumerate(sensors):
                pub.publish(*reading(sensor, "methane_lel", 666.0 if i == 7 else 1.0, t))
            wait_for(lambda: count(ingest_db, "rejects") == 1 and count(ingest_db, "readings") == 19, what="rows")
        (reason,), = query(ingest_db, "SELECT reason FROM rejects")
        assert reason.startswith("storage error")
    finally:
        with conn.cursor() as cur:
            cur.execute("ALTER TABLE readings DROP CONSTRAINT test_no_666")
        conn.commit()
        conn.close()
        pub.close()


def test_a_subscription_left_in_a_persistent_session_is_dropped(broker) -> None:
    first = MqttClient(BrokerAddress.from_url(broker.url), "switching", consumer=True)
    first.subscribe("cityops/nyc/#")  # e.g. one worker earlier …
    first.connect()
    first.close()
    again = MqttClient(BrokerAddress.from_url(broker.url), "switching", consumer=True)
    again.subscribe("$share/cityops-ingest/cityops/nyc/#")  # … two workers now
    again.drop_subscription("cityops/nyc/#")
    again.connect()
    again.poll(0.3)
    pub = publisher(broker.url)
    pub.publish("cityops/nyc/events", b"{}")
    assert pub.wait_published(10)
    received = []
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        received += again.poll(0.1)
    assert len(received) == 1  # once, through the shared subscription only
    again.close()
    pub.close()
