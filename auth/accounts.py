"""Account use cases for the command line and the web app: add, change, disable, sign in.

Validation happens here (names, roles, password rules; errors are ValueError subclasses with
one-line messages), hashing in :mod:`auth.passwords`, storage and the audit rows in :mod:`store`.
``actor`` is who makes the change as the audit log shows it: a user name, ``cli:<OS user>``
or ``settings``.
"""

from __future__ import annotations

import functools
import logging
import re
import secrets
from datetime import datetime, timedelta
from typing import Literal

import store
from auth.passwords import check_password_strength, hash_password, verify_password
from auth.roles import check_role

log = logging.getLogger(__name__)

ADMIN = "admin"
# The same rule as the CHECK constraint on users.name.
NAME_PATTERN = re.compile(r"[a-z0-9._-]{1,64}")

# Sign-in rate limits: failures in the window, per name (guessing one account's password)
# and per address (trying many accounts from one place).
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_NAME = 5
MAX_FAILURES_PER_ADDRESS = 20
_MAX_LOGGED_CHARS = 64


class InvalidName(ValueError):
    """A user name outside the allowed form."""


def check_name(name: str) -> str:
    """``name`` if it is a valid user name (1–64 of a-z 0-9 . _ -), else :class:`InvalidName`."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        shown = repr(name[:_MAX_LOGGED_CHARS]) if isinstance(name, str) else type(name).__name__
        raise InvalidName(f"invalid user name {shown}: use 1-64 characters of a-z 0-9 . _ - (lower case)")
    return name


def add_user(
    conn: store.Connection,
    name: str,
    role: str,
    password: str,
    *,
    actor: str = "cli",
    update: bool = False,
    address: str | None = None,
) -> Literal["added", "updated"]:
    """Create the account; with ``update``, an existing one gets this role and password and is enabled again.

    Without ``update`` an existing name raises :class:`store.AccountExists` (the database decides,
    so of two concurrent calls exactly one succeeds).
    """
    check_name(name)
    check_role(role)
    check_password_strength(password, name=name)
    password_hash = hash_password(password)
    if update:
        try:
            store.update_user(conn, name, role=role, password_hash=password_hash, disabled=False, actor=actor,
                              address=address)
            return "updated"
        except store.AccountMissing:
            pass
    store.create_user(conn, name, role, password_hash, actor=actor, address=address)
    return "added"


def set_password(
    conn: store.Connection, name: str, password: str, *, actor: str = "cli", address: str | None = None
) -> None:
    """Give the account a new password (:class:`store.AccountMissing` if there is none)."""
    check_name(name)
    check_password_strength(password, name=name)
    store.update_user(conn, name, password_hash=hash_password(password), actor=actor, address=address)


def disable_user(
    conn: store.Connection, name: str, *, actor: str = "cli", address: str | None = None
) -> None:
    """Stop the account from signing in; its rows and audit trail stay (:class:`store.AccountMissing` if none)."""
    check_name(name)
    store.update_user(conn, name, disabled=True, actor=actor, address=address)


def enable_user(
    conn: store.Connection, name: str, *, actor: str = "cli", address: str | None = None
) -> None:
    """Let a disabled account sign in again (:class:`store.AccountMissing` if none)."""
    check_name(name)
    store.update_user(conn, name, disabled=False, actor=actor, address=address)


def set_role(
    conn: store.Connection, name: str, role: str, *, actor: str = "cli", address: str | None = None
) -> None:
    """Give the account ``role`` (:class:`store.AccountMissing` if none)."""
    check_name(name)
    check_role(role)
    store.update_user(conn, name, role=role, actor=actor, address=address)


def ensure_admin(
    conn: store.Connection, password: str, *, actor: str = "settings"
) -> Literal["created", "reset", "unchanged"]:
    """Make ``admin`` an enabled admin account with ``password`` (CITYOPS_ADMIN_PASSWORD, the demo's password).

    Nothing is written when it already is, so every process start may call this without
    filling the audit log or moving ``password_changed_at``.
    """
    check_password_strength(password, name=ADMIN)
    current = store.get_user(conn, ADMIN)
    if (current is not None and current.role == "admin" and not current.disabled
            and verify_password(current.password_hash, password)):
        return "unchanged"
    password_hash = hash_password(password)
    if current is None:
        try:
            store.create_user(conn, ADMIN, "admin", password_hash, actor=actor)
            return "created"
        except store.AccountExists:
            pass  # another process started at the same moment created it: reset it below
    store.update_user(conn, ADMIN, role="admin", password_hash=password_hash, disabled=False, actor=actor)
    return "reset"


def throttled(conn: store.Connection, name: str, address: str | None, *, now: datetime) -> bool:
    """True while sign-in for ``name`` or from ``address`` is refused: too many recent failures.

    The limit counts attempts, whether or not the name exists, so it reveals nothing about accounts.
    """
    since = _aware(now) - FAILURE_WINDOW
    name = _attempt_name(name)
    if store.recent_failures(conn, name=name, since=since) >= MAX_FAILURES_PER_NAME:
        return True
    address = _attempt_address(address)
    return address is not None and store.recent_failures(conn, address=address, since=since) >= MAX_FAILURES_PER_ADDRESS


def authenticate(
    conn: store.Connection, name: str, password: str, address: str | None, *, now: datetime
) -> store.UserRow | None:
    """The account if ``name`` and ``password`` sign in now, else None — for every reason alike.

    Names are case-insensitive. While :func:`throttled`, the password is not even checked.
    Every attempt is recorded in ``login_attempts`` (refused ones as failures). Unknown names
    are checked against a dummy hash, so the response time does not tell which names exist.
    """
    now = _aware(now)
    name = _attempt_name(name)
    address = _attempt_address(address)
    if throttled(conn, name, address, now=now):
        store.record_login(conn, name, address, False, time=now)
        log.warning("sign-in as %r from %s refused: too many recent failures", name, address)
        return None
    user = store.get_user(conn, name) if NAME_PATTERN.fullmatch(name) else None
    matches = verify_password(user.password_hash if user is not None else _dummy_hash(), password)
    success = matches and user is not None and not user.disabled
    store.record_login(conn, name, address, success, time=now)
    return user if success else None


@functools.cache
def _dummy_hash() -> str:
    # Made with the same method and cost as real hashes, of a password nobody knows.
    return hash_password(secrets.token_urlsafe(32))


def _attempt_name(name: str) -> str:
    """The name as attempts are counted and recorded: lower case, clipped, storable as text."""
    return _storable(name[: _MAX_LOGGED_CHARS * 4].strip().lower() if isinstance(name, str) else "")


def _attempt_address(address: str | None) -> str | None:
    return _storable(address) if isinstance(address, str) and address else None


def _storable(text: str) -> str:
    # PostgreSQL text holds neither NUL nor unpaired surrogates: escape them, and clip hostile lengths.
    clipped = text[:_MAX_LOGGED_CHARS]
    return clipped.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now
