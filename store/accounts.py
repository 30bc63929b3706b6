"""Accounts (``users``), their sessions (``web_sessions``) and sign-in attempts (``login_attempts``).

SQL only, no hashing and no policy (see :mod:`auth` and :mod:`web.guard`).

Every change to ``users`` writes its audit row in the same transaction, so a change is never
stored without its trace. Audit states hold the role, the disabled flag and when the password
was set — never the hash.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

import psycopg2.extensions

from store.audit import write_audit
from store.connection import transaction


class AccountError(Exception):
    """A change to an account the database refused; the message is one line."""


class AccountExists(AccountError):
    """An account with that name exists already."""


class AccountMissing(AccountError):
    """There is no account with that name."""


class UserRow(NamedTuple):
    """One row of ``users`` (see the column comments there)."""

    name: str
    role: str
    password_hash: str
    disabled: bool
    created_at: datetime
    password_changed_at: datetime


_COLUMNS = ", ".join(UserRow._fields)


def get_user(conn: psycopg2.extensions.connection, name: str) -> UserRow | None:
    """The account called ``name``, or None."""
    with transaction(conn) as cur:
        cur.execute(f"SELECT {_COLUMNS} FROM users WHERE name = %s", (name,))
        row = cur.fetchone()
    return None if row is None else UserRow(*row)


def list_users(conn: psycopg2.extensions.connection) -> list[UserRow]:
    """Every account, by name."""
    with transaction(conn) as cur:
        cur.execute(f"SELECT {_COLUMNS} FROM users ORDER BY name")
        return [UserRow(*row) for row in cur.fetchall()]


def last_sign_ins(conn: psycopg2.extensions.connection) -> dict[str, datetime]:
    """The time of each account's newest successful sign-in (accounts that never signed in are absent)."""
    with transaction(conn) as cur:
        cur.execute("SELECT name, max(time) FROM login_attempts WHERE outcome = 'success' GROUP BY name")
        return dict(cur.fetchall())


def create_user(
    conn: psycopg2.extensions.connection,
    name: str,
    role: str,
    password_hash: str,
    *,
    actor: str,
    address: str | None = None,
) -> None:
    """Add an account and its ``user.add`` audit row; :class:`AccountExists` if the name is taken.

    The primary key decides between concurrent callers: the second insert waits for the
    first to commit, then inserts nothing.
    """
    with transaction(conn) as cur:
        cur.execute(
            f"INSERT INTO users (name, role, password_hash) VALUES (%s, %s, %s)"
            f" ON CONFLICT (name) DO NOTHING RETURNING {_COLUMNS}",
            (name, role, password_hash),
        )
        row = cur.fetchone()
        if row is None:
            raise AccountExists(f"user {name!r} already exists")
        write_audit(cur, actor, "user.add", name, None, _state(UserRow(*row)), address)


def update_user(
    conn: psycopg2.extensions.connection,
    name: str,
    *,
    role: str | None = None,
    password_hash: str | None = None,
    disabled: bool | None = None,
    actor: str,
    address: str | None = None,
) -> None:
    """Change what is given (None = keep) and write one audit row; :class:`AccountMissing` if there is no such user.

    The action says what changed: ``user.passwd`` (password only), ``user.disable`` /
    ``user.enable`` (the flag only), else ``user.update``. A new password resets
    ``password_changed_at``.
    """
    if role is None and password_hash is None and disabled is None:
        raise ValueError("update_user: nothing to change")
    with transaction(conn) as cur:
        # Lock the row so that before/after in the audit row describe exactly this change.
        cur.execute(f"SELECT {_COLUMNS} FROM users WHERE name = %s FOR UPDATE", (name,))
        row = cur.fetchone()
        if row is None:
            raise AccountMissing(f"user {name!r} does not exist")
        before = UserRow(*row)
        cur.execute(
            "UPDATE users SET role = coalesce(%(role)s, role),"
            " password_hash = coalesce(%(hash)s, password_hash),"
            " disabled = coalesce(%(disabled)s, disabled),"
            " password_changed_at = CASE WHEN %(hash)s IS NULL THEN password_changed_at ELSE now() END"
            f" WHERE name = %(name)s RETURNING {_COLUMNS}",
            {"role": role, "hash": password_hash, "disabled": disabled, "name": name},
        )
        after = UserRow(*cur.fetchone())
        action = _action(role=role is not None, password=password_hash is not None, disabled=disabled)
        write_audit(cur, actor, action, name, _state(before), _state(after), address)
        # A new password or a disable ends every session of the account, wherever its cookie lives.
        if password_hash is not None:
            _end_sessions_of(cur, name, "password")
        elif disabled:
            _end_sessions_of(cur, name, "disabled")


SIGN_IN_OUTCOMES = ("success", "failure", "throttled", "unlocked")


def record_login(
    conn: psycopg2.extensions.connection,
    name: str,
    address: str | None,
    outcome: str,
    *,
    time: datetime | None = None,
) -> None:
    """Record one sign-in attempt (``outcome``: one of :data:`SIGN_IN_OUTCOMES`) at ``time`` (default: now)."""
    if outcome not in SIGN_IN_OUTCOMES:
        raise ValueError(f"unknown sign-in outcome {outcome!r}")
    with transaction(conn) as cur:
        cur.execute(
            "INSERT INTO login_attempts (time, name, address, success, outcome)"
            " VALUES (coalesce(%s, now()), %s, %s, %s, %s)",
            (time, name, address, outcome == "success", outcome),
        )


class FailureRun(NamedTuple):
    """Failed sign-ins of one name from one address (``name`` None: of every name from the address)."""

    name: str | None
    address: str | None
    failures: int
    last_failure: datetime


def failure_runs(
    conn: psycopg2.extensions.connection,
    *,
    since: datetime,
    whole_address: bool,
    at_least: int = 1,
    name: str | None = None,
    address: str | None = None,
) -> list[FailureRun]:
    """Runs of failed sign-ins from ``since`` on that have ``at_least`` failures.

    Per (name, address) a run restarts after a success or an admin's unlock of that pair; with
    ``whole_address``, failures of every name from one address, restarting only at an unlock of
    the address (a row with an empty name) — an attacker's own successful sign-in does not
    clear it. ``name`` / ``address`` keep one pair or address.
    """
    if whole_address:
        group, scope = "NULL::text, a.address", "a.address IS NOT NULL"
        clear = "c.outcome = 'unlocked' AND c.name = '' AND c.address = a.address"
    else:
        group, scope = "a.name, a.address", "true"
        clear = "c.outcome IN ('success', 'unlocked') AND c.name = a.name AND c.address IS NOT DISTINCT FROM a.address"
    filters, params = [], {"since": since, "at_least": at_least}
    if name is not None:
        filters.append("a.name = %(name)s")
        params["name"] = name
    if address is not None:
        filters.append("a.address = %(address)s")
        params["address"] = address
    scope += "".join(f" AND {condition}" for condition in filters)
    with transaction(conn) as cur:
        cur.execute(
            f"SELECT {group}, count(*), max(a.time) FROM login_attempts a"
            f" WHERE a.outcome = 'failure' AND a.time >= %(since)s AND {scope}"
            f" AND a.time > coalesce((SELECT max(c.time) FROM login_attempts c WHERE {clear}"
            "                          AND c.time >= %(since)s), '-infinity')"
            f" GROUP BY {group} HAVING count(*) >= %(at_least)s ORDER BY max(a.time) DESC",
            params,
        )
        return [FailureRun(*row) for row in cur.fetchall()]


def unlock_sign_in(
    conn: psycopg2.extensions.connection, name: str, address: str | None, *, actor: str, actor_address: str | None
) -> None:
    """Clear the sign-in delay of ``name`` from ``address`` (``name`` "": of the whole address), audited."""
    with transaction(conn) as cur:
        cur.execute("INSERT INTO login_attempts (name, address, success, outcome) VALUES (%s, %s, false, 'unlocked')",
                    (name, address))
        write_audit(cur, actor, "login.unlock", name or None, None, {"name": name or None, "address": address},
                    actor_address)


class SessionInfo(NamedTuple):
    """An open session and its account, as the guard checks it on every request."""

    user: UserRow
    created_at: datetime
    last_seen_at: datetime


def open_session(conn: psycopg2.extensions.connection, id_hash: str, user_name: str, address: str | None) -> None:
    """Store a new session of ``user_name``, known by the hash of its id."""
    with transaction(conn) as cur:
        cur.execute("INSERT INTO web_sessions (id_hash, user_name, address) VALUES (%s, %s, %s)",
                    (id_hash, user_name, address))


def session_info(conn: psycopg2.extensions.connection, id_hash: str) -> SessionInfo | None:
    """The open session with this id hash and its account; None if there is none or it has ended."""
    columns = ", ".join(f"u.{column}" for column in UserRow._fields)
    with transaction(conn) as cur:
        cur.execute(f"SELECT {columns}, s.created_at, s.last_seen_at FROM web_sessions s"
                    " JOIN users u ON u.name = s.user_name WHERE s.id_hash = %s AND s.ended_at IS NULL", (id_hash,))
        row = cur.fetchone()
    if row is None:
        return None
    width = len(UserRow._fields)
    return SessionInfo(UserRow(*row[:width]), *row[width:])


def touch_session(conn: psycopg2.extensions.connection, id_hash: str) -> None:
    """Note that the session was used now."""
    with transaction(conn) as cur:
        cur.execute("UPDATE web_sessions SET last_seen_at = now() WHERE id_hash = %s", (id_hash,))


def end_session(conn: psycopg2.extensions.connection, id_hash: str, reason: str) -> None:
    """End one session (it stays in the table, with when and why)."""
    with transaction(conn) as cur:
        cur.execute("UPDATE web_sessions SET ended_at = now(), end_reason = %s WHERE id_hash = %s"
                    " AND ended_at IS NULL", (reason, id_hash))


def _end_sessions_of(cur: psycopg2.extensions.cursor, user_name: str, reason: str) -> None:
    cur.execute("UPDATE web_sessions SET ended_at = now(), end_reason = %s WHERE user_name = %s AND ended_at IS NULL",
                (reason, user_name))


def _state(row: UserRow) -> dict[str, Any]:
    """What the audit log shows of an account: everything but the hash."""
    return {"role": row.role, "disabled": row.disabled, "password_changed_at": row.password_changed_at}


def _action(*, role: bool, password: bool, disabled: bool | None) -> str:
    if password and not role and disabled is None:
        return "user.passwd"
    if disabled is not None and not role and not password:
        return "user.disable" if disabled else "user.enable"
    return "user.update"
