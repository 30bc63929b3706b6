"""Deleting expired data (on TimescaleDB its policies drop whole chunks; rejects are deleted here on both)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import psycopg2.extensions
from psycopg2 import sql

from store.connection import transaction
from store.schema import read_settings

log = logging.getLogger(__name__)

# Hourly rollups outlive the raw data: long-range charts and reports still work.
HOURLY_ROLLUP_FACTOR = 5


def apply_retention(conn: psycopg2.extensions.connection, now: datetime) -> dict[str, int]:
    """Delete rows older than the retention period before ``now``; returns rows deleted per table.

    Raw readings, unit positions, rejects, sign-in attempts and minute rollups are kept ``retention_days``;
    hourly rollups five times longer. Events are kept (incidents refer to them). On the
    Timescale path its policies expire the hypertables and rollups, so only ``rejects`` and
    ``login_attempts`` (plain tables there too) are handled here.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    settings = read_settings(conn)
    keep = timedelta(days=settings.retention_days)
    cutoffs: tuple[tuple[str, str, datetime], ...] = (
        ("rejects", "time", now - keep),
        # Sign-in attempts only matter for the rate limit (minutes); keep them for review as long as rejects.
        ("login_attempts", "time", now - keep),
    )
    if not settings.timescale:
        cutoffs += (
            ("readings", "time", now - keep),
            ("unit_positions", "time", now - keep),
            ("readings_1m", "bucket", now - keep),
            ("readings_1h", "bucket", now - keep * HOURLY_ROLLUP_FACTOR),
        )
    deleted: dict[str, int] = {}
    with transaction(conn) as cur:
        for table, column, cutoff in cutoffs:
            cur.execute(
                sql.SQL("DELETE FROM {} WHERE {} < %s").format(sql.Identifier(table), sql.Identifier(column)), (cutoff,)
            )
            deleted[table] = cur.rowcount
    log.info("retention: deleted %s", deleted)
    return deleted
