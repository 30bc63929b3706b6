"""Broker authentication and TLS: mqtts://user:pass@host against a Mosquitto with a password
file and a certificate made by this test."""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.mqtt import BrokerAddress, MqttClient, MqttUnavailable
from tests.integration.servers import free_port, mosquitto, wait_for_port


@dataclass(frozen=True)
class SecureBroker:
    port: int  # plain listener, credentials required
    tls_port: int  # TLS listener, credentials required


def make_certificates(folder: Path) -> dict[str, Path]:
    """A private CA and a server certificate for localhost / 127.0.0.1, signed by it."""
    ca_key, ca_crt = folder / "ca.key", folder / "ca.crt"
    key, csr, crt = folder / "server.key", folder / "server.csr", folder / "server.crt"
    ext = folder / "san.ext"
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n", encoding="utf-8")
    run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=cityops test CA",
        "-keyout", str(ca_key), "-out", str(ca_crt))
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(csr))
    run("x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key), "-CAcreateserial",
        "-days", "2", "-extfile", str(ext), "-out", str(crt))
    for path in (key, ca_key):
        path.chmod(0o644)  # mosquitto may drop privileges and must still read its key
    return {"ca": ca_crt, "cert": crt, "key": key}


@pytest.fixture
def secure_broker(tmp_path: Path):
    certs = make_certificates(tmp_path)
    passwd = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwd), "ingest", "s3cret:with@signs"], check=True)
    passwd.chmod(0o644)
    tls_port = free_port()
    extra = (
        f"password_file {passwd}\n"
        f"listener {tls_port} 127.0.0.1\n"
        f"cafile {certs['ca']}\ncertfile {certs['cert']}\nkeyfile {certs['key']}\n"
    )
    with mosquitto(tmp_path / "broker", extra=extra, anonymous=False) as broker:
        assert wait_for_port(tls_port), broker.log()
        yield SecureBroker(port=broker.port, tls_port=tls_port), certs


def url(port: int, *, user: str = "ingest", password: str = "s3cret%3Awith%40signs", ca: Path | None = None,
        scheme: str = "mqtts") -> str:
    query = f"?ca_file={ca}" if ca else ""
    return f"{scheme}://{user}:{password}@localhost:{port}{query}"


def test_tls_with_a_password_carries_messages(secure_broker) -> None:
    broker, certs = secure_broker
    address = BrokerAddress.from_url(url(broker.tls_port, ca=certs["ca"]))
    assert address.tls and address.password == "s3cret:with@signs" and "s3cret" not in str(address)
    consumer = MqttClient(address, "secure-consumer", consumer=True)
    consumer.subscribe("cityops/nyc/#")
    consumer.connect()
    assert consumer.round_trip()  # the subscription is in place before the producer publishes
    producer = MqttClient(address, "secure-producer", persistent=False)
    producer.connect()
    body = json.dumps({"ts": datetime.now(UTC).isoformat(), "values": {"noise_dba": 50}})
    producer.publish("cityops/nyc/readings/NS-1", body)
    received = []
    deadline = time.monotonic() + 30  # generous: the CI machine is shared, and TLS handshakes are slow there
    while not received and time.monotonic() < deadline:
        received = consumer.poll(0.1)
    assert [m.payload for m in received] == [body.encode()] and consumer.ack(received[0])
    producer.close()
    consumer.close()


def test_a_wrong_password_is_refused_with_a_clear_error(secure_broker) -> None:
    broker, certs = secure_broker
    client = MqttClient(BrokerAddress.from_url(url(broker.tls_port, password="wrong", ca=certs["ca"])), "intruder")
    with pytest.raises(MqttUnavailable, match="cannot connect") as error:
        client.connect(timeout_s=5)
    assert "wrong" not in str(error.value)


def test_no_credentials_are_refused_on_the_plain_listener(secure_broker) -> None:
    broker, _ = secure_broker
    client = MqttClient(BrokerAddress.from_url(f"mqtt://127.0.0.1:{broker.port}"), "anonymous")
    with pytest.raises(MqttUnavailable):
        client.connect(timeout_s=5)


# paho leaves the socket of a failed TLS handshake for the garbage collector.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_server_certificate_from_an_unknown_ca_is_refused(secure_broker) -> None:
    broker, _ = secure_broker
    client = MqttClient(BrokerAddress.from_url(url(broker.tls_port)), "trusting-nobody")
    with pytest.raises(MqttUnavailable):
        client.connect(timeout_s=5)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("http://host:1883", "mqtt:// or mqtts://"),
        ("mqtt://", "no host"),
        ("mqtt://host:99999", "bad port"),
        ("mqtt://host:1883?verify=no", "unknown MQTT URL option"),
    ],
)
def test_bad_broker_urls_are_explained(bad: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BrokerAddress.from_url(bad)
