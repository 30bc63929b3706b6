"""``/healthz``: 200 when the database and the broker are reachable, 503 otherwise; the JSON says which.

The web app holds no MQTT connection (each worker would subscribe). The broker's health is
what the ingest processes report in the process-status table: a worker that reported within
the last minute says whether it is connected. With no ingest reporting, the web app opens a
TCP connection to the broker's port itself, so a fresh install still gets an answer.
Every web worker answers alike. The answer is public: no host names, no error texts.

``read_replica`` (when CITYOPS_DATABASE_READ_URL is set) says ``ok`` or ``unreachable``: the pages
then read from the primary, so it leaves the status 200.

``notify_channels`` says whether the notification channels deliver
(:mod:`notifications.health`): ``ok``, ``failing`` with the ids of those whose newest tries all
failed, or ``none`` configured. A failing webhook leaves the status 200: the wall and the
dispatch still work, and a monitor reads the key (docs/notifications.md "Channel health").
"""

from __future__ import annotations

import logging
import socket
from datetime import UTC, datetime
from urllib.parse import urlsplit

import flask
from werkzeug.wrappers import Response

import store
from notifications.health import channels_health
from web import db

log = logging.getLogger(__name__)

BROKER_URL = "CITYOPS_BROKER_URL"  # Flask config key: the broker's URL, or None if none is known
HEARTBEAT_TIMEOUT_S = 60.0
# Processes not heard of for this long belong to an earlier run (a restart gives new ids): not listed.
LISTED_FOR_S = 15 * 60.0
PROBE_TIMEOUT_S = 1.0
BROKER_DOWN_STATE = "broker unavailable"  # what an ingest worker reports while disconnected
NOTIFY_SCHEMA = 16  # the migration that made the notification tables


def process_working(status: store.ProcessStatus, now: datetime) -> bool:
    """True if the process reported within :data:`HEARTBEAT_TIMEOUT_S` and is neither stopped nor cut off."""
    return ((now - status.heartbeat_at).total_seconds() <= HEARTBEAT_TIMEOUT_S
            and status.state not in ("stopped", BROKER_DOWN_STATE))


def probe_broker(url: str | None, timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """True if a TCP connection to the broker of ``url`` (``mqtt[s]://host:port``) opens within ``timeout_s``."""
    if not url:
        return False
    try:
        parts = urlsplit(url)
        port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=timeout_s):
            return True
    except (OSError, ValueError):
        return False


def broker_health(statuses: list[store.ProcessStatus], url: str | None, now: datetime) -> dict[str, object]:
    """``{"state": "ok"|"unreachable"|"not configured", "checked_by": …}`` from fresh ingest reports or a probe."""
    fresh = [status for status in statuses if status.kind == "ingest"
             and (now - status.heartbeat_at).total_seconds() <= HEARTBEAT_TIMEOUT_S]
    if fresh:
        connected = sum(status.state != BROKER_DOWN_STATE for status in fresh)
        return {"state": "ok" if connected else "unreachable", "checked_by": "ingest",
                "ingest_connected": connected, "ingest_reporting": len(fresh)}
    if url is None:
        return {"state": "not configured", "checked_by": "nobody", "ingest_reporting": 0}
    return {"state": "ok" if probe_broker(url) else "unreachable", "checked_by": "web (TCP)", "ingest_reporting": 0}


def healthz() -> Response:
    now = datetime.now(UTC)
    url = flask.current_app.config.get(BROKER_URL)
    body: dict[str, object] = {}
    try:
        conn = db.write()
        info = store.server_info(conn)
        statuses = store.read_status(conn) if info["schema_version"] else []
        channels = channels_health(conn, now) if info["schema_version"] >= NOTIFY_SCHEMA else []
    except (store.StoreUnavailable, store.DatabaseError) as error:
        log.warning("health check: the database does not answer: %s", error)
        body["database"] = "unreachable"
        body["broker"] = {"state": "ok" if probe_broker(url) else "unreachable", "checked_by": "web (TCP)"}
        response = flask.jsonify(body)
        response.status_code = 503
        response.headers["Cache-Control"] = "no-store"
        return response
    body["database"] = "ok"
    body["schema_version"] = info["schema_version"]
    body["broker"] = broker_health(statuses, url, now)
    body["processes"] = [
        {"kind": status.kind, "id": status.process_id, "state": status.state,
         "heartbeat_at": status.heartbeat_at.isoformat(),
         "heartbeat_age_s": round((now - status.heartbeat_at).total_seconds(), 1)}
        for status in statuses if (now - status.heartbeat_at).total_seconds() <= LISTED_FOR_S
    ]
    replica = db.replica_report()
    if replica is not None:  # the pages read from the primary when it does not answer: no 503 for it
        body["read_replica"] = "ok" if replica.answers else "unreachable"
    failing = [channel.channel_id for channel in channels if channel.state == "failing"]
    body["notify_channels"] = {"state": "failing" if failing else "ok" if channels else "none",
                               "failing": failing, "configured": len(channels)}
    response = flask.jsonify(body)
    response.status_code = 200 if body["broker"]["state"] == "ok" else 503  # type: ignore[index]
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(server: flask.Flask, broker_url: str | None) -> None:
    server.config[BROKER_URL] = broker_url
    server.add_url_rule("/healthz", "cityops_healthz", healthz)
