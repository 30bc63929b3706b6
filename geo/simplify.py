"""Display geometries: one level simplified to fit a GeoJSON payload budget.

Neighbouring units share their edges exactly after simplification (a *coverage*
simplification, not polygon-by-polygon), so no gaps or slivers open between them.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from geo.geojson import feature_collection

# 1e-5° is about 1 m: finer detail is invisible on any wall screen.
COORDINATE_GRID_DEG = 1e-5
# Tolerances searched (degrees, roughly the side of the triangles removed): 0.1 m … 1 km.
_TOLERANCE_RANGE_DEG = (1e-6, 1e-2)
_SEARCH_STEPS = 14


@dataclass(frozen=True)
class DisplayLevel:
    """A level ready to draw: its GeoJSON text and how it was made."""

    geojson: str
    tolerance_deg: float
    size_bytes: int
    coordinates: int


def clean_coverage(geometries: np.ndarray) -> np.ndarray:
    """Snap a set of neighbouring polygons into a clean coverage (no overlaps, shared edges identical)."""
    return shapely.coverage_clean(np.asarray(geometries), gap_width=0.0)


def simplify_to_budget(
    units: gpd.GeoDataFrame,
    max_bytes: int,
    *,
    properties: tuple[str, ...] = ("name", "name_zh", "parent"),
) -> DisplayLevel:
    """Simplify a level as little as possible while its GeoJSON stays within ``max_bytes``.

    Bisects the coverage-simplification tolerance (log scale). Raises ``ValueError`` when
    even the coarsest tolerance does not fit, which means the budget is unrealistic for
    the number of units.
    """
    if max_bytes <= 0:
        raise ValueError("max_bytes must be positive")
    columns = [p for p in properties if p in units.columns]
    cleaned = clean_coverage(units.geometry.values)

    def render(tolerance: float) -> DisplayLevel:
        simplified = shapely.coverage_simplify(cleaned, tolerance) if tolerance > 0 else cleaned
        gridded = shapely.set_precision(simplified, COORDINATE_GRID_DEG)
        text = feature_collection(units, columns, gridded)
        size = len(text.encode("utf-8"))
        return DisplayLevel(text, tolerance, size, int(shapely.get_num_coordinates(gridded).sum()))

    best = render(0.0)
    if best.size_bytes <= max_bytes:
        return best
    low, high = np.log10(_TOLERANCE_RANGE_DEG[0]), np.log10(_TOLERANCE_RANGE_DEG[1])
    coarsest = render(10**high)
    if coarsest.size_bytes > max_bytes:
        raise ValueError(
            f"{len(units)} units cannot fit in {max_bytes} bytes "
            f"(still {coarsest.size_bytes} at the coarsest tolerance)"
        )
    best = coarsest
    for _ in range(_SEARCH_STEPS):
        middle = (low + high) / 2
        candidate = render(10**middle)
        if candidate.size_bytes <= max_bytes:
            best, high = candidate, middle
        else:
            low = middle
    return best
