"""Process heartbeats in ``process_status``, so every web worker sees the same feed health."""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

import psycopg2.extensions
from psycopg2.extras import Json

from store.connection import DatabaseError, StoreUnavailable, transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ProcessStatus:
    """One row of ``process_status`` (see the column comments there)."""

    process_id: str
    kind: str
    host: str | None = None
    pid: int | None = None
    started_at: datetime | None = None
    heartbeat_at: datetime
    state: str
    messages_total: int | None = None
    readings_total: int | None = None
    rejects_total: int | None = None
    rate_per_s: float | None = None
    lag_s: float | None = None
    last_message_at: datetime | None = None
    detail: dict[str, Any] | None = None


_COLUMNS = [f.name for f in fields(ProcessStatus)]
_UPSERT = (
    f"INSERT INTO process_status ({', '.join(_COLUMNS)}) VALUES ({', '.join(['%s'] * len(_COLUMNS))})"
    " ON CONFLICT (process_id) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _COLUMNS[1:])
)


def report_status(conn: psycopg2.extensions.connection, status: ProcessStatus) -> None:
    """Insert or replace the status of ``status.process_id``, committed."""
    values = [getattr(status, name) for name in _COLUMNS]
    if status.detail is not None:
        values[_COLUMNS.index("detail")] = Json(status.detail)
    with transaction(conn) as cur:
        cur.execute(_UPSERT, values)


def read_status(conn: psycopg2.extensions.connection) -> list[ProcessStatus]:
    """Every process's latest status, by kind and id."""
    with transaction(conn) as cur:
        cur.execute(f"SELECT {', '.join(_COLUMNS)} FROM process_status ORDER BY kind, process_id")
        return [ProcessStatus(**dict(zip(_COLUMNS, row, strict=True))) for row in cur.fetchall()]


def report_heartbeat(conn: psycopg2.extensions.connection | None, *, process_id: str, kind: str,
                     started_at: datetime, state: str, detail: dict[str, Any] | None) -> None:
    """A scheduled process's heartbeat (this host and pid, now). Never raises: a heartbeat the
    database does not take is logged, and the process carries on."""
    if conn is None or conn.closed:
        return
    try:
        report_status(conn, ProcessStatus(process_id=process_id, kind=kind, host=socket.gethostname(), pid=os.getpid(),
                                          started_at=started_at, heartbeat_at=datetime.now(UTC), state=state,
                                          detail=detail or None))
    except (StoreUnavailable, DatabaseError) as error:
        log.warning("%s: could not report status: %s", kind, error)
