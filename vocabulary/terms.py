"""The fixed words of incidents and response units: severities, event sources, incident statuses,
unit kinds and unit statuses; and the kinds of city element a map layer holds.

These words are API, MQTT, database and configuration keys (docs/contract.md "MQTT",
docs/vital-signs.md §2); never rename one. Every module that checks, stores or shows them imports
them from here. (Domain ids and metric names are in ``indicators.domains``.)
"""

from __future__ import annotations

# Least to most severe: the order is the ranking (a storm's incident takes its worst member's).
SEVERITIES: tuple[str, ...] = ("minor", "major", "critical")
SEVERITY_RANK: dict[str, int] = {severity: rank for rank, severity in enumerate(SEVERITIES)}

# Where an event comes from (MQTT events, docs/contract.md).
EVENT_SOURCES: tuple[str, ...] = ("hotline", "sensor", "patrol", "camera", "external")

# An incident's status (incidents.lifecycle holds the moves between them).
NEW = "new"
ACKNOWLEDGED = "acknowledged"
DISPATCHED = "dispatched"
ON_SCENE = "on_scene"
RESOLVED = "resolved"
INCIDENT_STATUSES: tuple[str, ...] = (NEW, ACKNOWLEDGED, DISPATCHED, ON_SCENE, RESOLVED)
OPEN_STATUSES: tuple[str, ...] = (NEW, ACKNOWLEDGED, DISPATCHED, ON_SCENE)

# Response units.
UNIT_KINDS: tuple[str, ...] = ("fire", "police", "ambulance", "city_management", "utility")
UNIT_STATUSES: tuple[str, ...] = ("available", "busy", "offline")

# The kinds of element a map layer holds (city.layers): each has its symbol on the maps, and an
# incident category names the kinds it needs nearby (categories.toml ``elements``).
ELEMENT_KINDS: tuple[str, ...] = ("hospital", "shelter", "fire_station", "police_station", "hydrant",
                                  "pumping_station", "underpass", "other")
