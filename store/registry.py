"""The city's registry (sensors.csv, units.csv) into ``sensors`` and ``units``, without touching live state."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

import psycopg2.extensions
from psycopg2.extras import Json, execute_values

from store.audit import write_audit
from store.connection import transaction

_PAGE_SIZE = 10_000


class SensorRow(NamedTuple):
    """A row of sensors.csv, located: ``scope_code`` is the lowest-level unit, ``scopes`` {level: code}."""

    sensor_id: str
    kind: str
    metrics: tuple[str, ...]
    lon: float | None
    lat: float | None
    expected_interval_s: int | None
    noise_zone: str | None
    scope_code: str | None
    scopes: dict[str, str]


class UnitRow(NamedTuple):
    """A row of units.csv (``home_lon``/``home_lat`` = its station), located like :class:`SensorRow`."""

    unit_id: str
    kind: str
    name: str | None
    home_lon: float | None
    home_lat: float | None
    scope_code: str | None
    scopes: dict[str, str]


# first_seen, last_seen and in_maintenance are live state: an upsert leaves them alone. A sensor
# the ingest registered first becomes a registry sensor, verified: the city's own list vouches for it.
_UPSERT_SENSORS = """
INSERT INTO sensors (sensor_id, kind, metrics, lon, lat, expected_interval_s, noise_zone, scope_code, scopes,
                     registered_by, verified)
VALUES %s
ON CONFLICT (sensor_id) DO UPDATE SET
    kind = excluded.kind,
    metrics = excluded.metrics,
    lon = excluded.lon,
    lat = excluded.lat,
    expected_interval_s = excluded.expected_interval_s,
    noise_zone = excluded.noise_zone,
    scope_code = excluded.scope_code,
    scopes = excluded.scopes,
    registered_by = 'registry',
    verified = true
"""
_SENSOR_VALUES = "(%s, %s, %s::text[], %s, %s, %s, %s, %s, %s, 'registry', true)"

# A new unit starts at home. For a known unit only the registry's fields change; its position,
# status and district follow the home only while it has never reported a position.
_UPSERT_UNITS = """
INSERT INTO units AS u (unit_id, kind, name, home_lon, home_lat, lon, lat, scope_code, scopes)
VALUES %s
ON CONFLICT (unit_id) DO UPDATE SET
    kind = excluded.kind,
    name = excluded.name,
    home_lon = excluded.home_lon,
    home_lat = excluded.home_lat,
    lon = CASE WHEN u.position_time IS NULL THEN excluded.lon ELSE u.lon END,
    lat = CASE WHEN u.position_time IS NULL THEN excluded.lat ELSE u.lat END,
    scope_code = CASE WHEN u.position_time IS NULL THEN excluded.scope_code ELSE u.scope_code END,
    scopes = CASE WHEN u.position_time IS NULL THEN excluded.scopes ELSE u.scopes END
"""


def sync_sensors(conn: psycopg2.extensions.connection, rows: Sequence[SensorRow]) -> int:
    """Insert or update the registry's sensors in one transaction; returns how many rows were upserted.

    Sensors missing from ``rows`` are kept: their readings still refer to them.
    """
    _check_unique([row.sensor_id for row in rows], "sensor")
    if not rows:
        return 0
    values = [
        (r.sensor_id, r.kind, list(r.metrics), r.lon, r.lat, r.expected_interval_s, r.noise_zone, r.scope_code,
         Json(r.scopes))
        for r in sorted(rows, key=lambda r: r.sensor_id)
    ]
    with transaction(conn) as cur:
        execute_values(cur, _UPSERT_SENSORS, values, template=_SENSOR_VALUES, page_size=_PAGE_SIZE)
    return len(values)


def sync_units(conn: psycopg2.extensions.connection, rows: Sequence[UnitRow]) -> int:
    """Insert or update the registry's units in one transaction without moving a unit that reports positions."""
    _check_unique([row.unit_id for row in rows], "unit")
    if not rows:
        return 0
    values = [
        (r.unit_id, r.kind, r.name, r.home_lon, r.home_lat, r.home_lon, r.home_lat, r.scope_code, Json(r.scopes))
        for r in sorted(rows, key=lambda r: r.unit_id)
    ]
    with transaction(conn) as cur:
        execute_values(cur, _UPSERT_UNITS, values, page_size=_PAGE_SIZE)
    return len(values)


def known_sensors(conn: psycopg2.extensions.connection) -> dict[str, tuple[float | None, float | None]]:
    """Every registered sensor (registry or ingest) → its (lon, lat)."""
    with transaction(conn) as cur:
        cur.execute("SELECT sensor_id, lon, lat FROM sensors")
        return {sensor_id: (lon, lat) for sensor_id, lon, lat in cur.fetchall()}


class UnverifiedSensor(NamedTuple):
    """A sensor the ingest registered by itself, waiting for an admin to accept it."""

    sensor_id: str
    metrics: tuple[str, ...]
    lon: float | None
    lat: float | None
    scope_code: str | None
    first_seen: datetime | None
    last_seen: datetime | None


class SensorMissing(ValueError):
    """No sensor has this id."""


def unverified_sensors(conn: psycopg2.extensions.connection, limit: int = 100) -> list[UnverifiedSensor]:
    """Sensors waiting for acceptance, newest first, at most ``limit``."""
    with transaction(conn) as cur:
        cur.execute(
            "SELECT sensor_id, metrics, lon, lat, scope_code, first_seen, last_seen FROM sensors WHERE NOT verified"
            " ORDER BY first_seen DESC NULLS LAST, sensor_id LIMIT %s",
            (limit,),
        )
        return [UnverifiedSensor(sensor_id, tuple(metrics), lon, lat, scope, first, last)
                for sensor_id, metrics, lon, lat, scope, first, last in cur.fetchall()]


def accept_sensor(conn: psycopg2.extensions.connection, sensor_id: str, *, actor: str) -> bool:
    """Mark a self-registered sensor verified (its readings count in the vital signs from the next run),
    audited in the same transaction; False if it was verified already. Raises :class:`SensorMissing`."""
    with transaction(conn) as cur:
        cur.execute("SELECT verified, lon, lat, scope_code FROM sensors WHERE sensor_id = %s FOR UPDATE",
                    (sensor_id,))
        row = cur.fetchone()
        if row is None:
            raise SensorMissing(f"no sensor {sensor_id!r}")
        verified, lon, lat, scope_code = row
        if verified:
            return False
        cur.execute("UPDATE sensors SET verified = true WHERE sensor_id = %s", (sensor_id,))
        where = {"lon": lon, "lat": lat, "scope_code": scope_code}
        write_audit(cur, actor, "sensor.accept", sensor_id, before={"verified": False, **where},
                    after={"verified": True, **where})
    return True


def _check_unique(ids: list[str], what: str) -> None:
    # One upsert statement cannot touch a row twice; say which id is repeated instead.
    repeated = sorted(key for key, count in Counter(ids).items() if count > 1)
    if repeated:
        raise ValueError(f"{what} ids appear more than once in the registry: {', '.join(repeated[:10])}")
