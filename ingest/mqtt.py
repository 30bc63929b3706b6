"""The only module that imports paho-mqtt: connect, subscribe, receive, acknowledge, publish.

The rest of cityops sees :class:`Message` (a small immutable tuple) and :class:`MqttClient`'s
few methods, never paho's objects. Two ways to run:

- a *consumer* (``consumer=True``) drives the network itself: :meth:`MqttClient.poll`
  reads what arrived and returns it, acknowledgements are sent on the next poll. One thread
  does everything, which measured twice as fast as handing each message from paho's thread
  to a worker thread (the two fight over the GIL);
- a *publisher* (the default) lets paho's own thread send in the background.

A consumer acknowledges each message only after its rows are committed. After a reconnect
the broker redelivers whatever was not acknowledged, so messages from an older connection
are never acknowledged on a newer one (their packet ids mean nothing there).
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

log = logging.getLogger(__name__)

# How many unacknowledged QoS 1 messages the broker may have in flight to one consumer
# (MQTT 5 Receive Maximum). Large enough for batching; the broker config must allow it.
RECEIVE_MAXIMUM = 10_000
# Unacknowledged QoS 1 messages a publisher keeps in flight to the broker: enough to keep the
# link busy, well inside the broker's Receive Maximum.
PUBLISH_INFLIGHT = 1000
# Messages a publisher may have queued but not yet confirmed by the broker before publish() waits.
MAX_UNCONFIRMED = 10_000
# A persistent session outlives a restart of the consumer by this long (MQTT 5).
SESSION_EXPIRY_S = 7 * 24 * 3600
KEEPALIVE_S = 30


def _nothing(*_: object) -> None:
    pass


class MqttUnavailable(Exception):
    """The broker could not be reached or refused the connection."""


@dataclass(frozen=True)
class BrokerAddress:
    """Where the broker is and how to talk to it, from ``mqtt[s]://[user:pass@]host:port[?ca_file=…]``."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None

    @classmethod
    def from_url(cls, url: str) -> BrokerAddress:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ValueError(f"MQTT URL must start with mqtt:// or mqtts://, not {parts.scheme or 'nothing'}://")
        if not parts.hostname:
            raise ValueError("MQTT URL has no host")
        tls = parts.scheme == "mqtts"
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError:
            raise ValueError("MQTT URL has a bad port") from None
        options = parse_qs(parts.query)
        unknown = set(options) - {"ca_file"}
        if unknown:
            raise ValueError(f"unknown MQTT URL option {sorted(unknown)[0]!r} (known: ca_file)")
        return cls(
            host=parts.hostname,
            port=port,
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            ca_file=options["ca_file"][0] if "ca_file" in options else None,
        )

    def __str__(self) -> str:  # never show the password
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


class Message(NamedTuple):
    """One received MQTT message; ``generation`` says which connection delivered it."""

    topic: str
    payload: bytes
    qos: int
    mid: int
    received_at: datetime
    generation: int


class MqttClient:
    """A paho client with cityops's rules: QoS 1, persistent session, manual acks, MQTT 5 first.

    ``protocol`` is ``"auto"`` (try MQTT 5, fall back to 3.1.1 when the broker refuses it),
    ``"5"`` or ``"3.1.1"``.
    """

    def __init__(
        self,
        address: BrokerAddress,
        client_id: str,
        *,
        persistent: bool = True,
        protocol: str = "auto",
        receive_maximum: int = RECEIVE_MAXIMUM,
        consumer: bool = False,
    ) -> None:
        if protocol not in ("auto", "5", "3.1.1"):
            raise ValueError(f"unknown MQTT protocol {protocol!r} (auto, 5 or 3.1.1)")
        self.address = address
        self.client_id = client_id
        self.persistent = persistent
        self.protocol = protocol
        self.receive_maximum = receive_maximum
        self.consumer = consumer
        self._inbox: list[Message] = []
        self._next_reconnect = 0.0
        self._reconnect_delay = 1.0
        self._socket_open = False
        self._subscriptions: list[str] = []
        self._unsubscriptions: list[str] = []
        self._connected = threading.Event()
        self._attempt_failed = threading.Event()
        self._pending: deque[paho.MQTTMessageInfo] = deque()
        self._refused: str | None = None
        self._generation = 0
        self._answered: set[int] = set()  # message ids of UNSUBSCRIBEs the broker acknowledged
        self._lock = threading.Lock()
        self._client: paho.Client | None = None
        self.version: str | None = None

    # -- connection -------------------------------------------------------------------

    def connect(self, timeout_s: float = 10.0) -> None:
        """Connect, blocking until the broker accepts (a publisher also starts paho's thread)."""
        versions = ["5", "3.1.1"] if self.protocol == "auto" else [self.protocol]
        last_error = ""
        for version in versions:
            self._start(version)
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline and not self._connected.is_set() and not self._attempt_failed.is_set():
                if self.consumer:
                    self._pump(0.02)
                else:
                    time.sleep(0.02)
            if self._connected.is_set():
                self.version = version
                log.info("connected to %s with MQTT %s as %s", self.address, version, self.client_id)
                return
            last_error = self._refused or ("connection closed" if self._attempt_failed.is_set() else "no answer")
            self._stop_client()
            if self._refused and "authori" in self._refused.lower():
                break  # bad credentials: another protocol version will not help
        raise MqttUnavailable(f"cannot connect to {self.address}: {last_error}")

    def _start(self, version: str) -> None:
        self._connected.clear()
        self._attempt_failed.clear()
        self._refused = None
        v5 = version == "5"
        client = paho.Client(
            callback_api_version=paho.CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=paho.MQTTv5 if v5 else paho.MQTTv311,
            clean_session=None if v5 else not self.persistent,
            manual_ack=True,
        )
        if self.address.username:
            client.username_pw_set(self.address.username, self.address.password)
        if self.address.tls:
            context = ssl.create_default_context(cafile=self.address.ca_file)
            client.tls_set_context(context)
        client.max_inflight_messages_set(self.receive_maximum if self.consumer else PUBLISH_INFLIGHT)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_unsubscribe = self._on_unsubscribe
        if self.consumer:
            # Declaring an "external event loop" makes paho queue acks for the next poll instead of
            # writing each one to the socket at once: one send per batch, not per message.
            client.on_socket_register_write = _nothing
        properties = None
        if v5:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = SESSION_EXPIRY_S if self.persistent else 0
            properties.ReceiveMaximum = self.receive_maximum
        self._client = client
        # A consumer connects here and now (its own loop reads the CONNACK); a publisher's
        # network thread connects, and reconnects, by itself.
        connect = client.connect if self.consumer else client.connect_async
        try:
            connect(
                self.address.host,
                self.address.port,
                keepalive=KEEPALIVE_S,
                clean_start=not self.persistent if v5 else paho.MQTT_CLEAN_START_FIRST_ONLY,
                properties=properties,
            )
        except (OSError, ssl.SSLError, ValueError) as error:
            raise MqttUnavailable(f"cannot connect to {self.address}: {error}") from None
        self._socket_open = self.consumer
        if not self.consumer:
            client.loop_start()

    def _stop_client(self, end_session: bool = False) -> None:
        if self._client is not None:
            properties = None
            if end_session and self.version == "5":
                properties = Properties(PacketTypes.DISCONNECT)
                properties.SessionExpiryInterval = 0  # MQTT 5: the broker discards the session now
            self._client.disconnect(properties=properties)
            if self.consumer:
                self._client.loop(0.1)  # send the DISCONNECT
            else:
                self._client.loop_stop()
            self._client = None

    def close(self, end_session: bool = False) -> None:
        """Disconnect cleanly; unacknowledged messages stay with the broker's session, unless
        ``end_session`` (MQTT 5): then the broker discards the session, its subscriptions and queue."""
        self._connected.clear()  # a chosen disconnect is not worth a warning
        self._stop_client(end_session)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def generation(self) -> int:
        return self._generation

    # -- paho callbacks (network thread) --------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._refused = str(reason_code)
            log.warning("broker %s refused the connection: %s", self.address, reason_code)
            if self.version is None:
                client.disconnect()  # first connect: let connect() decide (e.g. fall back to 3.1.1)
            return
        with self._lock:
            self._generation += 1
        # Subscribing here means every reconnect resubscribes.
        for topic in self._unsubscriptions:
            client.unsubscribe(topic)
        for topic in self._subscriptions:
            client.subscribe(topic, qos=1)
        self._connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self._connected.is_set():
            log.warning("disconnected from %s (%s); paho reconnects with backoff", self.address, reason_code)
        elif self.version is None:
            self._attempt_failed.set()  # closed before CONNACK: e.g. a broker without MQTT 5
        self._connected.clear()

    def _on_unsubscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self._answered.add(mid)

    def _on_message(self, client, userdata, message) -> None:
        self._inbox.append(
            Message(message.topic, message.payload, message.qos, message.mid, datetime.now(UTC), self._generation)
        )

    # -- a consumer's network loop --------------------------------------------------------

    def _pump(self, timeout_s: float) -> None:
        """Run paho's loop once: send what is queued (acks), read what arrived; reconnect when due."""
        client = self._client
        if client is None:
            return
        if self._socket_open:
            if client.loop(timeout_s) == paho.MQTT_ERR_SUCCESS:
                return
            self._socket_open = False
            if self._connected.is_set():
                log.warning("lost the connection to %s; reconnecting with backoff", self.address)
            self._connected.clear()
            self._next_reconnect = time.monotonic() + self._reconnect_delay
        else:
            time.sleep(timeout_s)
        if self.version is None or time.monotonic() < self._next_reconnect:
            return  # before the first CONNACK, connect() decides what to do
        try:
            client.reconnect()
            self._socket_open = True
            self._reconnect_delay = 1.0
        except (OSError, ssl.SSLError) as error:
            self._reconnect_delay = min(self._reconnect_delay * 2, 30.0)
            self._next_reconnect = time.monotonic() + self._reconnect_delay
            log.warning("cannot reach %s (%s); next try in %.0f s", self.address, error, self._reconnect_delay)

    def pump(self, timeout_s: float = 0.0) -> None:
        """Keep the connection alive and read into the inbox, without taking anything (a consumer
        waiting on something else, e.g. the database, calls this)."""
        self._require_consumer()
        self._pump(timeout_s)

    def poll(self, timeout_s: float = 0.1) -> list[Message]:
        """Everything received so far, waiting up to ``timeout_s`` for the network when nothing is."""
        self._require_consumer()
        if not self._inbox:
            self._pump(timeout_s)
        messages, self._inbox = self._inbox, []
        return messages

    def round_trip(self, timeout_s: float = 10.0) -> bool:
        """Wait for the broker to answer a request (unsubscribing a topic never subscribed); False on timeout.

        One connection delivers in order, so everything the broker sent this consumer before has
        then arrived in the inbox: what has not, was not sent. The tests prove with it that a
        message was withheld, without waiting and hoping.
        """
        self._require_consumer()
        client = self._client
        if client is None or not self.connected:
            return False
        _, mid = client.unsubscribe("cityops/round-trip")
        deadline = time.monotonic() + timeout_s
        while mid not in self._answered and time.monotonic() < deadline:
            self._pump(0.05)
        answered = mid in self._answered
        self._answered.discard(mid)
        return answered

    def _require_consumer(self) -> None:
        if not self.consumer:
            raise RuntimeError("only a client made with consumer=True polls")

    # -- use ----------------------------------------------------------------------------

    def subscribe(self, topic: str) -> None:
        """Subscribe at QoS 1, now and after every reconnect."""
        self._subscriptions.append(topic)
        if self._client is not None and self.connected:
            self._client.subscribe(topic, qos=1)

    def drop_subscription(self, topic: str) -> None:
        """Unsubscribe ``topic`` on connecting: a persistent session keeps every subscription it
        ever made, so one left over from an earlier run would deliver everything a second time."""
        self._unsubscriptions.append(topic)

    def ack(self, message: Message) -> bool:
        """Acknowledge a message; False (and nothing sent) if it came from an older connection."""
        client = self._client
        if client is None or message.generation != self._generation or not self.connected:
            return False
        if message.qos > 0:
            client.ack(message.mid, message.qos)
        return True

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False) -> None:
        """Queue a message for publishing (paho's thread sends it)."""
        if self._client is None:
            raise MqttUnavailable("not connected")
        if self.consumer:
            raise RuntimeError("a consumer does not publish; use a separate publisher client")
        if len(self._pending) >= MAX_UNCONFIRMED:
            # Back-pressure: a publisher faster than the broker would otherwise run out of the
            # 65,535 packet ids and grow its queue without bound.
            while self._pending and self._pending[0].is_published():
                self._pending.popleft()
            if len(self._pending) >= MAX_UNCONFIRMED and not self._wait_oldest(30.0):
                raise MqttUnavailable(f"{self.address} confirms nothing; {len(self._pending)} messages waiting")
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc == paho.MQTT_ERR_QUEUE_SIZE:
            raise MqttUnavailable("outgoing queue full")
        self._pending.append(info)

    def _wait_oldest(self, timeout_s: float) -> bool:
        """Wait until the oldest unconfirmed message is confirmed (False on timeout)."""
        try:
            self._pending[0].wait_for_publish(timeout_s)
        except RuntimeError:
            time.sleep(0.05)  # not connected right now: paho resends after reconnecting
        if self._pending[0].is_published():
            self._pending.popleft()
            return True
        return False

    def wait_published(self, timeout_s: float = 30.0) -> bool:
        """Wait until every message published so far has been sent (and acknowledged at QoS 1)."""
        deadline = time.monotonic() + timeout_s
        while self._pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._wait_oldest(remaining)
        return True
