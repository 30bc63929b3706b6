"""City vital signs: pure computation over numbers and pandas objects (no I/O)."""

from indicators.aqi import AQI_KEYS, AqiResult, aqi, aqi_frame
from indicators.registry import Domain, Metric, Registry, SensorKind, domain_ids, metric_domains, registry

__all__ = [
    "AQI_KEYS",
    "AqiResult",
    "Domain",
    "Metric",
    "Registry",
    "SensorKind",
    "aqi",
    "aqi_frame",
    "domain_ids",
    "metric_domains",
    "registry",
]
