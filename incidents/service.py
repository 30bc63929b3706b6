"""The use case "an officer reports an incident", one function for every door it comes in by (the
dispatch screen and ``POST /api/v1/incidents``): the report is checked exactly as a device's event
is (``ingest.parse``), then stored, grouped into an incident and audited in one transaction
(``store.create_from_event``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import store
from ingest.parse import IngestContext, parse_event


class ReportRefused(ValueError):
    """The report breaks a rule of an event (docs/contract.md "MQTT"); the message is the reason."""


@dataclass(frozen=True)
class Reported:
    """What became of a report. ``created``: False when its (source, id) was stored before (the
    idempotency key); ``incident_id`` is then the incident it is already in. ``joined``: the
    incident holds other reports too (one of the same category and area, still open)."""

    incident_id: int
    created: bool
    joined: bool


def report_incident(conn: store.Connection, payload: bytes, *, context: IngestContext, user: str,
                    address: str | None, received_at: datetime) -> Reported:
    """Check ``payload`` (an event's JSON) and make it an incident, audited as ``user`` from ``address``.

    ``received_at`` (timezone-aware) is when the report came in: a report's own time may not lie
    later than a few minutes after it. Raises :class:`ReportRefused` with the parser's reason.
    """
    event = parse_event(payload, received_at, context)
    if isinstance(event, str):
        raise ReportRefused(event)
    incident_id, created = store.create_from_event(conn, event, user=user, address=address)
    joined = store.get_incident(conn, incident_id).events_count > 1
    return Reported(incident_id, created, joined)
