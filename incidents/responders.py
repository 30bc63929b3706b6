"""Which kinds of response unit an incident needs, by category (fallback: by its domain).

A city may name them per category in ``categories.toml`` (``unit_kinds = [...]``); these are
the defaults for the bundled categories and for any category through its domain.
"""

from __future__ import annotations

from indicators.domains import UNIT_KINDS

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
BY_DOMAIN: dict[str, tuple[str, ...]] = {
    "waterlogging": ("city_management", "utility"),
    "rainfall": ("city_management", "fire"),
    "gas": ("fire", "utility"),
    "water_supply": ("utility",),
    "power": ("utility",),
    "air": ("city_management",),
    "traffic": ("police",),
    "crowd": ("police",),
    "noise": ("city_management", "police"),
    "heat": ("ambulance",),
    "public_safety": ("police",),
}


def unit_kinds_for(category: str, domain: str | None) -> tuple[str, ...]:
    """The unit kinds to propose for an incident of ``category`` (in its ``domain``); all kinds if unknown."""
    return BY_CATEGORY.get(category) or BY_DOMAIN.get(domain or "") or UNIT_KINDS
