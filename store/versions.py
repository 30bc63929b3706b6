"""What the wall shows has changed, or not: a cheap fingerprint of the tables a screen reads.

A row's ``xmin`` is the transaction that wrote it, and every insert or update writes a row with
the writing transaction's id, so (rows, sum of ``xmin``) of a set of rows changes with any write
to it, whatever order concurrent transactions commit in, and with any row leaving it. Only
equality is compared, so the transaction ids' wrap-around does not matter. Cheap:
indicator_current holds a row per unit and domain; the open incidents, units and open
dispatches are few. The history (``indicator_values``, what the warnings and a replay read) is
too long to sum: the indicators process writes it in the runs that write ``indicator_current``,
whose fingerprint changes with it, and the newest warning (through the index the warnings are
read by) stands for the rest.
"""

from __future__ import annotations

import psycopg2.extensions

from store.connection import transaction

_FINGERPRINT = """
SELECT (SELECT count(*) || ':' || coalesce(sum(xmin::text::bigint), 0) FROM indicator_current),
       (SELECT count(*) || ':' || coalesce(sum(xmin::text::bigint), 0) FROM incidents WHERE status <> 'resolved'),
       (SELECT count(*) || ':' || coalesce(sum(xmin::text::bigint), 0) FROM units),
       (SELECT count(*) || ':' || coalesce(sum(xmin::text::bigint), 0) FROM dispatches WHERE released_at IS NULL),
       (SELECT max(time)::text FROM indicator_values WHERE level_changed AND level >= 1)
"""


def wall_version(conn: psycopg2.extensions.connection) -> tuple[str, ...]:
    """A fingerprint of the vital signs, their warnings, the open incidents and the response units
    (and their dispatches): equal as long as none of them changed."""
    with transaction(conn) as cur:
        cur.execute(_FINGERPRINT)
        return tuple(cur.fetchone())


def vitals_version(conn: psycopg2.extensions.connection) -> str:
    """A fingerprint of the vital signs alone (``GET /api/v1/vitals``)."""
    with transaction(conn) as cur:
        cur.execute("SELECT count(*) || ':' || coalesce(sum(xmin::text::bigint), 0) FROM indicator_current")
        return cur.fetchone()[0]
