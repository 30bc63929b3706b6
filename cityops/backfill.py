"""A period of simulated history written straight into the store: the readings, then the vital
signs computed from them (docs/vital-signs.md §4.8), so that a first run of the demo has its 24-hour
charts, its replay and its "last 24 h" reports. ``cityops simulate --backfill`` runs both in
turn; the demo writes the readings first and computes their vital signs in the background while
it already runs (they write history only, never the current state)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import store
from cityops.vitals import backfill_vitals, context_for
from ingest.simulator_process import BACKFILL_STEP, SimulatorOptions, backfill


def backfill_readings(options: SimulatorOptions, database_url: str, period: timedelta, *,
                      say: Callable[[str], None]) -> tuple[datetime, datetime, int]:
    """``period`` of simulated readings up to now: the period (start, end) and the readings written.

    The period ends on a whole step (5 min), so the readings fall on the instants the vital-sign
    backfill computes (multiples of the history cadence): a run then sees each sensor's reading of
    that very instant. Ending at an odd minute left the newest reading up to 4 min old at every run,
    older than a one-minute sensor's freshness window, and whole hours of the first day grey."""
    step = BACKFILL_STEP.total_seconds()
    end = datetime.fromtimestamp(datetime.now(UTC).timestamp() // step * step, UTC)
    written = backfill(options, database_url, period, say=say, end=end)
    return end - period, end, written


def backfill_vital_signs(city: str, database_url: str, start: datetime, end: datetime, *,
                         say: Callable[[str], None], time_zone: str | None = None,
                         stop: threading.Event | None = None) -> int:
    """The vital-sign history of ``start`` … ``end`` from the stored readings; the number of runs."""
    conn = store.connect(database_url, application_name="cityops-backfill")
    try:
        return backfill_vitals(conn, context_for(city, time_zone), start, end, say=say, stop=stop)
    finally:
        conn.close()


def backfill_history(options: SimulatorOptions, database_url: str, period: timedelta, *,
                     say: Callable[[str], None], time_zone: str | None = None) -> tuple[int, int]:
    """Readings, then vital signs, of ``period`` up to now: (readings written, vital-sign runs)."""
    start, end, written = backfill_readings(options, database_url, period, say=say)
    return written, backfill_vital_signs(options.city, database_url, start, end, say=say, time_zone=time_zone)
