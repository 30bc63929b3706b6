"""Spreading counts (population) from one set of areas onto another by overlap."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.boundaries import EQUAL_AREA


def areal_interpolate(
    source: gpd.GeoDataFrame,
    counts: pd.Series,
    target: gpd.GeoDataFrame,
    target_weight: pd.Series | None = None,
) -> pd.Series:
    """Distribute ``counts`` (aligned to ``source``) onto ``target`` areas.

    Each source area gives its count to the targets it overlaps, in proportion to
    overlap area × ``target_weight`` (default 1; e.g. 0 for a park so it receives no
    residents). Whatever a source holds is conserved as long as it overlaps at least one
    target with positive weight; a source that overlaps none is dropped.
    Returns a float Series indexed like ``target``.
    """
    if not counts.index.equals(source.index):
        raise ValueError("counts must be indexed like source")
    if (counts < 0).any() or not np.isfinite(counts.to_numpy(dtype=float)).all():
        raise ValueError("counts must be finite and non-negative")
    weight = (
        np.ones(len(target)) if target_weight is None else target_weight.reindex(target.index).to_numpy(float)
    )
    if (weight < 0).any() or not np.isfinite(weight).all():
        raise ValueError("target weights must be finite and non-negative")
    src = np.asarray(source.geometry.to_crs(EQUAL_AREA).values)
    dst = np.asarray(target.geometry.to_crs(EQUAL_AREA).values)
    dst_idx, src_idx = shapely.STRtree(src).query(dst, predicate="intersects")
    overlap = shapely.area(shapely.intersection(dst[dst_idx], src[src_idx])) * weight[dst_idx]
    per_source = np.bincount(src_idx, weights=overlap, minlength=len(src))
    share = np.divide(overlap, per_source[src_idx], out=np.zeros_like(overlap), where=per_source[src_idx] > 0)
    received = np.bincount(dst_idx, weights=share * counts.to_numpy(float)[src_idx], minlength=len(dst))
    return pd.Series(received, index=target.index, name="population")
