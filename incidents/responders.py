"""Which kinds of response unit an incident needs, by category (fallback: by its domain).

A city may name them per category in ``categories.toml`` (``unit_kinds = [...]``); these are
the defaults for the bundled categories, and for any category through its domain
(``indicators.registry``: a domain's ``responders``, and ``alarm_responders`` for its sensor alarms).
"""

from __future__ import annotations

from indicators.registry import registry
from vocabulary.terms import UNIT_KINDS

BY_CATEGORY: dict[str, tuple[str, ...]] = {
    "fire": ("fire",),
    "medical_emergency": ("ambulance",),
    "heat_emergency": ("ambulance",),
    "traffic_accident": ("police", "ambulance"),
    "public_order": ("police",),
    "crowd_gathering": ("police",),
    "gas_leak": ("fire", "utility"),
    "water_main_break": ("utility",),
    "power_outage": ("utility",),
    "illegal_dumping": ("city_management",),
    "road_damage": ("city_management",),
}


def unit_kinds_for(category: str, domain: str | None) -> tuple[str, ...]:
    """The unit kinds to propose for an incident of ``category`` (in its ``domain``); all kinds if unknown."""
    if category in BY_CATEGORY:
        return BY_CATEGORY[category]
    try:
        declared = registry().domain(domain or "")
    except KeyError:
        return UNIT_KINDS
    if category == declared.alarm_category and declared.alarm_responders:
        return declared.alarm_responders
    return declared.responders or UNIT_KINDS
