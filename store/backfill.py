"""Bulk history: readings written straight into ``readings`` with COPY, rollups rebuilt once.

For ``cityops simulate --backfill`` and benchmarks: millions of rows, where the per-batch
ingest path (which folds every batch into the rollups) would be needlessly slow. Each
chunk is its own transaction, so an interrupted backfill keeps what it wrote and can be
run again (existing readings are left as they are).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable
from datetime import datetime

import pandas as pd
import psycopg2.extensions

from store.connection import transaction
from store.rollups import rebuild_rollups

log = logging.getLogger(__name__)

_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS backfill_readings (
    time timestamptz, sensor_id text COLLATE "C", metric text COLLATE "C", value double precision
) ON COMMIT DELETE ROWS
"""

_MOVE = """
INSERT INTO readings (time, sensor_id, metric, value)
SELECT time, sensor_id, metric, value FROM backfill_readings
ORDER BY sensor_id, metric, time
ON CONFLICT (sensor_id, metric, time) DO NOTHING
"""

def backfill_readings(
    conn: psycopg2.extensions.connection,
    chunks: Iterable[pd.DataFrame],
    *,
    progress: Callable[[int, datetime], None] | None = None,
) -> int:
    """Write chunks of readings (columns ``time, sensor_id, metric, value``; times tz-aware).

    Returns the number of new readings. ``progress(rows_so_far, last_time)`` is called after
    each committed chunk. The rollups for the whole covered period are rebuilt at the end.
    """
    written = 0
    first: datetime | None = None
    last: datetime | None = None
    for chunk in chunks:
        if chunk.empty:
            continue
        buffer = io.StringIO()
        chunk[["time", "sensor_id", "metric", "value"]].to_csv(buffer, header=False, index=False,
                                                                date_format="%Y-%m-%dT%H:%M:%S.%f%z")
        buffer.seek(0)
        with transaction(conn) as cur:
            cur.execute(_STAGING)
            cur.copy_expert("COPY backfill_readings (time, sensor_id, metric, value) FROM STDIN (FORMAT csv)", buffer)
            cur.execute(_MOVE)
            written += cur.rowcount
        start, end = chunk["time"].min().to_pydatetime(), chunk["time"].max().to_pydatetime()
        first = start if first is None else min(first, start)
        last = end if last is None else max(last, end)
        if progress is not None:
            progress(written, last)
    if first is not None and last is not None:
        rebuild_rollups(conn, first, last)
    return written
