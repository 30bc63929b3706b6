"""Reads for the command view and the drill-down: the alert ticker, the 24 h score history and
the vital signs as they were at a past time (time travel).

All read ``indicator_values`` through its ``(scope_code, domain, time)`` index or its time
index, so their cost does not grow with the history kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg2.extensions

from store.connection import transaction


@dataclass(frozen=True)
class LevelChange:
    """One row of ``indicator_values`` where a level changed (to amber or red for the ticker)."""

    time: datetime
    scope_code: str
    level_name: str
    domain: str
    score: float | None
    level: int | None


def level_changes(
    conn: psycopg2.extensions.connection, *, since: datetime, until: datetime | None = None, min_level: int = 1,
    level_names: Iterable[str] | None = None, domains: Iterable[str] | None = None,
    scope_codes: Iterable[str] | None = None, runs: int = 12,
) -> list[LevelChange]:
    """Every level change to ``min_level`` or worse (amber/red) of the newest ``runs`` moments that
    have one, from ``since`` to ``until`` (default: now), newest first and red before amber at the
    same time; only of units of ``level_names`` (``city`` names the city itself), of ``domains``
    and of ``scope_codes`` when given. Whole runs, never part of one: a change and the changes it
    caused above it (one run writes them at one time) are read together (§4.9)."""
    where, params = "", {"since": since, "min_level": min_level, "runs": runs}
    if until is not None:
        where += " AND time <= %(until)s"
        params["until"] = until
    if level_names is not None:
        where += " AND level_name = ANY(%(level_names)s)"
        params["level_names"] = list(level_names)
    if domains is not None:
        where += " AND domain = ANY(%(domains)s)"
        params["domains"] = list(domains)
    if scope_codes is not None:
        where += " AND scope_code = ANY(%(scope_codes)s)"
        params["scope_codes"] = list(scope_codes)
    changed = "level_changed AND level >= %(min_level)s"
    with transaction(conn) as cur:
        cur.execute(
            "SELECT time, scope_code, level_name, domain, score, level FROM indicator_values"
            f" WHERE {changed}{where} AND time IN (SELECT DISTINCT time FROM indicator_values"
            f"  WHERE time >= %(since)s AND {changed}{where} ORDER BY time DESC LIMIT %(runs)s)"
            " ORDER BY time DESC, level DESC, scope_code, domain",
            params,
        )
        return [LevelChange(*row) for row in cur.fetchall()]


def score_history(
    conn: psycopg2.extensions.connection, scope_code: str, since: datetime
) -> list[tuple[str, datetime, float | None, int | None]]:
    """(domain, time, score, level) of one unit's history since ``since`` (every domain and the
    index), in time order per domain."""
    with transaction(conn) as cur:
        cur.execute("SELECT domain, time, score, level FROM indicator_values WHERE scope_code = %s AND time >= %s"
                    " ORDER BY domain, time", (scope_code, since))
        return cur.fetchall()


@dataclass(frozen=True)
class PastValue:
    """The latest ``indicator_values`` row of one unit and domain at or before a past time."""

    scope_code: str
    domain: str
    time: datetime
    score: float | None
    level: int | None


def values_as_of(
    conn: psycopg2.extensions.connection, scope_codes: Iterable[str], domains: Iterable[str], at: datetime,
    *, cadence: timedelta,
) -> list[PastValue]:
    """Per unit of ``scope_codes`` and domain of ``domains``: the latest row at or before ``at``.

    Only rows newer than ``at - 2 × cadence`` count: the indicators process writes a row per unit
    and domain every ``cadence``, so a unit with nothing in that window was not being computed
    then and must show grey (unknown), not an old colour. Missing pairs are left out.
    One backward index probe of ``(scope_code, domain, time)`` per pair, bounded by that
    window: the cost depends on the number of pairs, never on the length of the history.
    """
    with transaction(conn) as cur:
        cur.execute(
            "SELECT s.scope_code, d.domain, v.time, v.score, v.level"
            " FROM unnest(%(codes)s::text[]) AS s(scope_code)"
            " CROSS JOIN unnest(%(domains)s::text[]) AS d(domain)"
            " CROSS JOIN LATERAL (SELECT time, score, level FROM indicator_values AS iv"
            "   WHERE iv.scope_code = s.scope_code AND iv.domain = d.domain"
            "   AND iv.time <= %(at)s AND iv.time > %(oldest)s ORDER BY iv.time DESC LIMIT 1) AS v"
            " ORDER BY s.scope_code, d.domain",
            {"codes": list(scope_codes), "domains": list(domains), "at": at, "oldest": at - 2 * cadence},
        )
        return [PastValue(*row) for row in cur.fetchall()]


REPLAY_INCIDENT_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class PastIncident:
    """An incident as a replayed map draws it."""

    id: int
    title: str
    title_zh: str | None
    category: str
    severity: str
    lon: float
    lat: float


def incidents_open_at(conn: psycopg2.extensions.connection, at: datetime, *, limit: int = 500) -> list[PastIncident]:
    """Incidents open at the past time ``at``, newest first: received in the 7 days before it and
    not resolved by then, as its latest resolution time says.
    The window keeps the read on the ``received_at`` index."""
    with transaction(conn) as cur:
        cur.execute(
            "SELECT id, title, title_zh, category, severity, lon, lat FROM incidents"
            " WHERE received_at <= %(at)s AND received_at > %(oldest)s"
            " AND (resolved_at IS NULL OR resolved_at > %(at)s)"
            " ORDER BY received_at DESC, id DESC LIMIT %(limit)s",
            {"at": at, "oldest": at - REPLAY_INCIDENT_WINDOW, "limit": limit},
        )
        return [PastIncident(*row) for row in cur.fetchall()]


REPLAY_POSITION_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class PastUnit:
    """A response unit as a replayed map draws it."""

    unit_id: str
    kind: str
    status: str
    lon: float
    lat: float


def units_at(conn: psycopg2.extensions.connection, at: datetime) -> list[PastUnit]:
    """Response units as they were at the past time ``at``: each
    unit's last reported position at or before it, if no older than 15 minutes (else it is left
    out: where it was is not known). One index lookup per unit (``unit_positions (unit_id, time)``)."""
    with transaction(conn) as cur:
        cur.execute(
            "SELECT u.unit_id, p.kind, p.status, p.lon, p.lat FROM units AS u"
            " CROSS JOIN LATERAL (SELECT kind, status, lon, lat FROM unit_positions AS up"
            "   WHERE up.unit_id = u.unit_id AND up.time <= %(at)s AND up.time > %(oldest)s"
            "   ORDER BY up.time DESC LIMIT 1) AS p ORDER BY u.unit_id",
            {"at": at, "oldest": at - REPLAY_POSITION_WINDOW},
        )
        return [PastUnit(*row) for row in cur.fetchall()]
