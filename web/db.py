"""The request's database connections: :func:`write` to the primary, :func:`read` to the read replica.

Every part of the web app asks for one of the two, and this module alone knows where each goes:

- :func:`write`: the primary (CITYOPS_DATABASE_URL). Every write — dispatch actions, audit rows,
  sessions, sign-in attempts, notification acknowledgements, admin changes — and every read that
  must see what the same person has just written, or that decides access (below).
- :func:`read`: the streaming replica (CITYOPS_DATABASE_READ_URL) when one is set and answers,
  else the primary. For reads that may trail the primary by the replica's lag (normally well
  under a second): the wall, the drill-down, the vitals, CAP and KPI API, reports and exports, the
  feeds and audit pages. A replica cannot take a write (PostgreSQL refuses it on a hot standby), so
  a write through :func:`read` fails loudly; none is made.

Which reads go to the primary, and why (read-your-own-writes):

- sessions, accounts and display links (``web.guard``, ``web.login``, ``web.displays``): a sign-out,
  a disabled account or a revoked link must end access at once, and a new session must be found by
  the very next request (a lagging replica would send a fresh sign-in back to ``/login``);
- the pages whose own callbacks write and then redraw from what they wrote: ``/dispatch`` (an
  action, then its panel and queue), ``/users``, ``/displays``, ``/alerts`` and the notification log
  (an acknowledgement); their figures that nobody edits there (the dispatch ranking) read the replica;
- the incident and unit API: a client that posts an action or a report and then reads the incident
  must see it, and an action is judged on the row it locks on the primary anyway;
- ``/healthz`` and ``/metrics``: monitoring reports the primary's truth whatever the replica does
  (the replica's state and lag are reported beside it).

When the replica does not answer, reads go to the primary (logged once, shown on ``/feeds``,
``/metrics`` and ``/healthz``), and the replica is tried again every :data:`REPLICA_RETRY_S`
seconds; the first answer sends reads back to it (logged).

Connections are reused: opening one costs PostgreSQL a new backend process and the request
several milliseconds, paid by every screen on every refresh. A connection goes back idle, with
no transaction open and nothing of the request left on it, and is checked before it is lent
again, so a database restart costs no request. Nothing of a request is kept (the app stays
stateless: any worker answers alike).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

import flask
import psycopg2.extensions

import store

log = logging.getLogger(__name__)

DATABASE_URL = "CITYOPS_DATABASE_URL"  # the Flask config key holding the primary's URL
READ_URL = "CITYOPS_DATABASE_READ_URL"  # … and the read replica's, or None
IDLE_KEPT = 16  # idle connections kept per database (a worker serves gunicorn's `threads` at once)
REPLICA_RETRY_S = 5.0  # while the replica does not answer, how often a read tries it again

_idle: dict[str, list[store.Connection]] = defaultdict(list)
_lock = threading.Lock()


@dataclass
class ReplicaState:
    """Whether this process reads from the replica, as it last found it (shared by its threads)."""

    down_since: datetime | None = None  # when it stopped answering (None: it answers, or was never tried)
    reason: str | None = None  # why (host and port, never a password)
    retry_at: float = 0.0  # time.monotonic() of the next try while down


_replica = ReplicaState()


def replica_state() -> ReplicaState:
    """A copy of this process's view of the replica (for /feeds, /metrics and /healthz)."""
    with _lock:
        return ReplicaState(_replica.down_since, _replica.reason, _replica.retry_at)


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


def _take_replica(url: str) -> store.Connection | None:
    """A connection to the replica, or None while it does not answer (then reads go to the primary)."""
    with _lock:
        if _replica.down_since is not None and time.monotonic() < _replica.retry_at:
            return None
    try:
        conn = _take(url)
    except store.StoreUnavailable as error:  # its message names host and port, never the password
        with _lock:
            first = _replica.down_since is None
            if first:
                _replica.down_since, _replica.reason = datetime.now(UTC), str(error)
            _replica.retry_at = time.monotonic() + REPLICA_RETRY_S
        if first:
            log.warning("read replica: %s; reads go to the primary until it answers again", error)
        return None
    with _lock:
        came_back = _replica.down_since is not None
        _replica.down_since = _replica.reason = None
    if came_back:
        log.warning("read replica at %s answers again: reads go to it", store.describe(conn))
    return conn


def write() -> store.Connection:
    """This request's connection to the primary (:class:`store.StoreUnavailable` if it does not answer):
    for every write, and for the reads that must see the latest writes (see the module's docstring)."""
    conn = flask.g.get("cityops_db")
    if conn is None or conn.closed:
        conn = _take(flask.current_app.config[DATABASE_URL])
        flask.g.cityops_db = conn
    return conn


def read() -> store.Connection:
    """This request's connection for reads that may trail the primary by the replica's lag: the replica's
    when one is configured and answers, else the primary's (the same as :func:`write`'s)."""
    url = flask.current_app.config.get(READ_URL)
    if url is None or flask.g.get("cityops_read_primary"):
        return write()
    conn = flask.g.get("cityops_read")
    if conn is None or conn.closed:
        conn = _take_replica(url)
        if conn is None:
            flask.g.cityops_read_primary = True  # one decision per request: all its reads alike
            return write()
        flask.g.cityops_read = conn
    return conn


def reads_from_replica() -> bool:
    """Whether this request's reads went to the replica (False: no replica set, or it did not answer)."""
    conn = flask.g.get("cityops_read")
    return conn is not None and not conn.closed


@dataclass(frozen=True)
class ReplicaReport:
    """The read replica as this request found it (for /feeds, /metrics and /healthz)."""

    answers: bool  # this request's reads went to it
    down_since: datetime | None  # when this process found it not answering (reads go to the primary since)
    lag: store.ReplicaLag | None  # None: not measured (it does not answer)


def replica_report() -> ReplicaReport | None:
    """The read replica's state and lag now (None: no replica is set)."""
    if flask.current_app.config.get(READ_URL) is None:
        return None
    replica = read()
    if not reads_from_replica():
        return ReplicaReport(False, replica_state().down_since, None)
    try:
        lag = store.replica_lag(write(), replica)
    except (store.StoreUnavailable, store.DatabaseError) as error:  # host and port only, never a password
        log.warning("read replica: lag not measured: %s", error)
        return ReplicaReport(False, replica_state().down_since, None)
    return ReplicaReport(True, None, lag)


def close(_error: BaseException | None = None) -> None:
    """Give this request's connections back, if it took any (a Flask ``teardown_appcontext`` hook)."""
    conn = flask.g.pop("cityops_db", None)
    if conn is not None:
        _give_back(flask.current_app.config[DATABASE_URL], conn)
    replica = flask.g.pop("cityops_read", None)
    if replica is not None:
        _give_back(flask.current_app.config[READ_URL], replica)


def init_app(server: flask.Flask, database_url: str, read_url: str | None = None) -> None:
    server.config[DATABASE_URL] = database_url
    server.config[READ_URL] = read_url
    server.teardown_appcontext(close)
