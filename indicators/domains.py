"""The fixed vocabulary of the vital signs: domain ids and metric names (severities, event sources
and the words of incidents and response units are in ``vocabulary.terms``).

These words are API, MQTT and configuration keys (docs/vital-signs.md §2, docs/contract.md "MQTT");
never rename one. Every module that checks or produces them imports them from here.
"""

from __future__ import annotations

DOMAINS: tuple[str, ...] = (
    "air",
    "traffic",
    "waterlogging",
    "rainfall",
    "gas",
    "water_supply",
    "power",
    "crowd",
    "noise",
    "heat",
    "public_safety",
)

# The domains sensors measure (every one but public_safety, which counts open incidents).
MEASURED_DOMAINS: frozenset[str] = frozenset(DOMAINS) - {"public_safety"}

# The safety domains: one place in trouble is the whole city's business, so their higher units take
# the worst child's level by default (docs/vital-signs.md §4.3, roll-up policy "worst"), and a run
# judges the worst reading since the previous run, not only the latest (§4.1).
SAFETY_DOMAINS: frozenset[str] = frozenset({"gas", "waterlogging", "crowd", "public_safety"})

# Where domain values are stored or served, a unit's vital-sign index (docs/vital-signs.md §4.4)
# sits beside them under this key; it is never a domain id.
INDEX = "index"

# Metric name (as sensors publish it) → the domain it feeds. Units are in the names or
# here: concentrations µg/m³ except co in mg/m³; tpi 0–10; crowd_density persons/m².
METRIC_DOMAINS: dict[str, str] = {
    "aqi": "air",
    "pm25": "air",
    "pm10": "air",
    "no2": "air",
    "so2": "air",
    "co": "air",
    "o3": "air",
    "tpi": "traffic",
    "speed_kmh": "traffic",
    "water_depth_cm": "waterlogging",
    "rain_mm": "rainfall",
    "methane_lel": "gas",
    "water_pressure_kpa": "water_supply",
    "power_load_pct": "power",
    "crowd_density": "crowd",
    "noise_dba": "noise",
    "temperature_c": "heat",
}
METRICS: tuple[str, ...] = tuple(METRIC_DOMAINS)
