"""City vital signs: pure computation over numbers and pandas objects (no I/O)."""

from indicators.domains import DOMAINS, METRIC_DOMAINS, METRICS, SEVERITIES

__all__ = ["DOMAINS", "METRICS", "METRIC_DOMAINS", "SEVERITIES"]
