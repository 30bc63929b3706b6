"""The device model against a real Mosquitto (deploy/mosquitto/cityops.conf + the files `cityops device`
writes): every spoof of issue 13 finding 4 is tried and refused.

Mosquitto drops an unauthorised PUBLISH (MQTT 3.1.1: silently; MQTT 5: PUBACK "not authorized") and
withholds from a subscriber what it may not read. The tests therefore look at what an ingest
subscriber receives: an authorised marker published after the forbidden message arrives, the forbidden
message does not. A subscriber that may read nothing is checked with a round trip to the broker after
the marker was delivered elsewhere (one connection delivers in order).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cityops.devices import Device, DeviceError, DeviceFiles, generate_password, reload_broker
from cityops.embedded import BROKER_CONFIG, EmbeddedBroker
from ingest.mqtt import BrokerAddress, Message, MqttClient, MqttUnavailable
from tests.integration.servers import mosquitto

CITY = "nyc"
DEVICES = [
    Device("AQ-A", "sensor", CITY, "AQ-A"),
    Device("AQ-B", "sensor", CITY, "AQ-B"),
    Device("FD-1", "unit", CITY, "FD-1"),
    Device("FD-2", "unit", CITY, "FD-2"),
    Device("hotline", "integration", CITY),
    Device("ingest", "ingest", CITY),
    Device("ingest-shanghai", "ingest", "shanghai"),
    Device("simulator", "simulator", CITY),
]


@dataclass
class DeviceBroker:
    broker: EmbeddedBroker
    files: DeviceFiles
    passwords: dict[str, str]

    def url(self, name: str, password: str | None = None) -> str:
        return self.broker.url_as(name, password or self.passwords[name])

    def publisher(self, name: str, protocol: str = "3.1.1") -> MqttClient:
        client = MqttClient(BrokerAddress.from_url(self.url(name)), f"{name}-{secrets.token_hex(3)}",
                            persistent=False, protocol=protocol)
        client.connect()
        return client

    def listener(self, name: str, topic: str = f"cityops/{CITY}/#") -> MqttClient:
        client = MqttClient(BrokerAddress.from_url(self.url(name)), f"{name}-listener-{secrets.token_hex(3)}",
                            persistent=False, consumer=True)
        client.subscribe(topic)
        client.connect()
        assert client.round_trip(), "the subscription was not made"
        return client


@pytest.fixture
def devices(tmp_path: Path) -> Iterator[DeviceBroker]:
    files = DeviceFiles(tmp_path / "devices")
    passwords = {}
    for device in DEVICES:
        passwords[device.name] = generate_password()
        files.add(device, passwords[device.name])
    with mosquitto(tmp_path / "broker", device_dir=files.folder) as broker:
        yield DeviceBroker(broker, files, passwords)


def received_until(listener: MqttClient, topic: str, payload: bytes, timeout_s: float = 30) -> list[Message]:
    """Everything ``listener`` receives up to and including the marker (``topic``, ``payload``)."""
    got: list[Message] = []
    deadline = time.monotonic() + timeout_s
    while not any(m.topic == topic and m.payload == payload for m in got):
        assert time.monotonic() < deadline, f"the marker never arrived; got {[(m.topic, m.payload) for m in got]}"
        for message in listener.poll(0.1):
            listener.ack(message)
            got.append(message)
    return got


def attempt(devices: DeviceBroker, attacker: str, topic: str, *, protocol: str = "3.1.1") -> bytes:
    """``attacker`` publishes on ``topic`` (at QoS 1, confirmed by the broker); the payload it sent."""
    body = json.dumps({"spoof": secrets.token_hex(4)}).encode()
    client = devices.publisher(attacker, protocol)
    client.publish(topic, body)
    assert client.wait_published(10)
    client.close()
    return body


def marker(devices: DeviceBroker) -> tuple[str, bytes]:
    """An allowed message, published after the attempt: sensor AQ-A on its own topic."""
    topic, body = f"cityops/{CITY}/readings/AQ-A", json.dumps({"marker": secrets.token_hex(4)}).encode()
    client = devices.publisher("AQ-A")
    client.publish(topic, body)
    assert client.wait_published(10)
    client.close()
    return topic, body


def refused(devices: DeviceBroker, attacker: str, topic: str, protocol: str = "3.1.1") -> bool:
    """Whether the ingest subscriber never sees ``attacker``'s message on ``topic``."""
    ingest = devices.listener("ingest")
    try:
        body = attempt(devices, attacker, topic, protocol=protocol)
        got = received_until(ingest, *marker(devices))
    finally:
        ingest.close()
    return body not in [m.payload for m in got]


def test_each_device_still_publishes_its_own_topic(devices) -> None:
    ingest = devices.listener("ingest")
    sent = []
    for name, topic in [("AQ-B", "readings/AQ-B"), ("FD-1", "units/FD-1"), ("hotline", "events"),
                        ("simulator", "readings/AQ-9"), ("simulator", "units/FD-7"), ("simulator", "events")]:
        sent.append((f"cityops/{CITY}/{topic}", attempt(devices, name, f"cityops/{CITY}/{topic}")))
    got = received_until(ingest, *marker(devices))
    assert [(m.topic, m.payload) for m in got][:-1] == sent
    ingest.close()


def test_the_checks_see_what_gets_through(devices) -> None:
    # Controls: an allowed publish is not "refused", and an allowed reader receives after a round trip.
    assert not refused(devices, "simulator", f"cityops/{CITY}/readings/AQ-A")
    reader = devices.listener("ingest")
    body = attempt(devices, "hotline", f"cityops/{CITY}/events")
    deadline = time.monotonic() + 30
    got: list[Message] = []
    while body not in [m.payload for m in got]:
        assert reader.round_trip() and time.monotonic() < deadline
        got += reader.poll(0)
    reader.close()


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_a_sensor_cannot_publish_another_sensors_readings(devices, protocol: str) -> None:
    assert refused(devices, "AQ-B", f"cityops/{CITY}/readings/AQ-A", protocol)


@pytest.mark.parametrize(("attacker", "topic"), [
    ("FD-2", "units/FD-1"),  # move or take offline another unit
    ("FD-2", "readings/AQ-A"),
    ("FD-2", "events"),
    ("AQ-A", "events"),  # a sensor injecting hotline events
    ("AQ-A", "units/FD-1"),
    ("hotline", "readings/AQ-A"),  # an integration speaking for a sensor
    ("hotline", "units/FD-1"),
    ("ingest", "readings/AQ-A"),  # the reader may not write
    ("simulator", "../shanghai/events"),
])
def test_a_device_cannot_speak_for_another(devices, attacker: str, topic: str) -> None:
    topic = f"cityops/{CITY}/{topic}".replace(f"{CITY}/../", "")
    assert refused(devices, attacker, topic)


def test_a_device_cannot_publish_into_another_city(devices) -> None:
    assert refused(devices, "AQ-A", "cityops/shanghai/readings/AQ-A")


@pytest.mark.parametrize("eavesdropper", ["AQ-A", "FD-1", "hotline", "simulator", "ingest-shanghai"])
@pytest.mark.parametrize("topic", ["cityops/#", f"cityops/{CITY}/#", "#"])
def test_only_the_citys_ingest_account_receives_its_messages(devices, eavesdropper: str, topic: str) -> None:
    ingest = devices.listener("ingest")
    spy = devices.listener(eavesdropper, topic)
    phone_event = attempt(devices, "hotline", f"cityops/{CITY}/events")  # where reporters' phones travel
    got = received_until(ingest, *marker(devices))
    assert phone_event in [m.payload for m in got]
    assert spy.round_trip()  # whatever the broker sent the spy has arrived by now
    assert spy.poll(0) == []
    spy.close()
    ingest.close()


def test_clients_without_a_valid_account_are_refused(devices) -> None:
    for url in (devices.broker.url, devices.url("ingest", "not-the-password"), devices.url("nobody", "x" * 32)):
        with pytest.raises(MqttUnavailable):
            MqttClient(BrokerAddress.from_url(url), f"anonymous-{secrets.token_hex(3)}").connect(timeout_s=5)


def test_a_revoked_device_is_refused_and_disconnected_after_the_reload(devices) -> None:
    connected = devices.publisher("AQ-B")
    devices.files.revoke("AQ-B")
    assert reload_broker(devices.broker.pid_file) > 0

    def refused_now() -> bool:
        try:
            devices.publisher("AQ-B").close()
        except MqttUnavailable:
            return True
        return False

    deadline = time.monotonic() + 20
    while not (refused_now() and not connected.connected):  # the broker reloads when its loop comes round
        assert time.monotonic() < deadline, "the revoked device can still connect"
        time.sleep(0.1)
    ingest = devices.listener("ingest")
    connected.publish(f"cityops/{CITY}/readings/AQ-B", b'{"after": "revocation"}')  # queued by paho, never let in
    got = received_until(ingest, *marker(devices))
    assert b'{"after": "revocation"}' not in [m.payload for m in got]
    connected.close()
    ingest.close()


@pytest.mark.parametrize("hostile", ["x\ntopic readwrite #", "x\nuser ingest", "#", "+", "x/#", "a b", "x\r\n", ""])
def test_an_id_or_name_that_would_write_acl_lines_is_refused(devices, hostile: str) -> None:
    before = devices.files.acl_file.read_bytes()
    with pytest.raises(DeviceError):
        devices.files.add(Device("evil", "sensor", CITY, hostile), generate_password())
    with pytest.raises(DeviceError):
        devices.files.add(Device(hostile, "integration", CITY), generate_password())
    assert devices.files.acl_file.read_bytes() == before


def test_a_hand_edited_devices_file_cannot_inject_acl_lines(devices) -> None:
    manifest = devices.files.folder / "devices.json"
    raw = json.loads(manifest.read_text())
    raw["devices"][0]["id"] = "AQ-A\ntopic readwrite #"
    manifest.write_text(json.dumps(raw))
    before = devices.files.acl_file.read_bytes(), devices.files.password_file.read_bytes()
    with pytest.raises(DeviceError, match="bad sensor id"):
        devices.files.add(Device("new", "integration", CITY), generate_password())
    assert (devices.files.acl_file.read_bytes(), devices.files.password_file.read_bytes()) == before


def cityops(*args: str, data_dir: Path, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CITYOPS_")},
           "CITYOPS_CITY": CITY, "CITYOPS_DATA_DIR": str(data_dir)}
    return subprocess.run([sys.executable, "-m", "cityops", *args], env=env, input=stdin, capture_output=True,
                          text=True, timeout=120)


def test_cityops_device_adds_lists_and_revokes_and_reloads_the_broker(devices, tmp_path) -> None:
    where = ["--broker-dir", str(devices.files.folder), "--pid-file", str(devices.broker.pid_file)]
    added = cityops("device", "add", "AQ-C", "--kind", "sensor", *where, data_dir=tmp_path)
    assert added.returncode == 0, added.stderr
    assert "broker reloaded" in added.stdout
    password = re.search(r"password \(shown once[^)]*\): (\S+)", added.stdout).group(1)
    assert password not in devices.files.password_file.read_text()  # only its hash is kept
    listing = cityops("device", "list", "--broker-dir", str(devices.files.folder), data_dir=tmp_path)
    assert re.search(r"^AQ-C\s+sensor\s+nyc\s+AQ-C", listing.stdout, re.M), listing.stdout

    ingest = devices.listener("ingest")
    devices.passwords["AQ-C"] = password
    body = attempt(devices, "AQ-C", f"cityops/{CITY}/readings/AQ-C")  # may connect at once: the broker reloaded
    assert body in [m.payload for m in received_until(ingest, *marker(devices))]
    ingest.close()

    revoked = cityops("device", "revoke", "AQ-C", *where, data_dir=tmp_path)
    assert revoked.returncode == 0 and "broker reloaded" in revoked.stdout, revoked.stderr
    deadline = time.monotonic() + 20
    while True:
        try:
            devices.publisher("AQ-C").close()
        except MqttUnavailable:
            break
        assert time.monotonic() < deadline, "the revoked device can still connect"
        time.sleep(0.1)


def test_cityops_device_failures_are_one_line(devices, tmp_path) -> None:
    where = ["--broker-dir", str(devices.files.folder)]
    for args, message in [
        (["add", "evil", "--kind", "sensor", "--id", "x\ntopic readwrite #", "--no-reload"], "bad sensor id"),
        (["add", "AQ-A", "--kind", "sensor", "--no-reload"], "exists: add --update"),
        (["add", "AQ-D", "--kind", "sensor", "--pid-file", str(tmp_path / "none.pid")], "no broker was reloaded"),
        (["revoke", "nobody", "--no-reload"], "no device nobody"),
    ]:
        result = cityops("device", *args, *where, data_dir=tmp_path)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1 and len(lines) == 1 and message in lines[0], result.stderr
    short = cityops("device", "add", "AQ-E", "--kind", "sensor", "--password-stdin", "--no-reload", *where,
                    data_dir=tmp_path, stdin="short\n")
    assert short.returncode == 1 and "20 to 256 characters" in short.stderr
    assert b"AQ-D" in devices.files.acl_file.read_bytes()  # written, only the reload failed
    assert b"evil" not in devices.files.acl_file.read_bytes() and b"AQ-E" not in devices.files.acl_file.read_bytes()


def test_the_shipped_broker_config_bounds_every_queue() -> None:
    settings = dict(line.split(None, 1) for line in BROKER_CONFIG.read_text().splitlines()
                    if line.strip() and not line.startswith("#"))
    assert 100_000 < int(settings["max_queued_messages"]) <= 10_000_000
    assert 0 < int(settings["max_queued_bytes"]) <= 1024**3
    expiry = settings["persistent_client_expiration"]
    assert expiry[-1] in "hd" and 0 < int(expiry[:-1]) * (1 if expiry[-1] == "h" else 24) <= 72


def test_the_finite_queue_still_holds_a_backlog_of_100_000_for_an_absent_ingest(devices) -> None:
    """The ingest benchmark's backlog: QoS 1 messages queued while the ingest is away all arrive."""
    address = BrokerAddress.from_url(devices.url("ingest"))
    absent = MqttClient(address, "ingest-absent", consumer=True)  # a persistent session
    absent.subscribe(f"cityops/{CITY}/#")
    absent.connect()
    assert absent.round_trip()
    absent.close()
    total = 100_000
    simulator = devices.publisher("simulator")
    for i in range(total):
        simulator.publish(f"cityops/{CITY}/readings/AQ-{i % 500}", b'{"n": %d}' % i)
    assert simulator.wait_published(180)
    simulator.close()
    back = MqttClient(address, "ingest-absent", consumer=True)
    back.subscribe(f"cityops/{CITY}/#")
    back.connect()
    seen: set[bytes] = set()
    deadline = time.monotonic() + 180
    while len(seen) < total and time.monotonic() < deadline:
        for message in back.poll(0.1):
            seen.add(message.payload)
            back.ack(message)
    back.close()
    assert len(seen) == total
