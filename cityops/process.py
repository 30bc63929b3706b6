"""The loop of a scheduled process (the indicators, the notifications): a pass every few seconds
on one database connection, reconnecting when the database comes back, a heartbeat after each
pass (``process_status``: what /feeds, /healthz and /metrics show), until told to stop."""

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


def run_periodically(database_url: str, kind: str, one_pass: Callable[[store.Connection], dict[str, Any]],
                     stop: threading.Event, *, every_s: float, once: bool = False) -> None:
    """Call ``one_pass(conn)`` every ``every_s`` seconds until ``stop`` (or once). Its result is the
    heartbeat's detail (the last good one is kept through failures). A failed pass is logged and
    tried again; a missing schema stops the process (nothing can be done until `cityops db init`)."""
    process_id = f"{kind}-{socket.gethostname()}-{os.getpid()}"
    started_at = datetime.now(UTC)
    conn: store.Connection | None = None
    detail: dict[str, Any] = {}
    while True:
        tick = time.monotonic()
        state = "running"
        try:
            if conn is None or conn.closed:
                conn = store.connect(database_url, application_name=f"cityops-{kind}")
                store.require_schema(conn)
            detail = one_pass(conn) or detail
        except store.SchemaMissing:
            raise
        except store.StoreUnavailable as error:
            state = "database unavailable"
            log.warning("%s: %s", kind, error)
            conn = None
        except Exception:  # one bad pass must not stop the process; the next one tries again
            state = "run failed"
            log.exception("%s: pass failed", kind)
            if conn is not None and not conn.closed:
                conn.rollback()
        store.report_heartbeat(conn, process_id=process_id, kind=kind, started_at=started_at, state=state,
                               detail=detail)
        if once or stop.wait(max(0.0, every_s - (time.monotonic() - tick))):
            break
    store.report_heartbeat(conn, process_id=process_id, kind=kind, started_at=started_at, state="stopped",
                           detail=detail)
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
