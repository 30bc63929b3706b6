"""The ingest consumer: receive → parse → write one batch → acknowledge.

The worker drives its MQTT consumer's network loop itself; a batch closes when it holds enough readings
or messages or is old enough, is written in one transaction, and only then are its
messages acknowledged. If the database is down the batch is kept and retried with
backoff while the broker holds everything else (flow control stops it sending more
than the Receive Maximum). If one message makes the write fail for a reason other than
the connection, the batch is split until that message is found; it becomes a reject
and everything else is stored.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ingest.mqtt import Message, MqttClient, MqttUnavailable
from ingest.parse import IngestContext, Parsed, parse_message, reject_message
from store import IngestBatch, ProcessStatus, StoreUnavailable, is_disconnect, report_status, write_ingest_batch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchLimits:
    """When a batch closes: whichever comes first."""

    readings: int = 10_000
    messages: int = 2_000
    age_s: float = 0.25


@dataclass(frozen=True)
class Chore:
    """Database work a worker does every ``every_s`` seconds between batches."""

    name: str
    every_s: float
    run: Callable[[object], object]


@dataclass
class Counters:
    """Running totals, reported to ``process_status``."""

    messages: int = 0
    readings: int = 0
    duplicates: int = 0
    rejects: int = 0
    events: int = 0
    unit_positions: int = 0
    batches: int = 0
    last_message_at: datetime | None = None
    last_lag_s: float | None = None
    per_feed: dict[str, int] = field(default_factory=dict)


def feed_of(topic: str) -> str:
    """``readings``, ``events``, ``units`` or ``other`` for a topic ``cityops/<city>/<feed>/…``."""
    parts = topic.split("/", 3)
    return parts[2] if len(parts) > 2 and parts[2] in ("readings", "events", "units") else "other"


class IngestWorker:
    """One consumer. ``connect_db`` returns a new database connection (called again after a failure)."""

    def __init__(
        self,
        mqtt: MqttClient,
        connect_db: Callable[[], object],
        context: IngestContext,
        *,
        process_id: str,
        limits: BatchLimits = BatchLimits(),
        status_every_s: float = 5.0,
        chores: Sequence[Chore] = (),
    ) -> None:
        self.mqtt = mqtt
        self.connect_db = connect_db
        self.context = context
        self.process_id = process_id
        self.limits = limits
        self.status_every_s = status_every_s
        # Periodic database work (rollup refresh, retention), each given the worker's connection.
        self.chores = list(chores)
        self._chores_done: dict[str, float] = {}
        self.counters = Counters()
        self.started_at = datetime.now(UTC)
        self._conn = None
        self._last_status = 0.0
        self._rate_window: tuple[float, int] = (time.monotonic(), 0)
        self.state = "starting"

    # -- the loop ---------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Consume until ``stop`` is set; the batch in hand is written before returning."""
        self.state = "running"
        while not stop.is_set():
            batch = self._collect(stop)
            if batch:
                self._store(batch, stop)
            self._maybe_report()
            self._run_chores()
        self.state = "stopped"
        self._maybe_report(force=True)

    def drain(self, stop: threading.Event) -> int:
        """Store whatever the broker sends this session until a round trip brings nothing more; the
        number of messages stored. For a session that has left its subscriptions (retiring an ingest):
        the broker then sends only what it had kept for it, in order, before answering the round trip."""
        self.state = "retiring"
        stored = 0
        while not stop.is_set():
            if not self.mqtt.round_trip():
                raise MqttUnavailable(f"{self.mqtt.address} did not answer; nothing was given up")
            messages = self.mqtt.poll(0)
            if not messages:
                break
            self._store([(message, self._parse(message)) for message in messages], stop)
            stored += len(messages)
        self.state = "stopped"
        self._maybe_report(force=True)
        return stored

    def _collect(self, stop: threading.Event) -> list[tuple[Message, Parsed]]:
        batch: list[tuple[Message, Parsed]] = []
        readings = 0
        deadline = None
        idle_until = time.monotonic() + 1.0  # an idle worker still reports its status
        while not stop.is_set():
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                break
            if deadline is None and now > idle_until:
                break
            messages = self.mqtt.poll(0.05 if deadline is None else min(0.05, deadline - now))
            if messages and deadline is None:
                deadline = time.monotonic() + self.limits.age_s
            for message in messages:
                parsed = self._parse(message)
                batch.append((message, parsed))
                readings += len(parsed.readings)
            if readings >= self.limits.readings or len(batch) >= self.limits.messages:
                break
        return batch

    def _parse(self, message: Message) -> Parsed:
        try:
            return parse_message(message.topic, message.payload, message.received_at, self.context)
        except Exception as error:  # a parser bug must not stop the feed: keep the message as a reject
            log.exception("parser failed on a message from %s", message.topic)
            return reject_message(message.received_at, message.topic, f"parser error: {type(error).__name__}",
                                  message.payload)

    # -- writing ------------------------------------------------------------------------

    def _store(self, batch: list[tuple[Message, Parsed]], stop: threading.Event) -> None:
        delay = 0.5
        while True:
            try:
                self._write(batch)
                break
            except StoreUnavailable as error:
                self.state = "database unavailable"
                log.warning("database unavailable (%s); retrying in %.1f s", error, delay)
                self._drop_connection()
                # Keep the broker connection alive meanwhile; what arrives waits in the inbox,
                # and the broker stops sending at the Receive Maximum.
                until = time.monotonic() + delay
                while time.monotonic() < until and not stop.is_set():
                    self.mqtt.pump(0.1)
                if stop.is_set():
                    return  # not acknowledged: the broker redelivers after a restart
                delay = min(delay * 2, 30.0)
        self.state = "running"
        acked = sum(self.mqtt.ack(message) for message, _ in batch)
        if acked < len(batch):
            # Delivered on an older connection: the broker redelivers them and the unique
            # keys make the second write change nothing.
            log.info("%d messages came from an earlier connection; the broker redelivers them", len(batch) - acked)
        now = datetime.now(UTC)
        self.counters.messages += len(batch)
        self.counters.batches += 1
        self.counters.last_message_at = batch[-1][0].received_at
        self.counters.last_lag_s = (now - batch[0][0].received_at).total_seconds()
        for message, parsed in batch:
            feed = feed_of(message.topic)
            self.counters.per_feed[feed] = self.counters.per_feed.get(feed, 0) + 1
            for sighting in parsed.sightings:
                self.context.register_sensor(sighting.sensor_id, sighting.lon, sighting.lat)

    def _write(self, batch: list[tuple[Message, Parsed]]) -> None:
        """Write ``batch``; a message that the database refuses becomes a reject."""
        try:
            self._write_parsed([parsed for _, parsed in batch])
        except StoreUnavailable:
            raise
        except Exception as error:
            if is_disconnect(error):
                raise StoreUnavailable(str(error)) from error
            if len(batch) == 1:
                message = batch[0][0]
                log.error("database refused a message from %s: %s", message.topic, error)
                self._write_parsed([reject_message(message.received_at, message.topic,
                                                   f"storage error: {type(error).__name__}", message.payload)])
                return
            middle = len(batch) // 2
            self._write(batch[:middle])
            self._write(batch[middle:])

    def _write_parsed(self, parsed: list[Parsed]) -> None:
        conn = self._connection()
        merged = Parsed.combine(parsed)
        result = write_ingest_batch(
            conn,
            IngestBatch(
                readings=merged.readings,
                rejects=merged.rejects,
                events=merged.events,
                unit_positions=merged.unit_positions,
                sightings=merged.sightings,
            ),
        )
        self.counters.readings += result.readings_inserted
        self.counters.duplicates += result.readings_duplicate
        self.counters.rejects += result.rejects
        self.counters.events += result.events_inserted
        self.counters.unit_positions += result.unit_positions

    def _connection(self):  # noqa: ANN202 - a DB-API connection from the store
        if self._conn is None:
            self._conn = self.connect_db()
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # already broken; nothing to save
                log.debug("closing a broken connection failed", exc_info=True)
            self._conn = None

    def _run_chores(self) -> None:
        for chore in self.chores:
            if time.monotonic() - self._chores_done.get(chore.name, float("-inf")) < chore.every_s:
                continue
            self._chores_done[chore.name] = time.monotonic()
            try:
                chore.run(self._connection())
            except StoreUnavailable as error:
                log.warning("%s skipped: %s", chore.name, error)
                self._drop_connection()
            except Exception:  # a failing chore must not stop the feed; it is tried again next time
                log.exception("%s failed", chore.name)

    # -- status ---------------------------------------------------------------------------

    def _maybe_report(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_status < self.status_every_s:
            return
        self._last_status = now
        since, readings_then = self._rate_window
        rate = (self.counters.readings - readings_then) / max(now - since, 1e-9)
        self._rate_window = (now, self.counters.readings)
        status = ProcessStatus(
            process_id=self.process_id,
            kind="ingest",
            host=socket.gethostname(),
            pid=os.getpid(),
            started_at=self.started_at,
            heartbeat_at=datetime.now(UTC),
            state=self.state if self.mqtt.connected else "broker unavailable",
            messages_total=self.counters.messages,
            readings_total=self.counters.readings,
            rejects_total=self.counters.rejects,
            rate_per_s=rate,
            lag_s=self.counters.last_lag_s,
            last_message_at=self.counters.last_message_at,
            detail={
                "feeds": self.counters.per_feed,
                "duplicates_total": self.counters.duplicates,
                "events_total": self.counters.events,
                "unit_positions_total": self.counters.unit_positions,
                "batches_total": self.counters.batches,
                "mqtt": {"broker": str(self.mqtt.address), "protocol": self.mqtt.version},
            },
        )
        try:
            report_status(self._connection(), status)
        except StoreUnavailable as error:
            log.warning("could not report status: %s", error)
            self._drop_connection()
        except Exception as error:
            if not is_disconnect(error):
                raise
            log.warning("could not report status: %s", error)
            self._drop_connection()
