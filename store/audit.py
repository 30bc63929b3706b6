"""The audit trail: one helper writes ``audit_log``, one reads it (the admin's page, tests)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, NamedTuple

import psycopg2.extensions
from psycopg2.extras import Json

from store.connection import transaction

# Defence in depth: an audit row is shown to admins and exported, so it must never carry a
# secret even if a caller passes a whole row by mistake.
_SECRET_KEYS = frozenset({"password", "password_hash", "hash", "secret"})

MAX_READ_LIMIT = 10_000


class AuditRow(NamedTuple):
    """One row of ``audit_log`` (see the column comments there); ``before``/``after`` are decoded JSON."""

    id: int
    time: datetime
    user: str
    action: str
    target: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    address: str | None


def write_audit(
    cur_or_conn: psycopg2.extensions.cursor | psycopg2.extensions.connection,
    user: str,
    action: str,
    target: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    address: str | None = None,
) -> int:
    """Write one audit row; its id.

    Given a cursor, the row joins that cursor's transaction (so it commits or rolls back with
    the change it describes); given a connection, it is written and committed on its own.
    ``before``/``after`` are JSON objects of the object's state; secret keys are refused.
    """
    for state in (before, after):
        if state is not None and _SECRET_KEYS & set(state):
            raise ValueError(f"audit rows must not hold secrets ({', '.join(sorted(_SECRET_KEYS & set(state)))})")
    values = (user, action, target, _json(before), _json(after), address)
    query = ('INSERT INTO audit_log ("user", action, target, before, after, address) VALUES (%s, %s, %s, %s, %s, %s)'
             " RETURNING id")
    if isinstance(cur_or_conn, psycopg2.extensions.cursor):
        cur_or_conn.execute(query, values)
        return int(cur_or_conn.fetchone()[0])
    with transaction(cur_or_conn) as cur:
        cur.execute(query, values)
        return int(cur.fetchone()[0])


def read_audit(
    conn: psycopg2.extensions.connection,
    *,
    user: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 200,
) -> list[AuditRow]:
    """Audit rows, newest first: by ``user`` and ``action`` (exact), from ``since`` (inclusive) to
    ``until`` (exclusive), at most ``limit`` (1 to 10,000)."""
    if not 1 <= limit <= MAX_READ_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_READ_LIMIT}")
    conditions = []
    params: list[Any] = []
    for column, value, test in (('"user"', user, "="), ("action", action, "="), ("time", since, ">="),
                                ("time", until, "<")):
        if value is not None:
            conditions.append(f"{column} {test} %s")
            params.append(value)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    with transaction(conn) as cur:
        cur.execute(
            f'SELECT id, time, "user", action, target, before, after, address FROM audit_log {where}'
            " ORDER BY time DESC, id DESC LIMIT %s",
            [*params, limit],
        )
        return [AuditRow(*row) for row in cur.fetchall()]


def audit_actions(conn: psycopg2.extensions.connection) -> list[str]:
    """The distinct actions in ``audit_log``, sorted (for a filter's choices)."""
    with transaction(conn) as cur:
        cur.execute("SELECT DISTINCT action FROM audit_log ORDER BY action")
        return [row[0] for row in cur.fetchall()]


def _json(state: dict[str, Any] | None) -> Json | None:
    # Times (e.g. password_changed_at) are written as ISO 8601 strings.
    return None if state is None else Json(state, dumps=lambda value: json.dumps(value, default=_iso))


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} to the audit log")
