"""The three colours and grey (docs/vital-signs.md §1): level numbers, score bands, worst-of.

A level is ``0`` (green), ``1`` (amber), ``2`` (red) or ``None`` (grey: no fresh data).
Grey is never counted as green: ``worst_level`` ignores it unless everything is grey.
"""

from __future__ import annotations

from collections.abc import Iterable

GREEN = 0
AMBER = 1
RED = 2
LEVELS: tuple[int, ...] = (GREEN, AMBER, RED)
LEVEL_NAMES: dict[int | None, str] = {GREEN: "green", AMBER: "amber", RED: "red", None: "grey"}
LEVEL_COLOURS: dict[int | None, str] = {GREEN: "#2e7d32", AMBER: "#f9a825", RED: "#c62828", None: "#9e9e9e"}

# Score bands, 100 = healthy: exactly 70 at the amber threshold and 40 at the red one.
AMBER_SCORE = 70.0
RED_SCORE = 40.0
LEVEL_BANDS: dict[int, tuple[float, float]] = {
    GREEN: (AMBER_SCORE, 100.0),
    AMBER: (RED_SCORE, AMBER_SCORE),
    RED: (0.0, RED_SCORE),
}


def clip_to_band(score: float, level: int) -> float:
    """``score`` clipped into the band of ``level`` (§4: a mean never contradicts the colour)."""
    low, high = LEVEL_BANDS[level]
    return min(max(score, low), high)


def worst_level(levels: Iterable[int | None]) -> int | None:
    """The worst non-grey level; ``None`` (grey) only when there is no non-grey level at all."""
    known = [level for level in levels if level is not None]
    return max(known) if known else None
