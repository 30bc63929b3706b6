"""Whether vital signs are current: the one staleness rule of every screen, report and API answer.

The indicators process runs every 30 s. Values it computed longer ago than :data:`STALE_AFTER_S`
are not current: screens draw them grey and say how old they are, the API says ``stale``. Always
judged against the time of the request, never against when something was cached.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

STALE_AFTER_S = 120.0


class Computed(Protocol):
    @property
    def computed_at(self) -> datetime: ...


@dataclass(frozen=True)
class Freshness:
    computed_at: datetime | None
    age_s: float | None
    stale: bool


def freshness_of(computed_at: datetime | None, now: datetime) -> Freshness:
    """How old values computed at ``computed_at`` are at ``now``, and whether that is too old to
    show them as current (never computed: stale)."""
    age = None if computed_at is None else (now - computed_at).total_seconds()
    return Freshness(computed_at, age, age is None or age > STALE_AFTER_S)


def newest_computed(rows: Iterable[Computed]) -> datetime | None:
    return max((row.computed_at for row in rows), default=None)


def freshness(rows: Iterable[Computed], now: datetime) -> Freshness:
    """When ``rows`` were computed (the newest of them) and whether that is current at ``now``."""
    return freshness_of(newest_computed(rows), now)
