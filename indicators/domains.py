"""The fixed vocabulary: severities, event sources, unit kinds and statuses, the index's key.

These words are API, MQTT and configuration keys (docs/vital-signs.md §2, docs/contract.md "MQTT");
never rename one. Every module that checks or produces them imports them from here. The domain ids
and metric names are declared with everything else about them in :mod:`indicators.registry`.
"""

from __future__ import annotations

# Where domain values are stored or served, a unit's vital-sign index (docs/vital-signs.md §4.4)
# sits beside them under this key; it is never a domain id.
INDEX = "index"

SEVERITIES: tuple[str, ...] = ("minor", "major", "critical")

# Where an event comes from (MQTT events, docs/contract.md).
EVENT_SOURCES: tuple[str, ...] = ("hotline", "sensor", "patrol", "camera", "external")
# Response units.
UNIT_KINDS: tuple[str, ...] = ("fire", "police", "ambulance", "city_management", "utility")
UNIT_STATUSES: tuple[str, ...] = ("available", "busy", "offline")
