"""Small reads for tests, the command line and the web app."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg2.extensions
from psycopg2 import sql

from ingest.rows import ReadingRow
from store.connection import transaction

# count_rows never puts a caller's string into SQL: only these names are accepted.
COUNTABLE_TABLES = frozenset({
    "readings", "readings_1m", "readings_1h", "rejects", "sensors", "units", "unit_positions", "events",
    "process_status", "schema_migrations", "store_settings", "users", "audit_log", "login_attempts",
    "request_latency", "request_latency_totals",
})


def count_rows(conn: psycopg2.extensions.connection, table: str) -> int:
    """Exact number of rows in one of :data:`COUNTABLE_TABLES` (a full count: slow on big tables)."""
    if table not in COUNTABLE_TABLES:
        raise ValueError(f"count_rows: unknown table {table!r}")
    with transaction(conn) as cur:
        cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
        return cur.fetchone()[0]


def latest_readings(
    conn: psycopg2.extensions.connection, sensor_ids: Sequence[str] | None = None, *, since: datetime | None = None
) -> list[ReadingRow]:
    """The newest reading per sensor and metric, ordered by sensor and metric.

    ``sensor_ids`` limits the sensors; ``since`` ignores readings before it (on a large table,
    give it: without it every stored reading of the sensors is scanned).
    """
    conditions = []
    params: list[Any] = []
    if sensor_ids is not None:
        conditions.append("sensor_id = ANY(%s)")
        params.append(list(sensor_ids))
    if since is not None:
        conditions.append("time >= %s")
        params.append(since)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    with transaction(conn) as cur:
        # DISTINCT ON walks the (sensor_id, metric, time) unique index backwards.
        cur.execute(
            "SELECT DISTINCT ON (sensor_id, metric) time, sensor_id, metric, value FROM readings"
            f" {where} ORDER BY sensor_id, metric, time DESC",
            params,
        )
        return [ReadingRow(*row) for row in cur.fetchall()]


def server_info(conn: psycopg2.extensions.connection) -> dict[str, Any]:
    """``server_version`` (e.g. "15.6"), ``timescale`` (the extension is installed in this database)
    and ``schema_version`` (the newest migration applied, 0 before ``init_schema``)."""
    with transaction(conn) as cur:
        cur.execute(
            "SELECT current_setting('server_version'),"
            " EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'),"
            " to_regclass('schema_migrations') IS NOT NULL"
        )
        version, timescale, migrated = cur.fetchone()
        schema_version = 0
        if migrated:
            cur.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
            schema_version = cur.fetchone()[0]
    return {"server_version": version, "timescale": timescale, "schema_version": schema_version}
