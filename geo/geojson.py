"""GeoJSON text for a level of units (RFC 7946: WGS 84 lon/lat, one Feature per unit)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import shapely


def _clean(value: object) -> object:
    """JSON-ready property value: NaN/None dropped by the caller, numpy scalars unwrapped."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _present(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def feature_collection(
    units: gpd.GeoDataFrame,
    properties: Sequence[str],
    geometries: Sequence[shapely.Geometry] | np.ndarray | None = None,
) -> str:
    """Compact GeoJSON FeatureCollection of ``units`` (indexed by code).

    The code becomes each feature's ``id`` and its ``code`` property; ``properties``
    names the other columns to include (missing values are left out). ``geometries``
    replaces the units' own geometry, e.g. with a simplified version.
    """
    shapes = units.geometry.to_numpy() if geometries is None else geometries
    columns = [p for p in properties if p in units.columns]
    records = units[columns].to_dict("records")
    features = []
    for code, shape, record in zip(units.index, shapes, records, strict=True):
        props = {"code": str(code)} | {k: _clean(v) for k, v in record.items() if _present(v)}
        features.append(
            '{"type":"Feature","id":' + json.dumps(str(code))
            + ',"properties":' + json.dumps(props, ensure_ascii=False, separators=(",", ":"))
            + ',"geometry":' + json.dumps(shapely.geometry.mapping(shape), separators=(",", ":"))
            + "}"
        )
    return '{"type":"FeatureCollection","features":[' + ",".join(features) + "]}"
