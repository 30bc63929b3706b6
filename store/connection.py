"""Connections, transactions, and the one error callers must handle: the database is not there."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import psycopg2.extensions

log = logging.getLogger(__name__)

# Without a bound, an unreachable host (dropped packets) hangs a connect for minutes.
DEFAULT_CONNECT_TIMEOUT_S = 10

# SQLSTATEs that mean the server ended the session: connection exceptions (class 08),
# admin/crash shutdown and "cannot connect now" (server starting or stopping).
_DISCONNECT_STATES = ("08", "57P01", "57P02", "57P03")


class StoreUnavailable(Exception):
    """The database cannot be reached (or the connection to it was lost): retry later with a new connection."""


class TimescaleUnusable(StoreUnavailable):
    """The server cannot run TimescaleDB as this database needs it (not preloaded, or the library of the
    database's TimescaleDB version is missing): an operator must fix the server; the message says how."""


# Any error the database reports (psycopg2's base class), so callers need not import psycopg2.
DatabaseError = psycopg2.Error


def connect(url: str, *, application_name: str = "cityops") -> psycopg2.extensions.connection:
    """A new connection to ``url`` (``postgresql://…`` or a libpq key=value string).

    Autocommit is off: every store function runs its own transaction and ends it. The
    session time zone is UTC, so the server never converts stored times to a local zone.
    Raises :class:`StoreUnavailable` (with host and port, never the password) when the server
    cannot be reached, and ``ValueError`` for a URL libpq cannot read.
    """
    try:
        params = psycopg2.extensions.parse_dsn(url)
    except psycopg2.ProgrammingError:
        raise ValueError("the database URL is not a valid PostgreSQL connection string") from None
    params.setdefault("connect_timeout", str(DEFAULT_CONNECT_TIMEOUT_S))
    params["application_name"] = application_name
    try:
        conn = psycopg2.connect(**params)
    except psycopg2.OperationalError as error:
        reason = _scrub(_first_line(error), params.get("password"))
        raise StoreUnavailable(f"cannot connect to PostgreSQL at {_where(params)}: {reason}") from None
    try:
        with conn.cursor() as cur:
            cur.execute("SET TIME ZONE 'UTC'")
        conn.commit()
    except psycopg2.Error as error:
        conn.close()
        missing = _missing_timescale_library(error)
        if missing:
            raise TimescaleUnusable(
                f"PostgreSQL at {_where(params)} has no TimescaleDB library {missing}, the version this database"
                f" was set up with: install TimescaleDB {missing} again, or update the database to the installed"
                " version with `psql -X -c 'ALTER EXTENSION timescaledb UPDATE'` (the first command of a session)"
            ) from None
        raise StoreUnavailable(f"cannot use PostgreSQL at {_where(params)}: {_first_line(error)}") from None
    return conn


def _missing_timescale_library(error: psycopg2.Error) -> str | None:
    """The TimescaleDB version whose library the server lacks, when that is what ``error`` says.

    With TimescaleDB preloaded, every session of a database loads the library of the extension
    version installed there; after an upgrade that removed it, every first statement fails so.
    """
    found = re.search(r'could not access file "\$libdir/timescaledb-([^"]+)"', str(error))
    return found.group(1) if error.pgcode == "58P01" and found else None


def is_disconnect(error: BaseException) -> bool:
    """True when ``error`` means the connection is gone (reconnect and retry), not that a statement was refused."""
    if isinstance(error, StoreUnavailable | psycopg2.InterfaceError):
        return True
    if isinstance(error, psycopg2.OperationalError):
        # Errors the server reports on a live session carry a SQLSTATE (deadlock, cancel, …);
        # a dropped socket has none.
        return error.pgcode is None or error.pgcode.startswith(_DISCONNECT_STATES)
    return False


@contextmanager
def transaction(conn: psycopg2.extensions.connection) -> Iterator[psycopg2.extensions.cursor]:
    """A cursor in one transaction: committed at the end, rolled back on any error.

    A lost connection is raised as :class:`StoreUnavailable`; other errors are re-raised as they are.
    """
    try:
        with conn.cursor() as cur:
            yield cur
        conn.commit()
    except BaseException as error:
        _rollback_quietly(conn)
        if isinstance(error, psycopg2.Error) and is_disconnect(error):
            raise StoreUnavailable(
                f"lost the connection to PostgreSQL at {describe(conn)}: {_first_line(error)}"
            ) from error
        raise


def describe(conn: psycopg2.extensions.connection) -> str:
    """``host:port`` of ``conn``, for messages (``conn.dsn`` already hides the password)."""
    return _where(psycopg2.extensions.parse_dsn(conn.dsn))


def where(url: str) -> str:
    """``host:port`` of a database URL, for messages (never its password); ``ValueError`` if libpq cannot read it."""
    try:
        return _where(psycopg2.extensions.parse_dsn(url))
    except psycopg2.ProgrammingError:
        raise ValueError("the database URL is not a valid PostgreSQL connection string") from None


def _rollback_quietly(conn: psycopg2.extensions.connection) -> None:
    if conn.closed:
        return
    try:
        conn.rollback()
    except psycopg2.Error:  # the connection broke: nothing was committed, nothing to undo
        log.debug("rollback on a broken connection failed", exc_info=True)


def _where(params: dict[str, str]) -> str:
    host = params.get("host") or params.get("hostaddr") or "local socket"
    return f"{host}:{params.get('port') or 5432}"


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _scrub(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text
