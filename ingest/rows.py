"""The rows one MQTT message becomes (docs/contract.md "MQTT"): what ``ingest.parse`` produces and
``store.ingest`` writes. Plain tuples with no dependencies, so the parser stays pure (no database
driver is imported to parse a message) and the store takes them unchanged.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple


class ReadingRow(NamedTuple):
    """One reading; ``time`` timezone-aware."""

    time: datetime
    sensor_id: str
    metric: str
    value: float


class RejectRow(NamedTuple):
    """A refused message or record; ``payload`` is the first 2 KiB as text."""

    time: datetime
    topic: str
    reason: str
    payload: str


class EventRow(NamedTuple):
    """An event as received on ``cityops/<city>/events`` (docs/contract.md "MQTT")."""

    source: str
    id: str
    time: datetime
    category: str
    severity: str
    lon: float
    lat: float
    title: str
    detail: str | None
    reporter_phone: str | None
    scope_code: str | None
    scopes: dict[str, str] | None


class UnitPositionRow(NamedTuple):
    """A position report of a response unit, with the administrative units it lies in."""

    time: datetime
    unit_id: str
    lon: float
    lat: float
    status: str
    kind: str
    scope_code: str | None
    scopes: dict[str, str] | None


class SensorSightingRow(NamedTuple):
    """A sensor seen in a feed with its position; registers it if the registry does not know it."""

    sensor_id: str
    time: datetime
    lon: float
    lat: float
    metrics: tuple[str, ...]
    scope_code: str | None
    scopes: dict[str, str] | None
