"""The fixed vocabulary of vital signs: domain ids and incident severities.

Domain ids are API and configuration keys (INDICATORS.md §2); never rename one.
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

SEVERITIES: tuple[str, ...] = ("minor", "major", "critical")
