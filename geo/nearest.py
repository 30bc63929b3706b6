"""Great-circle distances, the nearest available response units and the nearest city elements to a point."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

# IUGG mean Earth radius.
EARTH_RADIUS_M = 6_371_008.8
# Streets are not straight lines: typical urban road distance is ~1.3–1.4 × great-circle.
ROAD_DETOUR_FACTOR = 1.35
# Rough average urban response speeds (km/h) for an ETA; a routing engine would do better.
RESPONSE_SPEED_KMH = {
    "fire": 35.0,
    "police": 40.0,
    "ambulance": 40.0,
    "city_management": 25.0,
    "utility": 25.0,
}
DEFAULT_SPEED_KMH = 30.0


def haversine_m(
    lon1: float | np.ndarray, lat1: float | np.ndarray, lon2: float | np.ndarray, lat2: float | np.ndarray
) -> np.ndarray:
    """Great-circle distance in metres between points given in degrees (broadcasts)."""
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(v, dtype=float)) for v in (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def nearest_units(
    lon: float,
    lat: float,
    units: pd.DataFrame,
    *,
    kinds: Iterable[str] | None = None,
    available_only: bool = True,
    limit: int = 5,
) -> pd.DataFrame:
    """The ``limit`` nearest units to a point, closest first.

    ``units`` has columns ``unit_id, kind, lon, lat`` and, when ``available_only``, a
    ``status`` column (only ``"available"`` units are kept). Adds ``distance_m``
    (great-circle) and ``eta_min`` (a rough estimate: detour factor × distance at the
    kind's average speed).
    """
    if not (np.isfinite(lon) and np.isfinite(lat)):
        raise ValueError("the point's coordinates must be finite numbers")
    if limit < 1:
        raise ValueError("limit must be at least 1")
    candidates = units
    if kinds is not None:
        candidates = candidates[candidates["kind"].isin(list(kinds))]
    if available_only:
        if "status" not in candidates.columns:
            raise ValueError("units need a 'status' column to pick available ones")
        candidates = candidates[candidates["status"] == "available"]
    candidates = candidates[np.isfinite(candidates["lon"]) & np.isfinite(candidates["lat"])]
    distance = haversine_m(lon, lat, candidates["lon"].to_numpy(), candidates["lat"].to_numpy())
    take = np.argsort(distance, kind="stable")[:limit]
    result = candidates.iloc[take].copy()
    result["distance_m"] = distance[take]
    speed_kmh = result["kind"].map(RESPONSE_SPEED_KMH).fillna(DEFAULT_SPEED_KMH).to_numpy()
    result["eta_min"] = result["distance_m"].to_numpy() * ROAD_DETOUR_FACTOR / (speed_kmh * 1000 / 60)
    return result.reset_index(drop=True)


def nearest_elements(lon: float, lat: float, elements: pd.DataFrame, kinds: Iterable[str], *,
                     per_kind: int = 2) -> pd.DataFrame:
    """The ``per_kind`` nearest elements of each of ``kinds`` to a point, in the order of
    ``kinds`` and nearest first within each. ``elements`` has columns ``kind, lon, lat`` (and
    any others, kept); adds ``distance_m`` (great-circle: a hydrant is reached on foot)."""
    if not (np.isfinite(lon) and np.isfinite(lat)):
        raise ValueError("the point's coordinates must be finite numbers")
    chosen = []
    for kind in dict.fromkeys(kinds):
        candidates = elements[(elements["kind"] == kind) & np.isfinite(elements["lon"].astype(float))
                              & np.isfinite(elements["lat"].astype(float))]
        distance = haversine_m(lon, lat, candidates["lon"].to_numpy(float), candidates["lat"].to_numpy(float))
        take = np.argsort(distance, kind="stable")[:per_kind]
        chosen.append(candidates.iloc[take].assign(distance_m=distance[take]))
    if not chosen:
        return elements.iloc[0:0].assign(distance_m=pd.Series(dtype=float))
    return pd.concat(chosen, ignore_index=True)
