"""Units as maps draw them without tiles: filled rings and outlines as Plotly line coordinates.

The geometries come from a level's display GeoJSON (``geo.simplify``: one coverage simplified
together, so neighbours share their borders exactly and no gap opens between them). Nothing
here simplifies again: a polygon simplified on its own moves its border away from its neighbour's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo.labels import label_point

Coordinates = tuple[list[float | None], list[float | None]]


@dataclass(frozen=True, eq=False)
class UnitShape:
    """One unit: exterior rings as Plotly fills them, a point well inside it (its mark and its name's
    anchor: :func:`geo.labels.label_point`), its bounds. The rings are
    read-only float arrays, NaN between rings (sent as JSON ``null``, where Plotly lifts the pen):
    a figure of arrays is serialised without visiting every coordinate in Python."""

    xs: np.ndarray
    ys: np.ndarray
    point: tuple[float, float]
    bounds: tuple[float, float, float, float]

    def as_geojson(self) -> dict[str, Any]:
        """The rings as a GeoJSON MultiPolygon, each ring a polygon of its own (filled as Plotly fills them)."""
        points = np.column_stack((self.xs, self.ys))
        rings = np.split(points, np.flatnonzero(np.isnan(self.xs)))
        return {"type": "MultiPolygon",
                "coordinates": [[ring.tolist()] for ring in (ring[~np.isnan(ring[:, 0])] for ring in rings)
                                if len(ring) >= 4]}


def _frozen(values: list[float | None]) -> np.ndarray:
    array = np.array(values, dtype=float)  # None → NaN
    array.flags.writeable = False
    return array


def _rings(rings: Iterable[BaseGeometry]) -> Coordinates:
    xs: list[float | None] = []
    ys: list[float | None] = []
    for ring in rings:
        coordinates = shapely.get_coordinates(ring)
        xs.extend(coordinates[:, 0].tolist())
        ys.extend(coordinates[:, 1].tolist())
        xs.append(None)
        ys.append(None)
    return xs, ys


def unit_shapes_of(units: gpd.GeoDataFrame) -> dict[str, UnitShape]:
    """Every unit of a level (indexed by code) with a geometry, as fillable exterior rings."""
    shapes = {}
    for code, geometry in zip(units.index, units.geometry, strict=True):
        if geometry is None or geometry.is_empty:
            continue
        polygons = [part for part in shapely.get_parts(geometry) if part.geom_type == "Polygon"]
        xs, ys = _rings(polygon.exterior for polygon in polygons)
        shapes[str(code)] = UnitShape(_frozen(xs), _frozen(ys), label_point(geometry), tuple(geometry.bounds))
    return shapes


def outline_coordinates(geometries: Iterable[BaseGeometry]) -> Coordinates:
    """Lon and lat lists tracing every ring of ``geometries``, rings separated by ``None``
    (how Plotly draws many lines as one trace)."""
    drawn = [g for g in geometries if g is not None and not g.is_empty]
    return _rings(shapely.get_rings(shapely.get_parts(drawn)))
