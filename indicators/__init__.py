"""City vital signs: pure computation over numbers and pandas objects (no I/O)."""

from indicators.domains import DOMAINS, SEVERITIES

__all__ = ["DOMAINS", "SEVERITIES"]
