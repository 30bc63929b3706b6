"""The fixed vocabulary of vital signs: domain ids, metric names, incident severities.

Domain ids and metric names are API, MQTT and configuration keys (INDICATORS.md §2);
never rename one.
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

SEVERITIES: tuple[str, ...] = ("minor", "major", "critical")
