"""City vital signs: pure computation over numbers and pandas objects (no I/O)."""

from indicators.aqi import AQI_KEYS, AqiResult, aqi, aqi_frame
from indicators.domains import DOMAINS, METRIC_DOMAINS, METRICS

__all__ = [
    "AQI_KEYS",
    "DOMAINS",
    "METRICS",
    "METRIC_DOMAINS",
    "AqiResult",
    "aqi",
    "aqi_frame",
]
