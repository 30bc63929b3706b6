"""Issue 13 findings 4 (the ingest's half) and 5, attacked through a real Mosquitto with the device model,
a real ingest worker and a real PostgreSQL:

- an unknown sensor that sends a position does not join the city's vital signs: refused by default;
  where the city allows self-registration it is stored unverified and left out until an admin accepts it;
- a rejected event does not keep the reporter's phone number, whatever shape it comes in.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import store
from city import city_folder, load_city
from cityops.devices import Device, DeviceFiles, generate_password
from cityops.vitals import VitalsContext, run_once
from ingest.mqtt import BrokerAddress, MqttClient
from store.migrations import MIGRATIONS
from tests.integration.servers import mosquitto
from tests.integration.test_ingest import (
    CITY,
    count,
    publish_numbered,
    query,
    running_worker,
    some_sensors,
    wait_for,
)

PHONE = "13812345678"


@pytest.fixture
def accounts(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A Mosquitto with the device model: account name → URL signed in as it."""
    files = DeviceFiles(tmp_path / "devices")
    passwords = {}
    for device in (Device("ingest", "ingest", CITY), Device("hotline", "integration", CITY),
                   Device("NEW-GAS-1", "sensor", CITY, "NEW-GAS-1"), Device("simulator", "simulator", CITY)):
        passwords[device.name] = generate_password()
        files.add(device, passwords[device.name])
    with mosquitto(tmp_path / "broker", device_dir=files.folder) as broker:
        yield {name: broker.url_as(name, password) for name, password in passwords.items()}


def publisher(url: str) -> MqttClient:
    client = MqttClient(BrokerAddress.from_url(url), f"test-{url.split(':')[1].strip('/')}", persistent=False)
    client.connect()
    return client


def self_registering_copy(tmp_path: Path) -> Path:
    """The bundled NYC with ``self_registration = true`` (the big folders linked, not copied)."""
    source, folder = city_folder(CITY), tmp_path / "nyc-self-registering"
    folder.mkdir()
    for name in ("boundaries", "display"):
        (folder / name).symlink_to(source / name)
    for name in ("sensors.csv", "units.csv", "categories.toml"):
        (folder / name).write_bytes((source / name).read_bytes())
    config = (source / "city.toml").read_text(encoding="utf-8")
    (folder / "city.toml").write_text(config.replace("[[sources]]", "self_registration = true\n\n[[sources]]", 1),
                                      encoding="utf-8")
    return folder


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# -- finding 4: the ingest under the device model ------------------------------------------------


def test_ingest_workers_on_a_shared_subscription_read_the_city_as_the_ingest_account(ingest_db, accounts, nyc) -> None:
    total = 2_000
    with (
        running_worker(ingest_db, accounts["ingest"], index=0, workers=2),
        running_worker(ingest_db, accounts["ingest"], index=1, workers=2),
    ):
        publish_numbered(accounts["simulator"], some_sensors(nyc, "crowd", 50), total, now() - timedelta(hours=3))
        wait_for(lambda: count(ingest_db, "readings") == total, what=f"{total} readings", timeout_s=60)
        per_worker = "SELECT process_id, messages_total FROM process_status ORDER BY 1"
        wait_for(lambda: sum(n for _, n in query(ingest_db, per_worker)) == total, what="both workers' reports")
    assert all(messages > 0 for _, messages in query(ingest_db, per_worker)), query(ingest_db, per_worker)
    assert count(ingest_db, "rejects") == 0


# -- finding 4: a device registering itself ------------------------------------------------------


def test_a_new_sensor_with_an_account_still_cannot_register_itself_by_default(ingest_db, accounts, nyc) -> None:
    lon, lat = float(nyc.sensors["lon"].iloc[0]), float(nyc.sensors["lat"].iloc[0])
    body = {"ts": now().isoformat(), "values": {"methane_lel": 80.0}, "lon": lon, "lat": lat}
    sensor = publisher(accounts["NEW-GAS-1"])
    with running_worker(ingest_db, accounts["ingest"]):
        sensor.publish(f"cityops/{CITY}/readings/NEW-GAS-1", json.dumps(body))
        wait_for(lambda: count(ingest_db, "rejects") == 1, what="the reject")
    sensor.close()
    assert query(ingest_db, "SELECT reason FROM rejects") == [("unknown sensor: self-registration is off",)]
    assert count(ingest_db, "readings") == 0
    assert query(ingest_db, "SELECT 1 FROM sensors WHERE sensor_id = 'NEW-GAS-1'") == []


def test_a_self_registered_sensor_stays_out_of_the_vital_signs_until_an_admin_accepts_it(
        ingest_db, db, accounts, nyc, tmp_path) -> None:
    folder = self_registering_copy(tmp_path)
    gas = nyc.sensors.loc[nyc.sensors["kind"] == "gas"].iloc[0]  # placed where a gas sensor may stand
    t = now()
    sensor = publisher(accounts["NEW-GAS-1"])
    with running_worker(ingest_db, accounts["ingest"], city=str(folder)):
        for minutes in range(4, -1, -1):  # red: 80 % LEL for five minutes
            body = {"ts": (t - timedelta(minutes=minutes)).isoformat(), "values": {"methane_lel": 80.0},
                    "lon": float(gas.lon), "lat": float(gas.lat)}
            sensor.publish(f"cityops/{CITY}/readings/NEW-GAS-1", json.dumps(body))
        wait_for(lambda: count(ingest_db, "readings") == 5, what="the readings")
    sensor.close()
    ((registered_by, verified, scope),) = query(
        ingest_db, "SELECT registered_by, verified, scope_code FROM sensors WHERE sensor_id = 'NEW-GAS-1'")
    assert registered_by == "ingest" and verified is False and scope in nyc.boundaries[nyc.lowest_level].index
    assert [s.sensor_id for s in store.unverified_sensors(db)] == ["NEW-GAS-1"]

    store.refresh_rollups(db)
    ctx = VitalsContext.for_city(load_city(folder))
    run_once(db, ctx, t)
    city_gas = next(row for row in store.read_current(db, ["nyc"]) if row.domain == "gas")
    assert city_gas.level is None and "NEW-GAS-1" not in json.dumps(city_gas.explanation)  # stored, not counted

    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CITYOPS_")},
           "CITYOPS_DATABASE_URL": ingest_db, "CITYOPS_DATA_DIR": str(tmp_path)}
    accepted = subprocess.run([sys.executable, "-m", "cityops", "sensor", "accept", "NEW-GAS-1"], env=env,
                              capture_output=True, text=True, timeout=120)
    assert accepted.returncode == 0 and "accepted" in accepted.stdout, accepted.stderr
    audit = [row for row in store.read_audit(db) if row.action == "sensor.accept"]
    assert [(row.target, row.before["verified"], row.after["verified"]) for row in audit] == [
        ("NEW-GAS-1", False, True)]
    assert audit[0].user.startswith("cli:")

    run_once(db, ctx, t + timedelta(seconds=30))
    city_gas = next(row for row in store.read_current(db, ["nyc"]) if row.domain == "gas")
    assert city_gas.level == 2  # now it counts, and it is red
    again = subprocess.run([sys.executable, "-m", "cityops", "sensor", "accept", "NEW-GAS-1"], env=env,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "verified already" in again.stdout
    missing = subprocess.run([sys.executable, "-m", "cityops", "sensor", "accept", "NOPE"], env=env,
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1 and missing.stderr.strip() == "cityops: error: no sensor 'NOPE'"


@contextmanager
def before_migration_12(new_database) -> Iterator[store.Connection]:
    """A database whose schema is as before migration 12 (applied, then undone): rows written to it are
    as an older cityops wrote them, and the next init_schema applies migration 12 to them."""
    assert next(m for m in MIGRATIONS if m.version == 12).name == "unverified_sensors_and_masked_rejects"
    conn = store.connect(new_database())
    try:
        store.init_schema(conn)
        with conn.cursor() as cur:
            cur.execute("ALTER TABLE sensors DROP COLUMN verified")
            cur.execute("DELETE FROM schema_migrations WHERE version = 12")
        conn.commit()
        yield conn
    finally:
        conn.close()


def test_sensors_the_ingest_registered_before_the_upgrade_become_unverified(new_database) -> None:
    with before_migration_12(new_database) as conn:
        with conn.cursor() as cur:
            cur.execute("INSERT INTO sensors (sensor_id, metrics, lon, lat, scope_code, registered_by) VALUES"
                        " ('OLD-SELF', '{pm25}', -73.9, 40.7, 'MN0101', 'ingest'),"
                        " ('OLD-LISTED', '{pm25}', -73.9, 40.7, 'MN0101', 'registry')")
        conn.commit()
        store.init_schema(conn)
        assert [s.sensor_id for s in store.unverified_sensors(conn)] == ["OLD-SELF"]
        assert [row["sensor_id"] for row in store.read_sensor_registry(conn)] == ["OLD-LISTED"]


# -- finding 5: phones in rejects ---------------------------------------------------------------


def event(**changes: object) -> dict[str, object]:
    return {"id": "hl-20261206-0001", "ts": now().isoformat(), "source": "hotline", "category": "gas_leak",
            "severity": "major", "lon": -73.95, "lat": 40.75, "title": "Smell of gas", "reporter_phone": PHONE,
            **changes}


def shows_number(text: str) -> bool:
    return PHONE in re.sub(r"[ ()\-+]", "", text)


def test_rejected_events_are_stored_without_the_reporters_phone(ingest_db, accounts) -> None:
    hotline = publisher(accounts["hotline"])
    attacks = [
        json.dumps(event(category="no_such_category")).encode(),  # rejected for another reason
        json.dumps(event(id="hl-2", reporter_phone=f"{PHONE} ext. #9")).encode(),  # a bad phone, quoted
        json.dumps(event(id="hl-3", category="x", caller={"contact": {"mobile": PHONE}})).encode(),  # nested
        json.dumps(event(id="hl-4", category="x", title=f"Caller {PHONE} smells gas")).encode(),  # in the text
        json.dumps(event(id="hl-5")).encode()[:-3],  # cut short: not JSON
        json.dumps(event(id="hl-6", category="x")).encode() + b"\xff\xfe",  # not UTF-8
        json.dumps(event(id="hl-7", detail="x" * 70_000)).encode(),  # oversize
    ]
    with running_worker(ingest_db, accounts["ingest"]):
        for payload in attacks:
            hotline.publish(f"cityops/{CITY}/events", payload)
        wait_for(lambda: count(ingest_db, "rejects") == len(attacks), what="every reject")
    hotline.close()
    rows = query(ingest_db, "SELECT reason, payload FROM rejects ORDER BY reason")
    assert {reason.split(":")[0] for reason, _ in rows} == {
        "unknown category", "bad phone", "not json", "not utf-8", "oversize"}
    for reason, payload in rows:
        assert not shows_number(reason) and not shows_number(payload), (reason, payload)
        assert "138****" in payload + reason, (reason, payload)  # masked, not dropped: still diagnosable
    assert count(ingest_db, "events") == 0


def test_rejects_stored_before_the_upgrade_lose_their_phones(new_database) -> None:
    with before_migration_12(new_database) as conn:
        old = [("unknown category: x", json.dumps(event())),
               ("not json: cut", '{"id": "a", "reporter_phone": "138 1234 5678'),
               ("bad phone: '13812345678#'", json.dumps(event(reporter_phone="13812345678#")))]
        with conn.cursor() as cur:
            for reason, payload in old:
                cur.execute("INSERT INTO rejects (time, topic, reason, payload) VALUES (now(), %s, %s, %s)",
                            (f"cityops/{CITY}/events", reason, payload))
        conn.commit()
        store.init_schema(conn)
        with conn.cursor() as cur:
            cur.execute("SELECT reason, payload FROM rejects")
            rows = cur.fetchall()
        conn.rollback()
    assert len(rows) == 3
    for reason, payload in rows:
        assert not shows_number(reason) and not shows_number(payload), (reason, payload)
        assert '"reporter_phone": "****"' in payload


def test_the_feeds_page_lists_sensors_waiting_for_acceptance(client_for, db) -> None:
    from tests.integration.test_web_pages import FEEDS_INPUTS, FEEDS_OUTPUTS, callback, rendered

    with db.cursor() as cur:
        cur.execute("INSERT INTO sensors (sensor_id, kind, metrics, lon, lat, scope_code, registered_by, verified,"
                    " first_seen, last_seen) VALUES ('NEW-GAS-9', 'unknown', '{methane_lel}', -73.95, 40.75, 'MN0101',"
                    " 'ingest', false, now(), now()), ('AQ-LISTED', 'air_quality', '{pm25}', -73.9, 40.7, 'MN0101',"
                    " 'registry', true, now(), now())")
    db.commit()
    body = rendered(callback(client_for("admin"), FEEDS_OUTPUTS, FEEDS_INPUTS)).split("waiting for acceptance")[1]
    assert "NEW-GAS-9" in body and "-73.95000, 40.75000" in body and "methane_lel" in body
    assert "AQ-LISTED" not in body.split("Rejects in the last hour")[0]
