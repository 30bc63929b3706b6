"""Boundary outlines as plottable line coordinates (no map tiles: the map is drawn from our own data)."""

from __future__ import annotations

from collections.abc import Iterable

import shapely
from shapely.geometry.base import BaseGeometry


def outline_coordinates(geometries: Iterable[BaseGeometry], tolerance_deg: float = 0.0003
                        ) -> tuple[list[float | None], list[float | None]]:
    """Lon and lat lists tracing every ring of ``geometries``, rings separated by ``None``
    (how Plotly draws many lines as one trace), simplified to ``tolerance_deg`` degrees."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    for geometry in geometries:
        if geometry is None or geometry.is_empty:
            continue
        simplified = shapely.simplify(geometry, tolerance_deg, preserve_topology=True)
        for ring in shapely.get_rings(shapely.get_parts(simplified)):
            coordinates = shapely.get_coordinates(ring)
            xs.extend(coordinates[:, 0].tolist())
            ys.extend(coordinates[:, 1].tolist())
            xs.append(None)
            ys.append(None)
    return xs, ys
