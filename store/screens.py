"""Reads for the command view and the drill-down: the alert ticker and the 24 h score history.

Both read ``indicator_values`` through its ``(scope_code, domain, time)`` index or its time
index, so their cost does not grow with the history kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

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
    conn: psycopg2.extensions.connection, *, since: datetime, min_level: int = 1,
    level_names: Iterable[str] | None = None, domains: Iterable[str] | None = None, limit: int = 12,
) -> list[LevelChange]:
    """The newest level changes since ``since`` to ``min_level`` or worse (amber/red), newest first;
    only of units of ``level_names`` (``city`` names the city itself) and of ``domains`` when given."""
    where, params = "", {"since": since, "min_level": min_level, "limit": limit}
    if level_names is not None:
        where += " AND level_name = ANY(%(level_names)s)"
        params["level_names"] = list(level_names)
    if domains is not None:
        where += " AND domain = ANY(%(domains)s)"
        params["domains"] = list(domains)
    with transaction(conn) as cur:
        cur.execute(
            "SELECT time, scope_code, level_name, domain, score, level FROM indicator_values"
            " WHERE time >= %(since)s AND level_changed AND level >= %(min_level)s" + where +
            " ORDER BY time DESC, level DESC, scope_code, domain LIMIT %(limit)s",
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
