"""The values a screen shows, live (``indicator_current``) or replayed (``indicator_values``), and
the pure rules read from them: which domains gave the index its colour, and what is amber and red
below the city at a replayed time."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from indicators.levels import AMBER, RED
from indicators.registry import domain_ids


@dataclass(frozen=True)
class Shown:
    """One value on the screen."""

    scope_code: str
    domain: str
    score: float | None
    level: int | None
    computed_at: datetime
    forecast: dict[str, Any] | None = None


def worst_domains(rows: Mapping[str, Shown], level: int | None) -> list[str]:
    """The domains at ``level`` (those that gave the index its colour), in the domains' order."""
    return [] if level is None else [d for d in domain_ids() if d in rows and rows[d].level == level]


def lowest_counts(rows: Sequence[Shown]) -> dict[str, dict[str, Any]]:
    """Per domain, the lowest-level units of ``rows`` at amber and at red, in the shape of an
    explanation's ``below``: a replayed city tile's counts (the history keeps explanations only
    at level changes)."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"amber": 0, "red": 0})
    for row in rows:
        if row.level in (AMBER, RED):
            counts[row.domain]["amber" if row.level == AMBER else "red"] += 1
    return {domain: {"below": {"lowest": dict(numbers)}} for domain, numbers in counts.items()}
