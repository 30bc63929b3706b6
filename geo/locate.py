"""Which unit, at every level, contains each point: vectorised point-in-polygon.

The lowest level decides and the levels above follow its parent codes, so a point's
district is always the parent of its street even where two levels' lines differ by a
few metres. Only points outside every lowest-level unit (gaps, shore slivers) are looked
up one level higher.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

NOT_FOUND = -1


class Locator:
    """Point → codes at every level, for a hierarchy given top → bottom.

    ``levels`` is a sequence of ``(level_name, units)`` where ``units`` is a GeoDataFrame
    indexed by code with a ``parent`` column (the code one level up; ignored on the top
    level) in WGS 84. Build once, call :meth:`locate` many times.
    """

    def __init__(self, levels: Sequence[tuple[str, gpd.GeoDataFrame]]) -> None:
        if not levels:
            raise ValueError("Locator needs at least one level")
        self.level_names: tuple[str, ...] = tuple(name for name, _ in levels)
        self._codes = [units.index.to_numpy(dtype=object) for _, units in levels]
        self._geometries = []
        self._trees = []
        for _, units in levels:
            geometries = np.asarray(units.geometry.values)
            shapely.prepare(geometries)
            self._geometries.append(geometries)
            self._trees.append(shapely.STRtree(geometries))
        # parent_index[k][i]: row of unit i's parent in level k-1 (level 0 has none).
        self._parent_index: list[np.ndarray | None] = [None]
        for k in range(1, len(levels)):
            upper = pd.Index(self._codes[k - 1])
            parent_codes = levels[k][1]["parent"].to_numpy(dtype=object)
            rows = upper.get_indexer(parent_codes)
            if (rows == NOT_FOUND).any():
                raise ValueError(f"level {self.level_names[k]!r} names parents missing one level up")
            self._parent_index.append(rows)

    def locate_rows(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Row numbers (one column per level, -1 where outside) for each point."""
        lon = np.asarray(lon, dtype=float).ravel()
        lat = np.asarray(lat, dtype=float).ravel()
        if lon.shape != lat.shape:
            raise ValueError("lon and lat must have the same length")
        depth = len(self.level_names)
        rows = np.full((lon.size, depth), NOT_FOUND, dtype=np.int64)
        pending = np.flatnonzero(np.isfinite(lon) & np.isfinite(lat))
        for k in range(depth - 1, -1, -1):
            if pending.size == 0:
                break
            found_points, found_units = self._contains(k, lon[pending], lat[pending])
            hit = pending[found_points]
            rows[hit, k] = found_units
            for upper in range(k - 1, -1, -1):
                rows[hit, upper] = self._parent_index[upper + 1][rows[hit, upper + 1]]
            pending = np.setdiff1d(pending, hit, assume_unique=True)
        return rows

    def locate(self, lon: np.ndarray | Sequence[float], lat: np.ndarray | Sequence[float]) -> pd.DataFrame:
        """Codes at every level (columns named after the levels; None where outside)."""
        rows = self.locate_rows(np.asarray(lon), np.asarray(lat))
        columns = {}
        for k, name in enumerate(self.level_names):
            codes = np.empty(rows.shape[0], dtype=object)
            found = rows[:, k] != NOT_FOUND
            codes[found] = self._codes[k][rows[found, k]]
            columns[name] = codes
        # object dtype keeps None: pandas >= 3 would infer a string dtype and turn None into
        # NaN, so the same point would get None or NaN depending on its batch.
        return pd.DataFrame(columns, dtype=object)

    def locate_one(self, lon: float, lat: float) -> dict[str, str | None]:
        """Codes at every level for one point."""
        return self.locate([lon], [lat]).iloc[0].to_dict()

    def _contains(self, k: int, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(point positions, unit rows) of the first unit of level k containing each point."""
        points = shapely.points(lon, lat)
        point_idx, unit_idx = self._trees[k].query(points)  # bounding boxes only
        if point_idx.size == 0:
            return point_idx, unit_idx
        inside = shapely.intersects_xy(self._geometries[k][unit_idx], lon[point_idx], lat[point_idx])
        point_idx, unit_idx = point_idx[inside], unit_idx[inside]
        # A point on a shared edge touches two units: keep the first, deterministically.
        order = np.lexsort((unit_idx, point_idx))
        point_idx, unit_idx = point_idx[order], unit_idx[order]
        first = np.unique(point_idx, return_index=True)[1]
        return point_idx[first], unit_idx[first]
