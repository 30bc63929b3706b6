"""Reads of the analyst's reports: the incidents of a period (streamed, personal data masked by the
caller's rule) and the freshness of the data. The hours of the vital signs come from
:mod:`store.hourly`; the closure KPIs' incidents from :func:`store.incidents.incidents_for_kpis`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import psycopg2.extensions

from store.connection import transaction

INCIDENT_EXPORT_COLUMNS: tuple[str, ...] = (
    "id", "category", "category_name", "category_name_zh", "severity", "status", "title", "title_zh", "reporter_phone",
    "district", "scope_code", "lon", "lat",
    "received_at", "acknowledged_at", "dispatched_at", "arrived_at", "resolved_at", "due_at", "events_count",
    "reopened_count",
)
_TIMES = ("received_at", "acknowledged_at", "dispatched_at", "arrived_at", "resolved_at", "due_at")


def incident_rows(
    conn: psycopg2.extensions.connection,
    start: datetime,
    end: datetime,
    *,
    mask_phone: Callable[[str | None], str | None],
    level: str | None = None,
    units: Sequence[str] = (),
    chunk_rows: int = 50_000,
) -> Iterator[pd.DataFrame]:
    """Incidents received in ``[start, end)``, oldest first, as frames of :data:`INCIDENT_EXPORT_COLUMNS`
    through a server-side cursor. ``district``: the unit at ``level`` (the lowest when None);
    ``units``: only incidents inside one of these units (any level). ``mask_phone`` is applied to
    every reporter's phone before it leaves here (``incidents.privacy.mask_phone``: as on screen)."""
    where, params = "", {"start": start, "end": end, "level": level}
    if units:
        # Inside a unit: it is the incident's lowest unit or one of its containing units.
        where = (" AND (scope_code = ANY(%(units)s) OR EXISTS (SELECT 1 FROM jsonb_each_text(scopes) AS s"
                 " WHERE s.value = ANY(%(units)s)))")
        params["units"] = list(units)
    # The category's names in both languages sit beside its key, so a sheet reads without a lookup
    # (a key the city has dropped since: no names, the key stays).
    computed = {"district": "CASE WHEN %(level)s::text IS NULL THEN scope_code ELSE scopes ->> %(level)s END",
                "category_name": "(SELECT name FROM incident_categories c WHERE c.key = incidents.category)",
                "category_name_zh": "(SELECT name_zh FROM incident_categories c WHERE c.key = incidents.category)"}
    columns = [computed.get(name, name) for name in INCIDENT_EXPORT_COLUMNS]
    try:
        with conn.cursor(name="cityops_incident_rows") as cur:
            cur.itersize = chunk_rows
            cur.execute(f"SELECT {', '.join(columns)} FROM incidents WHERE received_at >= %(start)s"
                        f" AND received_at < %(end)s {where} ORDER BY received_at, id", params)
            while rows := cur.fetchmany(chunk_rows):
                frame = pd.DataFrame.from_records(rows, columns=list(INCIDENT_EXPORT_COLUMNS))
                frame["id"] = frame["id"].astype(str)
                frame["reporter_phone"] = [mask_phone(phone) for phone in frame["reporter_phone"]]
                for column in _TIMES:
                    frame[column] = pd.to_datetime(frame[column], utc=True)
                yield frame
        conn.commit()
    except BaseException:
        if not conn.closed:
            conn.rollback()
        raise


def count_incidents(conn: psycopg2.extensions.connection, start: datetime, end: datetime) -> int:
    """Incidents received in ``[start, end)`` (an upper bound of what :func:`incident_rows` yields)."""
    with transaction(conn) as cur:
        cur.execute("SELECT count(*) FROM incidents WHERE received_at >= %s AND received_at < %s", (start, end))
        return int(cur.fetchone()[0])


@dataclass(frozen=True)
class DataFreshness:
    """How current the report's data is: the newest vital signs computed, the newest history row
    of the period, and how far the hourly rollup reaches (all UTC; None when there is none)."""

    computed_at: datetime | None
    newest_in_period: datetime | None
    rolled_up_to: datetime | None


def data_freshness(conn: psycopg2.extensions.connection, start: datetime, end: datetime) -> DataFreshness:
    with transaction(conn) as cur:
        cur.execute("SELECT max(computed_at) FROM indicator_current")
        computed_at = cur.fetchone()[0]
        cur.execute("SELECT max(time) FROM indicator_values WHERE time >= %s AND time < %s", (start, end))
        newest = cur.fetchone()[0]
        if newest is None:  # the raw rows may be gone (retention) while the hours remain
            cur.execute("SELECT max(hour) FROM indicator_hourly WHERE hour >= %s AND hour < %s", (start, end))
            newest = cur.fetchone()[0]
        cur.execute("SELECT max(hour) + interval '1 hour' FROM indicator_hourly")
        rolled = cur.fetchone()[0]
    return DataFreshness(computed_at=computed_at, newest_in_period=newest, rolled_up_to=rolled)
