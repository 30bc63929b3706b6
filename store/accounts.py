"""Accounts (``users``) and sign-in attempts (``login_attempts``): SQL only, no hashing (see :mod:`auth`).

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
        cur.execute("SELECT name, max(time) FROM login_attempts WHERE success GROUP BY name")
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


def record_login(
    conn: psycopg2.extensions.connection,
    name: str,
    address: str | None,
    success: bool,
    *,
    time: datetime | None = None,
) -> None:
    """Record one sign-in attempt at ``time`` (default: now), committed."""
    with transaction(conn) as cur:
        cur.execute(
            "INSERT INTO login_attempts (time, name, address, success) VALUES (coalesce(%s, now()), %s, %s, %s)",
            (time, name, address, success),
        )


def recent_failures(
    conn: psycopg2.extensions.connection, *, name: str | None = None, address: str | None = None, since: datetime
) -> int:
    """Failed sign-in attempts from ``since`` on, for ``name`` and/or from ``address`` (at least one)."""
    if name is None and address is None:
        raise ValueError("recent_failures: give a name, an address or both")
    conditions = ["NOT success", "time >= %s"]
    params: list[Any] = [since]
    for column, value in (("name", name), ("address", address)):
        if value is not None:
            conditions.append(f"{column} = %s")
            params.append(value)
    with transaction(conn) as cur:
        cur.execute(f"SELECT count(*) FROM login_attempts WHERE {' AND '.join(conditions)}", params)
        return cur.fetchone()[0]


def _state(row: UserRow) -> dict[str, Any]:
    """What the audit log shows of an account: everything but the hash."""
    return {"role": row.role, "disabled": row.disabled, "password_changed_at": row.password_changed_at}


def _action(*, role: bool, password: bool, disabled: bool | None) -> str:
    if password and not role and disabled is None:
        return "user.passwd"
    if disabled is not None and not role and not password:
        return "user.disable" if disabled else "user.enable"
    return "user.update"
