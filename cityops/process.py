"""The loop of a scheduled process (the indicators, the notifications): a pass every few seconds
on one database connection, reconnecting when the database comes back, a heartbeat after each
pass (``process_status``: what /feeds, /healthz and /metrics show), until told to stop; for a
kind of which only one process may write (the indicators), only while it leads (:class:`Leadership`)."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import store

log = logging.getLogger(__name__)


# How often a standby asks for the leadership: a leader that stops is replaced within this.
STANDBY_POLL_S = 5.0


class Leadership:
    """Whether this process is the one of its kind that writes: the leader, whose database session holds
    the PostgreSQL advisory lock ``key``; the others stand by and ask again every pass.

    The lock is held by the very session the passes write on (the process's own connection, used
    for nothing else), not by a second one: PostgreSQL releases a session's lock only when the session
    ends, so a pass can commit only while its process leads. When the connection drops (the host
    dies, the network parts, the server restarts), the server releases the lock, the pass in flight
    fails with the connection, and nothing more is written until the lock is taken again on a new
    connection — by then a standby may hold it. A lock on a connection of its own would leave a gap:
    it could drop, and a standby take over, while the other connection still commits a run.
    Session keep-alives (:func:`store.hold_leadership`) bound how long the server keeps the lock of a
    leader whose host vanished without closing its connection (about 25 s); a clean stop or a killed
    process closes it at once.
    """

    def __init__(self, kind: str, key: int, poll_s: float = STANDBY_POLL_S) -> None:
        self.kind = kind
        self.key = key
        self.poll_s = poll_s  # how often a standby asks
        self.role: str | None = None  # "leader", "standby", or None before the first ask

    def holds(self, conn: store.Connection) -> bool:
        """Whether this process leads now (the lock taken if free); says so in the log when that changes."""
        leads = store.hold_leadership(conn, self.key)
        role = "leader" if leads else "standby"
        if role != self.role:
            if leads:
                log.info("%s: leader: this process writes (it holds the lock)", self.kind)
            else:
                log.info("%s: standby: %s leads; this one takes over when it stops (asking every %g s)",
                         self.kind, store.leader_of(conn, self.key) or "another process", self.poll_s)
            self.role = role
        return leads

    def release(self, conn: store.Connection | None) -> None:
        """A clean stop: give the lock up before the connection closes, so a standby may take it at once."""
        if self.role != "leader" or conn is None or conn.closed:
            return
        try:
            store.release_leadership(conn, self.key)
        except (store.StoreUnavailable, store.DatabaseError) as error:  # the session's end frees it anyway
            log.warning("%s: could not give the leadership up: %s", self.kind, error)
            return
        self.role = None
        log.info("%s: stopped; the leadership is free", self.kind)

    def lost(self) -> None:
        """The connection is gone, and the lock with it: nothing is written until :meth:`holds` says so again."""
        if self.role == "leader":
            log.warning("%s: lost the leadership with the database connection: not writing until it is taken "
                        "again", self.kind)
        self.role = None


def run_periodically(database_url: str, kind: str, one_pass: Callable[[store.Connection], dict[str, Any]],
                     stop: threading.Event, *, every_s: float, once: bool = False,
                     leader_key: int | None = None) -> None:
    """Call ``one_pass(conn)`` every ``every_s`` seconds until ``stop`` (or once). Its result is the
    heartbeat's detail (the last good one is kept through failures). A failed pass is logged and
    tried again; a missing schema stops the process (nothing can be done until `cityops db init`).
    With ``leader_key``, passes run only while this process leads (:class:`Leadership`); a standby
    asks every :data:`STANDBY_POLL_S` seconds at most, and reports ``standby`` as its state; once, a
    standby writes nothing and stops."""
    process_id = f"{kind}-{socket.gethostname()}-{os.getpid()}"
    started_at = datetime.now(UTC)
    leadership = Leadership(kind, leader_key, min(every_s, STANDBY_POLL_S)) if leader_key is not None else None
    conn: store.Connection | None = None
    detail: dict[str, Any] = {}
    while True:
        tick = time.monotonic()
        state = "running"
        pause = every_s
        try:
            if conn is None or conn.closed:
                conn = store.connect(database_url, application_name=f"cityops-{kind}")
                store.require_schema(conn)
            if leadership is None or leadership.holds(conn):
                detail = one_pass(conn) or detail
            else:
                state = "standby"
                pause = leadership.poll_s
        except store.SchemaMissing:
            raise
        except store.StoreUnavailable as error:
            state = "database unavailable"
            log.warning("%s: %s", kind, error)
            conn = None
            if leadership is not None:
                leadership.lost()
        except Exception:  # one bad pass must not stop the process; the next one tries again
            state = "run failed"
            log.exception("%s: pass failed", kind)
            if conn is not None and not conn.closed:
                conn.rollback()
        role = {"role": leadership.role} if leadership is not None and leadership.role else {}
        store.report_heartbeat(conn, process_id=process_id, kind=kind, started_at=started_at, state=state,
                               detail={**detail, **role})
        if once or stop.wait(max(0.0, pause - (time.monotonic() - tick))):
            break
    store.report_heartbeat(conn, process_id=process_id, kind=kind, started_at=started_at, state="stopped",
                           detail=detail)
    if leadership is not None:
        leadership.release(conn)
    if conn is not None and not conn.closed:
        conn.close()


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT (Ctrl-C): how every long-running command is told to stop
    (call it in the main thread)."""
    import signal

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    return stop
