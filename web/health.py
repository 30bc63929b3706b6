"""``/healthz``: 200 when the database answers, 503 otherwise; the JSON says which part failed.

The broker is not checked yet (the web app holds no MQTT connection); the answer says so.
Process status comes from the database, so every web worker answers the same.
"""

from __future__ import annotations

import logging

import flask
from werkzeug.wrappers import Response

import store
from web import db

log = logging.getLogger(__name__)


def healthz() -> Response:
    body: dict[str, object] = {"broker": "not checked yet"}
    try:
        conn = db.connection()
        info = store.server_info(conn)
        statuses = store.read_status(conn) if info["schema_version"] else []
    except (store.StoreUnavailable, store.DatabaseError) as error:
        log.warning("health check: the database does not answer: %s", error)
        body["database"] = "unreachable"  # no host or error text: this answer is public
        response = flask.jsonify(body)
        response.status_code = 503
        return response
    body["database"] = "ok"
    body["schema_version"] = info["schema_version"]
    body["processes"] = [
        {"kind": status.kind, "id": status.process_id, "state": status.state,
         "heartbeat_at": status.heartbeat_at.isoformat()}
        for status in statuses
    ]
    response = flask.jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(server: flask.Flask) -> None:
    server.add_url_rule("/healthz", "cityops_healthz", healthz)
