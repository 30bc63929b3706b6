"""Ingest on several hosts (issue 19): separate `cityops ingest` processes, each with a name and so MQTT
client ids of its own, share the city's feed through one MQTT 5 shared subscription
(`CITYOPS_MQTT_SHARE_GROUP`), signed in as the one `ingest` account of the device model.

The broker is a real Mosquitto set up as docs/broker-cluster.md says any MQTT 5 broker must be for
cityops (the ingest account may read the city, `$share` on, a QoS 1 in-flight window of 10,000, bounded
queues). There is no EMQX or VerneMQ on this machine, so Mosquitto stands in for "any MQTT 5 broker": the
end-to-end test asserts only what MQTT 5 promises, which holds whether a broker keeps a dead member's
messages for its return (Mosquitto) or hands them to another member. What Mosquitto does is pinned down
by the last test, so that docs/broker-cluster.md's account of it stays true. Retiring a host
(`cityops ingest --retire`) takes its session out of the group on any broker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta

from ingest.mqtt import BrokerAddress, MqttClient
from tests.integration.test_ingest import (
    CITY,
    count,
    ingest_subprocess,
    now,
    publish_numbered,
    publisher,
    query,
    some_sensors,
    wait_for,
)
from tests.integration.test_ingest_security import accounts  # noqa: F401 - the device-model broker fixture

GROUP = "cityops-hosts"


def host(database_url: str, mqtt_url: str, name: str) -> subprocess.Popen:
    """One ingest host: `cityops ingest --protocol 5` in the share group, named ``name``."""
    return ingest_subprocess(database_url, mqtt_url, 1, "--protocol", "5", mqtt_share_group=GROUP, ingest_name=name)


def retire(database_url: str, mqtt_url: str, name: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CITYOPS_DATABASE_URL": database_url, "CITYOPS_MQTT_URL": mqtt_url, "CITYOPS_CITY": CITY,
           "CITYOPS_MQTT_SHARE_GROUP": GROUP, "CITYOPS_INGEST_NAME": name}
    return subprocess.run([sys.executable, "-m", "cityops", "ingest", "--protocol", "5", "--retire"], env=env,
                          capture_output=True, text=True, timeout=300)


def reported(database_url: str) -> dict[str, tuple[str, int]]:
    """process id → (state, messages stored) as each worker last reported it."""
    rows = query(database_url, "SELECT process_id, state, messages_total FROM process_status")
    return {process_id: (state, messages) for process_id, state, messages in rows}


def process_id(name: str) -> str:
    return f"ingest-{CITY}-{name}-0"


def test_ingest_hosts_share_the_feed_a_killed_one_loses_nothing_a_retired_one_leaves(
        ingest_db, accounts, nyc) -> None:  # noqa: F811
    names = ("alpha", "bravo", "charlie")
    hosts = {name: host(ingest_db, accounts["ingest"], name) for name in names}
    sensors = some_sensors(nyc, "water_pressure", 150)
    started = now() - timedelta(hours=6)
    phase = 3_000

    def publish(n: int, hour: int) -> None:  # distinct readings per phase: an hour apart
        publish_numbered(accounts["simulator"], sensors, n, started + timedelta(hours=hour))

    try:
        # Subscribed once each reports running (the session and its shared subscription exist then).
        wait_for(lambda: all(reported(ingest_db).get(process_id(name), ("",))[0] == "running" for name in names),
                 what="three ingest hosts to subscribe", timeout_s=120)
        publish(phase, 0)
        # Every host takes a share (each reports its total on its heartbeat, after the rows are in).
        wait_for(lambda: count(ingest_db, "readings") == phase
                 and all(reported(ingest_db)[process_id(name)][1] > 0 for name in names),
                 what="every host to store a share", timeout_s=120)
        sender = threading.Thread(target=publish, args=(3 * phase, 1))
        sender.start()
        wait_for(lambda: count(ingest_db, "readings") > phase + 1_000, what="the stream to flow", timeout_s=120)
        hosts["bravo"].send_signal(signal.SIGKILL)  # mid-stream: its unacknowledged messages stay with the broker
        hosts["bravo"].wait()
        at_kill = count(ingest_db, "readings")
        sender.join()
        publish(phase, 2)  # while bravo is gone …
        # … the other two carry on.
        wait_for(lambda: count(ingest_db, "readings") > at_kill + phase // 3, what="the others to carry on",
                 timeout_s=120)
        # bravo comes back under its name, so with its session: whatever the broker kept for it arrives now.
        hosts["bravo"] = host(ingest_db, accounts["ingest"], "bravo")
        total = 5 * phase
        wait_for(lambda: count(ingest_db, "readings") == total, what=f"all {total} readings", timeout_s=180)
        # bravo's host is retired for good: its session leaves the group, so the others get everything new.
        hosts["bravo"].terminate()
        hosts["bravo"].wait(timeout=60)
        retired = retire(ingest_db, accounts["ingest"], "bravo")
        assert retired.returncode == 0 and "retired bravo" in retired.stdout, retired.stdout + retired.stderr
        publish(phase // 10, 3)
        total += phase // 10
        wait_for(lambda: count(ingest_db, "readings") == total, what="the new readings without bravo",
                 timeout_s=120)
    finally:
        for process in hosts.values():
            process.terminate()
        for process in hosts.values():
            process.wait(timeout=60)
    assert at_kill < 4 * phase
    assert query(ingest_db, "SELECT count(*), count(DISTINCT (sensor_id, time)) FROM readings") == [(total, total)]
    assert count(ingest_db, "rejects") == 0


def test_mosquitto_keeps_a_departed_members_messages_for_its_return(accounts) -> None:  # noqa: F811
    """What Mosquitto does with a shared-subscription member that goes away with a persistent session:
    the messages it had not acknowledged stay in its session (not handed to the others), and it goes on
    getting its turn of new messages, queued, until it comes back under the same client id (or its
    session expires: persistent_client_expiration, 2 days in deploy/mosquitto/cityops.conf)."""
    address = BrokerAddress.from_url(accounts["ingest"])
    subscription = f"$share/{GROUP}/cityops/{CITY}/#"

    def member(client_id: str) -> MqttClient:
        client = MqttClient(address, client_id, protocol="5", consumer=True)
        client.subscribe(subscription)
        client.connect()
        assert client.round_trip()  # subscribed
        return client

    def drain(client: MqttClient) -> list[bytes]:
        assert client.round_trip()  # everything the broker sent this member before has arrived
        return [message.payload for message in client.poll(0)]

    stays, leaves = member("test-stays"), member("test-leaves")
    pub = publisher(accounts["simulator"], "test-shared-publisher")
    try:
        def publish(first: int, last: int) -> set[bytes]:
            payloads = {b'{"n": %d}' % n for n in range(first, last)}
            for payload in sorted(payloads):
                pub.publish(f"cityops/{CITY}/events", payload)
            assert pub.wait_published(30)
            return payloads

        before = publish(0, 20)
        held = drain(leaves)  # received, never acknowledged …
        leaves.close()  # … and gone (a killed process looks the same to the broker, bar a will message)
        early = drain(stays)
        assert held and early and set(held) | set(early) == before
        after = publish(20, 60)
        late = drain(stays)
        # The one that stayed got only its turns: the departed member's unacknowledged messages and its
        # turns of the new ones wait in its session.
        assert set(late) < after and not set(late) & set(held)
        back = member("test-leaves")
        returned = drain(back)
        assert set(held) <= set(returned)  # redelivered
        assert set(late) | set(returned) == after | set(held)
        back.close()
    finally:
        stays.close()
        pub.close()
