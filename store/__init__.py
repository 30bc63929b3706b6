"""The database layer: schema, migrations and every SQL statement of cityops (PostgreSQL, TimescaleDB if present).

Nothing else in cityops imports psycopg2 or writes SQL. Every function takes a connection
from :func:`connect`, runs one transaction and ends it (commit, or rollback and raise).
"""

from psycopg2.extensions import connection as Connection  # the type of what connect() returns, for annotations

from store.accounts import (
    AccountError,
    AccountExists,
    AccountMissing,
    UserRow,
    create_user,
    get_user,
    last_sign_ins,
    list_users,
    recent_failures,
    record_login,
    update_user,
)
from store.audit import AuditRow, audit_actions, read_audit, write_audit
from store.backfill import backfill_readings
from store.connection import DatabaseError, StoreUnavailable, connect, is_disconnect
from store.feeds import (
    FeedRate,
    RejectSample,
    SensorCounts,
    StaleSensor,
    feed_rates,
    newest_rejects,
    rejects_by_reason,
    sensor_counts,
    stale_sensors,
)
from store.indicators import (
    AlarmEvent,
    CurrentValue,
    children_of,
    delete_indicator_history,
    newest_readings,
    open_alarms,
    read_current,
    read_hysteresis,
    read_sensor_registry,
    recent_scores,
    window_statistics,
    write_run,
)
from store.ingest import (
    BatchResult,
    EventRow,
    IngestBatch,
    ReadingRow,
    RejectRow,
    SensorSightingRow,
    UnitPositionRow,
    write_ingest_batch,
)
from store.metrics import LatencySeries, add_request_latency, read_request_latency
from store.queries import COUNTABLE_TABLES, count_rows, latest_readings, server_info
from store.registry import SensorRow, UnitRow, known_sensors, sync_sensors, sync_units
from store.retention import apply_retention
from store.rollups import rebuild_rollups, refresh_rollups
from store.schema import (
    SchemaMissing,
    SchemaOptions,
    SchemaReport,
    StoreSettings,
    init_schema,
    read_settings,
    require_schema,
    retention_days,
)
from store.status import ProcessStatus, read_status, report_status

__all__ = [
    "AccountError",
    "AccountExists",
    "AccountMissing",
    "AlarmEvent",
    "CurrentValue",
    "children_of",
    "delete_indicator_history",
    "newest_readings",
    "open_alarms",
    "read_current",
    "read_hysteresis",
    "read_sensor_registry",
    "recent_scores",
    "window_statistics",
    "write_run",
    "AuditRow",
    "COUNTABLE_TABLES",
    "Connection",
    "DatabaseError",
    "BatchResult",
    "EventRow",
    "FeedRate",
    "LatencySeries",
    "RejectSample",
    "SensorCounts",
    "StaleSensor",
    "add_request_latency",
    "audit_actions",
    "feed_rates",
    "last_sign_ins",
    "newest_rejects",
    "read_request_latency",
    "rejects_by_reason",
    "sensor_counts",
    "stale_sensors",
    "IngestBatch",
    "ProcessStatus",
    "ReadingRow",
    "RejectRow",
    "SchemaMissing",
    "SchemaOptions",
    "SchemaReport",
    "SensorRow",
    "SensorSightingRow",
    "StoreSettings",
    "StoreUnavailable",
    "UnitPositionRow",
    "UnitRow",
    "UserRow",
    "apply_retention",
    "backfill_readings",
    "rebuild_rollups",
    "refresh_rollups",
    "connect",
    "count_rows",
    "create_user",
    "get_user",
    "init_schema",
    "is_disconnect",
    "known_sensors",
    "latest_readings",
    "list_users",
    "read_audit",
    "read_settings",
    "read_status",
    "recent_failures",
    "record_login",
    "report_status",
    "require_schema",
    "retention_days",
    "server_info",
    "sync_sensors",
    "sync_units",
    "update_user",
    "write_audit",
    "write_ingest_batch",
]
