"""The database layer: schema, migrations and every SQL statement of cityops (PostgreSQL, TimescaleDB if present).

Nothing else in cityops imports psycopg2 or writes SQL. Every function takes a connection
from :func:`connect`, runs one transaction and ends it (commit, or rollback and raise).
"""

from store.backfill import backfill_readings
from store.connection import DatabaseError, StoreUnavailable, connect, is_disconnect
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
    "COUNTABLE_TABLES",
    "DatabaseError",
    "BatchResult",
    "EventRow",
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
    "apply_retention",
    "backfill_readings",
    "rebuild_rollups",
    "refresh_rollups",
    "connect",
    "count_rows",
    "init_schema",
    "is_disconnect",
    "known_sensors",
    "latest_readings",
    "read_settings",
    "read_status",
    "report_status",
    "require_schema",
    "retention_days",
    "server_info",
    "sync_sensors",
    "sync_units",
    "write_ingest_batch",
]
