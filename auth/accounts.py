"""Account use cases for the command line and the web app: add, change, disable, sign in.

Validation happens here (names, roles, password rules; errors are ValueError subclasses with
one-line messages), hashing in :mod:`auth.passwords`, storage and the audit rows in :mod:`store`.
``actor`` is who makes the change as the audit log shows it: a user name, ``cli:<OS user>``
or ``settings``.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import secrets
from datetime import datetime, timedelta
from typing import Literal, NamedTuple

import store
from auth.passwords import check_password_strength, hash_password, verify_password
from auth.roles import check_role

log = logging.getLogger(__name__)

ADMIN = "admin"
# The same rule as the CHECK constraint on users.name.
NAME_PATTERN = re.compile(r"[a-z0-9._-]{1,64}")

# Sign-in throttling: after a few free failures, each further failure of one name from one
# address (guessing a password) makes the next try wait longer: 1, 2, 4 … minutes, at most 30.
# Tries during a wait are refused unchecked and do not prolong it, so nobody can lock an
# account for good, and a name guessed from elsewhere is not delayed for its owner. Many names
# tried from one address are delayed for that address as a whole. Failures count for a day,
# and a success (or an admin's unlock) starts a name's count afresh.
FAILURE_WINDOW = timedelta(hours=24)
FREE_FAILURES_PER_NAME = 5
FREE_FAILURES_PER_ADDRESS = 30
# The acknowledgement links (/ack/…) are throttled the same way: a link that is no genuine token
# counts as a failure of this name (never a user's: NAME_PATTERN has no brackets or spaces) from
# the client's address, so guessing links is delayed like guessing passwords.
ACK_LINKS = "(ack link)"
FIRST_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(minutes=30)
_MAX_LOGGED_CHARS = 64


class InvalidName(ValueError):
    """A user name outside the allowed form."""


class SignInThrottled(Exception):
    """Too many failed sign-ins: the next try may come at ``until``; the password was not checked."""

    def __init__(self, until: datetime, now: datetime) -> None:
        super().__init__(f"too many attempts: try again after {until.isoformat(timespec='seconds')}")
        self.until = until
        self.retry_after_s = max(1, math.ceil((until - now).total_seconds()))


class Throttle(NamedTuple):
    """A running sign-in delay: for ``name`` from ``address``, or (``name`` None) for the whole address."""

    name: str | None
    address: str | None
    failures: int
    until: datetime


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


def create_first_admin(
    conn: store.Connection, password: str, *, actor: str = "settings"
) -> Literal["created", "exists"]:
    """Create the account ``admin`` with ``password`` (CITYOPS_ADMIN_PASSWORD) unless it exists.

    Only the first start creates it: an existing ``admin`` is left exactly as its admins made
    it (disabled, another password, another role), so a setting left in a service file cannot
    silently undo a disable or a password change at the next restart.
    """
    check_password_strength(password, name=ADMIN)
    if store.get_user(conn, ADMIN) is not None:
        return "exists"
    try:
        store.create_user(conn, ADMIN, "admin", hash_password(password), actor=actor)
    except store.AccountExists:
        return "exists"  # another process started at the same moment created it
    return "created"


def delay_after(failures: int, free: int) -> timedelta:
    """How long the next sign-in must wait after ``failures`` failures of which ``free`` cost nothing."""
    if failures < free:
        return timedelta(0)
    return min(FIRST_DELAY * 2 ** min(failures - free, 16), MAX_DELAY)


def throttles(conn: store.Connection, *, now: datetime, name: str | None = None,
              address: str | None = None) -> list[Throttle]:
    """The sign-in delays running at ``now`` (only those of ``name`` / ``address`` when given), longest first."""
    since = _aware(now) - FAILURE_WINDOW
    running = []
    for whole_address, free in ((False, FREE_FAILURES_PER_NAME), (True, FREE_FAILURES_PER_ADDRESS)):
        if whole_address and name is not None and address is None:
            continue  # a name alone has no address-wide delay
        for run in store.failure_runs(conn, since=since, whole_address=whole_address, at_least=free,
                                      name=None if whole_address else name, address=address):
            until = run.last_failure + delay_after(run.failures, free)
            if until > now:
                running.append(Throttle(run.name, run.address, run.failures, until))
    return sorted(running, key=lambda throttle: throttle.until, reverse=True)


def unlock(conn: store.Connection, name: str | None, address: str | None, *, actor: str,
           actor_address: str | None) -> None:
    """End the delay of ``name`` from ``address`` (``name`` None: of the whole address); audited as login.unlock."""
    store.unlock_sign_in(conn, _attempt_name(name) if name is not None else "", _attempt_address(address),
                         actor=actor, actor_address=actor_address)


def authenticate(
    conn: store.Connection, name: str, password: str, address: str | None, *, now: datetime
) -> store.UserRow | None:
    """The account if ``name`` and ``password`` sign in now, else None — for every reason alike.

    Names are case-insensitive. While a delay runs for this name from this address (or for the
    address), :class:`SignInThrottled` is raised and the password is not even checked; the try
    is recorded as ``throttled`` and does not prolong the delay. Other tries are recorded as
    ``success`` or ``failure``. Unknown names are checked against a dummy hash, so the
    response time does not tell which names exist, and they are throttled alike.
    """
    now = _aware(now)
    name = _attempt_name(name)
    address = _attempt_address(address)
    refuse_if_throttled(conn, name, address, now=now)
    user = store.get_user(conn, name) if NAME_PATTERN.fullmatch(name) else None
    matches = verify_password(user.password_hash if user is not None else _dummy_hash(), password)
    success = matches and user is not None and not user.disabled
    store.record_login(conn, name, address, "success" if success else "failure", time=now)
    return user if success else None


def refuse_if_throttled(conn: store.Connection, name: str, address: str | None, *, now: datetime) -> None:
    """:class:`SignInThrottled` while a delay runs for ``name`` from ``address`` (or for the
    address); the refused try is recorded as ``throttled`` and does not prolong the delay."""
    name, address = _attempt_name(name), _attempt_address(address)
    running = throttles(conn, now=_aware(now), name=name, address=address)
    if running:
        store.record_login(conn, name, address, "throttled", time=now)
        log.warning("%r from %s refused: delayed after %d failures", name, address, running[0].failures)
        raise SignInThrottled(running[0].until, now)


def record_failure(conn: store.Connection, name: str, address: str | None, *, now: datetime) -> None:
    """Count a failed try of ``name`` from ``address`` (for a use other than signing in: ``ACK_LINKS``)."""
    store.record_login(conn, _attempt_name(name), _attempt_address(address), "failure", time=_aware(now))


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
