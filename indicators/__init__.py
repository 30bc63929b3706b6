"""City vital signs: pure computation over numbers and pandas objects (no I/O)."""

from indicators.aqi import AQI_KEYS, AqiResult, aqi, aqi_frame
from indicators.domains import (
    DOMAINS,
    EVENT_SOURCES,
    METRIC_DOMAINS,
    METRICS,
    SEVERITIES,
    UNIT_KINDS,
    UNIT_STATUSES,
)

__all__ = [
    "AQI_KEYS",
    "DOMAINS",
    "EVENT_SOURCES",
    "METRICS",
    "METRIC_DOMAINS",
    "SEVERITIES",
    "UNIT_KINDS",
    "UNIT_STATUSES",
    "AqiResult",
    "aqi",
    "aqi_frame",
]
