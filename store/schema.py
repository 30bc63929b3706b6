"""Creating and upgrading the schema (``cityops db init``), and the settings it was made with."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import psycopg2
import psycopg2.errors
import psycopg2.extensions

from store.connection import TimescaleUnusable, describe, transaction
from store.migrations import BOOTSTRAP, MIGRATIONS

log = logging.getLogger(__name__)

# Any fixed number, shared by every process that runs init_schema on the database.
_LOCK_KEY = 0x63_69_74_79  # "city"

# What an operator does about a TimescaleDB that is installed but not preloaded.
PRELOAD_FIX = "add shared_preload_libraries = 'timescaledb' to postgresql.conf and restart PostgreSQL"


class SchemaMissing(Exception):
    """The database has not been initialised (or upgraded) for this version of cityops."""


def require_schema(conn: psycopg2.extensions.connection) -> None:
    """Raise :class:`SchemaMissing` unless every migration of this version has been applied."""
    latest = MIGRATIONS[-1].version
    with transaction(conn) as cur:
        cur.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
        applied = 0
        if cur.fetchone()[0]:
            cur.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
            applied = cur.fetchone()[0]
    if applied < latest:
        raise SchemaMissing(f"the database schema is at version {applied}, this cityops needs {latest}: "
                            "run `cityops db init`")
    with transaction(conn) as cur:
        settings = _read_settings(cur)
        if settings is not None and settings.timescale:
            _check_timescale_usable(cur)


@dataclass(frozen=True)
class SchemaOptions:
    """How to set up the schema.

    ``use_timescale``: None = use TimescaleDB when the server can load it, False = never,
    True = required (an error without it). The choice is made once, at the first
    ``init_schema``; retention and compression may change on any later call. With None, a
    TimescaleDB installed but not preloaded gives plain tables and a warning naming the fix
    (never a dropped connection); with True it is a :class:`TimescaleUnusable` error.
    """

    retention_days: int = 90
    compress_after_days: int = 7
    use_timescale: bool | None = None

    def __post_init__(self) -> None:
        if self.retention_days < 1 or self.compress_after_days < 1:
            raise ValueError("retention_days and compress_after_days must be at least 1")


@dataclass(frozen=True)
class SchemaReport:
    """What ``init_schema`` found and did: the path, the schema version, the migrations it applied."""

    timescale: bool
    version: int
    applied: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StoreSettings:
    """The settings stored in ``store_settings``."""

    timescale: bool
    retention_days: int
    compress_after_days: int


def init_schema(conn: psycopg2.extensions.connection, options: SchemaOptions = SchemaOptions()) -> SchemaReport:
    """Create or upgrade the schema; safe to run again and from several processes at once.

    Every step takes a transaction-scoped advisory lock first, so concurrent callers queue
    up instead of racing; each migration is applied and recorded in its own transaction.
    """
    with transaction(conn) as cur:
        _lock(cur)
        cur.execute(BOOTSTRAP)
        previous = _read_settings(cur)
        timescale = _choose_timescale(cur, options, previous)
        settings = StoreSettings(timescale, options.retention_days, options.compress_after_days)
        _write_settings(cur, settings)
        cur.execute("SELECT version FROM schema_migrations")
        done = {version for (version,) in cur.fetchall()}

    applied: list[str] = []
    for migration in MIGRATIONS:
        if migration.version in done:
            continue
        with transaction(conn) as cur:
            _lock(cur)
            # Another process may have applied it while this one waited for the lock.
            cur.execute("SELECT 1 FROM schema_migrations WHERE version = %s", (migration.version,))
            if cur.fetchone() is None:
                for statement in migration.statements(timescale):
                    cur.execute(statement)
                cur.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (migration.version, migration.name)
                )
                applied.append(migration.name)
                log.info("applied migration %d %s", migration.version, migration.name)
        done.add(migration.version)

    if timescale:  # cheap, and repairs policies a failed earlier run left out
        with transaction(conn) as cur:
            _lock(cur)
            _set_timescale_policies(cur, settings)

    version = max(done)
    latest = MIGRATIONS[-1].version
    if version > latest:
        log.warning("the database schema (version %d) is newer than this cityops knows (%d)", version, latest)
    return SchemaReport(timescale=timescale, version=version, applied=applied)


def read_settings(conn: psycopg2.extensions.connection) -> StoreSettings:
    """The settings the schema was set up with (``init_schema`` must have run)."""
    with transaction(conn) as cur:
        settings = _read_settings(cur)
    if settings is None:
        raise RuntimeError("the database has no cityops schema yet: run `cityops db init`")
    return settings


def retention_days(conn: psycopg2.extensions.connection) -> int:
    """Days of raw data kept: readings older than this are deleted and refused by the ingest."""
    return read_settings(conn).retention_days


def _lock(cur: psycopg2.extensions.cursor) -> None:
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))


def _read_settings(cur: psycopg2.extensions.cursor) -> StoreSettings | None:
    cur.execute("SELECT to_regclass('store_settings') IS NOT NULL")
    if not cur.fetchone()[0]:
        return None
    cur.execute("SELECT key, value FROM store_settings")
    stored = dict(cur.fetchall())
    if "timescale" not in stored:
        return None
    defaults = SchemaOptions()
    return StoreSettings(
        timescale=stored["timescale"] == "true",
        retention_days=int(stored.get("retention_days", defaults.retention_days)),
        compress_after_days=int(stored.get("compress_after_days", defaults.compress_after_days)),
    )


def _write_settings(cur: psycopg2.extensions.cursor, settings: StoreSettings) -> None:
    values = {
        "timescale": "true" if settings.timescale else "false",
        "retention_days": str(settings.retention_days),
        "compress_after_days": str(settings.compress_after_days),
    }
    for key, value in values.items():
        cur.execute(
            "INSERT INTO store_settings (key, value) VALUES (%s, %s)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE store_settings.value <> excluded.value",
            (key, value),
        )


def _choose_timescale(
    cur: psycopg2.extensions.cursor, options: SchemaOptions, previous: StoreSettings | None
) -> bool:
    """The path: fixed at the first init (readings cannot turn into a hypertable later)."""
    if previous is not None:
        if options.use_timescale is not None and options.use_timescale != previous.timescale:
            made = "with" if previous.timescale else "without"
            raise ValueError(f"this database was set up {made} TimescaleDB; use_timescale cannot change that")
        if previous.timescale:
            _check_timescale_usable(cur)
        return previous.timescale
    if options.use_timescale is False:
        return False
    cur.execute("SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'")
    row = cur.fetchone()
    if row is None:
        if options.use_timescale:
            raise ValueError("TimescaleDB was required but the server does not have the extension")
        log.info("TimescaleDB is not available: using plain PostgreSQL tables")
        return False
    # Installed but not usable: stop, whether TimescaleDB was asked for or not. Going on with plain
    # tables would fix this database's path for good (readings cannot turn into a hypertable later)
    # over a server whose operator meant TimescaleDB; --no-timescale says plain tables are meant.
    # Without the preloaded library, CREATE EXTENSION ends the session (FATAL): never try it then.
    if not _timescale_preloaded(cur):
        raise TimescaleUnusable(
            f"TimescaleDB {row[0]} is installed on PostgreSQL at {describe(cur.connection)} but not preloaded:"
            f" {PRELOAD_FIX}, or set up plain tables with `cityops db init --no-timescale`")
    # Preloaded, but the library of the version to create may still be missing (an ERROR, not FATAL).
    cur.execute("SAVEPOINT timescale")
    try:
        cur.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except psycopg2.Error as error:
        cur.execute("ROLLBACK TO SAVEPOINT timescale")
        reason = str(error).strip().splitlines()[0]
        raise TimescaleUnusable(f"TimescaleDB is installed but cannot be loaded ({reason}): install the TimescaleDB"
                                " library of the version the server preloads, or set up plain tables with"
                                " `cityops db init --no-timescale`") from error
    cur.execute("RELEASE SAVEPOINT timescale")
    log.info("using TimescaleDB")
    return True


def preloaded_libraries(setting: str) -> set[str]:
    """The library names in a ``shared_preload_libraries`` value ("'$libdir/timescaledb.so', pg_stat_statements")."""
    names = (item.strip().strip("'\"").rsplit("/", 1)[-1] for item in setting.split(","))
    return {name.removesuffix(".so") for name in names if name}


def _timescale_preloaded(cur: psycopg2.extensions.cursor) -> bool:
    """True when the server preloads TimescaleDB's library (needed before any TimescaleDB function runs)."""
    cur.execute("SAVEPOINT preload")
    try:
        cur.execute("SHOW shared_preload_libraries")
    except psycopg2.errors.InsufficientPrivilege:
        # Only superusers and pg_read_all_settings may read it: look for a setting the preloaded library defines.
        cur.execute("ROLLBACK TO SAVEPOINT preload")
        cur.execute("SELECT current_setting('timescaledb.max_background_workers', true) IS NOT NULL")
        return bool(cur.fetchone()[0])
    (setting,) = cur.fetchone()
    cur.execute("RELEASE SAVEPOINT preload")
    return "timescaledb" in preloaded_libraries(setting)


def _check_timescale_usable(cur: psycopg2.extensions.cursor) -> None:
    """For a database set up with TimescaleDB: refuse (one line, the fix) when the server does not preload it,
    and warn when the database's extension is older than the installed library."""
    if not _timescale_preloaded(cur):
        raise TimescaleUnusable(f"this database was set up with TimescaleDB, but PostgreSQL at"
                                f" {describe(cur.connection)} does not preload it: {PRELOAD_FIX}")
    cur.execute("SELECT e.extversion, a.default_version FROM pg_extension e"
                " JOIN pg_available_extensions a ON a.name = e.extname WHERE e.extname = 'timescaledb'")
    row = cur.fetchone()
    if row is not None and row[0] != row[1]:
        log.warning("this database has TimescaleDB %s, the server has %s installed: update it with"
                    " `psql -X -c 'ALTER EXTENSION timescaledb UPDATE'` (the first command of a session)", *row)


def _set_timescale_policies(cur: psycopg2.extensions.cursor, settings: StoreSettings) -> None:
    """(Re)create the background jobs that compress, refresh and expire data on the Timescale path."""
    keep = f"{settings.retention_days} days"
    keep_hours = f"{settings.retention_days * 5} days"  # hourly rollups are kept five times longer
    compress = f"{settings.compress_after_days} days"
    # Look back as far as the ingest accepts late readings (the retention period): the refresh
    # only recomputes invalidated buckets, so a wide window costs little, and retention drops
    # only chunks wholly older than it, so no refreshed bucket loses its raw data.
    refresh_from = f"{settings.retention_days} days"
    for table in ("readings", "unit_positions", "readings_1m", "readings_1h"):
        cur.execute("SELECT remove_retention_policy(%s, if_exists => true)", (table,))
    for view in ("readings_1m", "readings_1h"):
        cur.execute("SELECT remove_continuous_aggregate_policy(%s, if_exists => true)", (view,))
    cur.execute("SELECT remove_compression_policy('readings', if_exists => true)")

    cur.execute("SELECT add_compression_policy('readings', %s::interval)", (compress,))
    cur.execute("SELECT add_retention_policy('readings', %s::interval)", (keep,))
    cur.execute("SELECT add_retention_policy('unit_positions', %s::interval)", (keep,))
    cur.execute(
        "SELECT add_continuous_aggregate_policy('readings_1m', start_offset => %s::interval,"
        " end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute')",
        (refresh_from,),
    )
    # Every minute too: the indicators read a window's whole hours from readings_1h, so a late reading
    # for an hour already materialized would be missing from the rain sums and the AQI's means until
    # the next refresh. One with nothing invalidated costs next to nothing.
    cur.execute(
        "SELECT add_continuous_aggregate_policy('readings_1h', start_offset => %s::interval,"
        " end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '1 minute')",
        (refresh_from,),
    )
    cur.execute("SELECT add_retention_policy('readings_1m', %s::interval)", (keep,))
    cur.execute("SELECT add_retention_policy('readings_1h', %s::interval)", (keep_hours,))
    log.info("TimescaleDB policies: compress after %s, keep %s (hourly rollups %s)", compress, keep, keep_hours)
