"""One database connection per request, taken when first needed and given back at the end.

Connections are reused: opening one costs PostgreSQL a new backend process and the request
several milliseconds, paid by every screen on every refresh. A connection goes back idle, with
no transaction open and nothing of the request left on it, and is checked before it is lent
again, so a database restart costs no request. Nothing of a request is kept (the app stays
stateless: any worker answers alike).
"""

from __future__ import annotations

import threading
from collections import defaultdict

import flask
import psycopg2.extensions

import store

DATABASE_URL = "CITYOPS_DATABASE_URL"  # the Flask config key holding the database URL
IDLE_KEPT = 16  # idle connections kept per database (a worker serves gunicorn's `threads` at once)

_idle: dict[str, list[store.Connection]] = defaultdict(list)
_lock = threading.Lock()


def _usable(conn: store.Connection) -> bool:
    """Whether an idle connection still answers (the server may have restarted since)."""
    if conn.closed:
        return False
    try:
        conn.autocommit = True  # one round trip, no transaction to end
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
        conn.autocommit = False
    except store.DatabaseError:
        return False
    return True


def _take(url: str) -> store.Connection:
    while True:
        with _lock:
            conn = _idle[url].pop() if _idle[url] else None
        if conn is None:
            return store.connect(url, application_name="cityops-web")
        if _usable(conn):
            return conn
        conn.close()


def _give_back(url: str, conn: store.Connection) -> None:
    if conn.closed:
        return
    try:
        if conn.autocommit or conn.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_UNKNOWN:
            raise store.DatabaseError("not reusable")
        conn.rollback()  # nothing of the request stays open
    except store.DatabaseError:
        conn.close()
        return
    with _lock:
        if len(_idle[url]) < IDLE_KEPT:
            _idle[url].append(conn)
            return
    conn.close()


def connection() -> store.Connection:
    """This request's connection (:class:`store.StoreUnavailable` if the database does not answer)."""
    conn = flask.g.get("cityops_db")
    if conn is None or conn.closed:
        conn = _take(flask.current_app.config[DATABASE_URL])
        flask.g.cityops_db = conn
    return conn


def close(_error: BaseException | None = None) -> None:
    """Give this request's connection back, if it took one (a Flask ``teardown_appcontext`` hook)."""
    conn = flask.g.pop("cityops_db", None)
    if conn is not None:
        _give_back(flask.current_app.config[DATABASE_URL], conn)


def init_app(server: flask.Flask, database_url: str) -> None:
    server.config[DATABASE_URL] = database_url
    server.teardown_appcontext(close)
