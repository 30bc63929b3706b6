"""Which kinds of response unit an incident needs, by category (fallback: by its domain).

A city may name them per category in ``categories.toml`` (``unit_kinds = [...]``); these are
the defaults for the bundled categories and for any category through its domain.
"""

from __future__ import annotations

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
    # Sensor alarms (docs/vital-signs.md §4.10): who goes to look at what a sensor measured. A noise
    # or air reading is an inspector's job, not the police's as a neighbour's complaint may be.
    "air_alarm": ("city_management",),
    "traffic_alarm": ("police",),
    "waterlogging_alarm": ("city_management", "utility"),
    "rainfall_alarm": ("city_management",),
    "gas_alarm": ("utility", "fire"),
    "water_supply_alarm": ("utility",),
    "power_alarm": ("utility",),
    "crowd_alarm": ("police",),
    "noise_alarm": ("city_management",),
    "heat_alarm": ("city_management", "ambulance"),
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
